import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const env = itEnv();
const running: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

describe.each(['local', 'ssh'] as const)('a new server file made through /config/barman/change (%s host)', (mode) => {
  it("gets barman's user and its siblings' mode", async () => {
    const uid = Number(execFileSync('id', ['-u', env.barman.user]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', env.barman.user]).toString().trim());
    const dir = mkdtempSync(join(tmpdir(), 'barmanapi-create-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'barman.conf'), `[barman]\nbarman_home = ${env.barman.home}\nconfiguration_files_directory = ${join(dir, 'conf.d')}\n`);
    writeFileSync(join(dir, 'conf.d', 'first.conf'), '[first]\ndescription = a sibling\n');
    chmodSync(join(dir, 'conf.d', 'first.conf'), 0o640);
    for (const p of [join(dir, 'barman.conf'), join(dir, 'conf.d'), join(dir, 'conf.d', 'first.conf')]) chownSync(p, uid, gid);
    const barman = mode === 'local'
      ? `configfile=${join(dir, 'barman.conf')}\ncommand=${env.barman.command.join(' ')}\nremote=false`
      : `configfile=${join(dir, 'barman.conf')}\ncommand=/usr/bin/barman\nremote=true\nremotessh=${env.ssh.remotessh}\nknown_hosts=${env.ssh.knownHosts}`;
    const s = await startServerProcess(serverDir(barman).config);
    running.push(s);
    const t = await token(s.baseUrl);
    const res = await fetch(`${s.baseUrl}/config/barman/change?second.description=made%20here&second.conninfo=host%3Dx&create=true&force=true&token=${t}`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { write_mode: string }).write_mode).toBe('created');
    const made = statSync(join(dir, 'conf.d', 'second.conf'));
    expect({ uid: made.uid, gid: made.gid, mode: made.mode & 0o7777 }).toEqual({ uid, gid, mode: 0o640 });
  }, 60_000);
});

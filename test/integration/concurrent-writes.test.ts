import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itEnv } from '../support/it-env.js';
import { afterAll, describe, expect, it } from 'vitest';
import { IniDocument, parseList } from '../../src/ini/document.js';
import { runCli, serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const MD5_1258 = '26588e932c7ccfa1df309280702fe1b5';
const running: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

describe('two servers and the CLI writing client.conf at once', () => {
  it('keeps every write answered as written, and no removed user comes back', async () => {
    const d = serverDir('remote=false');
    const names = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const seeded = [...names('u', 200), ...names('x', 10), ...names('y', 10)];
    writeFileSync(d.clientConf, `[memin]\npassword = ${MD5_1258}\naccess = []\ndeny = []\n${seeded.map((u) => `\n[${u}]\npassword = ${MD5_1258}\naccess = ['history']\ndeny = []\n`).join('')}`);
    const a = await startServerProcess(d.config);
    const b = await startServerProcess(d.config);
    running.push(a, b);
    const ta = await token(a.baseUrl);
    const tb = await token(b.baseUrl);
    const change = async (base: string, t: string, user: string, rule: string) => {
      const res = await fetch(`${base}/auth/user/change?username=${user}&access=${encodeURIComponent(`['${rule}']`)}&token=${t}`);
      return { user, rule, status: res.status };
    };
    const byServers = (server: ServerProcess, t: string, users: string[], rule: string) =>
      Promise.all(users.map((u) => change(server.baseUrl, t, u, rule)));
    const byCli = async () => {
      const out: Array<{ user: string; op: string; code: number | null }> = [];
      for (let i = 0; i < 10; i++) {
        out.push({ user: `x${i}`, op: 'remove', code: (await runCli(['user', 'remove', `x${i}`, '--config', d.config])).code });
        out.push({ user: `y${i}`, op: 'change', code: (await runCli(['user', 'change', `y${i}`, '--access', 'barman', '--config', d.config])).code });
      }
      return out;
    };
    const [fromA, fromB, fromCli] = await Promise.all([
      byServers(a, ta, names('u', 100), 'history/a'),
      byServers(b, tb, names('u', 200).slice(100), 'history/b'),
      byCli(),
    ]);
    const doc = new IniDocument(readFileSync(d.clientConf, 'utf8'));
    expect(doc.problems).toEqual([]);
    const accessOf = (u: string) => (doc.hasSection(u) ? parseList(doc.values(u).access) : null);
    for (const op of [...fromA, ...fromB]) {
      // Every change is either written (and then in the file) or refused; none is lost.
      expect([200, 409, 503], op.user).toContain(op.status);
      if (op.status === 200) expect(accessOf(op.user), op.user).toEqual([op.rule]);
    }
    expect([...fromA, ...fromB].filter((op) => op.status === 200).length).toBeGreaterThan(190);
    for (const op of fromCli) {
      expect(op.code, `${op.op} ${op.user}`).toBe(0);
      if (op.op === 'remove') expect(doc.hasSection(op.user), op.user).toBe(false);
      else expect(accessOf(op.user), op.user).toEqual(['barman']);
    }
  }, 120_000);
});

describe.each(['local', 'ssh'] as const)("two servers changing one barman configuration file at once (%s host)", (mode) => {
  it('keeps every key answered as written', async () => {
    const env = itEnv();
    const uid = Number(execFileSync('id', ['-u', env.barman.user]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', env.barman.user]).toString().trim());
    // A barman configuration of its own (the environment's stays as it is), owned by barman.
    const dir = mkdtempSync(join(tmpdir(), 'barmanapi-conf-'));
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'barman.conf'), `[barman]\nbarman_home = ${env.barman.home}\nconfiguration_files_directory = ${join(dir, 'conf.d')}\n`);
    writeFileSync(join(dir, 'conf.d', 'shared.conf'), '[shared]\ndescription = two writers\n');
    for (const p of [dir, join(dir, 'conf.d'), join(dir, 'barman.conf'), join(dir, 'conf.d', 'shared.conf')]) chownSync(p, uid, gid);
    const barman = mode === 'local'
      ? `configfile=${join(dir, 'barman.conf')}\ncommand=${env.barman.command.join(' ')}\nremote=false`
      : `configfile=${join(dir, 'barman.conf')}\ncommand=/usr/bin/barman\nremote=true\nremotessh=${env.ssh.remotessh}\nknown_hosts=${env.ssh.knownHosts}`;
    const d = serverDir(barman);
    const a = await startServerProcess(d.config);
    const b = await startServerProcess(d.config);
    running.push(a, b);
    const ta = await token(a.baseUrl);
    const tb = await token(b.baseUrl);
    const change = async (base: string, t: string, key: string) => {
      const res = await fetch(`${base}/config/barman/change?shared.${key}=${key}&force=true&token=${t}`);
      return { key, status: res.status, body: await res.text() };
    };
    const keys = (p: string) => Array.from({ length: 40 }, (_, i) => `x_${p}${i}`);
    const [fromA, fromB] = await Promise.all([
      Promise.all(keys('a').map((k) => change(a.baseUrl, ta, k))),
      Promise.all(keys('b').map((k) => change(b.baseUrl, tb, k))),
    ]);
    const doc = new IniDocument(readFileSync(join(dir, 'conf.d', 'shared.conf'), 'utf8'));
    expect(doc.problems).toEqual([]);
    for (const op of [...fromA, ...fromB]) {
      expect([200, 409, 503], `${op.key}: ${op.body.slice(0, 200)}`).toContain(op.status);
      if (op.status === 200) expect(doc.get('shared', op.key), op.key).toBe(op.key);
    }
    expect([...fromA, ...fromB].filter((op) => op.status === 200).length).toBeGreaterThan(70);
    expect(doc.get('shared', 'description')).toBe('two writers');
  }, 180_000);
});

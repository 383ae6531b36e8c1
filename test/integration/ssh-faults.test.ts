import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { standInBarman } from '../support/stand-in-barman.js';
import { serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const env = itEnv();
const running: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

/** A barman that takes a long while over anything naming "slow". */
function slowBarman(): string {
  return standInBarman(env.root, 'slow-ssh-barman', `case "$*" in *slow*) sleep 30 ;; esac\necho '{"fine": true}'`);
}

/** The sshd session processes of the environment's sshd (one per client connection). */
function sessions(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `^sshd: ${env.ssh.user}`]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('an SSH session that drops mid-command', () => {
  it('answers 502 naming the lost connection, and the next request reconnects', async () => {
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${slowBarman()}\nremote=true\nremotessh=${env.ssh.remotessh}\nknown_hosts=${env.ssh.knownHosts}\nasynccommand=[]\ntimeout=60`);
    const s = await startServerProcess(d.config);
    running.push(s);
    const t = await token(s.baseUrl);
    expect((await fetch(`${s.baseUrl}/barman/show-server?server_name=quick&token=${t}`)).status).toBe(200);
    const pending = fetch(`${s.baseUrl}/barman/show-server?server_name=slow&token=${t}`);
    await new Promise((r) => setTimeout(r, 1500));
    const before = sessions();
    expect(before.length).toBeGreaterThan(0);
    for (const pid of before) process.kill(pid, 'SIGKILL');
    const res = await pending;
    expect(res.status).toBe(502);
    const body = (await res.json()) as { type: string; message: string };
    expect(body.type).toBe('BarmanHostConnectionLost');
    expect(body.message).toMatch(/connection to .* ended before the command reported its exit status/);
    const again = await fetch(`${s.baseUrl}/barman/show-server?server_name=quick&token=${t}`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { data: unknown }).data).toEqual({ fine: true });
  }, 60_000);
});

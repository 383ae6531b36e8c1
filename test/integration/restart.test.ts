import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { standInBarman } from '../support/stand-in-barman.js';
import { serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const env = itEnv();

/** A barman that takes SLEEP seconds over anything. */
function slowBarman(seconds: number): string {
  return standInBarman(env.root, `slow-barman-${seconds}`, `echo "working on $*" >&2\nsleep ${seconds}\necho '{"finished": true}'`);
}

const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
});

async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function jobDirs(store: string): string[] {
  const active = join(store, 'active');
  return readdirSync(active).flatMap((m) => readdirSync(join(active, m)).map((id) => join(active, m, id)));
}

describe('async jobs across a server crash', () => {
  it('keeps jobs running when the server is SIGKILLed; after restart results are right, queued jobs run, nothing is duplicated', async () => {
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${slowBarman(4)}\nremote=false\nasynccommand=['backup']`, '[jobs]\nmax_running=2\n');
    let server = await startServerProcess(d.config);
    servers.push(server);
    let t = await token(server.baseUrl);
    const tickets: string[] = [];
    for (const s of ['a', 'b', 'c']) {
      const res = await fetch(`${server.baseUrl}/barman/backup?server_name=${s}&token=${t}`);
      expect(res.status).toBe(202);
      tickets.push(((await res.json()) as { ticket: string }).ticket);
    }
    await waitFor('two runners to claim their jobs', () => jobDirs(d.store).filter((j) => existsSync(join(j, 'run.json'))).length === 2);
    expect(await server.stop('SIGKILL')).toBe(null);

    // The two running jobs finish without the server.
    await waitFor('the running jobs to finish', () => jobDirs(d.store).filter((j) => existsSync(join(j, 'result.json'))).length === 2);

    server = await startServerProcess(d.config);
    servers.push(server);
    t = await token(server.baseUrl);
    // The queued one is started by the new server and finishes too.
    await waitFor('all three results', () => jobDirs(d.store).filter((j) => existsSync(join(j, 'result.json'))).length === 3);
    for (const ticket of tickets) {
      const r = (await (await fetch(`${server.baseUrl}/history/result?ticket=${ticket}&token=${t}`)).json()) as { status: string; data: unknown };
      expect(r.status).toBe('done');
      expect(r.data).toEqual({ finished: true });
    }
    const list = (await (await fetch(`${server.baseUrl}/history/list?token=${t}`)).json()) as { total: number };
    expect(list.total).toBe(3);
    for (const dir of jobDirs(d.store)) {
      const log = readFileSync(join(dir, 'output.log'), 'utf8');
      expect(log.match(/working on/g)).toHaveLength(1);
    }
  }, 90_000);

  it('reports a job whose runner was killed as lost, and cancels a running one', async () => {
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${slowBarman(20)}\nremote=false\nasynccommand=['backup']`);
    const server = await startServerProcess(d.config);
    servers.push(server);
    const t = await token(server.baseUrl);
    const start = async (s: string) => ((await (await fetch(`${server.baseUrl}/barman/backup?server_name=${s}&token=${t}`)).json()) as { ticket: string }).ticket;
    const result = async (ticket: string) => (await (await fetch(`${server.baseUrl}/history/result?ticket=${ticket}&token=${t}`)).json()) as { status: string; status_code: number };

    const doomed = await start('lost');
    const claim = await waitFor('the runner claim', () => {
      const dir = jobDirs(d.store).find((j) => j.includes('backup') && existsSync(join(j, 'run.json')));
      return dir ? (JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { pid: number }) : undefined;
    });
    process.kill(claim.pid, 'SIGKILL');
    const lost = await waitFor('lost', async () => {
      const r = await result(doomed);
      return r.status === 'lost' && r;
    });
    expect(lost.status_code).toBe(-98);

    const victim = await start('cancel-me');
    await waitFor('barman to be running', () => jobDirs(d.store).some((j) => j.includes('backup') && existsSync(join(j, 'output.log')) && readFileSync(join(j, 'output.log'), 'utf8').includes('cancel-me')));
    expect((await result(victim)).status).toBe('running');
    const cancel = await fetch(`${server.baseUrl}/history/cancel?ticket=${victim}&token=${t}`);
    expect(cancel.status).toBe(202);
    await waitFor('cancelled', async () => (await result(victim)).status === 'cancelled', 10_000);
    expect((await fetch(`${server.baseUrl}/history/cancel?ticket=${victim}&token=${t}`)).status).toBe(409);
  }, 60_000);
});

describe('a runner killed while barman works on', () => {
  it("keeps the job running while barman holds its lock, refuses a second backup, then records barman's own outcome", async () => {
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false\nasynccommand=['backup']\ntimeout=120`);
    const server = await startServerProcess(d.config);
    servers.push(server);
    const t = await token(server.baseUrl);
    const backup = () => fetch(`${server.baseUrl}/barman/backup?server_name=${env.barman.server}&bwlimit=8000&token=${t}`);
    const result = async (ticket: string) => (await (await fetch(`${server.baseUrl}/history/result?ticket=${ticket}&token=${t}`)).json()) as { status: string; status_code: number; message: string };
    const started = await backup();
    expect(started.status).toBe(202);
    const ticket = ((await started.json()) as { ticket: string }).ticket;
    const claim = await waitFor('the runner claim', () => {
      const dir = jobDirs(d.store).find((j) => existsSync(join(j, 'run.json')) && existsSync(join(j, 'output.log')));
      return dir ? (JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { pid: number }) : undefined;
    });
    // barman takes its lock a moment after it starts.
    const lock = join(env.barman.home, `.${env.barman.server}-backup.lock`);
    await waitFor("barman's backup lock", () => {
      // flock(1) would create a missing lock file, as root here, and lock barman out of it.
      if (!existsSync(lock)) return false;
      try {
        execFileSync('flock', ['--nonblock', '--conflict-exit-code', '75', lock, 'true']);
        return false;
      } catch {
        return true;
      }
    });
    process.kill(claim.pid, 'SIGKILL');
    // The runner is gone, barman is not: the job is running and blocks another backup.
    expect((await result(ticket)).status).toBe('running');
    const second = await backup();
    expect(second.status).toBe(409);
    const settled = await waitFor('barman to finish', async () => {
      const r = await result(ticket);
      return r.status !== 'running' && r;
    }, 120_000);
    // barman's own verdict, not "lost". (barman writes its progress to the dead runner's pipe,
    // so on some runs it fails at its next line: then the backup is FAILED, and so is the job.)
    const verdict = /barman went on and list-backup shows backup \d{8}T\d{6} as (DONE|WAITING_FOR_WALS|FAILED)$/.exec(settled.message);
    expect(verdict, settled.message).not.toBeNull();
    expect(settled.status).toBe(verdict![1] === 'FAILED' ? 'failed' : 'done');
    // Now a second backup is accepted again.
    const third = await backup();
    expect(third.status).toBe(202);
    const thirdTicket = ((await third.json()) as { ticket: string }).ticket;
    await waitFor('the next backup', async () => (await result(thirdTicket)).status === 'done', 120_000);
  }, 300_000);
});

describe('synchronous commands that run too long', () => {
  const alive = (marker: string) => {
    try {
      return execFileSync('pgrep', ['-f', marker]).toString().trim() !== '';
    } catch {
      return false;
    }
  };

  it('kills barman when the client goes away, and answers 504 when the timeout passes', async () => {
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${slowBarman(30)}\nremote=false\nasynccommand=[]\ntimeout=2`);
    const server = await startServerProcess(d.config);
    servers.push(server);
    const t = await token(server.baseUrl);

    const marker = `abort-${process.pid}-${Date.now()}`;
    const controller = new AbortController();
    const request = fetch(`${server.baseUrl}/barman/show-server?server_name=${marker}&token=${t}`, { signal: controller.signal }).catch(() => 'aborted');
    await waitFor('barman to start', () => alive(marker));
    controller.abort();
    expect(await request).toBe('aborted');
    await waitFor('barman to be killed after the client left', () => !alive(marker), 10_000);

    const slow = `timeout-${process.pid}-${Date.now()}`;
    const res = await fetch(`${server.baseUrl}/barman/show-server?server_name=${slow}&token=${t}`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { type: string }).type).toBe('BarmanTimeout');
    await waitFor('barman to be killed after the timeout', () => !alive(slow), 10_000);
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { sign } from 'hono/jwt';
import { fixtureBarmanHost, type CommandHandler } from '../support/fake-barman.js';
import { loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';
import { createInProcessJobRunner } from '../../adapters/memory/index.js';
import type { AppDeps } from '../../src/context.js';

type Body = { status_code: number; message: string; list: any; ticket?: string; status?: string; total?: number; type?: string; [k: string]: unknown };

async function setup(handler: CommandHandler, extra = '') {
  const host = fixtureBarmanHost('3.4', handler);
  const settings = loadSettings({
    text: `[barman]\nasynccommand=['backup','recover']\n[jobs]\nmax_running=2\n${extra}[authtoken]\nsecret=test-secret-of-enough-length\n`,
    path: '/etc/barmanapi.conf',
  });
  const holder: { deps?: AppDeps } = {};
  const runner = createInProcessJobRunner({
    get storage() { return holder.deps!.storage; },
    host,
    clock: { now: () => new Date() },
    maxOutputBytes: 1 << 20,
  } as never);
  const t = testApp({ host, settings, jobs: runner });
  holder.deps = t.deps;
  let token = await loginToken(t.app);
  const get = async (path: string) => {
    const res = await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`);
    return { res, body: (await res.json()) as Body };
  };
  const relogin = async () => {
    token = await loginToken(t.app);
  };
  return { ...t, host, runner, token, get, relogin };
}

/** A barman command that waits until released, printing a line first. */
function gate() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const handler: CommandHandler = async (args, options) => {
    options.onOutput?.('stdout', new TextEncoder().encode(`starting ${args.join(' ')}\n`));
    await Promise.race([released, new Promise((r) => options.signal?.addEventListener('abort', r))]);
    if (options.signal?.aborted) return { exitCode: null, signal: 'SIGTERM', aborted: true };
    options.onOutput?.('stdout', new TextEncoder().encode('{"pg": {"backup_id": "20261115T100000"}}'));
    return { exitCode: 0, stdout: '{"pg": {"backup_id": "20261115T100000"}}' };
  };
  return { handler, release };
}

describe('async commands', () => {
  it('answers a backup at once with a ticket (202), runs it, and gives the result under that ticket', async () => {
    const g = gate();
    const { get, runner, deps } = await setup(g.handler);
    const { res, body } = await get('/barman/backup?server_name=pg');
    expect(res.status).toBe(202);
    expect(body.ticket).toMatch(/^eyJ/);
    expect(body.list.result).toBe(`/history/result?ticket=${body.ticket}`);
    const running = await get(`/history/result?ticket=${body.ticket}`);
    expect(running.body).toMatchObject({ status_code: -99, message: 'Command not execute yet.', status: 'running', command: 'backup', server: 'pg' });
    g.release();
    await runner.settled();
    const done = await get(`/history/result?ticket=${body.ticket}`);
    expect(done.body).toMatchObject({ status_code: 200, status: 'done', exit_code: 0, data: { pg: { backup_id: '20261115T100000' } } });
    const month = '202611';
    const [dir] = await deps.storage.list(`active/${month}`);
    expect(dir).toMatch(/^20261115100000_backup_[a-z0-9]{8}$/);
    const files = await deps.storage.list(`active/${month}/${dir}`);
    expect(files).toEqual(expect.arrayContaining(['job.json', 'run.json', 'output.log', 'result.json']));
    const job = await deps.storage.readText(`active/${month}/${dir}/job.json`);
    expect(job).not.toContain(body.ticket!);
    expect(await deps.storage.readText(`active/${month}/${dir}/output.log`)).toContain('starting -f json backup pg');
  });

  it('refuses a second backup of the same server while one runs (409 with its ticket), but not another server', async () => {
    const g = gate();
    const { get, runner } = await setup(g.handler);
    const first = await get('/barman/backup?server_name=pg');
    const second = await get('/barman/backup?server_name=pg');
    expect(second.res.status).toBe(409);
    expect(second.body.ticket).toBeDefined();
    const otherJob = await get('/barman/backup?server_name=other');
    expect(otherJob.res.status).toBe(202);
    g.release();
    await runner.settled();
    expect((await get(`/history/result?ticket=${first.body.ticket}`)).body.status).toBe('done');
  });

  it('queues jobs beyond max_running and starts them as others finish', async () => {
    const g = gate();
    const { get, runner, api } = await setup(g.handler);
    const tickets: string[] = [];
    for (const s of ['a', 'b', 'c']) tickets.push((await get(`/barman/backup?server_name=${s}`)).body.ticket!);
    expect((await get(`/history/result?ticket=${tickets[0]}`)).body.status).toBe('running');
    expect((await get(`/history/result?ticket=${tickets[2]}`)).body.status).toBe('queued');
    g.release();
    await runner.settled();
    await api.jobs.pump(); // the server's timer does this every two seconds
    await runner.settled();
    for (const t of tickets) expect((await get(`/history/result?ticket=${t}`)).body.status).toBe('done');
  });

  it('cancels a running job (then 409 for cancelling it again) and a queued one', async () => {
    const g = gate();
    const { get, runner } = await setup(g.handler);
    const a = await get('/barman/backup?server_name=a');
    await get('/barman/backup?server_name=b');
    const queued = await get('/barman/backup?server_name=c');
    expect((await get(`/history/result?ticket=${queued.body.ticket}`)).body.status).toBe('queued');
    const cancelQueued = await get(`/history/cancel?ticket=${queued.body.ticket}`);
    expect(cancelQueued.res.status).toBe(200);
    expect((await get(`/history/result?ticket=${queued.body.ticket}`)).body).toMatchObject({ status: 'cancelled', message: 'cancelled before it started' });
    const cancel = await get(`/history/cancel?ticket=${a.body.ticket}`);
    expect(cancel.res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 20));
    const after = await get(`/history/result?ticket=${a.body.ticket}`);
    expect(after.body.status).toBe('cancelled');
    const again = await get(`/history/cancel?ticket=${a.body.ticket}`);
    expect(again.res.status).toBe(409);
    expect(again.body.message).toMatch(/already ended \(cancelled\)/);
    g.release();
    await runner.settled();
  });
});

describe('/history/list', () => {
  it('lists this month newest first with limit and offset, and validates past', async () => {
    const { get, runner, clock } = await setup(() => ({ exitCode: 0, stdout: '{}' }));
    for (const s of ['a', 'b', 'c']) {
      await get(`/barman/backup?server_name=${s}`);
      await runner.settled();
      clock.advance(1000);
    }
    const list = await get('/history/list?limit=2');
    expect(list.body.total).toBe(3);
    expect(list.body.list.map((j: { server: string }) => j.server)).toEqual(['c', 'b']);
    expect(list.body.list[0]).toMatchObject({ command: 'backup', status: 'done', result: 200, user: 'memin' });
    const page2 = await get('/history/list?limit=2&offset=2');
    expect(page2.body.list.map((j: { server: string }) => j.server)).toEqual(['a']);
    const t = page2.body.list[0].ticket;
    expect((await get(`/history/result?ticket=${t}`)).body.status).toBe('done');
    for (const past of ['../../etc', '202613', '2016', '20160', 'abcdef']) {
      const { res, body } = await get(`/history/list?past=${encodeURIComponent(past)}`);
      expect(res.status, past).toBe(400);
      expect(body.message).toMatch(/past must be a month as YYYYmm/);
    }
    const empty = await get('/history/list?past=201602');
    expect(empty.res.status).toBe(200);
    expect(empty.body.list).toEqual([]);
  });

  it('archives a past month into a tar.gz, lists it from the archive and still resolves its tickets', async () => {
    const { get, runner, clock, deps, api, relogin } = await setup(() => ({ exitCode: 0, stdout: '{"ok": true}' }));
    await get('/barman/backup?server_name=a');
    await runner.settled();
    await get('/barman/recover?server_name=a&backup_id=latest&destination_directory=/tmp/x');
    await runner.settled();
    const before = await get('/history/list');
    const ticket = before.body.list[0].ticket;
    clock.set('2026-12-02T00:00:00Z');
    await relogin();
    expect(await api.jobs.archivePastMonths()).toEqual(['202611']);
    expect(await deps.storage.stat('archive/202611.tar.gz')).not.toBeNull();
    expect(await deps.storage.list('active/202611')).toEqual([]);
    const past = await get('/history/list?past=202611');
    expect(past.body.total).toBe(2);
    expect(past.body.list.map((j: { command: string }) => j.command)).toEqual(['recover', 'backup']);
    const result = await get(`/history/result?ticket=${ticket}`);
    expect(result.body).toMatchObject({ status: 'done', command: 'recover', data: { ok: true } });
    expect((await get('/history/list')).body.list).toEqual([]);
  });
});

describe('archiving large logs', () => {
  it('packs an output log larger than the read-ahead bound byte for byte, among small ones', async () => {
    // 3 MiB of varied lines: streamed into the archive in chunks, not read whole.
    const line = (i: number) => `${String(i).padStart(8, '0')} ${'wal segment archived '.repeat(3)}\n`;
    const big = Array.from({ length: 45_000 }, (_, i) => line(i)).join('');
    const { get, runner, clock, api, deps, relogin } = await setup(async (_args, options) => {
      options.onOutput?.('stdout', new TextEncoder().encode(big));
      return { exitCode: 0, stdout: '{}' };
    });
    const { body } = await get('/barman/backup?server_name=a');
    await runner.settled();
    await get('/barman/backup?server_name=b');
    await runner.settled();
    clock.set('2026-12-02T00:00:00Z');
    await relogin();
    expect(await api.jobs.archivePastMonths()).toEqual(['202611']);
    const { readArchivedJob } = await import('../../src/jobs/archive.js');
    const past = await get('/history/list?past=202611');
    for (const job of past.body.list as Array<{ id: string }>) {
      const archived = await readArchivedJob(deps.storage, '202611', job.id);
      expect(archived?.log?.length).toBe(new TextEncoder().encode(big).length);
      expect(new TextDecoder().decode(archived!.log!)).toBe(big);
    }
  });
});

describe('tickets', () => {
  it('refuses forged, altered, foreign-secret and expired tickets, and login tokens as tickets (and vice versa)', async () => {
    const { get, runner, token, app } = await setup(() => ({ exitCode: 0, stdout: '{}' }));
    const { body } = await get('/barman/backup?server_name=pg');
    await runner.settled();
    const ticket = body.ticket!;
    const [h, p, s] = ticket.split('.');
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), job: '20261115100000_backup_zzzzzzzz' })).toString('base64url')}.${s}`;
    const foreign = await sign({ pur: 'ticket', job: 'x', exp: 2e9 }, 'another-secret-entirely', 'HS256');
    const expired = await sign({ pur: 'ticket', job: 'x', exp: 1000 }, 'test-secret-of-enough-length', 'HS256');
    for (const bad of ['nonsense', altered, foreign, expired, token]) {
      const r = await get(`/history/result?ticket=${bad}`);
      expect(r.res.status, bad.slice(0, 20)).toBe(401);
    }
    const asLogin = await app.request(`/history/list?token=${ticket}`);
    expect(asLogin.status).toBe(401);
    expect(((await asLogin.json()) as Body).message).toMatch(/not a token/);
  });
});

describe('/history/result edge cases', () => {
  it('follow=1 on a finished job sends the whole log and the result, then ends', async () => {
    const { get, runner, app, token } = await setup(async (_args, options) => {
      options.onOutput?.('stdout', new TextEncoder().encode('line one\nline two ü\n'));
      return { exitCode: 0, stdout: 'line one\nline two ü\n' };
    });
    const { body } = await get('/barman/backup?server_name=pg&format=console');
    await runner.settled();
    const res = await app.request(`/history/result?ticket=${body.ticket}&follow=1&token=${token}`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text();
    expect(text).toMatch(/event: status\ndata: done\n/);
    expect(text).toContain('event: log\ndata: line one\ndata: line two ü\n');
    const result = JSON.parse(/event: result\ndata: (.*)\n/.exec(text)![1]!);
    expect(result).toMatchObject({ status: 'done', status_code: 200, list: ['line one', 'line two ü'] });
  });

  it('reports a job folder with a corrupt result.json as failed with an explanation, not a 500', async () => {
    const { get, runner, deps } = await setup(() => ({ exitCode: 0, stdout: '{}' }));
    const { body } = await get('/barman/backup?server_name=pg');
    await runner.settled();
    const [dir] = await deps.storage.list('active/202611');
    await deps.storage.writeAtomic(`active/202611/${dir}/result.json`, '{"status": "done", "resu');
    const r = await get(`/history/result?ticket=${body.ticket}`);
    expect(r.res.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'failed', status_code: -1 });
    expect(r.body.message).toMatch(/result file .* is not valid JSON/);
    const list = await get('/history/list');
    expect(list.body.list[0]).toMatchObject({ status: 'failed', result: -1 });
  });

  it('needs a ticket and rejects unknown parameters', async () => {
    const { get } = await setup(() => ({ exitCode: 0, stdout: '{}' }));
    const missing = await get('/history/result');
    expect(missing.res.status).toBe(400);
    expect(missing.body.message).toMatch(/ticket is required/);
    const unknown = await get('/history/list?month=202611');
    expect(unknown.res.status).toBe(400);
    expect(unknown.body.message).toMatch(/unknown parameter month; allowed: past, limit, offset/);
    const badLimit = await get('/history/list?limit=0');
    expect(badLimit.res.status).toBe(400);
  });
});

describe('one job per command and server', () => {
  it('lets exactly one of several simultaneous backups of a server through; `all` conflicts with any server', async () => {
    const g = gate();
    const { get, runner } = await setup(g.handler);
    const answers = await Promise.all(Array.from({ length: 6 }, () => get('/barman/backup?server_name=pg')));
    expect(answers.map((a) => a.res.status).sort()).toEqual([202, 409, 409, 409, 409, 409]);
    expect((await get('/barman/backup?server_name=all')).res.status).toBe(409);
    g.release();
    await runner.settled();
  });
});

describe('monthly archive safety', () => {
  it('removes only the job folders it archived and skips a month whose job folder has a subfolder', async () => {
    const { get, runner, clock, deps, api, relogin } = await setup(() => ({ exitCode: 0, stdout: '{}' }));
    await get('/barman/backup?server_name=a');
    await runner.settled();
    const [id] = await deps.storage.list('active/202611');
    await deps.storage.writeAtomic('active/202611/notes-by-hand.txt', 'keep me');
    await deps.storage.writeAtomic('active/202611/20261115100000_backup_5d3c0e2a-1111/job.json', '{}');
    clock.set('2026-12-02T00:00:00Z');
    await relogin();
    expect(await api.jobs.archivePastMonths()).toEqual(['202611']);
    expect((await deps.storage.list('active/202611')).sort()).toEqual(['20261115100000_backup_5d3c0e2a-1111', 'notes-by-hand.txt']);
    expect(await deps.storage.readText('active/202611/notes-by-hand.txt')).toBe('keep me');
    expect(await deps.storage.stat(`active/202611/${id}`)).toBeNull();

    // A job folder with a subfolder: the month waits, nothing is removed.
    clock.set('2026-12-10T00:00:00Z');
    await relogin();
    await get('/barman/backup?server_name=b');
    await runner.settled();
    const [dec] = await deps.storage.list('active/202612');
    await deps.storage.writeAtomic(`active/202612/${dec}/sub/extra.txt`, 'x');
    clock.set('2027-01-02T00:00:00Z');
    await relogin();
    expect(await api.jobs.archivePastMonths()).toEqual([]);
    expect(await deps.storage.readText(`active/202612/${dec}/sub/extra.txt`)).toBe('x');
    expect(await deps.storage.stat('archive/202612.tar.gz')).toBeNull();
  });
});

describe('runner failures', () => {
  it('records a job whose runner exited before starting barman as failed, with what the runner said', async () => {
    const host = fixtureBarmanHost('3.4', () => ({ stdout: '{}' }));
    const settings = loadSettings({ text: `[barman]\nasynccommand=['backup']\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
    const holder: { storage?: AppDeps['storage'] } = {};
    const deadRunner = {
      async start(job: { id: string; dir: string }) {
        await holder.storage!.writeAtomic(`${job.dir}/runner.log`, 'barmanapi: /etc/barmanapi.conf: [application] port: expected a whole number\n');
        return { pid: 424242 };
      },
      async isAlive() {
        return false;
      },
      async cancel() {},
    };
    const t = testApp({ host, settings, jobs: deadRunner });
    holder.storage = t.deps.storage;
    const token = await loginToken(t.app);
    const started = (await (await t.app.request(`/barman/backup?server_name=pg&token=${token}`)).json()) as Body;
    await t.api.jobs.pump();
    const r = (await (await t.app.request(`/history/result?ticket=${started.ticket}&token=${token}`)).json()) as Body;
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/runner exited before starting barman: barmanapi: .*port: expected a whole number/);
  });

  it('records a host that cannot run barman as a failed result, not a lost job', async () => {
    const { get, runner } = await setup(() => {
      throw new Error('host key for 127.0.0.1 changed');
    });
    const { body } = await get('/barman/backup?server_name=pg');
    await runner.settled();
    const r = await get(`/history/result?ticket=${body.ticket}`);
    expect(r.body).toMatchObject({ status: 'failed', status_code: -1 });
    expect(r.body.message).toMatch(/barman could not be run: host key for 127.0.0.1 changed/);
  });
});

describe('archive retention', () => {
  it('deletes monthly archives older than [jobs] keep_months, and keeps all with 0', async () => {
    const host = fixtureBarmanHost('3.4');
    for (const [keep, left] of [[2, ['202609.tar.gz', '202610.tar.gz', '202611.tar.gz']], [0, ['202501.tar.gz', '202608.tar.gz', '202609.tar.gz', '202610.tar.gz', '202611.tar.gz']]] as const) {
      const settings = loadSettings({ text: `[jobs]\nkeep_months=${keep}\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
      const t = testApp({ host, settings });
      for (const m of ['202501', '202608', '202609', '202610', '202611']) await t.deps.storage.writeAtomic(`archive/${m}.tar.gz`, 'x');
      await t.api.jobs.archivePastMonths();
      expect(await t.deps.storage.list('archive')).toEqual(left);
    }
  });
});

describe('garbage left by a crash', () => {
  it('is removed once it is a day old', async () => {
    const t = testApp({ host: fixtureBarmanHost('3.4') });
    await t.deps.storage.writeAtomic('garbage/202609-abc/x/job.json', '{}');
    await t.api.jobs.archivePastMonths();
    expect(await t.deps.storage.list('garbage')).toEqual(['202609-abc']);
    t.clock.advance(86_400_000 + 1000);
    await t.deps.storage.writeAtomic('garbage/fresh.tmp', 'x');
    await t.api.jobs.archivePastMonths();
    expect(await t.deps.storage.list('garbage')).toEqual(['fresh.tmp']);
  });
});

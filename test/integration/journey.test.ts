import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';
import { createApi } from '../../src/app.js';
import { readSettings } from '../../adapters/node/settings-file.js';
import { createNodeDeps } from '../../adapters/node/deps.js';

type Body = { status_code: number; message: string; list: any; data?: any; ticket?: string; status?: string; total?: number; [k: string]: any };

const env = itEnv();
const barmanUid = Number(execFileSync('id', ['-u', env.barman.user]).toString().trim());
const barmanGid = Number(execFileSync('id', ['-g', env.barman.user]).toString().trim());

const MODES = {
  local: `configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false\nasynccommand=['backup','recover']\ntimeout=120`,
  ssh: `configfile=${env.barman.config}\ncommand=/usr/bin/barman\nremote=true\nremotessh=${env.ssh.remotessh}\nknown_hosts=${env.ssh.knownHosts}\nasynccommand=['backup','recover']\ntimeout=120`,
};

describe.each(Object.entries(MODES))('the user journey with barman on the %s host', (mode, barmanSection) => {
  let server: ServerProcess;
  let t: string;
  let config: string;
  const recoverDir = join(env.root, `recover-${mode}-${process.pid}`);
  const get = async (path: string): Promise<{ status: number; body: Body }> => {
    const url = `${server.baseUrl}${path}${path.includes('?') ? '&' : '?'}token=${t}`;
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      // A kept-alive connection reset as it is reused (seen about once in 20 runs, right after the
      // test itself archived the month) is the client's race, and a new connection settles it;
      // a server that died fails the second try too, and its output says why.
      const code = ((e as { cause?: { code?: string } }).cause ?? {}).code;
      if (code !== 'ECONNRESET' || server.child.exitCode !== null) throw new Error(`${String(e)} (${code}); server exit ${server.child.exitCode}:\n${server.output().slice(-2000)}`);
      res = await fetch(url);
    }
    return { status: res.status, body: (await res.json()) as Body };
  };
  /** Follow a job's log as a client would, until the stream ends; returns the events. */
  const follow = async (ticket: string) => {
    const res = await fetch(`${server.baseUrl}/history/result?ticket=${ticket}&follow=1&token=${t}`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: ([^\n]*(?:\ndata: [^\n]*)*)/g)].map((m) => ({ event: m[1]!, data: m[2]!.replace(/\ndata: /g, '\n') }));
    return events;
  };

  beforeAll(async () => {
    const d = serverDir(barmanSection);
    config = d.config;
    server = await startServerProcess(d.config);
    t = await token(server.baseUrl);
    rmSync(recoverDir, { recursive: true, force: true });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(recoverDir, { recursive: true, force: true });
  });

  it('lists, checks and shows the server with barman\'s JSON parsed', async () => {
    const list = await get('/barman/list-server');
    expect(list.status).toBe(200);
    expect(list.body.data.pg.description).toBeTypeOf('string');
    const check = await get('/barman/check?server_name=pg');
    expect(check.status, JSON.stringify(check.body)).toBe(200);
    expect(check.body.data.pg.postgresql.status).toBe('OK');
    const show = await get('/barman/show-server?SERVERNAME=pg');
    expect(show.body.data.pg.backup_method).toBe('postgres');
    const status = await get('/barman/status?server_name=pg');
    expect(status.body.data.pg.pg_version.message).toMatch(/^15\./);
    const unknown = await get('/barman/show-server?server_name=nosuch');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/Unknown server 'nosuch'/);
  });

  it('backs up asynchronously: ticket, live log, done; list-backup and show-backup see it', async () => {
    const started = await get('/barman/backup?server_name=pg&wait=true');
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const events = await follow(started.body.ticket!);
    const result = JSON.parse(events.at(-1)!.data) as Body;
    expect(events.at(-1)!.event).toBe('result');
    expect(result.status, JSON.stringify(result)).toBe('done');
    expect(result.status_code).toBe(200);
    expect(events.some((e) => e.event === 'log')).toBe(true);
    const backups = await get('/barman/list-backup?server_name=pg');
    expect(backups.body.data.pg[0].status).toBe('DONE');
    const latest = await get('/barman/show-backup?server_name=pg&backup_id=latest');
    expect(latest.status).toBe(200);
    expect(latest.body.data.pg.status ?? JSON.stringify(latest.body.data)).toBeTruthy();
  }, 120_000);

  it('recovers the latest backup into an empty directory as a background job', async () => {
    mkdirSync(recoverDir, { mode: 0o700 });
    chownSync(recoverDir, barmanUid, barmanGid);
    const started = await get(`/barman/recover?server_name=pg&backup_id=latest&destination_directory=${encodeURIComponent(recoverDir)}`);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const events = await follow(started.body.ticket!);
    const result = JSON.parse(events.at(-1)!.data) as Body;
    expect(result.status, JSON.stringify(result)).toBe('done');
    const files = readdirSync(recoverDir);
    expect(files).toEqual(expect.arrayContaining(['PG_VERSION', 'backup_label', 'base', 'global']));
  }, 120_000);

  it("refuses a recover with a line break in target_name, or into barman's home, before barman runs", async () => {
    const dir = `${recoverDir}-refused`;
    const enc = encodeURIComponent;
    const injected = await get(`/barman/recover?server_name=pg&backup_id=latest&destination_directory=${enc(dir)}&target_name=${enc("x\nrestore_command = 'touch /tmp/owned'")}`);
    expect(injected.status).toBe(400);
    expect(injected.body.parameter).toBe('target_name');
    const home = await get(`/barman/recover?server_name=pg&backup_id=latest&destination_directory=${enc(join(env.barman.home, 'restore'))}`);
    expect(home.status).toBe(403);
    expect(home.body.message).toMatch(/barman may not write there/);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(env.barman.home, 'restore'))).toBe(false);
  });

  it('shows both jobs in /history/list, and in the archive once the month has passed', async () => {
    const list = await get('/history/list');
    const commands = list.body.list.map((j: { command: string }) => j.command);
    expect(commands.slice(0, 2)).toEqual(['recover', 'backup']);
    expect(list.body.list[0]).toMatchObject({ status: 'done', result: 200, user: 'memin', server: 'pg' });
    const month: string = list.body.month;

    // One month on: the archiver packs this month, and history reads it from archive/YYYYmm.tar.gz.
    const settings = readSettings({ config });
    const deps = createNodeDeps(settings, { logToStderr: false });
    const nextMonth = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(4)), 2));
    const later = createApi({ ...deps, clock: { now: () => nextMonth } });
    expect(await later.jobs.archivePastMonths()).toContain(month);
    expect(existsSync(join(settings.application.storeDirectory, 'archive', `${month}.tar.gz`))).toBe(true);
    expect(existsSync(join(settings.application.storeDirectory, 'active', month))).toBe(false);
    await deps.host.close();
    const past = await get(`/history/list?past=${month}`);
    expect(past.body.total, JSON.stringify(past.body)).toBeGreaterThanOrEqual(2);
    expect(past.body.list.map((j: { command: string }) => j.command).slice(0, 2)).toEqual(['recover', 'backup']);
    const archivedResult = await get(`/history/result?ticket=${past.body.list[1].ticket}`);
    expect(archivedResult.body).toMatchObject({ status: 'done', command: 'backup' });
  });
});

/**
 * API v1's actions and job logs on memory adapters and barman 3.4's real help: start a backup
 * (202, Location, the job), delete, check, switch-wal and any command by name, each under the
 * same rules as its legacy route; cancel a job; follow a job's log as Server-Sent Events and
 * resume it with Last-Event-ID, byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { fixtureBarmanHost, type CommandHandler } from '../support/fake-barman.js';
import { caller, clientConfUser, testApp, twoHostApp } from '../support/app.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const STATE = ['list-server', 'show-server', 'status', 'list-backup', 'show-backup'];

const USERS =
  clientConfUser('memin', []) +
  clientConfUser('ops', ['barman', 'history']) +
  clientConfUser('nobackup', ['barman', 'history'], { deny: ['barman/backup'] }) +
  clientConfUser('dc2only', ['barman', 'history'], { hosts: ['dc2'] }) +
  clientConfUser('useradmin', ['auth', 'barman/list-backup']) +
  clientConfUser('configurer', ['config']) +
  clientConfUser('checker', ['barman/check']) +
  clientConfUser('literal', ['barman/{command}']);

/** A barman whose backup prints `chunks` one by one, each when the test releases it. */
function setup(chunks: Uint8Array[] = [new TextEncoder().encode('backup done\n')]) {
  const runs: string[][] = [];
  let released = 0;
  const waiters: Array<() => void> = [];
  const release = (n = 1) => {
    released += n;
    waiters.splice(0).forEach((w) => w());
  };
  const handler: CommandHandler = async (argv, options) => {
    runs.push(argv);
    const state = STATE.find((c) => argv.includes(c) || argv.includes(`${c}s`));
    if (state) return { stdout: readFileSync(join(OUTPUT, `${state}.json`), 'utf8') };
    if (argv.includes('backup')) {
      for (let i = 0; i < chunks.length; i++) {
        while (released <= i && !options.signal?.aborted) {
          await new Promise<void>((r) => {
            waiters.push(r);
            options.signal?.addEventListener('abort', () => r(), { once: true });
          });
        }
        if (options.signal?.aborted) return { exitCode: null, aborted: true, signal: 'SIGTERM' };
        options.onOutput?.('stdout', chunks[i]!);
      }
      return { exitCode: 0, stdout: '' };
    }
    if (argv.includes('check')) return { stdout: readFileSync(join(OUTPUT, 'check.json'), 'utf8') };
    if (argv.includes('switch-wal') || argv.includes('delete') || argv.includes('recover')) return { stdout: '{}' };
    return { exitCode: 1, stderr: `unexpected ${argv.join(' ')}` };
  };
  const main = fixtureBarmanHost('3.4', handler);
  const dc2 = fixtureBarmanHost('3.4', handler);
  const t = twoHostApp(main, dc2, USERS);
  const { runner } = t;
  const tokens = new Map<string, string>();
  const token = async (who: string) => {
    if (!tokens.has(who)) {
      const res = await t.app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: who, password: '1258' }) });
      tokens.set(who, ((await res.json()) as { token: string }).token);
    }
    return tokens.get(who)!;
  };
  const v1 = async (who: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await t.app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${await token(who)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res;
  };
  return { ...t, v1, token, legacy: caller(t.app), runs, release, runner, main };
}

/** The events of an SSE answer, read until `stop` says so or the stream ends; the reader is then let go. */
async function events(res: Response, stop: (e: { event: string; id: string; data: string }) => boolean = () => false) {
  const out: Array<{ event: string; id: string; data: string }> = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e = { event: 'message', id: '', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const [k, ...v] = line.split(': ');
        if (k === 'event') e.event = v.join(': ');
        else if (k === 'id') e.id = v.join(': ');
        else if (k === 'data') data.push(v.join(': '));
      }
      e.data = data.join('\n');
      out.push(e);
      if (stop(e)) {
        await reader.cancel();
        return out;
      }
    }
  }
  return out;
}

describe('v1 actions', () => {
  it('starts a backup: 202, the job at Location, its log and its end', async () => {
    const { v1, release, runner } = setup();
    const res = await v1('ops', 'POST', '/hosts/default/servers/pg/backups', { immediate_checkpoint: true, reuse_backup: 'link' });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; command: string; status: string };
    expect(res.headers.get('location')).toBe(`/api/v1/jobs/${job.id}`);
    expect(job).toMatchObject({ command: 'backup', host: 'default', server: 'pg', user: 'ops' });
    release();
    await runner.settled();
    const done = (await (await v1('ops', 'GET', `/jobs/${job.id}`)).json()) as { status: string };
    expect(done.status).toBe('done');
  });

  it('passes the typed options as barman options, and refuses what the body should not hold', async () => {
    const { v1, runs, release, runner } = setup();
    release();
    expect((await v1('ops', 'POST', '/hosts/default/servers/pg/backups', { immediate_checkpoint: true, reuse_backup: 'link', jobs: 2 })).status).toBe(202);
    await runner.settled();
    const backup = runs.find((argv) => argv.includes('backup'))!;
    expect(backup).toEqual(expect.arrayContaining(['--immediate-checkpoint', '--reuse-backup=link', '--jobs=2', 'pg']));
    const unknown = await v1('ops', 'POST', '/hosts/default/servers/pg/backups', { colour: 'red' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ parameter: 'colour' });
    const inQuery = await v1('ops', 'POST', '/hosts/default/servers/pg/backups?wait=true', {});
    expect(await inQuery.json()).toMatchObject({ status: 400, parameter: 'wait' });
  });

  it('refuses a backup to a user denied barman/backup, through v1 as through legacy', async () => {
    const { v1, legacy } = setup();
    expect((await legacy('nobackup', '/barman/backup?server_name=pg')).res.status).toBe(403);
    expect((await v1('nobackup', 'POST', '/hosts/default/servers/pg/backups', {})).status).toBe(403);
    expect((await v1('nobackup', 'POST', '/hosts/default/commands/backup', { server_name: 'pg' })).status).toBe(403);
    // A host-limited user acts on their host only.
    expect((await legacy('dc2only', '/barman/backup?server_name=pg')).res.status).toBe(404);
    expect((await v1('dc2only', 'POST', '/hosts/default/servers/pg/backups', {})).status).toBe(404);
  });

  it('runs check, switch-wal, delete and any command by name, answering barman\'s result', async () => {
    const { v1, runs } = setup();
    const check = await v1('ops', 'POST', '/hosts/default/servers/pg/check');
    expect(check.status).toBe(200);
    expect(await check.json()).toMatchObject({ status_code: 200, data: { pg: expect.any(Object) } });
    expect((await v1('ops', 'POST', '/hosts/default/servers/pg/wal/switch', { force: true, archive: true })).status).toBe(200);
    expect(runs.find((a) => a.includes('switch-wal'))).toEqual(expect.arrayContaining(['--force', '--archive', 'pg']));
    expect((await v1('ops', 'DELETE', '/hosts/default/servers/pg/backups/20261127T233545')).status).toBe(200);
    expect(runs.find((a) => a.includes('delete'))).toEqual(expect.arrayContaining(['pg', '20261127T233545']));
    // Only ids barman lists: no shortcut reaches barman.
    expect((await v1('ops', 'DELETE', '/hosts/default/servers/pg/backups/oldest')).status).toBe(404);
    const any = await v1('ops', 'POST', '/hosts/default/commands/list-backups', { server_name: 'pg' });
    expect(any.status).toBe(200);
    expect(await any.json()).toMatchObject({ status_code: 200, data: { pg: expect.any(Array) } });
    const failing = await v1('ops', 'POST', '/hosts/default/commands/sync-info', { server_name: 'pg' });
    expect(failing.status).toBe(422);
    expect(failing.headers.get('content-type')).toBe('application/problem+json');
    expect(await failing.json()).toMatchObject({ status_code: 1, list: [] });
  });

  it('recovers from a typed body: the ssh command built from its parts, the paths checked as on /barman/recover', async () => {
    const { v1, runs, legacy } = setup();
    const body = { backup: '20261127T233548', destination: '/srv/restore', target_time: '2026-11-28 00:00:00+00', target_action: 'promote', remote_host: 'db1.example', remote_user: 'postgres', remote_port: 2222, tablespaces: ['tbs1:/srv/tbs1'] };
    const res = await v1('ops', 'POST', '/hosts/default/servers/pg/recoveries', body);
    expect(res.status, await res.clone().text()).toBe(200);
    const argv = runs.find((a) => a.includes('recover'))!;
    expect(argv.slice(argv.indexOf('recover'))).toEqual(expect.arrayContaining(['--target-time=2026-11-28 00:00:00+00', '--target-action=promote', '--remote-ssh-command=ssh -p 2222 postgres@db1.example', '--tablespace=tbs1:/srv/tbs1', 'pg', '20261127T233548', '/srv/restore']));
    const bad = async (change: Record<string, unknown>) => (await (await v1('ops', 'POST', '/hosts/default/servers/pg/recoveries', { ...body, ...change })).json()) as { status: number; parameter?: string };
    expect(await bad({ remote_host: 'db1;reboot' })).toMatchObject({ status: 400, parameter: 'remote_host' });
    expect(await bad({ remote_ssh_command: 'sh -c reboot' })).toMatchObject({ status: 400, parameter: 'remote_ssh_command' });
    expect(await bad({ target_lsn: 'zz' })).toMatchObject({ status: 400, parameter: 'target_lsn' });
    expect(await bad({ backup: 'latest' })).toMatchObject({ status: 404, parameter: 'backup' });
    const local = { ...body, remote_host: undefined, remote_user: undefined, remote_port: undefined };
    const intoBarman = await v1('ops', 'POST', '/hosts/default/servers/pg/recoveries', { ...local, destination: '/var/lib/barman/pg' });
    expect(intoBarman.status).toBe(403);
    // The same refusal on the legacy route.
    expect((await legacy('ops', '/barman/recover?server_name=pg&backup_id=20261127T233548&destination_directory=/var/lib/barman/pg')).res.status).toBe(403);
    // Denied barman/backup is not denied barman/recover; a host-limited user reaches their host only.
    expect((await v1('nobackup', 'POST', '/hosts/default/servers/pg/recoveries', body)).status).toBe(200);
    expect((await v1('dc2only', 'POST', '/hosts/default/servers/pg/recoveries', body)).status).toBe(404);
  });

  it('checks the command a URL names against the rules, as /barman/<command> does, in both directions', async () => {
    const { v1, legacy } = setup();
    const body = { server_name: 'pg' };
    // Access to barman/check: check runs, on both surfaces; delete does not.
    expect((await legacy('checker', '/barman/check?server_name=pg')).res.status).toBe(200);
    expect((await v1('checker', 'POST', '/hosts/default/commands/check', body)).status).toBe(200);
    expect((await legacy('checker', '/barman/delete?server_name=pg&backup_id=20261127T233545')).res.status).toBe(403);
    expect((await v1('checker', 'POST', '/hosts/default/commands/delete', { ...body, backup_id: '20261127T233545' })).status).toBe(403);
    // The route's template is no rule: a user granted the text barman/{command} runs nothing with it.
    expect((await v1('literal', 'POST', '/hosts/default/commands/delete', { ...body, backup_id: '20261127T233545' })).status).toBe(403);
    // A name that is no command's is no route.
    for (const name of ['CHECK', 'check%2Fhelp', '..%2Fcheck', '-h']) {
      expect((await (await v1('memin', 'POST', `/hosts/default/commands/${name}`, body)).json()).status, name).toBe(404);
    }
  });

  it('keeps text values as given ("false" as a restore point), and refuses a port out of range', async () => {
    const { v1, runs } = setup();
    const body = { backup: '20261127T233548', destination: '/srv/restore', target_name: 'false' };
    expect((await v1('ops', 'POST', '/hosts/default/servers/pg/recoveries', body)).status).toBe(200);
    expect(runs.find((a) => a.includes('recover'))).toContain('--target-name=false');
    expect(await (await v1('ops', 'POST', '/hosts/default/servers/pg/recoveries', { ...body, remote_host: 'db1', remote_port: 0 })).json()).toMatchObject({ status: 400, parameter: 'remote_port' });
    expect(await (await v1('ops', 'POST', '/hosts/default/servers/pg/recoveries', { ...body, remote_port: 2222 })).json()).toMatchObject({ status: 400, parameter: 'remote_host' });
  });

  it('gives the job\'s Location below the mount point, whatever the mount point holds', async () => {
    const t = setup();
    t.release();
    const host = new Hono();
    host.route('/api/v1/barman', t.app);
    const token = await t.token('ops');
    const res = await host.request('/api/v1/barman/api/v1/hosts/default/servers/pg/backups', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string };
    expect(res.headers.get('location')).toBe(`/api/v1/barman/api/v1/jobs/${job.id}`);
    await t.runner.settled();
  });

  it('cancels a running job (DELETE), with the same rules as /history/cancel', async () => {
    const { v1, runner } = setup([new TextEncoder().encode('one\n'), new TextEncoder().encode('two\n')]);
    const job = (await (await v1('ops', 'POST', '/hosts/default/servers/pg/backups', {})).json()) as { id: string };
    expect((await v1('nobackup', 'DELETE', `/jobs/${job.id}`)).status).toBe(403);
    const cancel = await v1('memin', 'DELETE', `/jobs/${job.id}`);
    expect([200, 202]).toContain(cancel.status);
    await runner.settled();
    expect(((await (await v1('ops', 'GET', `/jobs/${job.id}`)).json()) as { status: string }).status).toBe('cancelled');
    expect((await v1('memin', 'DELETE', `/jobs/${job.id}`)).status).toBe(409);
  });
});

describe('v1 job logs', () => {
  it('streams a job\'s log live, and a dropped stream resumed with Last-Event-ID adds up to output.log byte for byte', async () => {
    const enc = new TextEncoder();
    const e9 = enc.encode('é');
    // A carriage return, a NUL, and a character split across two writes.
    const chunks = [enc.encode('start\r\n'), Uint8Array.of(...enc.encode('half '), e9[0]!), Uint8Array.of(e9[1]!, ...enc.encode(' whole\n\u0000x\n')), enc.encode('end\n')];
    const { v1, release, runner, deps } = setup(chunks);
    const job = (await (await v1('ops', 'POST', '/hosts/default/servers/pg/backups', {})).json()) as { id: string };
    release(2);
    const first = await v1('ops', 'GET', `/jobs/${job.id}/log`);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Drop the stream once the text before the split character has come.
    const seen = await events(first, (e) => e.event === 'log' && (JSON.parse(e.data) as string).includes('half'));
    const logs = seen.filter((e) => e.event === 'log');
    expect(seen.every((e) => /^\d+$/.test(e.id))).toBe(true);
    const lastId = seen[seen.length - 1]!.id;
    release(2);
    const rest = await events(await v1('ops', 'GET', `/jobs/${job.id}/log`, undefined, { 'last-event-id': lastId }));
    await runner.settled();
    const text = [...logs, ...rest.filter((e) => e.event === 'log')].map((e) => JSON.parse(e.data) as string).join('');
    const file = await deps.storage.readBytes(`active/${job.id.slice(0, 6)}/${job.id}/output.log`);
    expect(enc.encode(text)).toEqual(file);
    expect(rest[rest.length - 1]).toMatchObject({ event: 'end' });
    expect(JSON.parse(rest[rest.length - 1]!.data)).toMatchObject({ id: job.id, status: 'done' });
    // From a finished job, resuming anywhere gives the rest.
    const again = await events(await v1('ops', 'GET', `/jobs/${job.id}/log`, undefined, { 'last-event-id': '7' }));
    expect(again.filter((e) => e.event === 'log').map((e) => JSON.parse(e.data) as string).join('')).toBe(new TextDecoder().decode(file!.subarray(7)));
    expect((await v1('ops', 'GET', `/jobs/${job.id}/log`, undefined, { 'last-event-id': 'x' })).status).toBe(400);
  });

  it('resumes the log of a job from its month\'s archive just as from the live file', async () => {
    const enc = new TextEncoder();
    const { v1, release, runner, api, clock, legacy } = setup([enc.encode('first line\n'), enc.encode('second line\n')]);
    const job = (await (await v1('ops', 'POST', '/hosts/default/servers/pg/backups', {})).json()) as { id: string };
    release(2);
    await runner.settled();
    const live = await events(await v1('ops', 'GET', `/jobs/${job.id}/log`));
    clock.set('2026-12-02T10:00:00Z');
    expect(await api.jobs.archivePastMonths()).toEqual(['202611']);
    // Back to when the tokens were given, so they are still good.
    clock.set('2026-11-15T10:30:00Z');
    // The same ids from the archive: resuming at the first event's id gives the rest.
    const archived = await events(await v1('ops', 'GET', `/jobs/${job.id}/log`));
    expect(archived.filter((e) => e.event === 'log').map((e) => [e.id, e.data])).toEqual(live.filter((e) => e.event === 'log').map((e) => [e.id, e.data]));
    const rest = await events(await v1('ops', 'GET', `/jobs/${job.id}/log`, undefined, { 'last-event-id': '11' }));
    expect(rest.filter((e) => e.event === 'log').map((e) => JSON.parse(e.data) as string).join('')).toBe('second line\n');
    expect(JSON.parse(rest[rest.length - 1]!.data)).toMatchObject({ archived: true, status: 'done' });
    // Cancelling an ended job is refused the same way on both surfaces.
    expect((await v1('ops', 'DELETE', `/jobs/${job.id}`)).status).toBe(409);
    const ticket = ((await (await v1('ops', 'GET', `/jobs/${job.id}`)).json()) as { ticket: string }).ticket;
    expect((await legacy('ops', `/history/cancel?ticket=${ticket}`)).res.status).toBe(409);
    expect((await legacy('nobackup', `/history/cancel?ticket=${ticket}`)).res.status).toBe(403);
    expect((await v1('nobackup', 'DELETE', `/jobs/${job.id}`)).status).toBe(403);
  });

  it('streams a log of megabytes a window at a time, whole characters in every event', async () => {
    const enc = new TextEncoder();
    // One ASCII byte first: the 1 MiB read windows and 64 KiB events then fall inside characters.
    const big = enc.encode(`a${'é'.repeat(700_000)}\n${'x'.repeat(600_001)}\n`);
    const { v1, release, runner, deps, clock, api } = setup([big]);
    const job = (await (await v1('ops', 'POST', '/hosts/default/servers/pg/backups', {})).json()) as { id: string };
    release();
    await runner.settled();
    const all = await events(await v1('ops', 'GET', `/jobs/${job.id}/log`));
    const logs = all.filter((e) => e.event === 'log');
    expect(logs.length).toBeGreaterThan(30);
    for (const e of logs) expect(JSON.parse(e.data) as string).not.toContain('\ufffd');
    const file = await deps.storage.readBytes(`active/${job.id.slice(0, 6)}/${job.id}/output.log`);
    expect(enc.encode(logs.map((e) => JSON.parse(e.data) as string).join(''))).toEqual(file);
    expect(Number(logs[logs.length - 1]!.id)).toBe(file!.length);
    // The same from the month's archive.
    clock.set('2026-12-02T10:00:00Z');
    await api.jobs.archivePastMonths();
    clock.set('2026-11-15T10:30:00Z');
    const archived = (await events(await v1('ops', 'GET', `/jobs/${job.id}/log`, undefined, { 'last-event-id': '1' }))).filter((e) => e.event === 'log');
    for (const e of archived) expect(JSON.parse(e.data) as string).not.toContain('\ufffd');
    expect(enc.encode(archived.map((e) => JSON.parse(e.data) as string).join(''))).toEqual(file!.subarray(1));
  }, 60_000); // megabytes through the event stream, a window at a time: slow when other suites share the cores
});

describe('v1 users', () => {
  const json = { 'content-type': 'application/json' };

  it('adds, reads, changes and removes a user; a change ends their tokens', async () => {
    const { v1, token, app } = setup();
    const added = await v1('memin', 'POST', '/users', { username: 'ann', password: 'a-long-password-1', access: ['barman'], hosts: ['dc2'] });
    expect(added.status).toBe(201);
    expect(added.headers.get('location')).toBe('/api/v1/users/ann');
    expect(await added.json()).toEqual({ username: 'ann', access: ['barman'], deny: [], hosts: ['dc2'] });
    expect(await (await v1('memin', 'GET', '/users/ann')).json()).toMatchObject({ username: 'ann' });
    const annToken = ((await (await app.request('/api/v1/auth/token', { method: 'POST', headers: json, body: '{"username":"ann","password":"a-long-password-1"}' })).json()) as { token: string }).token;
    expect((await app.request('/api/v1/me', { headers: { authorization: `Bearer ${annToken}` } })).status).toBe(200);
    const changed = await v1('memin', 'PATCH', '/users/ann', { deny: ['barman/delete'] });
    expect(await changed.json()).toMatchObject({ username: 'ann', deny: ['barman/delete'] });
    expect((await app.request('/api/v1/me', { headers: { authorization: `Bearer ${annToken}` } })).status).toBe(401);
    expect((await v1('memin', 'DELETE', '/users/ann')).status).toBe(204);
    expect((await v1('memin', 'GET', '/users/ann')).status).toBe(404);
    expect(await token('memin')).toBeTruthy();
  });

  it('gives the same refusals as /auth/user/*: no list without the rule, no rights beyond one\'s own, no password in a URL', async () => {
    const { v1, legacy } = setup();
    expect((await legacy('ops', '/auth/user/list')).res.status).toBe(403);
    expect((await v1('ops', 'GET', '/users')).status).toBe(403);
    // opsadmin may add users, within their own rights only.
    const wider = { username: 'bob', password: 'a-long-password-2', access: [] };
    expect((await legacy('useradmin', '/auth/user/add', wider)).res.status).toBe(403);
    expect((await v1('useradmin', 'POST', '/users', wider)).status).toBe(403);
    expect((await v1('useradmin', 'POST', '/users', { ...wider, access: ['barman/list-backup'] })).status).toBe(201);
    const inUrl = await v1('memin', 'POST', '/users?password=x', { username: 'carl', password: 'a-long-password-3' });
    expect(await inUrl.json()).toMatchObject({ status: 400, parameter: 'password' });
  });
});

describe('v1 barman configuration', () => {
  it('reads it, shows a dry run\'s diff without changing anything, then changes it', async () => {
    const { v1, main } = setup();
    const read = await v1('memin', 'GET', '/hosts/default/config');
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ main_file: '/etc/barman.conf', sections: [expect.objectContaining({ name: 'barman', kind: 'global' })] });
    const before = await main.readFile('/etc/barman.conf');
    const dry = await v1('configurer', 'PATCH', '/hosts/default/config', { set: { 'barman.log_level': 'DEBUG' }, dry_run: true });
    expect(dry.status, await dry.clone().text()).toBe(200);
    expect(await dry.json()).toMatchObject({ dry_run: true, written: false, diff: expect.stringContaining('+log_level = DEBUG'), changes: [{ section: 'barman', key: 'log_level', action: 'set', changed: true }] });
    expect(await main.readFile('/etc/barman.conf')).toBe(before);
    const done = await v1('configurer', 'PATCH', '/hosts/default/config', { set: { 'barman.log_level': 'DEBUG' } });
    expect(await done.json()).toMatchObject({ written: true, backup: expect.any(String) });
    expect(await main.readFile('/etc/barman.conf')).toContain('log_level = DEBUG');
  });

  it('needs config/barman/exec for an option barman runs, through v1 as through legacy', async () => {
    const { v1, legacy, main } = setup();
    const before = await main.readFile('/etc/barman.conf');
    expect((await legacy('configurer', '/config/barman/change?barman.post_backup_script=/bin/true')).res.status).toBe(403);
    expect((await v1('configurer', 'PATCH', '/hosts/default/config', { set: { 'barman.post_backup_script': '/bin/true' } })).status).toBe(403);
    expect((await v1('ops', 'PATCH', '/hosts/default/config', { set: { 'barman.log_level': 'DEBUG' } })).status).toBe(403);
    expect((await legacy('dc2only', '/config/barman')).res.status).toBe(403);
    expect((await v1('dc2only', 'GET', '/hosts/default/config')).status).toBe(403);
    const bad = await v1('configurer', 'PATCH', '/hosts/default/config', { set: { 'barman.log_level': 'A\nB' } });
    expect(bad.status).toBe(400);
    expect(await main.readFile('/etc/barman.conf')).toBe(before);
  });
});

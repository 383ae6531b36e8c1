/**
 * API v1's read resources on memory adapters and barman 3.4's real outputs: tokens, the caller,
 * hosts, servers, backups, jobs; problem+json errors naming the parameter, 405 with Allow,
 * ETags of the answer and of the caller's scope, and the same rules as the legacy routes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { basic, caller, clientConfUser, testApp, twoHostApp } from '../support/app.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const json = (name: string) => readFileSync(join(OUTPUT, `${name}.json`), 'utf8');
const STATE = ['list-server', 'show-server', 'status', 'list-backup', 'show-backup'];

function barman() {
  const runs: string[][] = [];
  const host = fixtureBarmanHost('3.4', (argv) => {
    runs.push(argv);
    // barman 3.4 names them list-backups, show-servers, …: the legacy routes run those names.
    const command = STATE.find((c) => argv.includes(c) || argv.includes(`${c}s`));
    if (command) return { stdout: json(command) };
    if (argv.includes('backup')) return { stdout: 'Starting backup\n' };
    return { exitCode: 1, stderr: `unexpected ${argv.join(' ')}` };
  });
  return Object.assign(host, { runs });
}

const USERS =
  clientConfUser('memin', []) +
  clientConfUser('reader', ['fleet', 'barman/list-backup', 'history']) +
  clientConfUser('plural', ['barman'], { deny: ['barman/list-backups'] }) +
  clientConfUser('pluralok', ['barman/list-backups']) +
  clientConfUser('fleetonly', ['fleet'], { deny: ['barman'] }) +
  clientConfUser('nolist', ['fleet', 'barman'], { deny: ['barman/list-backup'] }) +
  clientConfUser('dc2only', ['fleet', 'barman', 'history'], { hosts: ['dc2'] });

function setup() {
  const main = barman();
  const dc2 = barman();
  const t = twoHostApp(main, dc2, USERS);
  const { runner } = t;
  const tokens = new Map<string, string>();
  const v1 = async (who: string | null, path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (who) {
      if (!tokens.has(who)) {
        const res = await t.app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: who, password: '1258' }) });
        expect(res.status).toBe(200);
        tokens.set(who, ((await res.json()) as { token: string }).token);
      }
      headers.set('authorization', `Bearer ${tokens.get(who)}`);
    }
    const res = await t.app.request(`/api/v1${path}`, { ...init, headers });
    const text = await res.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { res, status: res.status, body: (text ? JSON.parse(text) : null) as any };
  };
  return { ...t, v1, legacy: caller(t.app), main, dc2, runner };
}

describe('v1 tokens and the caller', () => {
  it('gives a token for a JSON body or Basic, never for credentials in the URL', async () => {
    const { app } = setup();
    const byJson = await app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"memin","password":"1258"}' });
    expect(byJson.status).toBe(200);
    const token = (await byJson.json()) as Record<string, unknown>;
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 6000 });
    expect(Date.parse(String(token.expires_at))).toBeGreaterThan(Date.parse('2026-11-15T10:00:00Z'));
    const byBasic = await app.request('/api/v1/auth/token', { method: 'POST', headers: basic('memin', '1258') });
    expect(byBasic.status).toBe(200);
    const inUrl = await app.request('/api/v1/auth/token?username=memin&password=1258', { method: 'POST' });
    expect(inUrl.status).toBe(400);
    expect(inUrl.headers.get('content-type')).toBe('application/problem+json');
    expect(await inUrl.json()).toMatchObject({ type: 'urn:barmanapi:problem:BadRequest', status: 400, parameter: 'username' });
  });

  it('says what is wrong with a login request, and keeps the token out of caches', async () => {
    const { app } = setup();
    const json = (body: string) => app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(await (await json('{}')).json()).toMatchObject({ status: 400, parameter: 'username' });
    expect(await (await json('{"username":"memin","password":"1258","extra":1}')).json()).toMatchObject({ status: 400, parameter: 'extra' });
    const form = await app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=memin&password=1258' });
    expect(form.status).toBe(415);
    expect((await app.request('/api/v1/auth/token', { method: 'POST' })).status).toBe(401);
    const ok = await json('{"username":"memin","password":"1258"}');
    expect(ok.headers.get('cache-control')).toBe('no-store');
  });

  it('issues no token when the embedding service authenticates users itself', async () => {
    const { app } = testApp({ externalAuth: () => ({ username: 'ops', access: [], deny: [] }) });
    const res = await app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"memin","password":"1258"}' });
    expect(res.status).toBe(404);
    expect((await app.request('/api/v1/me')).status).toBe(200);
  });

  it('refuses wrong credentials as a problem, with a Basic challenge', async () => {
    const { app } = setup();
    const res = await app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"memin","password":"nope"}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await res.json()).toMatchObject({ type: 'urn:barmanapi:problem:Unauthorized', title: 'Unauthorized', status: 401, detail: 'wrong username or password', instance: '/api/v1/auth/token' });
  });

  it('takes a token only as a Bearer header on v1', async () => {
    const { app, v1 } = setup();
    const { body } = await v1('memin', '/me');
    expect(body).toEqual({ username: 'memin', access: [], deny: [], hosts: ['default', 'dc2'] });
    const token = ((await (await app.request('/api/v1/auth/token', { method: 'POST', headers: basic('memin', '1258') })).json()) as { token: string }).token;
    const res = await app.request(`/api/v1/me?token=${token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await v1('dc2only', '/me')).body.hosts).toEqual(['dc2']);
  });
});

describe('v1 reads', () => {
  it('lists hosts, servers, a server, its backups and one backup from barman -f json', async () => {
    const { v1 } = setup();
    expect((await v1('memin', '/hosts')).body).toEqual({ items: [{ name: 'default', description: 'memory', down: null }, { name: 'dc2', description: 'memory', down: null }] });
    const servers = await v1('memin', '/servers');
    expect(servers.status).toBe(200);
    expect(servers.body.hosts.map((h: { name: string }) => h.name)).toEqual(['default', 'dc2']);
    expect(servers.body.items[0]).toMatchObject({ host: 'default', name: 'pg', stale: false, last_backup: { id: '20261127T233548', status: 'DONE' } });
    const server = await v1('memin', '/hosts/dc2/servers/pg');
    expect(server.body).toMatchObject({ host: 'dc2', name: 'pg', backups: 2, failed_backups: 0 });
    const backups = await v1('memin', '/hosts/default/servers/pg/backups');
    expect(backups.body.items.map((b: { id: string }) => b.id)).toEqual(['20261127T233548', '20261127T233545']);
    const backup = await v1('memin', '/hosts/default/servers/pg/backups/20261127T233548');
    expect(backup.body).toMatchObject({ id: '20261127T233548', timeline: 1, begin_wal: '000000010000000000000006', begin_lsn: '0/6000050', postgresql_version: '150018', previous_backup: '20261127T233545', next_backup: null });
  });

  it('answers what does not exist with a 404 problem, and runs barman only on a listed backup id', async () => {
    const { v1, main } = setup();
    expect((await v1('memin', '/hosts/nowhere/servers')).body).toMatchObject({ status: 404, parameter: 'host' });
    expect((await v1('memin', '/hosts/default/servers/nope')).body).toMatchObject({ status: 404, parameter: 'server' });
    const before = main.runs.length;
    for (const id of ['latest', '--help', '20261127T000000']) {
      expect((await v1('memin', `/hosts/default/servers/pg/backups/${encodeURIComponent(id)}`)).body).toMatchObject({ status: 404, parameter: 'backup' });
    }
    expect(main.runs.slice(before).filter((argv) => argv.includes('show-backup'))).toEqual([]);
  });

  it('names an unknown or wrong parameter in a 400 problem', async () => {
    const { v1 } = setup();
    const unknown = await v1('memin', '/servers?fresh=1');
    expect(unknown.status).toBe(400);
    expect(unknown.res.headers.get('content-type')).toBe('application/problem+json');
    expect(unknown.body).toMatchObject({ type: 'urn:barmanapi:problem:BadRequest', parameter: 'fresh' });
    expect((await v1('memin', '/jobs?limit=0')).body).toMatchObject({ status: 400, parameter: 'limit' });
    expect((await v1('memin', '/jobs?status=gone')).body).toMatchObject({ status: 400, parameter: 'status', allowed: ['any', 'queued', 'running', 'done', 'failed', 'lost', 'cancelled'] });
    expect((await v1('memin', '/jobs?cursor=bm9wZQ')).body).toMatchObject({ status: 400, parameter: 'cursor' });
  });

  it('lets a listed browser origin preflight every v1 method', async () => {
    const { app } = testApp({ settingsText: "[application]\ncors_origins = ['https://portal.example']\n[authtoken]\nsecret=test-secret-of-enough-length\n" });
    const res = await app.request('/api/v1/users/ann', { method: 'OPTIONS', headers: { origin: 'https://portal.example', 'access-control-request-method': 'PATCH' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
    const legacy = await app.request('/barman/list-server', { method: 'OPTIONS', headers: { origin: 'https://portal.example', 'access-control-request-method': 'POST' } });
    expect(legacy.headers.get('access-control-allow-methods')).toBe('GET,POST');
  });

  it('answers a method a path does not serve with 405 and Allow, before asking for a token', async () => {
    const { v1 } = setup();
    const del = await v1(null, '/hosts', { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.res.headers.get('allow')).toBe('GET, HEAD');
    expect(del.body).toMatchObject({ type: 'urn:barmanapi:problem:MethodNotAllowed', allowed: ['GET', 'HEAD'] });
    expect((await v1(null, '/auth/token')).res.headers.get('allow')).toBe('POST');
    const none = await v1(null, '/nothing/here');
    expect(none.status).toBe(404);
    expect(none.res.headers.get('content-type')).toBe('application/problem+json');
    // An empty segment is no route: it would shift the others (hosts//servers is not /hosts/{host}).
    for (const path of ['/hosts//servers', '/hosts/', '/docs/']) expect((await v1('memin', path)).body).toMatchObject({ status: 404, type: 'urn:barmanapi:problem:NotFound' });
  });

  it('names the request as sent, percent-encoded, in a problem\'s instance', async () => {
    const { v1 } = setup();
    expect((await v1('memin', '/hosts/n%C3%A9%20x/servers')).body.instance).toBe('/api/v1/hosts/n%C3%A9%20x/servers');
  });
});

describe('v1 conditional reads', () => {
  it('sends an ETag and Cache-Control private, and 304 for If-None-Match of the current state', async () => {
    const { v1 } = setup();
    const first = await v1('memin', '/hosts/default/servers/pg/backups');
    const etag = first.res.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.res.headers.get('cache-control')).toMatch(/\bprivate\b/);
    const again = await v1('memin', '/hosts/default/servers/pg/backups', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.body).toBeNull();
    expect(again.res.headers.get('etag')).toBe(etag);
    expect((await v1('memin', '/hosts/default/servers/pg/backups', { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('answers HEAD as GET without the body, ETag included', async () => {
    const { v1 } = setup();
    const get = await v1('memin', '/hosts');
    const head = await v1('memin', '/hosts', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    expect(head.res.headers.get('etag')).toBe(get.res.headers.get('etag'));
  });

  it('never gives two users with different rules the same ETag, even for the same answer', async () => {
    const { v1 } = setup();
    const a = await v1('memin', '/hosts/default/servers/pg/backups');
    const b = await v1('reader', '/hosts/default/servers/pg/backups');
    expect(b.body).toEqual(a.body);
    expect(b.res.headers.get('etag')).not.toBe(a.res.headers.get('etag'));
    expect((await v1('reader', '/hosts/default/servers/pg/backups', { headers: { 'if-none-match': a.res.headers.get('etag')! } })).status).toBe(200);
  });
});

describe('v1 and legacy give the same answer for the same rules', () => {
  it('a user denied barman/list-backup lists no backups through either', async () => {
    const { v1, legacy } = setup();
    expect((await legacy('nolist', '/barman/list-backup?server_name=pg')).res.status).toBe(403);
    expect((await v1('nolist', '/hosts/default/servers/pg/backups')).status).toBe(403);
    // /fleet and the server resources show what list-backup shows.
    expect((await legacy('nolist', '/fleet')).res.status).toBe(403);
    expect((await v1('nolist', '/servers')).status).toBe(403);
    expect((await v1('nolist', '/hosts/default/servers/pg')).status).toBe(403);
    // A user allowed both gets both.
    expect((await legacy('reader', '/barman/list-backup?server_name=pg')).res.status).toBe(200);
    expect((await v1('reader', '/hosts/default/servers/pg/backups')).status).toBe(200);
  });

  it('either spelling of a command (list-backup, list-backups) grants and denies on both surfaces', async () => {
    const { v1, legacy } = setup();
    // Denied one spelling: refused at both legacy URLs and on v1.
    expect((await legacy('plural', '/barman/list-backup?server_name=pg')).res.status).toBe(403);
    expect((await legacy('plural', '/barman/list-backups?server_name=pg')).res.status).toBe(403);
    expect((await v1('plural', '/hosts/default/servers/pg/backups')).status).toBe(403);
    // Granted only the other spelling: legacy serves it at that URL, and v1 serves it too.
    expect((await legacy('pluralok', '/barman/list-backups?server_name=pg')).res.status).toBe(200);
    expect((await v1('pluralok', '/hosts/default/servers/pg/backups')).status).toBe(200);
    expect((await v1('pluralok', '/hosts/default/servers/pg/backups/20261127T233548')).status).toBe(403);
  });

  it('a user denied what the fleet view shows sees no hosts through v1 either', async () => {
    const { v1, legacy } = setup();
    expect((await legacy('fleetonly', '/fleet')).res.status).toBe(403);
    expect((await v1('fleetonly', '/hosts')).status).toBe(403);
    expect((await v1('fleetonly', '/hosts/default')).status).toBe(403);
  });

  it('a user without barman/show-backup sees no backup through either', async () => {
    const { v1, legacy } = setup();
    expect((await legacy('reader', '/barman/show-backup?server_name=pg&backup_id=20261127T233548')).res.status).toBe(403);
    expect((await v1('reader', '/hosts/default/servers/pg/backups/20261127T233548')).status).toBe(403);
  });

  it('a host-limited user reaches only their host, through either', async () => {
    const { v1, legacy } = setup();
    expect((await legacy('dc2only', '/barman/list-backup?server_name=pg')).res.status).toBe(404);
    expect((await v1('dc2only', '/hosts/default/servers/pg/backups')).status).toBe(404);
    expect((await legacy('dc2only', '/barman/list-backup?server_name=pg&host=dc2')).res.status).toBe(200);
    expect((await v1('dc2only', '/hosts/dc2/servers/pg/backups')).status).toBe(200);
    expect((await v1('dc2only', '/hosts')).body.items.map((h: { name: string }) => h.name)).toEqual(['dc2']);
    const fleet = await legacy('dc2only', '/fleet');
    const servers = await v1('dc2only', '/servers');
    expect(servers.body.hosts.map((h: { name: string }) => h.name)).toEqual(fleet.body.hosts.map((h: { name: string }) => h.name));
  });
});

describe('v1 jobs', () => {
  it('pages through jobs newest first with a cursor, filtered, only those the user may see', async () => {
    const { v1, legacy, runner } = setup();
    for (let i = 0; i < 5; i++) expect((await legacy('memin', '/barman/backup?server_name=pg')).res.status).toBe(202);
    expect((await legacy('dc2only', '/barman/backup?server_name=pg&host=dc2')).res.status).toBe(202);
    await runner.settled();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ id: string; host: string; user: string }>; next_cursor: string | null } } = await v1('memin', `/jobs?host=default&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const j of page.body.items) expect(j).toMatchObject({ host: 'default', user: 'memin' });
      seen.push(...page.body.items.map((j) => j.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect([...seen].sort().reverse()).toEqual(seen);
    // memin holds history/all (empty access): dc2only's job too; dc2only sees only their own.
    expect((await v1('memin', '/jobs')).body.items).toHaveLength(6);
    const own = await v1('dc2only', '/jobs');
    expect(own.body.items.map((j: { user: string; host: string }) => [j.user, j.host])).toEqual([['dc2only', 'dc2']]);
    const job = await v1('dc2only', `/jobs/${own.body.items[0].id}`);
    expect(job.body).toMatchObject({ id: own.body.items[0].id, status: 'done', command: 'backup', host: 'dc2', result: { status_code: 200 } });
    // A job on a host the user does not reach: 404, as on /history/result, naming the parameter.
    expect((await v1('reader', `/jobs/${own.body.items[0].id}`)).body).toMatchObject({ status: 404, parameter: 'job' });
    expect((await v1('dc2only', `/jobs/${seen[0]}`)).status).toBe(404);
    // Another user's job on a host one reaches: 403 without history/all, as there.
    expect((await v1('reader', `/jobs/${seen[0]}`)).status).toBe(403);
    expect((await v1('memin', '/jobs/20261115100000_backup_zzzzzzzz')).body).toMatchObject({ status: 404, parameter: 'job' });
    const ticket = (await v1('memin', `/jobs/${seen[0]}`)).body.ticket;
    expect((await legacy('dc2only', `/history/result?ticket=${ticket}`)).res.status).toBe(404);
    expect((await legacy('reader', `/history/result?ticket=${ticket}`)).res.status).toBe(403);
  });

  it('ends a page early, with a cursor, once it has looked at as many jobs as it may', async () => {
    const { legacy, runner, api } = setup();
    for (let i = 0; i < 4; i++) expect((await legacy('memin', '/barman/backup?server_name=pg')).res.status).toBe(202);
    expect((await legacy('dc2only', '/barman/backup?server_name=pg&host=dc2')).res.status).toBe(202);
    await runner.settled();
    const months = await api.jobs.months();
    const theirs = (s: { user: string }) => s.user === 'dc2only';
    const found: string[] = [];
    let before: string | undefined;
    let pages = 0;
    for (;;) {
      const { items, next } = await api.jobs.page(months, { before, limit: 10, keep: theirs }, 2);
      found.push(...items.map((j) => j.id));
      pages += 1;
      if (next === null) break;
      before = next;
    }
    expect(found).toHaveLength(1);
    expect(pages).toBeGreaterThanOrEqual(3);
  });
});

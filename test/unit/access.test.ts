import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { accessCovers, denyReaches, holdsGrant, isAllowed, ruleWithin, whyNotWithin } from '../../src/auth/policy.js';
import { loadSettings } from '../../src/settings/load.js';
import { createInProcessJobRunner } from '../../adapters/memory/index.js';
import type { AppDeps } from '../../src/context.js';
import { fixtureBarmanHost, type CommandHandler } from '../support/fake-barman.js';
import { basic, loginToken, testApp } from '../support/app.js';

type Body = { status_code: number; message: string; list: any; type?: string; ticket?: string; [k: string]: unknown };

const MD5_1258 = '26588e932c7ccfa1df309280702fe1b5';
const user = (name: string, access: string[], deny: string[] = []) =>
  `[${name}]\npassword = ${MD5_1258}\naccess = ${JSON.stringify(access).replace(/"/g, "'")}\ndeny = ${JSON.stringify(deny).replace(/"/g, "'")}\n\n`;

describe('the access model', () => {
  it('matches access on segments: a rule covers itself and what is below it, not its namesakes', () => {
    expect(accessCovers('barman/check', 'barman/check')).toBe(true);
    expect(accessCovers('barman/check', 'barman/check/help')).toBe(true);
    expect(accessCovers('barman/check', 'barman/check-backup')).toBe(false);
    expect(accessCovers('barman/list', 'barman/list-server')).toBe(false);
    expect(accessCovers('barman/list-*', 'barman/list-server')).toBe(true);
    expect(accessCovers('barman/list-*', 'barman/list-server/help')).toBe(true);
    expect(accessCovers('barman/*/help', 'barman/backup/help')).toBe(true);
    expect(accessCovers('barman/*/help', 'barman/backup')).toBe(false);
    expect(accessCovers('**/help', 'barman/backup/help')).toBe(true);
    expect(accessCovers('**/help', 'barman/help')).toBe(true);
    expect(accessCovers('barman/?heck', 'barman/check')).toBe(true);
    expect(accessCovers('auth', 'authx/y')).toBe(false);
  });

  it("keeps deny's prefix reach, so no upgrade widens anyone", () => {
    expect(denyReaches('barman/list', 'barman/list-server')).toBe(true);
    expect(denyReaches('barman/list', 'barman/list-backup')).toBe(true);
    expect(denyReaches('barman', 'barman/backup')).toBe(true);
    expect(denyReaches('barman/check', 'barman/check-backup')).toBe(true);
    expect(denyReaches('history', 'barman/history')).toBe(false);
  });

  it("keeps the seed's examples: access ['barman','auth/user/list'], deny ['barman','auth/user/list']", () => {
    const a = { access: ['barman', 'auth/user/list'], deny: [] };
    for (const p of ['barman/backup', 'barman/list-server', 'barman/help', 'auth/user/list', 'auth/token', 'auth/user']) expect(isAllowed(a, p), p).toBe(true);
    for (const p of ['history/list', 'config/barman', 'auth/user/add']) expect(isAllowed(a, p), p).toBe(false);
    const d = { access: [], deny: ['barman', 'auth/user/list'] };
    for (const p of ['history/list', 'config/barman', 'auth/user/add', 'auth/user']) expect(isAllowed(d, p), p).toBe(true);
    for (const p of ['barman/backup', 'auth/user/list']) expect(isAllowed(d, p), p).toBe(false);
  });

  it('holds exact-name grants only through an empty access list or the exact rule, and never past a deny', () => {
    expect(holdsGrant({ access: [], deny: [] }, 'config/barman/exec')).toBe(true);
    expect(holdsGrant({ access: ['config/barman/exec'], deny: [] }, 'config/barman/exec')).toBe(true);
    for (const rule of ['config', 'config/barman', 'config/**', 'config/barman/*', '**', 'history/*']) {
      expect(holdsGrant({ access: [rule], deny: [] }, 'config/barman/exec'), rule).toBe(false);
      expect(holdsGrant({ access: [rule], deny: [] }, 'history/all'), rule).toBe(false);
    }
    expect(holdsGrant({ access: [], deny: ['config'] }, 'config/barman/exec')).toBe(false);
    expect(holdsGrant({ access: ['history/all'], deny: ['history/a'] }, 'history/all')).toBe(false);
  });

  it('compares rules with rules conservatively', () => {
    expect(ruleWithin('barman/backup', 'barman')).toBe(true);
    expect(ruleWithin('barman/list-*', 'barman')).toBe(true);
    expect(ruleWithin('barman/list-*', 'barman/*')).toBe(true);
    expect(ruleWithin('barman/list-server', 'barman/list-*')).toBe(true);
    expect(ruleWithin('barman/list-s*', 'barman/list-*')).toBe(true);
    expect(ruleWithin('barman', 'barman/backup')).toBe(false);
    expect(ruleWithin('barman/*', 'barman/list-*')).toBe(false);
    expect(ruleWithin('barman/**', 'barman/*')).toBe(false);
    expect(ruleWithin('**', 'barman')).toBe(false);
    expect(ruleWithin('barman/x/y', '**/y')).toBe(true);
  });

  it('lets a manager manage only users whose rights fit inside their own', () => {
    const ops = { access: ['barman', 'auth/user'], deny: ['barman/delete'] };
    expect(whyNotWithin({ access: ['barman/backup'], deny: ['barman/delete'] }, ops)).toBeNull();
    expect(whyNotWithin({ access: ['barman/backup'], deny: [] }, ops)).toMatch(/deny rule "barman\/delete"/);
    expect(whyNotWithin({ access: [], deny: ['barman/delete'] }, ops)).toMatch(/empty access list/);
    expect(whyNotWithin({ access: ['config'], deny: ['barman/delete'] }, ops)).toMatch(/"config" reaches beyond/);
    expect(whyNotWithin({ access: ['barman', 'config/barman/exec'], deny: ['barman/delete'] }, ops)).toMatch(/grant you do not hold/);
    // A broader deny keeps a narrower one.
    expect(whyNotWithin({ access: ['barman'], deny: ['barman/del'] }, ops)).toBeNull();
    expect(whyNotWithin({ access: [], deny: [] }, { access: [], deny: [] })).toBeNull();
  });
});

describe('who may manage whom, through /auth/user/*', () => {
  const USERS =
    user('memin', []) +
    user('adder', ['auth/user/add']) +
    user('changer', ['auth/user/change']) +
    user('remover', ['auth/user/remove']) +
    user('ops', ['barman', 'auth/user'], ['barman/delete']);

  function setup() {
    const t = testApp({ clientConf: USERS });
    const tokens = new Map<string, string>();
    const as = async (who: string, path: string, body?: Record<string, unknown>) => {
      if (!tokens.has(who)) tokens.set(who, await loginToken(t.app, who));
      const init: RequestInit = body
        ? { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(who)}` }, body: JSON.stringify(body) }
        : { headers: { authorization: `Bearer ${tokens.get(who)}` } };
      const res = await t.app.request(path, init);
      return { res, body: (await res.json()) as Body };
    };
    return { ...t, as };
  }

  const grabs: Array<[string, Record<string, string>]> = [
    ['the exec grant', { access: "['config/barman/exec']" }],
    ['everything (empty access)', { access: '[]' }],
    ['a family it lacks', { access: "['barman']" }],
    ['a broader rule than its own', { access: "['auth']" }],
    ['history/all', { access: "['history/all']" }],
    ['a glob over everything', { access: "['**']" }],
  ];

  it.each(grabs)('refuses a user holding only auth/user/add creating a user with %s, by query and by JSON body', async (_label, rules) => {
    const { as, usersFile } = setup();
    await as('adder', '/auth/user'); // logging in upgrades the seed's MD5 hash
    const before = usersFile.text;
    const q = new URLSearchParams({ username: 'mallory', password: 'long-enough-pw', ...rules });
    const byQuery = await as('adder', `/auth/user/add?${q}`);
    expect(byQuery.res.status).toBe(403);
    expect(byQuery.body.message).toMatch(/adder may not add user mallory.*beyond yours/);
    const byBody = await as('adder', '/auth/user/add', { username: 'mallory', password: 'long-enough-pw', ...rules });
    expect(byBody.res.status).toBe(403);
    expect(usersFile.text).toBe(before);
  });

  it('lets a user holding only auth/user/add create a user within its own rights', async () => {
    const { as, app } = setup();
    const { res } = await as('adder', '/auth/user/add', { username: 'helper', password: 'long-enough-pw', access: ['auth/user/add'] });
    expect(res.status).toBe(200);
    expect((await app.request('/auth/token', { headers: basic('helper', 'long-enough-pw') })).status).toBe(200);
  });

  it('refuses a user holding only auth/user/change taking over another account or widening itself', async () => {
    const { as, usersFile, app } = setup();
    await as('changer', '/auth/user');
    const before = usersFile.text;
    const takeover = await as('changer', '/auth/user/change', { username: 'memin', password: 'mine-now-1234' });
    expect(takeover.res.status).toBe(403);
    expect(takeover.body.message).toMatch(/changer may not change user memin/);
    expect((await as('changer', `/auth/user/change?username=ops&password=mine-now-1234`)).res.status).toBe(403);
    for (const access of ["['auth/user/change','config/barman/exec']", '[]', "['auth']", "['**']"]) {
      const widen = await as('changer', `/auth/user/change?${new URLSearchParams({ username: 'changer', access })}`);
      expect(widen.res.status, access).toBe(403);
    }
    expect(usersFile.text).toBe(before);
    // The seed password still logs memin in.
    expect((await app.request('/auth/token', { headers: basic('memin', '1258') })).status).toBe(200);
  });

  it('lets a user change its own password, and narrow but never widen its own rules', async () => {
    const { as } = setup();
    expect((await as('ops', '/auth/user/change', { username: 'ops', password: 'a-new-password' })).res.status).toBe(200);
    const narrowed = await as('ops', '/auth/user/change', { username: 'ops', access: ['barman/list-server', 'auth/user'] });
    // The password changed, so the token was revoked: a new login is needed.
    expect(narrowed.res.status).toBe(401);
  });

  it('refuses dropping a deny rule that limits the manager, for others and for itself', async () => {
    const { as } = setup();
    expect((await as('ops', '/auth/user/add', { username: 'dev', password: 'long-enough-pw', access: ['barman/backup'] })).res.status).toBe(403);
    expect((await as('ops', '/auth/user/add', { username: 'dev', password: 'long-enough-pw', access: ['barman/backup'], deny: ['barman/delete'] })).res.status).toBe(200);
    expect((await as('ops', '/auth/user/change', { username: 'ops', deny: [] })).res.status).toBe(403);
  });

  it('refuses removing a user with more rights', async () => {
    const { as, usersFile } = setup();
    await as('remover', '/auth/user');
    const before = usersFile.text;
    expect((await as('remover', '/auth/user/remove?username=memin')).res.status).toBe(403);
    expect((await as('remover', '/auth/user/remove', { username: 'ops' })).res.status).toBe(403);
    expect(usersFile.text).toBe(before);
    expect((await as('memin', '/auth/user/remove?username=ops')).res.status).toBe(200);
  });

  it('applies the same rules under a mount prefix', async () => {
    const { app, usersFile } = setup();
    const host = new Hono().route('/backups', app);
    const token = await loginToken({ request: (p, i) => host.request(`/backups${p}`, i) }, 'adder');
    const before = usersFile.text;
    const res = await host.request(`/backups/auth/user/add?username=mallory&password=long-enough-pw&access=[]&token=${token}`);
    expect(res.status).toBe(403);
    expect(usersFile.text).toBe(before);
  });
});

describe('jobs belong to their users', () => {
  const USERS =
    user('alice', ['barman', 'history']) +
    user('bob', ['barman', 'history']) +
    user('auditor', ['history', 'history/all']) +
    user('watcher', ['history', 'history/all'], ['barman/backup']) +
    user('broad', ['history', 'history/*', 'barman']) +
    user('memin', []);

  async function setup() {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const handler: CommandHandler = async (_args, options) => {
      await Promise.race([released, new Promise((r) => options.signal?.addEventListener('abort', r))]);
      return options.signal?.aborted ? { exitCode: null, signal: 'SIGTERM', aborted: true } : { exitCode: 0, stdout: '{}' };
    };
    const host = fixtureBarmanHost('3.4', handler);
    const settings = loadSettings({ text: "[barman]\nasynccommand=['backup']\n[authtoken]\nsecret=test-secret-of-enough-length\n", path: '/etc/barmanapi.conf' });
    const holder: { deps?: AppDeps } = {};
    const runner = createInProcessJobRunner({ get storage() { return holder.deps!.storage; }, host, clock: { now: () => new Date() }, maxOutputBytes: 1 << 20 } as never);
    const t = testApp({ host, settings, jobs: runner, clientConf: USERS });
    holder.deps = t.deps;
    const tokens = new Map<string, string>();
    const as = async (who: string, path: string) => {
      if (!tokens.has(who)) tokens.set(who, await loginToken(t.app, who));
      const res = await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${tokens.get(who)}`);
      return { res, body: (await res.json()) as Body };
    };
    return { ...t, as, release, runner };
  }

  it("shows each user only their own jobs; history/all shows everyone's", async () => {
    const { as, release, runner } = await setup();
    const a = await as('alice', '/barman/backup?server_name=pg');
    expect(a.res.status).toBe(202);
    const b = await as('bob', '/barman/backup?server_name=other');
    expect(b.res.status).toBe(202);
    const ids = async (who: string) => (await as(who, '/history/list')).body.list.map((j: { user: string }) => j.user).sort();
    expect(await ids('alice')).toEqual(['alice']);
    expect(await ids('bob')).toEqual(['bob']);
    expect(await ids('auditor')).toEqual(['alice', 'bob']);
    expect(await ids('memin')).toEqual(['alice', 'bob']);
    // A glob is no exact-name grant.
    expect(await ids('broad')).toEqual([]);
    expect((await as('bob', '/history/list')).body).toMatchObject({ total: 1, scope: 'own' });
    release();
    await runner.settled();
  });

  it("refuses another user's result and cancel; the owner and history/all may", async () => {
    const { as, release, runner } = await setup();
    const { body } = await as('alice', '/barman/backup?server_name=pg');
    const ticket = body.ticket!;
    const peek = await as('bob', `/history/result?ticket=${ticket}`);
    expect(peek.res.status).toBe(403);
    expect(peek.body.message).toMatch(/history\/all/);
    expect((await as('bob', `/history/result?ticket=${ticket}&follow=1`)).res.status).toBe(403);
    const cancel = await as('bob', `/history/cancel?ticket=${ticket}`);
    expect(cancel.res.status).toBe(403);
    expect((await as('alice', `/history/result?ticket=${ticket}`)).body.status).toBe('running');
    expect((await as('auditor', `/history/result?ticket=${ticket}`)).res.status).toBe(200);
    // Seeing everyone's jobs is not enough to cancel a backup one may not run.
    const denied = await as('watcher', `/history/cancel?ticket=${ticket}`);
    expect(denied.res.status).toBe(403);
    expect(denied.body.message).toMatch(/barman\/backup/);
    // history/all without any barman access: may look, may not cancel.
    expect((await as('auditor', `/history/cancel?ticket=${ticket}`)).res.status).toBe(403);
    expect((await as('alice', `/history/result?ticket=${ticket}`)).body.status).toBe('running');
    const own = await as('alice', `/history/cancel?ticket=${ticket}`);
    expect([200, 202]).toContain(own.res.status);
    release();
    await runner.settled();
  });
});

describe('jobs belong to accounts, not to names', () => {
  it('does not hand the jobs of a removed user to a new user of the same name', async () => {
    const USERS = user('memin', []) + user('manager', ['auth/user', 'history', 'barman']);
    const host = fixtureBarmanHost('3.4', () => ({ exitCode: 0, stdout: '{}' }));
    const settings = loadSettings({ text: "[barman]\nasynccommand=['backup']\n[authtoken]\nsecret=test-secret-of-enough-length\n", path: '/etc/barmanapi.conf' });
    const holder: { deps?: AppDeps } = {};
    const runner = createInProcessJobRunner({ get storage() { return holder.deps!.storage; }, host, clock: { now: () => new Date() }, maxOutputBytes: 1 << 20 } as never);
    const t = testApp({ host, settings, jobs: runner, clientConf: USERS });
    holder.deps = t.deps;
    const call = async (token: string, path: string) => {
      const res = await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`);
      return { res, body: (await res.json()) as Body };
    };
    const manager = await loginToken(t.app, 'manager');
    expect((await call(manager, "/auth/user/add?username=alice&password=alice-password-1&access=['history','barman']&deny=[]")).res.status).toBe(200);
    const alice = await loginToken(t.app, 'alice', 'alice-password-1');
    const job = await call(alice, '/barman/backup?server_name=pg');
    expect(job.res.status).toBe(202);
    await runner.settled();
    expect((await call(alice, '/history/list')).body.list).toHaveLength(1);
    // Alice leaves; someone who may add users adds an "alice" of their own.
    expect((await call(manager, '/auth/user/remove?username=alice')).res.status).toBe(200);
    expect((await call(manager, "/auth/user/add?username=alice&password=new-alice-pass&access=['history']&deny=[]")).res.status).toBe(200);
    const impostor = await loginToken(t.app, 'alice', 'new-alice-pass');
    expect((await call(impostor, '/history/list')).body.list).toEqual([]);
    expect((await call(impostor, `/history/result?ticket=${job.body.ticket}`)).res.status).toBe(403);
    // The old tickets still work for someone allowed everyone's jobs.
    expect((await call(await loginToken(t.app), `/history/result?ticket=${job.body.ticket}`)).body.status).toBe('done');
  });
});

describe('methods, CORS, body size and challenges', () => {
  async function setup(extra = '') {
    const host = fixtureBarmanHost('3.4', () => ({ exitCode: 0, stdout: '{}' }));
    const settings = loadSettings({ text: `${extra}[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
    const t = testApp({ host, settings });
    const token = await loginToken(t.app);
    const runs = () => host.calls.filter((c) => !c.includes('--help') && !c.includes('-v')).length;
    return { ...t, host, token, runs };
  }

  // TRACE cannot be sent through fetch's Request; the server test sends it over a socket.
  it.each(['PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'])('answers %s on a legacy route with 405 and Allow, running nothing', async (method) => {
    const { app, token, runs } = await setup();
    await app.request(`/barman/help?token=${token}`); // the catalogue is built
    const before = runs();
    for (const path of ['/barman/list-server', '/barman/backup?server_name=pg', '/auth/user/add?username=x&password=long-enough-pw', '/config/barman/change?pg.description=x']) {
      const res = await app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, POST');
      if (method !== 'HEAD') expect(((await res.json()) as Body)).toMatchObject({ status_code: 405, type: 'MethodNotAllowed' });
    }
    expect(runs()).toBe(before);
  });

  it('sends no CORS headers and refuses preflights while no origin is configured', async () => {
    const { app, token } = await setup();
    const pre = await app.request('/barman/list-server', { method: 'OPTIONS', headers: { origin: 'https://portal.example', 'access-control-request-method': 'GET' } });
    expect(pre.status).toBe(405);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const get = await app.request(`/barman/list-server?token=${token}`, { headers: { origin: 'https://portal.example' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers preflights of a configured origin without running anything; other origins get nothing', async () => {
    const { app, token, runs } = await setup("[application]\ncors_origins=['https://portal.example']\n");
    await app.request(`/barman/help?token=${token}`);
    const before = runs();
    const pre = await app.request('/barman/backup', { method: 'OPTIONS', headers: { origin: 'https://portal.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://portal.example');
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET,POST');
    const other = await app.request('/barman/backup', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.status).toBe(405);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const get = await app.request(`/barman/list-server?token=${token}`, { headers: { origin: 'https://portal.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBe('https://portal.example');
    const denied = await app.request('/barman/list-server', { headers: { origin: 'https://portal.example' } });
    expect(denied.status).toBe(401);
    expect(runs()).toBe(before + 1);
  });

  it('challenges with Basic only on /auth routes; token routes say Bearer', async () => {
    const { app } = await setup();
    expect((await app.request('/auth/token')).headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await app.request('/auth/user/list')).headers.get('www-authenticate')).toMatch(/^Basic /);
    for (const path of ['/barman/list-server', '/history/list', '/config/barman', '/barman/list-server?token=not-a-token']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toMatch(/^Bearer /);
    }
  });
});

describe('paths on the barman host', () => {
  const MAIN = '[barman]\nbarman_home = /var/lib/barman\nconfiguration_files_directory = /etc/barman.d\n';
  const PG = '[pg]\ndescription = main\nbackup_directory = /srv/backups/pg\nwals_directory = %(backup_directory)s/wals\n';

  async function setup(extra = '') {
    const host = fixtureBarmanHost('3.4', () => ({ exitCode: 0, stdout: '{}' }));
    host.files.set('/etc/barman.conf', MAIN);
    host.files.set('/etc/barman.d/pg.conf', PG);
    const settings = loadSettings({
      text: `[application]\nstore_directory=/var/lib/barmanapi\n[barman]\nasynccommand=[]\n${extra}[authtoken]\nsecret=test-secret-of-enough-length\n`,
      path: '/etc/barmanapi.conf',
    });
    const t = testApp({ host, settings });
    const token = await loginToken(t.app);
    const runs = () => host.calls.filter((c) => c.includes('recover') || c.includes('get-wal')).filter((c) => !c.includes('--help'));
    const recover = (params: Record<string, unknown>, json = false) =>
      json
        ? t.app.request(`/barman/recover?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ server_name: 'pg', backup_id: 'latest', ...params }) })
        : t.app.request(`/barman/recover?${new URLSearchParams({ server_name: 'pg', backup_id: 'latest', ...(params as Record<string, string>), token })}`);
    return { ...t, host, token, runs, recover };
  }

  it.each([
    ['barman_home', '/var/lib/barman/restore'],
    ['a folder holding barman_home', '/var/lib'],
    ['the root', '/'],
    ['a backup_directory', '/srv/backups/pg/x'],
    ['an interpolated wals_directory', '/srv/backups/pg/wals'],
    ['the configuration folder', '/etc/barman.d/new'],
    ["the main file's folder", '/etc/cron.d'],
    ['our store', '/var/lib/barmanapi/config'],
  ])('refuses a recover destination in %s (403), by query and by JSON body, running nothing', async (_label, dir) => {
    const { recover, runs } = await setup();
    for (const json of [false, true]) {
      const res = await recover({ destination_directory: dir }, json);
      expect(res.status, `${dir} json=${json}`).toBe(403);
      expect(((await res.json()) as Body).message).toMatch(/barman may not write there/);
    }
    expect(runs()).toEqual([]);
  });

  it('refuses relative paths and . or .. segments, which the kernel resolves through symbolic links', async () => {
    const { recover, runs } = await setup();
    for (const dir of ['restore', '/var/lib/./barman/../barman', '/srv/a/pg_tblspc/16384/../../lib/barman/x', '/srv/..', '/srv/.']) {
      expect((await recover({ destination_directory: dir })).status, dir).toBe(400);
    }
    expect(runs()).toEqual([]);
  });

  it('refuses a recovery.conf file name that is a path: barman joins it onto the destination', async () => {
    // barman releases after 3.4 have --recovery-conf-filename; add it to 3.4's recover help.
    const { readFileSync } = await import('node:fs');
    const { parseCommandHelp } = await import('../../src/barman/help-parser.js');
    const { checkFileNameArguments, pathArguments } = await import('../../src/barman/host-paths.js');
    const help = readFileSync(new URL('../fixtures/barman-help/3.4/recover.txt', import.meta.url), 'utf8')
      .replace('[--standby-mode]', '[--standby-mode] [--recovery-conf-filename RECOVERY_CONF_FILENAME]')
      .replace(/(\n  --standby-mode[^\n]*\n)/, '$1  --recovery-conf-filename RECOVERY_CONF_FILENAME\n                        name of the file to which recovery configuration options will be added\n');
    const spec = parseCommandHelp('recover', help);
    expect(spec.options.map((o) => o.name)).toContain('recovery-conf-filename');
    for (const bad of ['/var/lib/barman/.bashrc', '../../var/lib/barman/.bashrc', 'sub/x.conf', '..', '.']) {
      for (const name of ['recovery_conf_filename', 'RECOVERY-CONF-FILENAME']) {
        expect(() => checkFileNameArguments(spec, { [name]: bad }), `${name}=${bad}`).toThrow(/a file name, not a path/);
      }
    }
    expect(() => checkFileNameArguments(spec, { recovery_conf_filename: 'postgresql.auto.conf' })).not.toThrow();
    // It is a file name, not a folder of its own: the path checks do not take it for one.
    expect(pathArguments(spec, { recovery_conf_filename: 'custom.conf', destination_directory: '/srv/r' })).toEqual([{ param: 'destination_directory', value: '/srv/r' }]);
  });

  it("keeps barman's folders protected when a remote ssh command names this very host, and refuses when barman's configuration cannot be read", async () => {
    const { recover, runs, host } = await setup();
    const loopback = await recover({ destination_directory: '/var/lib/barman', remote_ssh_command: 'ssh barman@localhost' });
    expect(loopback.status).toBe(403);
    // Empty values are "not given": this is a local recovery, checked as one.
    const free = await setup('allow_free_remote_ssh_command=true\n');
    const emptyTwice = await free.recover({ destination_directory: '/var/lib/barman/x', remote_ssh_command: ['', ''] }, true);
    expect(emptyTwice.status).toBe(403);
    expect(free.runs()).toEqual([]);
    host.files.delete('/etc/barman.conf');
    const blind = await recover({ destination_directory: '/srv/restore' });
    expect(blind.status).toBe(503);
    expect(((await blind.json()) as Body).type).toBe('BarmanConfigUnreadable');
    expect(runs()).toEqual([]);
  });

  it('checks tablespace locations, staging paths and get-wal output folders', async () => {
    const { recover, runs, app, token } = await setup();
    expect((await recover({ destination_directory: '/srv/restore', tablespace: 'tbs:/var/lib/barman/tbs' }, true)).status).toBe(403);
    expect((await recover({ destination_directory: '/srv/restore', 'recovery-staging-path': '/etc/barman.d/s' })).status).toBe(403);
    const wal = await app.request(`/barman/get-wal?server_name=pg&wal_name=000000010000000000000001&output_directory=/var/lib/barman/pg&token=${token}`);
    expect(wal.status).toBe(403);
    expect(runs()).toEqual([]);
    expect((await recover({ destination_directory: '/srv/restore', tablespace: 'tbs:/srv/tbs' })).status).toBe(200);
    expect(runs()).toHaveLength(1);
  });

  it('leaves paths alone when a remote ssh command sends the recovery to another host', async () => {
    const { recover, runs } = await setup();
    const res = await recover({ destination_directory: '/var/lib/postgresql/15/main', remote_ssh_command: 'ssh postgres@db1' });
    expect(res.status).toBe(200);
    expect(runs()).toHaveLength(1);
  });

  it('keeps paths under [barman] path_roots when that is set', async () => {
    const { recover, runs } = await setup("path_roots=['/srv/restores']\n");
    expect((await recover({ destination_directory: '/srv/other' })).status).toBe(403);
    expect((await recover({ destination_directory: '/srv/restores' })).status).toBe(403);
    expect((await recover({ destination_directory: '/srv/restores/../other' })).status).toBe(400);
    expect((await recover({ destination_directory: '/srv/restores/pg-20261115' })).status).toBe(200);
    expect(runs()).toHaveLength(1);
  });
});

describe('line breaks never reach files barman or PostgreSQL read', () => {
  it('refuses control characters in /config/barman/change and /config/barmanapi/change before anything is written', async () => {
    const host = fixtureBarmanHost('3.4');
    host.files.set('/etc/barman.conf', '[barman]\nbarman_home = /var/lib/barman\n[pg]\ndescription = main\n');
    const settingsText = '[barman]\nconfigfile=/etc/barman.conf\n[authtoken]\nsecret=test-secret-of-enough-length\n';
    const settingsFile = (await import('../../adapters/memory/index.js')).createMemoryTextFile('/etc/barmanapi.conf', settingsText);
    const t = testApp({ host, settings: loadSettings({ text: settingsText, path: '/etc/barmanapi.conf' }), settingsFile });
    const token = await loginToken(t.app);
    const before = new Map(host.files);
    for (const bad of ['a\u2028b', 'a\u2029b', 'a\u0085b', 'a\nb', 'a\rb', 'a\tb', 'a\u007fb', 'a\u009bb']) {
      const q = encodeURIComponent(bad);
      const barman = await t.app.request(`/config/barman/change?pg.description=${q}&token=${token}`);
      expect(barman.status, JSON.stringify(bad)).toBe(400);
      expect(((await barman.json()) as Body)).toMatchObject({ parameter: 'pg.description' });
      const ours = await t.app.request(`/config/barmanapi/change?barman.timeout=${q}&token=${token}`);
      expect(ours.status, JSON.stringify(bad)).toBe(400);
    }
    expect(host.files).toEqual(before);
    expect(settingsFile.text).toBe(settingsText);
  });
});

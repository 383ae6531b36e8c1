import { describe, expect, it } from 'vitest';
import { createMemoryTextFile, createScriptedHost } from '../../adapters/memory/index.js';
import { loadSettings } from '../../src/settings/load.js';
import type { TextFile } from '../../src/ports.js';
import { loginToken, testApp } from '../support/app.js';
import { HostFileError } from '../../src/ports.js';

type Body = { status_code: number; message: string; list: any; type?: string; [k: string]: any };

const TOKEN_SECRET = 'a-token-secret-that-is-long-enough-0123456789';
const USER_SECRET = '89660c74da48ddd4efbe4d3c8f8150de';

/** The seed's file, with a comment style of our own and odd spacing. */
const CONF = `#Don't delete any option from this file.
[user]
configfile=/usr/share/barmanapi/client.conf
#if change your secret all password is unusable.
secret=${USER_SECRET}

[application]
store_directory=/var/lib/barmanapi/
port=1935
debug=True

; Barman Server Settings
[barman]
configfile=/etc/barman.conf
command=/usr/bin/barman
asynccommand=['backup','cron','recover']
timeout   =   300

[auth_token]
secret=${TOKEN_SECRET}
token_life=6000
`;

const USERS = `[memin]
password = 26588e932c7ccfa1df309280702fe1b5
access = []
deny = []

[admin]
password = 26588e932c7ccfa1df309280702fe1b5
access = ['config', 'config/barmanapi/exec']
deny = []

[broad]
password = 26588e932c7ccfa1df309280702fe1b5
access = ['config']
deny = []
`;

function setup(opts: { text?: string | null; path?: string; file?: (f: ReturnType<typeof createMemoryTextFile>) => TextFile; noFile?: boolean } = {}) {
  const path = opts.path ?? '/etc/barmanapi.conf';
  const memory = createMemoryTextFile(path, opts.text === undefined ? CONF : opts.text);
  const settingsFile = opts.noFile ? undefined : opts.file ? opts.file(memory) : memory;
  const settings = loadSettings({ text: path.endsWith('.toml') ? null : (opts.text ?? CONF), path });
  const t = testApp({ settings, settingsFile, clientConf: USERS });
  const tokens = new Map<string, string>();
  const call = async (p: string, user = 'memin') => {
    if (!tokens.has(user)) tokens.set(user, await loginToken(t.app, user));
    const res = await t.app.request(`${p}${p.includes('?') ? '&' : '?'}token=${tokens.get(user)}`);
    return { res, body: (await res.json()) as Body };
  };
  const backups = () => [...(t.deps.storage as unknown as { files: Map<string, Uint8Array> }).files.keys()].filter((k) => k.startsWith('config/backups/'));
  return { ...t, memory, call, backups };
}

describe('GET /config/barmanapi', () => {
  it('lists every setting with its value from the file, secrets redacted', async () => {
    const { call } = setup();
    const { res, body } = await call('/config/barmanapi');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status_code: 200, file: '/etc/barmanapi.conf', format: 'ini' });
    const text = JSON.stringify(body);
    expect(text).not.toContain(TOKEN_SECRET);
    expect(text).not.toContain(USER_SECRET);
    const find = (s: string, k: string) => body.list.find((x: { section: string; key: string }) => x.section === s && x.key === k);
    expect(find('authtoken', 'secret')).toMatchObject({ value: '***', secret: true, from: 'file', privileged: true });
    expect(find('user', 'secret').value).toBe('***');
    expect(find('barman', 'timeout')).toMatchObject({ value: 300, from: 'file', live: true });
    expect(find('authtoken', 'tokenlife')).toMatchObject({ value: 6000, from: 'file' });
    expect(find('application', 'port')).toMatchObject({ value: 1935, live: false });
    expect(find('jobs', 'max_running')).toMatchObject({ value: 4, from: 'default' });
    expect(find('barman', 'asynccommand').value).toEqual(['backup', 'cron', 'recover']);
  });
});

describe('/config/barmanapi/change', () => {
  it('changes one line, keeps comments, applies a live setting at once', async () => {
    const { call, memory, api, deps, backups } = setup();
    const { res, body } = await call('/config/barmanapi/change?barman.timeout=600');
    expect(res.status).toBe(200);
    expect(memory.text).toBe(CONF.replace('timeout   =   300', 'timeout   =   600'));
    expect(body).toMatchObject({ applied_live: ['barman.timeout'], restart_required: [], written: true, message: '' });
    expect(body.list).toEqual([{ id: 'barman.timeout', action: 'set', previous: '300', value: '600', changed: true, live: true }]);
    expect(api.settings.current().barman.timeoutSeconds).toBe(600);
    expect(backups()).toHaveLength(1);
    expect(await deps.storage.readText(backups()[0]!)).toBe(CONF);
  });

  it('says which changes need a restart, and edits a key under the spelling the file uses', async () => {
    const { call, memory, api } = setup();
    const { body } = await call('/config/barmanapi/change?application.port=8080&authtoken.tokenlife=60', 'admin');
    expect(body.applied_live).toEqual(['authtoken.tokenlife']);
    expect(body.restart_required).toEqual(['application.port']);
    expect(body.message).toContain('Restart barmanapi to apply application.port');
    expect(memory.text).toContain('[auth_token]\nsecret=');
    expect(memory.text).toContain('token_life=60\n');
    expect(memory.text).not.toMatch(/^tokenlife/m);
    expect(api.settings.current().application.port).toBe(1935);
    expect(api.settings.current().authToken.tokenLife).toBe(60);
  });

  it('adds a missing key to its section, or the section at the end; remove= goes back to the default', async () => {
    const { call, memory } = setup();
    expect((await call('/config/barmanapi/change?jobs.max_running=8&log.format=json', 'admin')).res.status).toBe(200);
    expect(memory.text).toBe(`${CONF}\n[jobs]\nmax_running = 8\n\n[log]\nformat = json\n`);
    expect((await call('/config/barmanapi/change?remove=barman.timeout')).res.status).toBe(200);
    expect(memory.text).not.toContain('timeout');
  });

  it('normalises lists to the seed\'s Python-list form', async () => {
    const { call, memory, api } = setup();
    await call('/config/barmanapi/change?barman.asynccommand=backup,%20cron');
    expect(memory.text).toContain("asynccommand=['backup', 'cron']\n");
    expect(api.settings.current().barman.asyncCommands).toEqual(['backup', 'cron']);
  });

  it('with dry_run=true shows the diff, secrets masked, and changes nothing', async () => {
    const { call, memory, backups } = setup();
    const { body } = await call('/config/barmanapi/change?authtoken.secret=another-secret-that-is-long-enough-42&dry_run=true', 'admin');
    expect(body.dry_run).toBe(true);
    expect(body.diff).toContain('-secret = ***\n+secret = *** (changed)\n');
    expect(JSON.stringify(body)).not.toContain('another-secret');
    expect(JSON.stringify(body)).not.toContain(TOKEN_SECRET);
    expect(memory.text).toBe(CONF);
    expect(backups()).toEqual([]);
  });

  it('needs config/barmanapi/exec for settings that decide what runs or hold secrets', async () => {
    const { call, memory } = setup();
    for (const q of ['barman.command=/bin/sh', 'authtoken.secret=another-secret-that-is-long-enough-42', 'barman.remotessh=ssh%20x', 'user.configfile=/tmp/users', 'application.store_directory=/tmp']) {
      const { res, body } = await call(`/config/barmanapi/change?${q}`, 'broad');
      expect(res.status).toBe(403);
      expect(body.message).toContain('config/barmanapi/exec');
    }
    expect(memory.text).toBe(CONF);
    expect((await call('/config/barmanapi/change?barman.command=/usr/local/bin/barman', 'admin')).res.status).toBe(200);
  });

  // Reachability, the audit log and password/token policy: a user with only `config` could
  // otherwise open memin/1258 to the network at the next restart, or erase the log.
  it.each([
    'application.host=0.0.0.0',
    'application.allow_default_password=true',
    'application.port=8080',
    'application.debug=true',
    'log.backupcount=0',
    'log.maxbytes=1',
    'log.format=json',
    'user.min_password_length=1',
    'authtoken.tokenlife=2678400',
    'jobs.keep_months=1',
    'remove=log.backupcount',
    // Each of these can stop the service or starve the machine.
    'barman.timeout=1',
    'barman.asynccommand=[]',
    'barman.max_output_bytes=1073741824',
    'jobs.max_running=256',
    'barman.path_roots=/tmp',
    'application.cors_origins=https://evil.example',
  ])('needs config/barmanapi/exec for %s', async (q) => {
    const { call, memory, backups } = setup();
    const { res, body } = await call(`/config/barmanapi/change?${q}`, 'broad');
    expect(res.status).toBe(403);
    expect(body.message).toContain('config/barmanapi/exec');
    expect(body.message).toContain(q.replace(/^remove=/, '').replace(/=.*/, ''));
    expect(memory.text).toBe(CONF);
    expect(backups()).toEqual([]);
    expect((await call(`/config/barmanapi/change?${q}`, 'admin')).res.status).toBe(200);
  });

  it('marks those settings privileged in the listing, including those that can stop the service', async () => {
    const { call, memory } = setup();
    const { body } = await call('/config/barmanapi');
    const privileged = (id: string) => body.list.find((x: { section: string; key: string }) => `${x.section}.${x.key}` === id).privileged;
    for (const id of ['application.host', 'application.port', 'application.allow_default_password', 'application.debug', 'log.backupcount', 'log.maxbytes', 'log.format', 'user.min_password_length', 'authtoken.tokenlife', 'jobs.keep_months',
      'jobs.max_running', 'barman.timeout', 'barman.asynccommand', 'barman.max_output_bytes', 'barman.path_roots', 'application.cors_origins']) {
      expect(privileged(id), id).toBe(true);
    }
    for (const id of ['authtoken.algorithm']) expect(privileged(id), id).toBe(false);
    expect((await call('/config/barmanapi/change?jobs.max_running=8&barman.timeout=60', 'broad')).res.status).toBe(403);
    expect((await call('/config/barmanapi/change?jobs.max_running=8&barman.timeout=60', 'admin')).res.status).toBe(200);
    expect(memory.text).toContain('timeout   =   60\n');
  });

  it('refuses a weak token secret', async () => {
    const { call, memory } = setup();
    const { res, body } = await call('/config/barmanapi/change?authtoken.secret=Deneme', 'admin');
    expect(res.status).toBe(400);
    expect(body.message).toContain('at least 32');
    expect(memory.text).toBe(CONF);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['a key without a section', 'timeout=5', /no section/],
    ['an unknown setting', 'barman.timeoutt=5', /unknown setting "barman.timeoutt"/],
    ['an unknown section', 'nosuch.timeout=5', /unknown setting/],
    ['a value that is not a number', 'barman.timeout=soon', /whole number/],
    ['a value out of range', 'application.port=70000', /at most 65535/],
    ['a choice not offered', 'log.format=xml', /one of plain, json/],
    ['a newline and a section', `barman.timeout=${encodeURIComponent('5\n[evil]')}`, /line break/],
    ['a carriage return', `application.host=${encodeURIComponent('a\rb')}`, /line break/],
    ['section.key with spaces', `${encodeURIComponent('bar man.timeout')}=5`, /unknown setting/],
    ['section.key with =', `${encodeURIComponent('barman.time=out')}=5`, /unknown setting/],
    ['section.key with ]', `${encodeURIComponent('barman].timeout')}=5`, /unknown setting/],
    ['the same key twice', 'barman.timeout=5&barman.timeout=6', /more than once/],
  ];
  it.each(bad)('%s → 400, nothing changed', async (_n, q, message) => {
    const { call, memory, backups, api } = setup();
    const { res, body } = await call(`/config/barmanapi/change?${q}`);
    expect(res.status).toBe(400);
    expect(body.message).toMatch(message);
    expect(memory.text).toBe(CONF);
    expect(backups()).toEqual([]);
    expect(api.settings.current().barman.timeoutSeconds).toBe(300);
  });

  it('refuses a change that leaves the whole file invalid (remote without remotessh)', async () => {
    const { call, memory } = setup();
    const { res, body } = await call('/config/barmanapi/change?barman.remote=true', 'admin');
    expect(res.status).toBe(400);
    expect(body.message).toContain('remotessh');
    expect(memory.text).toBe(CONF);
  });

  it('refuses to edit a TOML settings file with 409', async () => {
    const toml = '[barman]\ntimeout = 300 # seconds\n';
    const { call, memory } = setup({ text: toml, path: '/etc/barmanapi.toml' });
    const list = await call('/config/barmanapi');
    expect(list.body.format).toBe('toml');
    expect(list.body.list.find((x: { key: string }) => x.key === 'timeout').value).toBe(300);
    const { res, body } = await call('/config/barmanapi/change?barman.timeout=5');
    expect(res.status).toBe(409);
    expect(body.message).toContain('TOML');
    expect(memory.text).toBe(toml);
  });

  it('409 without a settings file', async () => {
    const { call } = setup({ noFile: true });
    expect((await call('/config/barmanapi/change?barman.timeout=5')).res.status).toBe(409);
  });

  it('a settings file that is not writable → 500 naming it, nothing changed', async () => {
    const { call, memory, api } = setup({
      file: (f) => ({
        ...f,
        read: () => f.read(),
        write: async () => {
          throw new HostFileError('permission', '/etc/barmanapi.conf', "cannot write /etc/barmanapi.conf: EACCES: permission denied");
        },
      }),
    });
    const { res, body } = await call('/config/barmanapi/change?barman.timeout=5');
    expect(res.status).toBe(500);
    expect(body.type).toBe('ConfigNotWritable');
    expect(body.message).toContain('/etc/barmanapi.conf');
    expect(body.message).toContain('permission denied');
    expect(memory.text).toBe(CONF);
    expect(api.settings.current().barman.timeoutSeconds).toBe(300);
  });

  it('serialises concurrent changes: none lost', async () => {
    const { call, memory } = setup();
    await call('/config/barmanapi', 'admin');
    const keys = ['barman.timeout=11', 'jobs.max_running=12', 'log.backupcount=13', 'jobs.keep_months=14', 'barman.max_output_bytes=150000', 'authtoken.tokenlife=16'];
    const results = await Promise.all(keys.map((q) => call(`/config/barmanapi/change?${q}`, 'admin')));
    for (const r of results) expect(r.res.status).toBe(200);
    const s = loadSettings({ text: memory.text, path: '/etc/barmanapi.conf' });
    expect([s.barman.timeoutSeconds, s.jobs.maxRunning, s.log.backupCount, s.jobs.keepMonths, s.barman.maxOutputBytes, s.authToken.tokenLife]).toEqual([11, 12, 13, 14, 150000, 16]);
  });
});

describe('/config/barmanapi and further barman hosts', () => {
  const WITH_HOST = `${CONF}
# the second data centre
[host:dc2]
configfile = /etc/barman-dc2.conf
remote = true
remotessh = ssh barman@dc2
`;
  function hostSetup() {
    const memory = createMemoryTextFile('/etc/barmanapi.conf', WITH_HOST);
    const settings = loadSettings({ text: WITH_HOST, path: '/etc/barmanapi.conf' });
    // With two hosts, the settings are for users who reach both.
    const users = USERS.replace(/^(\[(?:admin|broad)\]\n(?:.+\n)*?deny = \[\]\n)/gm, "$1hosts = ['*']\n") +
      "\n[dc2admin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = []\nhosts = ['dc2']\n";
    const t = testApp({ settings, settingsFile: memory, clientConf: users, hosts: { dc2: createScriptedHost() } });
    const call = async (p: string, user = 'memin') => {
      const res = await t.app.request(`${p}${p.includes('?') ? '&' : '?'}token=${await loginToken(t.app, user)}`);
      return { res, body: (await res.json()) as Body };
    };
    return { memory, call };
  }

  it('shows each host section with the keys of [barman], as the file sets them', async () => {
    const { call } = hostSetup();
    const { body } = await call('/config/barmanapi');
    const dc2 = body.list.filter((x: { host?: string }) => x.host === 'dc2');
    expect(dc2.length).toBeGreaterThan(5);
    expect(dc2.find((x: { key: string }) => x.key === 'remotessh')).toMatchObject({ section: 'host:dc2', value: 'ssh barman@dc2', from: 'file', live: false, privileged: true });
    expect(dc2.find((x: { key: string }) => x.key === 'timeout')).toMatchObject({ value: 300, from: 'default' });
    // [barman]'s own rows are still [barman]'s.
    expect(body.list.find((x: { section: string; key: string }) => x.section === 'barman' && x.key === 'configfile').value).toBe('/etc/barman.conf');
  });

  it('shows and changes nothing to a user who does not reach every host, whatever their rules', async () => {
    const { call, memory } = hostSetup();
    const seen = await call('/config/barmanapi', 'dc2admin');
    expect(seen.res.status).toBe(403);
    expect(JSON.stringify(seen.body)).not.toContain('barman@dc2');
    for (const change of ['host:dc2.timeout=10', 'barman.timeout=10', 'host:dc9.timeout=10', 'log.format=json']) {
      expect((await call(`/config/barmanapi/change?${change}`, 'dc2admin')).res.status, change).toBe(403);
    }
    expect(memory.text).toBe(WITH_HOST);
  });

  it('changes a host\'s key in its own section only, with the same privilege rules, a restart to apply', async () => {
    const { call, memory } = hostSetup();
    // Every key of a barman host is privileged, as [barman]'s are.
    for (const change of ['host:dc2.remotessh=ssh%20evil@elsewhere', 'host:dc2.max_queued=5']) {
      expect((await call(`/config/barmanapi/change?${change}`, 'broad')).res.status).toBe(403);
    }
    expect(memory.text).toBe(WITH_HOST);
    const ok = await call('/config/barmanapi/change?host:dc2.max_queued=5', 'admin');
    expect(ok.res.status).toBe(200);
    expect(ok.body.restart_required).toEqual(['host:dc2.max_queued']);
    expect(memory.text).toBe(`${WITH_HOST}max_queued = 5\n`);
    const s = loadSettings({ text: memory.text, path: '/etc/barmanapi.conf' });
    expect([s.barman.maxQueued, s.hosts[1]!.barman.maxQueued]).toEqual([16, 5]);
    const removed = await call('/config/barmanapi/change?remove=host:dc2.max_queued', 'admin');
    expect(removed.res.status).toBe(200);
    expect(memory.text).toBe(WITH_HOST);
    // No host sections are made through the API.
    const made = await call('/config/barmanapi/change?host:dc3.timeout=10', 'admin');
    expect(made.res.status).toBe(400);
    expect(made.body.message).toMatch(/no barman host "dc3"/);
    expect(memory.text).toBe(WITH_HOST);
  });
});

describe('/api/v1/settings', () => {
  const v1 = async (t: ReturnType<typeof setup>, user: string, method: string, body?: unknown) => {
    const token = await loginToken(t.app, user);
    const res = await t.app.request('/api/v1/settings', {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { res, body: (await res.json()) as Body };
  };

  it('reads the settings as /config/barmanapi does, secrets masked', async () => {
    const t = setup();
    const { res, body } = await v1(t, 'memin', 'GET');
    expect(res.status).toBe(200);
    const legacy = await t.call('/config/barmanapi');
    expect(body.settings).toEqual(legacy.body.list);
    expect(JSON.stringify(body)).not.toContain(TOKEN_SECRET);
  });

  it('shows a dry run\'s diff, then changes; the exec grant as on /config/barmanapi/change', async () => {
    const t = setup();
    const dry = await v1(t, 'admin', 'PATCH', { set: { 'jobs.max_running': 8 }, dry_run: true });
    expect(dry.res.status).toBe(200);
    expect(dry.body).toMatchObject({ dry_run: true, written: false, diff: expect.stringContaining('max_running') });
    expect(t.memory.text).toBe(CONF);
    expect((await v1(t, 'broad', 'PATCH', { set: { 'jobs.max_running': 8 } })).res.status).toBe(403);
    expect((await t.call('/config/barmanapi/change?jobs.max_running=8', 'broad')).res.status).toBe(403);
    expect(t.memory.text).toBe(CONF);
    const done = await v1(t, 'admin', 'PATCH', { set: { 'jobs.max_running': 8 } });
    expect(done.body).toMatchObject({ written: true, changes: [expect.objectContaining({ id: 'jobs.max_running', changed: true })] });
    expect(t.memory.text).toContain('max_running');
    expect((await v1(t, 'admin', 'PATCH', { set: { 'jobs.max_running': 'many' } })).res.status).toBe(400);
  });
});

import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';
import { CONTROL_WORDS, PRINTABLE_HOSTILE_WORDS } from '../support/hostile.js';

type Body = { status_code: number; message: string; list: any; data?: any; type?: string; commands?: string[]; version?: string };

const settings = (extra = '') =>
  loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\ncommand=/usr/bin/barman\nasynccommand=['backup']\n${extra}[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });

async function setup(version: '2.19' | '3.4' = '3.4', handler?: Parameters<typeof fixtureBarmanHost>[1], extra = '') {
  const host = fixtureBarmanHost(version, handler);
  const t = testApp({ host, settings: settings(extra) });
  const token = await loginToken(t.app);
  const get = async (path: string) => {
    const res = await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`);
    return { res, body: (await res.json()) as Body };
  };
  return { ...t, host, token, get };
}

describe('/barman/help and the catalogue', () => {
  it.each(['2.19', '3.4'] as const)('lists every command of barman %s with its parameters', async (version) => {
    const { get } = await setup(version);
    const { res, body } = await get('/barman/help');
    expect(res.status).toBe(200);
    expect(body.version).toMatch(new RegExp(`^${version.replace('.', '\\.')}`));
    const names = body.list.map((c: { command: string }) => c.command);
    expect(names).toEqual(expect.arrayContaining(['backup', 'recover', 'list-servers', 'show-servers', 'check', 'switch-wal']));
    const backup = body.list.find((c: { command: string }) => c.command === 'backup');
    expect(backup.params.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['server_name', 'immediate-checkpoint', 'reuse-backup']));
  });

  it('answers one command by an alias too, and 404 with the list for an unknown one', async () => {
    const { get } = await setup();
    const { body } = await get('/barman/list-server/help');
    expect(body.list.command).toBe('list-servers');
    const bad = await get('/barman/no-such/help');
    expect(bad.res.status).toBe(404);
    expect(bad.body.commands).toContain('backup');
  });

  it('discovers once, caches per version in the store, and rebuilds on /barman/reload', async () => {
    const { get, host, deps } = await setup();
    await get('/barman/help');
    await get('/barman/check/help');
    const helpsAfterFirst = host.counts.help;
    expect(helpsAfterFirst).toBeGreaterThan(25);
    expect(await deps.storage.readText('config/catalogue-3.4.0.json')).toContain('"version":"3.4.0"');
    await get('/barman/help');
    expect(host.counts.help).toBe(helpsAfterFirst);
    const reload = await get('/barman/reload');
    expect(reload.body.version).toBe('3.4.0');
    expect(host.counts.help).toBe(helpsAfterFirst * 2);
  });

  it('rejects command names that are not names', async () => {
    const { get } = await setup();
    for (const name of ['..', 'UPPER', '-h', '%2e%2e', 'a%2Fb']) {
      const { res } = await get(`/barman/${name}`);
      expect(res.status, name).toBe(404);
    }
  });
});

describe('/barman/<command>', () => {
  it('runs with -c and -f json, returns stdout lines, stderr and the parsed document', async () => {
    const seen: string[][] = [];
    const { get, host } = await setup('3.4', (args) => {
      seen.push(args);
      return { stdout: '{"pg": {"description": "Main"}}', stderr: '' };
    });
    const { res, body } = await get('/barman/list-server');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status_code: 200, message: '', list: ['{"pg": {"description": "Main"}}'], data: { pg: { description: 'Main' } } });
    expect(host.calls.at(-1)).toEqual(['/usr/bin/barman', '-c', '/etc/barman.conf', '-f', 'json', 'list-servers']);
    expect(seen).toEqual([['-f', 'json', 'list-servers']]);
  });

  it('names positionals as help does, in any case or separator, and turns format=console off JSON', async () => {
    const { get, host } = await setup('3.4', () => ({ stdout: 'Server pg:\n  active: True\n' }));
    const { body } = await get('/barman/show-server?SERVERNAME=pg&format=console');
    expect(body.list).toEqual(['Server pg:', '  active: True']);
    expect(body.data).toBeUndefined();
    expect(host.calls.at(-1)).toEqual(['/usr/bin/barman', '-c', '/etc/barman.conf', 'show-servers', 'pg']);
  });

  it('does not pass -f json to diagnose, and still parses its JSON', async () => {
    const { get, host } = await setup('3.4', () => ({ stdout: '{\n "global": {"config": {}}\n}\n' }));
    const { body } = await get('/barman/diagnose');
    expect(host.calls.at(-1)).toEqual(['/usr/bin/barman', '-c', '/etc/barman.conf', 'diagnose']);
    expect(body.data).toEqual({ global: { config: {} } });
  });

  it.each([
    ['Unknown server', { exitCode: 1, stdout: '{"_ERROR": ["Unknown server \'nosuch\'"]}' }, 404, 'UnknownServer'],
    ['a running backup', { exitCode: 1, stderr: 'ERROR: Another backup process is running' }, 409, 'BarmanBusy'],
    ['a failed check', { exitCode: 1, stdout: '{"pg": {"wal_level": {"status": "FAILED"}}}' }, 422, 'BarmanCommandFailed'],
    ['a timeout', { exitCode: null, timedOut: true, signal: 'SIGKILL' }, 504, 'BarmanTimeout'],
    ['a missing barman', { exitCode: 127, stderr: 'spawn /usr/bin/barman ENOENT' }, 502, 'BarmanUnavailable'],
  ])('maps %s onto an HTTP status, keeping barman\'s exit code and message', async (_what, result, status, type) => {
    const { get } = await setup('3.4', () => result);
    const { res, body } = await get('/barman/check?server_name=nosuch');
    expect(res.status).toBe(status);
    expect(body.type).toBe(type);
    if (result.exitCode !== null) expect(body.status_code).toBe(result.exitCode);
    if (type === 'UnknownServer') expect(body.message).toBe("Unknown server 'nosuch'");
  });

  it('lists accepted parameters when one is unknown or a required one is missing, and runs nothing', async () => {
    const { get, host } = await setup();
    const calls = host.calls.length;
    const unknown = await get('/barman/show-server?server_name=pg&colour=red');
    expect(unknown.res.status).toBe(400);
    expect(unknown.body.message).toMatch(/unknown parameter "colour".*accepted: server_name/);
    const missing = await get('/barman/show-server');
    expect(missing.res.status).toBe(400);
    expect(missing.body.message).toMatch(/server_name/);
    const choice = await get('/barman/backup?server_name=pg&reuse_backup=hardlink');
    expect(choice.res.status).toBe(400);
    expect(host.calls.slice(calls).filter((c) => !c.includes('--help') && !c.includes('-v'))).toEqual([]);
  });

  const HOSTILE = PRINTABLE_HOSTILE_WORDS.filter((w) => w !== '');

  it.each(HOSTILE.map((v) => [v.length > 20 ? `${v.slice(0, 5)}…(${v.length})` : JSON.stringify(v), v]))(
    'passes %s as exactly one argv word, as a positional and as an option value',
    async (_label, value) => {
      const { host, app, token } = await setup('3.4', () => ({ stdout: '{}' }));
      const post = (path: string, body: object) =>
        app.request(`${path}?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post('/barman/show-server', { server_name: value })).status).toBe(200);
      const argv = host.calls.at(-1)!;
      expect(argv.filter((w) => w === value)).toHaveLength(1);
      expect(argv.at(-1)).toBe(value);
      if (value.startsWith('-')) expect(argv.at(-2)).toBe('--');
      expect((await post('/barman/list-files', { server_name: 'pg', backup_id: 'latest', target: 'data' })).status).toBe(200);
      expect((await post('/barman/switch-wal', { server_name: ['pg', value] })).status).toBe(200);
      expect(host.calls.at(-1)!.filter((w) => w === value)).toHaveLength(1);
      expect((await post('/barman/check-wal-archive', { server_name: 'pg', timeline: value })).status).toBe(200);
      expect(host.calls.at(-1)).toContain(`--timeline=${value}`);
    },
  );

  it('refuses every control character (C0, DEL, C1, U+2028/9) in any parameter, by query and by JSON body, and runs nothing', async () => {
    const { get, app, token, host } = await setup('3.4', () => ({ stdout: '{}' }), "asynccommand=[]\n");
    const before = host.calls.filter((c) => !c.includes('--help') && !c.includes('-v')).length;
    for (const bad of CONTROL_WORDS) {
      const byQuery = await get(`/barman/recover?server_name=pg&backup_id=latest&destination_directory=/srv/r&target_name=${encodeURIComponent(bad)}`);
      expect(byQuery.res.status, JSON.stringify(bad)).toBe(400);
      expect(byQuery.body).toMatchObject({ status_code: 400, parameter: 'target_name' });
      const byBody = await app.request(`/barman/backup?token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ SERVERNAME: 'pg', name: bad }),
      });
      expect(byBody.status).toBe(400);
      // The alias of a command is checked the same way.
      expect((await get(`/barman/list-servers?minimal=${encodeURIComponent(bad)}`)).res.status).toBe(400);
    }
    expect(host.calls.filter((c) => !c.includes('--help') && !c.includes('-v')).length).toBe(before);
  });

  it('refuses arguments over the one size limit with a 400 naming the parameter, and runs nothing', async () => {
    const { app, token, host } = await setup('3.4', () => ({ stdout: '{}' }));
    const before = host.calls.filter((c) => !c.includes('--help') && !c.includes('-v')).length;
    for (const value of ['x'.repeat(200_000), "'".repeat(40_000)]) {
      const res = await app.request(`/barman/backup?token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ server_name: 'pg', name: value }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ parameter: 'name', limit: 131071, message: expect.stringMatching(/too large/) });
    }
    expect(host.calls.filter((c) => !c.includes('--help') && !c.includes('-v')).length).toBe(before);
    expect((await app.request(`/barman/show-server?token=${token}&server_name=${'y'.repeat(60_000)}`)).status).toBe(200);
  });

  it('rejects NUL and non-UTF-8 percent escapes with a 400 naming the parameter, and runs nothing', async () => {
    const { get, host } = await setup('3.4', () => ({ stdout: '{}' }));
    const before = host.calls.length;
    const nul = await get('/barman/show-server?server_name=a%00b');
    expect(nul.res.status).toBe(400);
    for (const bad of ['%ff%fe', '%e2%82', 'ok%c0%af']) {
      const r = await get(`/barman/show-server?server_name=${bad}`);
      expect(r.res.status).toBe(400);
      expect(r.body.message).toMatch(/parameter server_name: not valid percent-encoded UTF-8/);
    }
    expect(host.calls.slice(before).filter((c) => c.includes('show-servers') && !c.includes('--help'))).toEqual([]);
    const plus = await get('/barman/show-server?server_name=a+b%2Bc');
    expect(plus.res.status).toBe(200);
    expect(host.calls.at(-1)!.at(-1)).toBe('a b+c');
  });

  it('accepts --remote-ssh-command only in the shape of an ssh invocation', async () => {
    const { app, token, host } = await setup('3.4', () => ({ stdout: '{}' }), "asynccommand=[]\n");
    const post = (remote: string) =>
      app.request(`/barman/recover?token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ server_name: 'pg', backup_id: 'latest', destination_directory: '/tmp/r', remote_ssh_command: remote }),
      });
    expect((await post('ssh -p 2222 -o StrictHostKeyChecking=yes postgres@db1')).status).toBe(200);
    expect(host.calls.at(-1)).toContain('--remote-ssh-command=ssh -p 2222 -o StrictHostKeyChecking=yes postgres@db1');
    for (const evil of ['ssh postgres@db1; rm -rf /', 'sh -c id', 'ssh -o ProxyCommand=id x@y', 'ssh $(id)@db', 'ssh postgres@db1 id']) {
      const res = await post(evil);
      expect(res.status, evil).toBe(400);
      expect(((await res.json()) as Body).message).toMatch(/remote_ssh_command/);
    }
  });
});

describe('access rules and barman aliases', () => {
  const users = `[memin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = []\n[ops]\npassword = 0cc175b9c0f1b6a831c399e269772661\naccess = ['barman/list-server', 'barman/verify', 'barman/show-server', 'barman/config-update']\ndeny = ['barman/verify-backup']\n`;

  it('denies a command under every alias when one of its names is denied, and keeps allow rules that name an alias', async () => {
    const host = fixtureBarmanHost('3.4', () => ({ stdout: '{}' }));
    const t = testApp({ host, settings: settings(), clientConf: users });
    const token = await loginToken(t.app, 'ops', 'a');
    const status = async (path: string) => (await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`)).status;
    expect(await status('/barman/list-server')).toBe(200);
    expect(await status('/barman/verify?server_name=pg&backup_id=latest')).toBe(403);
    expect(await status('/barman/verify-backup?server_name=pg&backup_id=latest')).toBe(403);
    expect(await status('/barman/verify/help')).toBe(403);
    expect(host.calls.filter((c) => c.includes('verify-backup') && !c.includes('--help'))).toEqual([]);
  });
});

describe('the --remote-ssh-command shape check', () => {
  it.each(['ssh -q\nid', 'ssh -l\n/usr/bin/touch pwned', 'ssh\tpostgres@db', 'ssh -F /tmp/cfg db', 'ssh -J jump db', 'ssh  db', ' ssh db'])(
    'refuses %j',
    async (remote) => {
      const host = fixtureBarmanHost('3.4', () => ({ stdout: '{}' }));
      const t = testApp({ host, settings: settings("asynccommand=[]\n") });
      const token = await loginToken(t.app);
      const res = await t.app.request(`/barman/recover?token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ server_name: 'pg', backup_id: 'latest', destination_directory: '/tmp/r', remote_ssh_command: remote }),
      });
      expect(res.status).toBe(400);
      expect(host.calls.filter((c) => c.includes('recover') && !c.includes('--help'))).toEqual([]);
    },
  );
});

describe('secrets in barman output', () => {
  it('masks passwords inside connection strings in stdout lines and in the parsed document', async () => {
    const doc = { pg: { conninfo: 'host=db user=barman password=S3cret dbname=postgres', streaming_conninfo: 'postgresql://barman:Pw0rd@db/postgres' } };
    const { get } = await setup('3.4', () => ({ stdout: JSON.stringify(doc) }));
    const { res, body } = await get('/barman/show-server?server_name=pg');
    const text = JSON.stringify(body);
    expect(res.status).toBe(200);
    expect(text).not.toContain('S3cret');
    expect(text).not.toContain('Pw0rd');
    expect(body.data.pg.conninfo).toBe('host=db user=barman password=*** dbname=postgres');
    expect(body.data.pg.streaming_conninfo).toBe('postgresql://barman:***@db/postgres');
  });
});

describe('request bodies', () => {
  it('refuses a body over 1 MiB with 413, even without Content-Length, and bodies that are not JSON objects', async () => {
    const { app, token } = await setup();
    const big = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(100_000).fill(32));
        controller.close();
      },
    });
    const res = await app.request(`/barman/list-server?token=${token}`, { method: 'POST', body: big, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as Body)).toMatchObject({ status_code: 413, type: 'PayloadTooLarge', message: expect.stringMatching(/request body too large/) });
    const declared = await app.request(`/barman/list-server?token=${token}`, { method: 'POST', headers: { 'content-length': String(2 * 1024 * 1024) }, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(declared.status).toBe(413);
    for (const body of ['[1]', '"x"', '{bad', '{"a": {"b": 1}}']) {
      const r = await app.request(`/barman/list-server?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status, body).toBe(400);
    }
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScriptedHost, type ScriptedCommand } from '../../adapters/memory/index.js';
import { IniDocument } from '../../src/ini/document.js';
import { redactValue } from '../../src/barman-config/reader.js';
import { loadSettings } from '../../src/settings/load.js';
import type { BarmanHost } from '../../src/ports.js';
import { loginToken, testApp } from '../support/app.js';
import { HostFileError } from '../../src/ports.js';

type Body = { status_code: number; message: string; list: any; type?: string; [k: string]: any };

const MAN_3_4 = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'barman-man', '3.4.5'), 'utf8');
const MAN_PATH = '/usr/share/man/man5/barman.5';

const MAIN = `; barman main file
[barman]
barman_user = barman
barman_home = /var/lib/barman
configuration_files_directory = /etc/barman.d
log_level = INFO
`;
const PG = `[pg]
description = "Main cluster"
conninfo = host=pg user=barman password=s3cret dbname=postgres
ssh_command = ssh postgres@pg
backup_method = postgres
`;

/** Every user's password is 1258 (the seed's MD5). */
const USERS = `[memin]
password = 26588e932c7ccfa1df309280702fe1b5
access = []
deny = []

[ops]
password = 26588e932c7ccfa1df309280702fe1b5
access = ['config', 'config/barman/exec']
deny = []

[broad]
password = 26588e932c7ccfa1df309280702fe1b5
access = ['config']
deny = []

[denied]
password = 26588e932c7ccfa1df309280702fe1b5
access = ['config', 'config/barman/exec']
deny = ['config/barman/exec']
`;

function setup(opts: { files?: Record<string, string>; command?: ScriptedCommand; host?: (h: ReturnType<typeof createScriptedHost>) => BarmanHost } = {}) {
  const files = new Map(Object.entries(opts.files ?? {
    '/etc/barman.conf': MAIN,
    '/etc/barman.d/pg.conf': PG,
    [MAN_PATH]: MAN_3_4,
  }));
  const command: ScriptedCommand = opts.command ?? (() => ({ exitCode: 127, stderr: 'not found' }));
  // barman answers -v, as every installed barman does; the rest is up to the test.
  const scripted = createScriptedHost((argv, o) => (argv.at(-1) === '-v' ? { stdout: '3.4.0 Barman by EnterpriseDB (www.enterprisedb.com)\n' } : command(argv, o)), files);
  const host = opts.host ? opts.host(scripted) : scripted;
  const settings = loadSettings({
    text: '[barman]\nconfigfile=/etc/barman.conf\ncommand=/usr/bin/barman\n[authtoken]\nsecret=test-secret-of-enough-length\n',
    path: '/etc/barmanapi.conf',
  });
  const t = testApp({ host, settings, clientConf: USERS });
  const tokens = new Map<string, string>();
  const call = async (path: string, user = 'memin', init?: RequestInit) => {
    if (!tokens.has(user)) tokens.set(user, await loginToken(t.app, user));
    const res = await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${tokens.get(user)}`, init);
    return { res, body: (await res.json()) as Body };
  };
  const backups = () => [...(t.deps.storage as unknown as { files: Map<string, Uint8Array> }).files.keys()].filter((k) => k.startsWith('config/backups/'));
  return { ...t, files, scripted, call, backups };
}

const snapshot = (files: Map<string, string>) => new Map(files);

describe('GET /config/barman', () => {
  it('reads the main file and every *.conf of configuration_files_directory, merged as barman merges them', async () => {
    const { call } = setup({
      files: {
        '/etc/barman.conf': MAIN,
        '/etc/barman.d/pg.conf': PG,
        '/etc/barman.d/a-first.conf': '[pg]\ndescription = overridden by pg.conf\nactive = true\n',
        '/etc/barman.d/.hidden.conf': '[hidden]\nx = 1\n',
        '/etc/barman.d/notes.txt': '[txt]\nx = 1\n',
        '/etc/barman.d/tmpl.conf': '[pg:switchover]\nmodel = true\ncluster = pg\nconninfo = host=pg2\n',
      },
    });
    const { res, body } = await call('/config/barman');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status_code: 200, message: '' });
    expect(body.files.map((f: { path: string }) => f.path)).toEqual([
      '/etc/barman.conf', '/etc/barman.d/a-first.conf', '/etc/barman.d/pg.conf', '/etc/barman.d/tmpl.conf',
    ]);
    expect(body.list.map((s: { name: string }) => s.name)).toEqual(['barman', 'pg', 'pg:switchover']);
    const pg = body.sections.pg;
    expect(pg).toMatchObject({ kind: 'server', model: false, file: '/etc/barman.d/pg.conf', files: ['/etc/barman.d/a-first.conf', '/etc/barman.d/pg.conf'] });
    expect(pg.options.description).toBe('"Main cluster"');
    expect(pg.options.active).toBe('true');
    expect(pg.origins).toMatchObject({ active: '/etc/barman.d/a-first.conf', description: '/etc/barman.d/pg.conf' });
    expect(body.sections['pg:switchover']).toMatchObject({ kind: 'model', model: true });
    expect(body.sections.barman.kind).toBe('global');
    expect(body.configuration_files_directory).toEqual({ configured: '/etc/barman.d', resolved: '/etc/barman.d', usable: true });
  });

  it('never shows a password written in a connection string', async () => {
    const { call } = setup();
    const { body } = await call('/config/barman');
    expect(JSON.stringify(body)).not.toContain('s3cret');
    expect(body.sections.pg.options.conninfo).toBe('host=pg user=barman password=*** dbname=postgres');
  });

  it('never shows a password written in a connection URI, and keeps the rest readable', async () => {
    const { call } = setup({
      files: {
        '/etc/barman.conf': MAIN,
        '/etc/barman.d/pg.conf': `[pg]
conninfo = postgresql://barman:uriS3cret@pg:5432/postgres?sslmode=require
streaming_conninfo = postgresql://streaming_barman@pg/postgres?password=queryS3cret&application_name=barman
primary_conninfo = 'postgres://barman:quotedS3cret@pg2/postgres'
`,
      },
    });
    const { body } = await call('/config/barman');
    expect(JSON.stringify(body)).not.toMatch(/uriS3cret|queryS3cret|quotedS3cret/);
    expect(body.sections.pg.options).toMatchObject({
      conninfo: 'postgresql://barman:***@pg:5432/postgres?sslmode=require',
      streaming_conninfo: 'postgresql://streaming_barman@pg/postgres?password=***&application_name=barman',
      primary_conninfo: "'postgres://barman:***@pg2/postgres'",
    });
    expect(body.files[1].sections[0].options.conninfo).toBe('postgresql://barman:***@pg:5432/postgres?sslmode=require');
  });

  it('resolves ~ in configuration_files_directory as barman_user\'s home and explains a relative one', async () => {
    const home = setup({
      files: {
        '/etc/barman.conf': '[barman]\nbarman_user = barman\nconfiguration_files_directory = ~/conf.d\n',
        '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nbarman:x:100:100::/var/lib/barman:/bin/bash\n',
        '/var/lib/barman/conf.d/pg.conf': PG,
      },
    });
    const a = await home.call('/config/barman');
    expect(a.body.configuration_files_directory.resolved).toBe('/var/lib/barman/conf.d');
    expect(a.body.sections.pg.file).toBe('/var/lib/barman/conf.d/pg.conf');

    const relative = setup({ files: { '/etc/barman.conf': '[barman]\nconfiguration_files_directory = conf.d\n' } });
    const b = await relative.call('/config/barman');
    expect(b.body.warnings.join(' ')).toMatch(/relative.*absolute path/);
  });

  it('names the missing file when barman.conf does not exist', async () => {
    const { call } = setup({ files: {} });
    const { res, body } = await call('/config/barman');
    expect(res.status).toBe(500);
    expect(body.message).toContain('/etc/barman.conf');
  });
});

describe('redactValue', () => {
  it.each([
    ['postgresql://u:pw@h/db', 'postgresql://u:***@h/db'],
    ['postgres://barman:s3cret@pg:5432/postgres?sslmode=require', 'postgres://barman:***@pg:5432/postgres?sslmode=require'],
    ['postgresql://u@h/db?password=x&sslmode=require', 'postgresql://u@h/db?password=***&sslmode=require'],
    ['postgresql:///db?host=/tmp&sslpassword=x#frag', 'postgresql:///db?host=/tmp&sslpassword=***#frag'],
    ['postgresql://u:p%40w@h1:5432,h2:5433/db', 'postgresql://u:***@h1:5432,h2:5433/db'],
    ['postgresql://u:p@w@h/db', 'postgresql://u:***@h/db'],
    ["'postgresql://u:pw@h/db'", "'postgresql://u:***@h/db'"],
    ['postgresql://:pw@h', 'postgresql://:***@h'],
    ['postgresql://h:5432/db', 'postgresql://h:5432/db'],
    ['postgresql://u@h/db', 'postgresql://u@h/db'],
    ['host=pg user=barman password=s3cret dbname=postgres', 'host=pg user=barman password=*** dbname=postgres'],
    ["host=pg password='a b\\' c' user=x", 'host=pg password=*** user=x'],
    ["password=ab'cd host=x", 'password=*** host=x'],
    ['host=x password=se\\ cret user=y', 'host=x password=*** user=y'],
    ['"host=pg password=secret"', '"host=pg password=***"'],
    ['sslpassword=x host=y', 'sslpassword=*** host=y'],
    ['PGPASSWORD=x /usr/bin/cmd', 'PGPASSWORD=*** /usr/bin/cmd'],
    ['user=password dbname=x', 'user=password dbname=x'],
    ["-conninfo = password='unclosed and more\n+conninfo = host=x", '-conninfo = password=***\n+conninfo = host=x'],
  ])('%s → %s', (value, shown) => {
    expect(redactValue(value)).toBe(shown);
  });
});

describe('/config/barman/help, reload and template', () => {
  it('lists the installed barman\'s options from its man page, with descriptions and scopes, cached per version', async () => {
    const { call, deps, host } = (() => {
      let reads = 0;
      const t = setup({
        host: (h) => ({ ...h, readFile: async (p: string) => { if (p === MAN_PATH) reads++; return h.readFile(p); } }),
      });
      return { ...t, host: { get reads() { return reads; } } };
    })();
    const { res, body } = await call('/config/barman/help');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ source: 'man', man_page: MAN_PATH, barman_version: '3.4.0' });
    const names = body.list.map((o: { name: string }) => o.name);
    expect(names).toEqual(expect.arrayContaining(['conninfo', 'backup_method', 'post_backup_script', 'barman_user']));
    const conninfo = body.list.find((o: { name: string }) => o.name === 'conninfo');
    expect(conninfo.scopes).toEqual(['server']);
    expect(conninfo.description.length).toBeGreaterThan(20);
    expect(body.list.find((o: { name: string }) => o.name === 'post_backup_script')).toMatchObject({ executes: true, privileged: true });
    expect(body.list.find((o: { name: string }) => o.name === 'barman_user')).toMatchObject({ documented: false, privileged: true });
    expect(await deps.storage.readText('config/barman-options-3.4.0.json')).toContain('"source":"man"');

    expect(host.reads).toBe(1);
    await call('/config/barman/help');
    expect(host.reads).toBe(1);
    const reload = await call('/config/barman/reload');
    expect(reload.body.source).toBe('man');
    expect(host.reads).toBe(2);
  });

  it('decompresses a gzip page on the host with gzip -dc, as separate argv words', async () => {
    const t = setup({
      files: { '/etc/barman.conf': MAIN, '/usr/share/man/man5/barman.5.gz': 'binary' },
      command: (argv) => (argv[0] === 'gzip' ? { stdout: MAN_3_4 } : { exitCode: 127 }),
    });
    const { body } = await t.call('/config/barman/help');
    expect(body.source).toBe('man');
    expect(t.scripted.calls).toContainEqual(['gzip', '-dc', '--', '/usr/share/man/man5/barman.5.gz']);
  });

  it('falls back to the built-in catalogue without a man page, and says so', async () => {
    const { call } = setup({ files: { '/etc/barman.conf': MAIN } });
    const { body } = await call('/config/barman/help');
    expect(body.source).toBe('builtin');
    expect(body.man_page).toBeNull();
    expect(body.fallback_reason).toMatch(/no barman\(5\) page/);
    expect(body.list.length).toBeGreaterThan(70);
  });

  it('makes a commented template of the options of one scope', async () => {
    const { call } = setup();
    const { body } = await call('/config/barman/template?scope=server&section=pg2');
    expect(body.template).toContain('[pg2]\n');
    expect(body.template).toMatch(/^;conninfo =$/m);
    expect(body.template).not.toMatch(/^;barman_home/m);
    expect(new IniDocument(body.template).problems).toEqual([]);
    const global = await call('/config/barman/template?scope=global');
    expect(global.body.template).toMatch(/^;barman_home =/m);
    expect((await call('/config/barman/template?scope=nope')).res.status).toBe(400);
  });
});

describe('/config/barman/change', () => {
  it('changes one key in the file that holds the section, only that line, with a backup of the previous file', async () => {
    const { call, files, backups, deps } = setup();
    const { res, body } = await call('/config/barman/change?pg.description=Primary%20cluster');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status_code: 200, file: '/etc/barman.d/pg.conf', written: true, write_mode: 'replaced', dry_run: false });
    expect(body.list).toEqual([{ section: 'pg', key: 'description', action: 'set', previous: '"Main cluster"', value: 'Primary cluster', changed: true }]);
    expect(files.get('/etc/barman.d/pg.conf')).toBe(PG.replace('description = "Main cluster"', 'description = Primary cluster'));
    expect(files.get('/etc/barman.conf')).toBe(MAIN);
    expect(body.diff).toContain('-description = "Main cluster"\n+description = Primary cluster\n');
    expect(backups()).toEqual([body.backup]);
    expect(await deps.storage.readText(body.backup)).toBe(PG);
  });

  it('takes the changes from a JSON body too, and adds a new key after the section\'s last one', async () => {
    const { call, files } = setup();
    const { res } = await call('/config/barman/change', 'memin', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 'pg.minimum_redundancy': 2, 'pg.streaming_archiver': 'on' }),
    });
    expect(res.status).toBe(200);
    expect(files.get('/etc/barman.d/pg.conf')).toBe(`${PG}minimum_redundancy = 2\nstreaming_archiver = on\n`);
  });

  it('creates a new server only with create=true, in <configuration_files_directory>/<name>.conf', async () => {
    const { call, files } = setup();
    const before = snapshot(files);
    const refused = await call('/config/barman/change?pg2.description=Second');
    expect(refused.res.status).toBe(400);
    expect(refused.body.message).toContain('no section [pg2]');
    expect(refused.body.message).toContain('create=true');
    expect(files).toEqual(before);

    const { res, body } = await call('/config/barman/change?pg2.description=Second&pg2.conninfo=host%3Dpg2&create=true');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ file: '/etc/barman.d/pg2.conf', write_mode: 'created', backup: null });
    expect(files.get('/etc/barman.d/pg2.conf')).toBe('[pg2]\ndescription = Second\nconninfo = host=pg2\n');
  });

  it('refuses to create a server when there is no configuration_files_directory', async () => {
    const { call, files } = setup({ files: { '/etc/barman.conf': '[barman]\nbarman_home = /var/lib/barman\n', [MAN_PATH]: MAN_3_4 } });
    const { res, body } = await call('/config/barman/change?pg2.description=x&create=true');
    expect(res.status).toBe(409);
    expect(body.message).toContain('configuration_files_directory');
    expect(files.size).toBe(2);
  });

  it('removes a key with remove=section.key', async () => {
    const { call, files } = setup();
    const { res, body } = await call('/config/barman/change?remove=pg.backup_method');
    expect(res.status).toBe(200);
    expect(body.list[0]).toMatchObject({ action: 'remove', previous: 'postgres', changed: true });
    expect(files.get('/etc/barman.d/pg.conf')).toBe(PG.replace('backup_method = postgres\n', ''));
  });

  it('with dry_run=true returns the unified diff and changes nothing', async () => {
    const { call, files, backups } = setup();
    const before = snapshot(files);
    const { res, body } = await call('/config/barman/change?barman.log_level=DEBUG&dry_run=true');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ dry_run: true, written: false, write_mode: null });
    expect(body.diff).toBe('--- /etc/barman.conf\n+++ /etc/barman.conf\n@@ -3,4 +3,4 @@\n barman_user = barman\n barman_home = /var/lib/barman\n configuration_files_directory = /etc/barman.d\n-log_level = INFO\n+log_level = DEBUG\n');
    expect(files).toEqual(before);
    expect(backups()).toEqual([]);
  });

  it('keeps passwords out of the response and the diff', async () => {
    const { call, files } = setup();
    const { body } = await call('/config/barman/change?pg.conninfo=host%3Dpg%20password%3Dn3w', 'memin');
    expect(JSON.stringify(body)).not.toMatch(/s3cret|n3w/);
    expect(files.get('/etc/barman.d/pg.conf')).toContain('conninfo = host=pg password=n3w\n');
  });

  it('keeps URI passwords out of previous, value, the diff and a dry run', async () => {
    const uri = 'postgresql://barman:oldS3cret@pg/postgres';
    const { call, files } = setup({ files: { '/etc/barman.conf': MAIN, '/etc/barman.d/pg.conf': `[pg]\nconninfo = ${uri}\nbackup_method = postgres\n` } });
    const next = encodeURIComponent('postgres://barman:newS3cret@pg/postgres?sslpassword=keyS3cret');
    for (const dry of ['&dry_run=true', '']) {
      const { res, body } = await call(`/config/barman/change?pg.conninfo=${next}${dry}`, 'memin');
      expect(res.status).toBe(200);
      expect(JSON.stringify(body)).not.toMatch(/oldS3cret|newS3cret|keyS3cret/);
      expect(body.list[0]).toMatchObject({ previous: 'postgresql://barman:***@pg/postgres', value: 'postgres://barman:***@pg/postgres?sslpassword=***' });
      expect(body.diff).toContain('-conninfo = postgresql://barman:***@pg/postgres\n+conninfo = postgres://barman:***@pg/postgres?sslpassword=***\n');
    }
    expect(files.get('/etc/barman.d/pg.conf')).toContain('conninfo = postgres://barman:newS3cret@pg/postgres?sslpassword=keyS3cret\n');
    // Messages that quote a value hide it the same way.
    const typo = await call(`/config/barman/change?pg.backup_method=${encodeURIComponent(uri)}&dry_run=true`);
    expect(JSON.stringify(typo.body)).not.toContain('oldS3cret');
    expect(typo.body.warnings.join()).toContain('postgresql://barman:***@pg/postgres');
  });

  it('reports an in-place rewrite when the folder is not writable', async () => {
    const { call } = setup({ host: (h) => ({ ...h, writeFile: async (p: string, c: string) => (await h.writeFile(p, c), { mode: 'in-place' as const }) }) });
    const { res, body } = await call('/config/barman/change?pg.description=x');
    expect(res.status).toBe(200);
    expect(body.write_mode).toBe('in-place');
    expect(body.message).toMatch(/not writable.*in place.*config\/backups\//);
  });

  describe('options barman executes', () => {
    it.each([
      'pg.ssh_command', 'pg.post_backup_script', 'pg.pre_archive_retry_script', 'pg.path_prefix', 'barman.configuration_files_directory', 'barman.barman_user', 'barman.log_file',
      // Folders barman writes to, moves files out of or deletes from as its user.
      'pg.incoming_wals_directory', 'pg.streaming_wals_directory', 'pg.errors_directory', 'barman.errors_directory', 'pg.backup_directory', 'pg.wals_directory',
      'pg.basebackups_directory', 'pg.recovery_staging_path', 'barman.recovery_staging_path', 'barman.barman_home', 'barman.barman_lock_directory',
    ])(
      'refuses %s unless the access list names config/barman/exec', async (key) => {
        const { call, files } = setup();
        const before = snapshot(files);
        for (const user of ['broad', 'denied']) {
          const { res, body } = await call(`/config/barman/change?${key}=/tmp/x`, user);
          expect(res.status).toBe(403);
          expect(body.message).toContain('config/barman/exec');
          expect(body.message).toContain(key);
        }
        expect(files).toEqual(before);
        const { res } = await call(`/config/barman/change?${key}=/tmp/x`, 'ops');
        expect(res.status).toBe(200);
        // An empty access list allows everything, exact-name grants included.
        expect((await call(`/config/barman/change?${key}=/tmp/y`, 'memin')).res.status).toBe(200);
      });

    it('refuses any *_directory, *_staging_path or *_file, also one newer than the catalogue (force=true)', async () => {
      const { call, files } = setup();
      const before = snapshot(files);
      for (const key of ['pg.local_staging_path', 'pg.staging_wal_directory', 'barman.some_future_file']) {
        const { res, body } = await call(`/config/barman/change?${key}=/tmp/x&force=true`, 'broad');
        expect(res.status, key).toBe(403);
        expect(body.message).toContain('config/barman/exec');
      }
      expect(files).toEqual(before);
      expect((await call('/config/barman/change?remove=barman.barman_home', 'broad')).res.status).toBe(403);
      expect((await call('/config/barman/change?pg.local_staging_path=/tmp/x&force=true', 'ops')).res.status).toBe(200);
    });

    it('/config/barman/help marks directory options privileged', async () => {
      const { call } = setup();
      const { body } = await call('/config/barman/help');
      const privileged = (name: string) => body.list.find((o: { name: string }) => o.name === name)?.privileged;
      for (const name of ['incoming_wals_directory', 'streaming_wals_directory', 'errors_directory', 'backup_directory', 'wals_directory', 'basebackups_directory', 'recovery_staging_path', 'barman_home', 'barman_lock_directory']) {
        expect(privileged(name), name).toBe(true);
      }
      for (const name of ['description', 'log_level', 'forward_config_path', 'conninfo']) expect(privileged(name), name).toBe(false);
    });

    it('refuses removing one too, and hides nothing in a multi-key request', async () => {
      const { call, files } = setup();
      const before = snapshot(files);
      expect((await call('/config/barman/change?remove=pg.ssh_command', 'broad')).res.status).toBe(403);
      expect((await call('/config/barman/change?pg.description=ok&pg.post_backup_script=/bin/sh', 'broad')).res.status).toBe(403);
      expect(files).toEqual(before);
    });
  });

  it('checks scopes and value types against the catalogue; force=true writes anyway', async () => {
    const { call, files } = setup();
    const before = snapshot(files);
    const scope = await call('/config/barman/change?pg.log_level=DEBUG');
    expect(scope.res.status).toBe(400);
    expect(scope.body.message).toMatch(/log_level is a global option.*\[barman\]/);
    expect((await call('/config/barman/change?barman.description=x')).res.status).toBe(400);
    const int = await call('/config/barman/change?pg.minimum_redundancy=two');
    expect(int.res.status).toBe(400);
    expect(int.body.message).toContain('whole number');
    expect((await call('/config/barman/change?pg.streaming_archiver=maybe')).res.status).toBe(400);
    expect(files).toEqual(before);

    const enumWarning = await call('/config/barman/change?pg.backup_method=custom-thing');
    expect(enumWarning.res.status).toBe(200);
    expect(enumWarning.body.warnings[0]).toContain('not among the values');
    const forced = await call('/config/barman/change?pg.log_level=DEBUG&force=true');
    expect(forced.res.status).toBe(200);
  });

  it('refuses a request whose keys live in two files (one file per request)', async () => {
    const { call, files } = setup();
    const before = snapshot(files);
    const { res, body } = await call('/config/barman/change?barman.log_level=DEBUG&pg.description=x');
    expect(res.status).toBe(400);
    expect(body.message).toContain('/etc/barman.conf');
    expect(body.message).toContain('/etc/barman.d/pg.conf');
    expect(files).toEqual(before);
  });

  it('refuses a value barman would choke on as interpolation, accepts %% and %(option)s', async () => {
    const { call, files } = setup();
    expect((await call('/config/barman/change?pg.description=50%25')).res.status).toBe(400);
    expect((await call('/config/barman/change?pg.description=50%25%25%20of%20%25(conninfo)s')).res.status).toBe(200);
    expect(files.get('/etc/barman.d/pg.conf')).toContain('description = 50%% of %(conninfo)s\n');
  });

  it('refuses to edit a file configparser cannot read', async () => {
    const { call, files } = setup({ files: { '/etc/barman.conf': MAIN, '/etc/barman.d/pg.conf': `${PG}this line has no delimiter\n`, [MAN_PATH]: MAN_3_4 } });
    const { res, body } = await call('/config/barman/change?pg.description=x');
    expect(res.status).toBe(409);
    expect(body.message).toContain('fix the file by hand');
    expect(files.get('/etc/barman.d/pg.conf')).toContain('no delimiter');
  });
});

describe('bad input changes nothing', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a key without a section', '/config/barman/change?description=x', /has no section/],
    ['a section that does not exist', '/config/barman/change?nosuch.description=x', /no section \[nosuch\]/],
    ['an unknown key', '/config/barman/change?pg.descriptionn=x', /no option descriptionn/],
    ['a value with a newline and a section header', `/config/barman/change?pg.description=${encodeURIComponent('x\n[evil]\nssh_command = sh')}`, /line break or control character \(U\+000A\)/],
    ['a value with a carriage return', `/config/barman/change?pg.description=${encodeURIComponent('x\rssh_command = sh')}`, /U\+000D/],
    ['a value with a NUL', `/config/barman/change?pg.description=${encodeURIComponent('x\0')}`, /U\+0000/],
    ['a section with a space', `/config/barman/change?${encodeURIComponent('pg x.description')}=x`, /section names/],
    ['a section with =', `/config/barman/change?${encodeURIComponent('pg=x.description')}=x`, /section names/],
    ['a section with ]', `/config/barman/change?${encodeURIComponent('pg].description')}=x`, /section names/],
    ['a key with a space', `/config/barman/change?${encodeURIComponent('pg.desc ription')}=x`, /option names/],
    ['a key with =', `/config/barman/change?${encodeURIComponent('pg.desc=ription')}=x`, /option names/],
    ['a key with ]', `/config/barman/change?${encodeURIComponent('pg.description]')}=x`, /option names/],
    ['the same key twice', '/config/barman/change?pg.description=a&pg.description=b', /more than once/],
    ['a key set and removed at once', '/config/barman/change?pg.description=a&remove=pg.description', /changed twice/],
    ['nothing to change', '/config/barman/change', /nothing to change/],
    ['removing from a missing section', '/config/barman/change?remove=nosuch.description', /no section \[nosuch\]/],
    ['the reserved section all', '/config/barman/change?all.description=x&create=true', /reserves the name all/],
  ];
  it.each(cases)('%s → 400', async (_name, path, message) => {
    const { call, files, backups } = setup();
    const before = snapshot(files);
    const { res, body } = await call(path);
    expect(res.status).toBe(400);
    expect(body).toMatchObject({ status_code: 400, type: 'BadRequest' });
    expect(body.message).toMatch(message);
    expect(files).toEqual(before);
    expect(backups()).toEqual([]);
  });

  it('a JSON body with a newline in a value → 400', async () => {
    const { call, files } = setup();
    const before = snapshot(files);
    const { res } = await call('/config/barman/change', 'memin', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ 'pg.description': 'ok\n[evil]' }),
    });
    expect(res.status).toBe(400);
    expect(files).toEqual(before);
  });

  it('a hand-edited file round-trips byte for byte except the changed line', async () => {
    const hand = [
      '# barman server, edited by hand',
      ';   another comment style',
      '[pg]',
      'description=   "Main"   ',
      '   ; indented comment',
      'conninfo : host=pg',
      '    user=barman',
      '\tdbname=postgres',
      '',
      '',
      'backup_method    =    postgres',
      'ssh_command=ssh postgres@pg',
      '# trailing comment, no newline after the last key',
      'streaming_archiver = off',
    ].join('\n');
    const { call, files } = setup({ files: { '/etc/barman.conf': MAIN, '/etc/barman.d/pg.conf': hand, [MAN_PATH]: MAN_3_4 } });
    const { res } = await call('/config/barman/change?pg.backup_method=rsync');
    expect(res.status).toBe(200);
    const after = files.get('/etc/barman.d/pg.conf')!;
    expect(after).toBe(hand.replace('backup_method    =    postgres', 'backup_method    =    rsync'));

    // A key added to a file without a final newline: the old last line gets one, nothing else moves.
    expect((await call('/config/barman/change?pg.minimum_redundancy=1')).res.status).toBe(200);
    expect(files.get('/etc/barman.d/pg.conf')).toBe(`${after}\nminimum_redundancy = 1\n`);
    // The continuation value stays whole.
    expect(new IniDocument(files.get('/etc/barman.d/pg.conf')!).get('pg', 'conninfo')).toBe('host=pg\nuser=barman\ndbname=postgres');
  });

  it('100 concurrent changes to one file: each applied or rejected, none lost, the final file consistent', async () => {
    // File operations that take a little real time, in varying amounts, as on a disk or over SFTP.
    let tick = 0;
    const pause = () => new Promise((r) => setTimeout(r, (tick = (tick * 7 + 3) % 5)));
    const { call, files, backups } = setup({
      host: (h) => ({
        ...h,
        readFile: async (p: string) => (await pause(), h.readFile(p)),
        writeFile: async (p: string, c: string) => (await pause(), h.writeFile(p, c)),
      }),
    });
    await call('/config/barman'); // log in and load the catalogue before the burst
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const bad = i % 10 === 9;
        // Each request also writes a key of its own (force: not a barman option), so a lost update shows.
        const q = `pg.description=run-${i}&pg.minimum_redundancy=${i}&pg.x_${i}=${bad ? '%0A[evil]' : i}&force=true`;
        return call(`/config/barman/change?${q}`).then((r) => ({ i, bad, status: r.res.status }));
      }),
    );
    for (const r of results) expect(r.status).toBe(r.bad ? 400 : 200);
    const text = files.get('/etc/barman.d/pg.conf')!;
    const doc = new IniDocument(text);
    expect(doc.problems).toEqual([]);
    const description = doc.get('pg', 'description')!;
    const n = Number(description.slice('run-'.length));
    expect(doc.get('pg', 'minimum_redundancy')).toBe(String(n));
    for (const r of results) expect(doc.get('pg', `x_${r.i}`)).toBe(r.bad ? undefined : String(r.i));
    expect(text).not.toContain('evil');
    // Lines other than the changed keys are as they were; each key appears once.
    expect(text.startsWith(PG.replace('"Main cluster"', description))).toBe(true);
    expect(text.match(/^minimum_redundancy =/gm)).toHaveLength(1);
    // Each write kept the previous version; the history is bounded by [application] config_backups_keep (50).
    expect(backups()).toHaveLength(50);
  });

  it('a config file that is not writable → 500 naming the file and the permission, nothing written', async () => {
    const { call, files, backups } = setup({
      host: (h) => ({
        ...h,
        writeFile: async (p: string) => {
          throw new HostFileError('permission', p, `cannot write ${p}: EACCES: permission denied`);
        },
      }),
    });
    const before = snapshot(files);
    const { res, body } = await call('/config/barman/change?pg.description=x');
    expect(res.status).toBe(500);
    expect(body.type).toBe('ConfigNotWritable');
    expect(body.message).toContain('/etc/barman.d/pg.conf');
    expect(body.message).toMatch(/permission denied/);
    expect(body.message).toMatch(/mode 0644/);
    expect(files).toEqual(before);
    // The copy of the previous content is kept; it is a copy, never the file itself.
    expect(backups()).toHaveLength(1);
  });
});

describe('earlier versions kept under config/backups/', () => {
  it('keeps a bounded history per file: the newest N, none older than the age limit but the newest', async () => {
    const { createMemoryStorage, createFixedClock } = await import('../../adapters/memory/index.js');
    const { keepBackup } = await import('../../src/files/backups.js');
    const clock = createFixedClock('2026-01-01T00:00:00Z');
    const storage = createMemoryStorage(() => clock.now().getTime());
    for (let i = 0; i < 8; i++) {
      await keepBackup(storage, clock, '/etc/barman.d/pg.conf', `pg v${i}\n`, { keep: 5, days: 0 });
      await keepBackup(storage, clock, '/etc/barman.conf', `main v${i}\n`, { keep: 3, days: 0 });
      clock.advance(86_400_000);
    }
    const list = await storage.list('config/backups');
    expect(list.filter((n) => n.endsWith('_etc_barman.d_pg.conf'))).toHaveLength(5);
    expect(list.filter((n) => n.endsWith('_etc_barman.conf'))).toHaveLength(3);
    const newest = list.filter((n) => n.endsWith('_etc_barman.d_pg.conf')).sort().at(-1)!;
    expect(await storage.readText(`config/backups/${newest}`)).toBe('pg v7\n');
    // A year on, only the newest of each file is left once another change is made.
    clock.advance(400 * 86_400_000);
    await keepBackup(storage, clock, '/etc/barman.d/pg.conf', 'pg v8\n', { keep: 5, days: 30 });
    const after = (await storage.list('config/backups')).filter((n) => n.endsWith('_etc_barman.d_pg.conf'));
    expect(after).toHaveLength(1);
    expect(await storage.readText(`config/backups/${after[0]}`)).toBe('pg v8\n');
    // Other files' history is not touched by pg.conf's retention.
    expect((await storage.list('config/backups')).filter((n) => n.endsWith('_etc_barman.conf'))).toHaveLength(3);
  });
});

import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/settings/load.js';

/** /etc/barmanapi.conf exactly as the seed README prints it. */
const SEED_CONF = `#Don't delete any option from this file. All option is using. If you don't need anyone, blank value this option
#User store location and pasword hash secret.
[user]
configfile=/usr/share/barmanapi/client.conf
#if change your secret all password is unusable. You must change all of password hash in user configfile
secret=89660c74da48ddd4efbe4d3c8f8150de

[application]
store_directory=/var/lib/barmanapi/
host=
port=1935
#In production, must be False debug parameter.
debug=True

#Barman Server Settings
[barman]
configfile=/etc/barman.conf
command=/usr/bin/barman
remote=true
#If remote is false, you can blank remotessh option.
remotessh=ssh barman@backup
asynccommand=['backup','cron','recover']

[authtoken]
secret=Deneme
algorithm=HS256
#Token life time(second). At the end of this time token is unusable.
tokenlife=6000

[log]
#Stored last x log file
backupcount=5
#Log file truncate size(Bytes)
maxbytes=20000
`;

describe('loadSettings', () => {
  it("reads the seed's file unchanged", () => {
    const s = loadSettings({ text: SEED_CONF, path: '/etc/barmanapi.conf' });
    expect(s.user.configFile).toBe('/usr/share/barmanapi/client.conf');
    expect(s.application).toMatchObject({ storeDirectory: '/var/lib/barmanapi', host: '127.0.0.1', port: 1935, debug: true });
    expect(s.barman).toMatchObject({ configFile: '/etc/barman.conf', command: ['/usr/bin/barman'], remote: true, remoteSsh: 'ssh barman@backup', asyncCommands: ['backup', 'cron', 'recover'] });
    expect(s.authToken).toEqual({ secret: 'Deneme', algorithm: 'HS256', tokenLife: 6000 });
    expect(s.log).toMatchObject({ backupCount: 5, maxBytes: 20000 });
    expect(s.warnings).toEqual([]);
  });

  it('accepts the other spellings seen in the wild', () => {
    const text = `[user]\nconfig_file=users.conf\n[barman]\nconfig_file=/b.conf\nasync_command=backup, cron\nremote_ssh=ssh -p 2222 barman@b\nremote=yes\n[auth_token]\ntoken_life=60\n[log]\nbackup_count=2\nmax_bytes=100\n`;
    const s = loadSettings({ text, path: '/opt/api/barmanapi.conf' });
    expect(s.user.configFile).toBe('/opt/api/users.conf');
    expect(s.barman).toMatchObject({ configFile: '/b.conf', asyncCommands: ['backup', 'cron'], remoteSsh: 'ssh -p 2222 barman@b', remote: true });
    expect(s.authToken.tokenLife).toBe(60);
    expect(s.log).toMatchObject({ backupCount: 2, maxBytes: 100 });
  });

  it('reads the same keys from TOML', () => {
    const text = `[application]\nport = 8080\nhost = "0.0.0.0"\n[barman]\nasync_command = ["backup"]\nremote = false\n[authtoken]\ntokenlife = 10\n`;
    const s = loadSettings({ text, path: '/etc/barmanapi.toml' });
    expect(s.application.port).toBe(8080);
    expect(s.application.host).toBe('0.0.0.0');
    expect(s.barman.asyncCommands).toEqual(['backup']);
    expect(s.authToken.tokenLife).toBe(10);
  });

  it('has a default for every key', () => {
    const s = loadSettings({ text: null, path: null });
    expect(s.application).toMatchObject({ storeDirectory: '/var/lib/barmanapi', host: '127.0.0.1', port: 1935, debug: false });
    expect(s.barman.asyncCommands).toEqual(['backup', 'cron', 'recover', 'restore']);
    expect(s.barman.remote).toBe(false);
  });

  it('lets flags beat environment variables, which beat the file', () => {
    const text = '[application]\nport=1000\nhost=127.0.0.2\n';
    const env = { BARMANAPI_APPLICATION_PORT: '2000', BARMANAPI_APPLICATION_HOST: '127.0.0.3' };
    const s = loadSettings({ text, path: '/x.conf', env, flags: { 'application.port': '3000' } });
    expect(s.application.port).toBe(3000);
    expect(s.application.host).toBe('127.0.0.3');
  });

  it('warns about an unknown key and keeps going', () => {
    const s = loadSettings({ text: '[application]\nport=1935\ncolour=blue\n', path: '/x.conf' });
    expect(s.warnings).toEqual(['/x.conf: [application] colour: unknown setting, ignored']);
  });

  it('says "did you mean" for a misspelt key or section, in INI and TOML', () => {
    const ini = loadSettings({ text: '[barman]\ntimout=60\nasync_comand=[]\n[aplication]\nport=1\n', path: '/x.conf' });
    expect(ini.warnings).toEqual([
      '/x.conf: [barman] timout: unknown setting, ignored; did you mean timeout?',
      '/x.conf: [barman] async_comand: unknown setting, ignored; did you mean async_command?',
      '/x.conf: [aplication]: unknown section, ignored; did you mean application?',
    ]);
    const toml = loadSettings({ text: '[job]\nmax_running = 2\n', path: '/x.toml' });
    expect(toml.warnings).toEqual(['/x.toml: [job]: unknown section, ignored; did you mean jobs?']);
  });

  it('warns about a BARMANAPI_ variable that is no setting, with the closest one', () => {
    const s = loadSettings({ text: null, path: null, env: { BARMANAPI_APPLICATION_PROT: '80', BARMANAPI_CONFIG: '/etc/x.conf', BARMANAPI_APPLICATION_PORT: '81' } });
    expect(s.application.port).toBe(81);
    expect(s.warnings).toEqual(['environment: BARMANAPI_APPLICATION_PROT is not a barmanapi setting, ignored; did you mean BARMANAPI_APPLICATION_PORT?']);
  });

  it.each([
    "['backup','cron'",
    "'backup','cron']",
    "['backup,'cron']",
    "[backup]]",
  ])('stops on the broken list %s, naming the key', (list) => {
    expect(() => loadSettings({ text: `[barman]\nasynccommand=${list}\n`, path: '/x.conf' })).toThrow(/\/x\.conf: \[barman\] asynccommand: .* in .*; write a list such as/);
  });

  it('reads every list form the seed and README show', () => {
    for (const [text, want] of [["['backup','cron']", ['backup', 'cron']], ['backup, cron', ['backup', 'cron']], ['[]', []], ['["backup"]', ['backup']], ["['backup', 'cron',]", ['backup', 'cron']]] as const) {
      expect(loadSettings({ text: `[barman]\nasynccommand=${text}\n`, path: '/x.conf' }).barman.asyncCommands).toEqual(want);
    }
  });

  it.each([
    ['[application]\nport=abc\n', /\/x\.conf: \[application\] port: expected a whole number, got "abc"/],
    ['[application]\nport=70000\n', /port: must be at most 65535/],
    ['[application]\ndebug=maybe\n', /debug: expected true or false/],
    ['[authtoken]\nalgorithm=none\n', /algorithm: must be one of HS256/],
    ['[barman]\nremote=true\nremotessh=\n', /remotessh: required when remote = true/],
    ['port=1935\n', /before any \[section\]/],
    ['[application\nport=1\n', /cannot parse line 1/],
  ])('stops on a bad file with one message naming file, section, key and problem (%#)', (text, message) => {
    expect(() => loadSettings({ text, path: '/x.conf' })).toThrow(SettingsError);
    expect(() => loadSettings({ text, path: '/x.conf' })).toThrow(message);
  });

  it('splits a command with a prefix into argv words', () => {
    const s = loadSettings({ text: "[barman]\ncommand=sudo -u barman '/opt/my barman/barman'\n", path: '/x.conf' });
    expect(s.barman.command).toEqual(['sudo', '-u', 'barman', '/opt/my barman/barman']);
  });
});

describe('further barman hosts', () => {
  const INI = `[barman]\nconfigfile=/etc/barman.conf\nremote=false\ntimeout=30\n\n[host:dc2]\nconfigfile=/etc/barman-dc2.conf\nremote=true\nremotessh=ssh barman@dc2\nasynccommand=['backup']\n\n[host:pg17]\ncommand=/opt/barman/bin/barman\n`;

  it('reads [host:NAME] sections (INI) with the keys of [barman]; [barman] stays the host named default', () => {
    const s = loadSettings({ text: INI, path: '/etc/barmanapi.conf' });
    expect(s.hosts.map((h) => h.name)).toEqual(['default', 'dc2', 'pg17']);
    expect(s.hosts[0]!.barman).toBe(s.barman);
    expect(s.hosts[1]!.barman).toMatchObject({ configFile: '/etc/barman-dc2.conf', remote: true, remoteSsh: 'ssh barman@dc2', asyncCommands: ['backup'] });
    // Keys a host does not set take the defaults, not [barman]'s: where barman runs is never implied.
    expect(s.hosts[2]!.barman).toMatchObject({ command: ['/opt/barman/bin/barman'], configFile: '/etc/barman.conf', remote: false, timeoutSeconds: 300 });
    expect(s.barman.timeoutSeconds).toBe(30);
  });

  it('reads [host.NAME] tables in TOML the same', () => {
    const s = loadSettings({ text: '[barman]\nremote = false\n[host.dc2]\nremote = true\nremotessh = "ssh barman@dc2"\ntimeout = 60\n', path: '/etc/barmanapi.toml' });
    expect(s.hosts.map((h) => [h.name, h.barman.remote, h.barman.timeoutSeconds])).toEqual([['default', false, 300], ['dc2', true, 60]]);
  });

  it('validates a host as [barman] is validated, naming its section in the one-line error', () => {
    expect(() => loadSettings({ text: '[host:dc2]\nremote=true\n', path: '/x.conf' })).toThrow(/\[host:dc2\] remotessh: required when remote = true/);
    expect(() => loadSettings({ text: '[host:dc2]\ntimeout=abc\n', path: '/x.conf' })).toThrow(/\[host:dc2\] timeout: expected a whole number/);
    expect(() => loadSettings({ text: '[host.dc2]\ntimeout = 0\n', path: '/x.toml' })).toThrow(SettingsError);
    expect(() => loadSettings({ text: '[host.dc2]\npath_roots = ["relative"]\n', path: '/x.toml' })).toThrow(/path_roots: "relative" is not an absolute folder/);
  });

  it('refuses host names that could not go into a URL or a rule, and "default"', () => {
    for (const name of ['DC2', 'dc 2', '-dc2', 'dc/2', 'default', '', 'a'.repeat(64)]) {
      expect(() => loadSettings({ text: `[host:${name}]\nremote=false\n`, path: '/x.conf' }), name).toThrow(SettingsError);
    }
    expect(() => loadSettings({ text: '[host]\nremote = false\n', path: '/x.toml' })).toThrow(/expected a table/);
  });

  it('warns about a key of a host section that is no [barman] key, with the closest one', () => {
    const s = loadSettings({ text: '[host:dc2]\nremotesh=ssh x\n', path: '/x.conf' });
    expect(s.warnings.join('\n')).toMatch(/\[host:dc2\] remotesh: unknown setting, ignored.*remotessh/);
  });

  it('takes BARMANAPI_BARMAN_* variables for the default host only', () => {
    const s = loadSettings({ text: INI, path: '/x.conf', env: { BARMANAPI_BARMAN_TIMEOUT: '45' } });
    expect(s.hosts.map((h) => h.barman.timeoutSeconds)).toEqual([45, 300, 300]);
  });
});

/**
 * The Debian package as an administrator meets it: built by `npm run build:deb` and checked by
 * lintian, installed with dpkg -i, started as its systemd unit says (through systemd where it
 * runs, else the unit's ExecStart as its User), a token obtained with the first user's generated
 * password, stopped, then purged, leaving
 * the machine as it was. Runs after every other suite (test/support/sequencer.ts): while the
 * package is installed, /etc/barmanapi.conf exists.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/server-process.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const ARCH = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const DEB = join(REPO, 'dist', `barmanapi_${VERSION}_${ARCH}.deb`);
/** Everything the package or its service may create. */
const PATHS = ['/usr/bin/barmanapi', '/etc/barmanapi.conf', '/etc/barmanapi', '/var/lib/barmanapi', '/lib/systemd/system/barmanapi.service', '/etc/systemd/system/barmanapi.service.d', '/etc/systemd/system/multi-user.target.wants/barmanapi.service'];
const UNIT = '/lib/systemd/system/barmanapi.service';

function sh(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** dpkg's status of the package: '' when dpkg does not know it (or no longer: after a purge). */
const installed = () => {
  const status = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', 'barmanapi'], { encoding: 'utf8' }).stdout.trim();
  return status === 'not-installed' ? '' : status;
};
/** What the package must leave as it found it: the users, the groups, and every path it touches. */
const machine = () => ({
  passwd: readFileSync('/etc/passwd', 'utf8'),
  group: readFileSync('/etc/group', 'utf8'),
  paths: PATHS.filter((p) => existsSync(p)),
  helperState: ['/var/lib/systemd/deb-systemd-helper-enabled', '/var/lib/systemd/deb-systemd-helper-masked'].flatMap((d) => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String).filter((n) => n.includes('barmanapi')) : [])),
});
const mode = (p: string) => {
  const s = statSync(p);
  const owner = (id: number, file: string) => readFileSync(file, 'utf8').split('\n').find((l) => l.split(':')[2] === String(id))?.split(':')[0];
  return `${(s.mode & 0o7777).toString(8)} ${owner(s.uid, '/etc/passwd')}:${owner(s.gid, '/etc/group')}`;
};

describe('the Debian package', () => {
  let before: ReturnType<typeof machine>;
  let service: ChildProcess | null = null;
  let output = '';
  /** Only what this test installed is ever purged. */
  let installedByUs = false;

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('the package test installs a package: run it as root (CI does)');
    // Never on a machine where barmanapi is installed or was: it would be changed, then purged.
    const found = installed() === '' ? PATHS.filter((p) => existsSync(p)) : ['the package barmanapi'];
    if (found.length > 0) throw new Error(`refusing to test the package over an existing installation: ${found.join(', ')}`);
    before = machine();
  });

  afterAll(() => {
    if (service && service.exitCode === null) service.kill('SIGKILL');
    if (installedByUs && installed() !== '') sh('dpkg', ['--purge', 'barmanapi']);
  });

  it('builds with npm run build:deb, and lintian finds no error', () => {
    const build = sh('npm', ['run', '--silent', 'build:deb']);
    expect(build.code, build.out).toBe(0);
    expect(build.out).toContain('lintian: no errors');
    expect(build.out).not.toMatch(/^E: /m);
    const info = execFileSync('dpkg-deb', ['--field', DEB, 'Package', 'Version', 'Architecture', 'Depends'], { encoding: 'utf8' });
    expect(info).toContain(`Version: ${VERSION}`);
    expect(info).toMatch(/Depends: libc6 \(>= [\d.]+\), adduser/);
    const contents = execFileSync('dpkg-deb', ['--contents', DEB], { encoding: 'utf8' });
    for (const f of ['./usr/bin/barmanapi', './etc/barmanapi.conf', './lib/systemd/system/barmanapi.service', './usr/share/doc/barmanapi/copyright', './usr/share/man/man1/barmanapi.1.gz']) expect(contents, f).toContain(f);
    expect(execFileSync('dpkg-deb', ['--ctrl-tarfile', DEB]).length).toBeGreaterThan(0);
    expect(sh('dpkg-deb', ['-I', DEB, 'conffiles']).out.trim()).toBe('/etc/barmanapi.conf');
  }, 300_000);

  it('installs with dpkg -i: the program, the settings as a conffile, the users folder and the store for the service user only', () => {
    const install = sh('dpkg', ['-i', DEB]);
    installedByUs = true;
    expect(install.code, install.out).toBe(0);
    expect(install.out).toContain('user memin created; its password is in /etc/barmanapi/initial-password (root only)');
    expect(installed()).toBe('installed');
    const user = serviceUser();
    expect(user).toBe(sh('getent', ['passwd', 'barman']).code === 0 ? 'barman' : 'barmanapi');
    expect(mode('/usr/bin/barmanapi')).toBe('755 root:root');
    expect(mode('/etc/barmanapi.conf')).toBe(`640 root:${user}`);
    expect(mode('/etc/barmanapi')).toBe(`700 ${user}:${user}`);
    expect(mode('/var/lib/barmanapi')).toBe(`700 ${user}:${user}`);
    // The first user has a random password only root can read; the users file is the service user's.
    expect(mode('/etc/barmanapi/initial-password')).toBe('600 root:root');
    expect(readFileSync('/etc/barmanapi/initial-password', 'utf8')).toMatch(/^[A-Za-z0-9]{24}\n$/);
    expect(mode('/etc/barmanapi/client.conf')).toBe(`600 ${user}:${user}`);
    // The single binary cannot reload its certificate: no ExecReload that would pretend to.
    expect(readFileSync(UNIT, 'utf8')).not.toMatch(/^ExecReload=/m);
    expect(sh('systemd-analyze', ['verify', UNIT]).out).not.toMatch(/barmanapi\.service:\d+:/);
    expect(execFileSync('/usr/bin/barmanapi', ['--version'], { encoding: 'utf8' }).trim()).toBe(VERSION);
  });

  it('starts as its unit says, answers /readyz, and gives a token to the first user with the password only root can read', async () => {
    // Its port must be free: the answers below must come from the packaged service.
    const taken = await new Promise<boolean>((resolve) => {
      const socket = connect(1935, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    expect(taken, 'port 1935 is in use by another server').toBe(false);
    const unit = readFileSync(UNIT, 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/);
    expect(execStart.slice(0, 4)).toEqual(['/usr/bin/barmanapi', 'runserver', '--config', '/etc/barmanapi.conf']);
    const user = serviceUser();
    if (existsSync('/run/systemd/system')) {
      expect(sh('systemctl', ['start', 'barmanapi']).code).toBe(0);
    } else {
      // No systemd here: the unit's command, as its user, with its environment.
      const environment = Object.fromEntries([...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      service = spawn('runuser', ['-u', user, '--', ...execStart], { cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...environment }, stdio: ['ignore', 'pipe', 'pipe'] });
      service.stdout!.on('data', (d) => (output += d));
      service.stderr!.on('data', (d) => (output += d));
    }
    const deadline = Date.now() + 20_000;
    let ready: Response | null = null;
    while (!ready) {
      ready = await fetch('http://127.0.0.1:1935/readyz').catch(() => null);
      if (!ready && Date.now() > deadline) throw new Error(`the service did not answer:\n${output}`);
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready.status, output).toBe(200);
    const basic = (password: string) => ({ Authorization: `Basic ${Buffer.from(`memin:${password}`).toString('base64')}` });
    expect((await fetch('http://127.0.0.1:1935/auth/token', { headers: basic('1258') })).status).toBe(401);
    const password = readFileSync('/etc/barmanapi/initial-password', 'utf8').trim();
    const login = await fetch('http://127.0.0.1:1935/auth/token', { headers: basic(password) });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const me = await fetch('http://127.0.0.1:1935/api/v1/me', { headers: { Authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({ username: 'memin' });
    // The login re-hashed the password and saved the users file: still the service user's alone.
    expect(mode('/etc/barmanapi/client.conf')).toBe(`600 ${user}:${user}`);
    expect(mode('/var/lib/barmanapi/config/token.secret')).toMatch(new RegExp(`^600 ${user}:`));
  });

  it('stops, and dpkg --purge leaves the machine as it was', async () => {
    if (existsSync('/run/systemd/system')) expect(sh('systemctl', ['stop', 'barmanapi']).code).toBe(0);
    else if (service) {
      const exited = new Promise((r) => service!.once('exit', r));
      service.kill('SIGTERM');
      await exited;
      expect(output).toContain('SIGTERM: shutting down');
    }
    const purge = sh('dpkg', ['--purge', 'barmanapi']);
    expect(purge.code, purge.out).toBe(0);
    expect(installed()).toBe('');
    // A barmanapi system user the package added stays, as Debian keeps system users; with barman
    // installed (as here) none is added, so nothing at all differs.
    const after = machine();
    const added = (a: string, b: string) => b.split('\n').filter((l) => !a.split('\n').includes(l));
    expect(added(before.passwd, after.passwd).every((l) => l.startsWith('barmanapi:'))).toBe(true);
    expect(added(before.group, after.group).every((l) => l.startsWith('barmanapi:'))).toBe(true);
    if (before.passwd.split('\n').some((l) => l.startsWith('barman:'))) expect(added(before.passwd, after.passwd)).toEqual([]);
    expect({ ...after, passwd: '', group: '' }).toEqual({ ...before, passwd: '', group: '' });
  });
});

/** The unit's User=, or its drop-in's. */
function serviceUser(): string {
  const dropIn = '/etc/systemd/system/barmanapi.service.d/10-service-user.conf';
  const text = existsSync(dropIn) ? readFileSync(dropIn, 'utf8') : readFileSync(UNIT, 'utf8');
  return /^User=(\S+)$/m.exec(text)![1]!;
}

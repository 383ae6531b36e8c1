import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, basicHeader, runCli, serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const running: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

describe('barmanapi runserver (real Node server over HTTP)', () => {
  it("serves the seed's /auth routes, creates the store's folders and upgrades the MD5 hash on login", async () => {
    const d = serverDir('configfile=/etc/barman.conf\ncommand=/usr/bin/barman\nremote=false');
    const s = await startServerProcess(d.config);
    running.push(s);
    for (const sub of ['archive', 'active', 'config', 'garbage', 'logs']) expect(existsSync(join(d.store, sub)), sub).toBe(true);
    const t = await token(s.baseUrl);
    expect(readFileSync(d.clientConf, 'utf8')).toMatch(/password = pbkdf2-sha256\$600000\$/);
    const me = await fetch(`${s.baseUrl}/auth/user?token=${t}`);
    expect(await me.json()).toEqual({ status_code: 200, message: '', list: { username: 'memin', access: [], deny: [] } });
    const bearer = await fetch(`${s.baseUrl}/auth/user/list`, { headers: { Authorization: `Bearer ${t}` } });
    expect(bearer.status).toBe(200);
    const wrong = await fetch(`${s.baseUrl}/auth/token`, { headers: basicHeader('memin', 'nope') });
    expect(wrong.status).toBe(401);
    // The generated token secret is kept in the store, not in any response or log.
    const secret = readFileSync(join(d.store, 'config', 'token.secret'), 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const log = readFileSync(join(d.store, 'logs', 'general.log'), 'utf8');
    expect(log).toContain('/auth/user?token=***');
    expect(log).not.toContain(t);
    expect(log).not.toContain(secret);
    expect(s.output()).not.toContain(t);
  });

  it('answers TRACE, HEAD and PUT with 405 and Allow before any handler runs', async () => {
    const d = serverDir('configfile=/etc/barman.conf\ncommand=/usr/bin/barman\nremote=false');
    const s = await startServerProcess(d.config);
    running.push(s);
    const t = await token(s.baseUrl);
    const url = new URL(s.baseUrl);
    const raw = (method: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(Number(url.port), url.hostname, () => {
          sock.end(`${method} /barman/list-server?token=${t} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
        });
        let text = '';
        sock.on('data', (b) => (text += b.toString()));
        sock.on('end', () => resolve(text));
        sock.on('error', reject);
      });
    for (const method of ['TRACE', 'HEAD', 'PUT']) {
      const answer = await raw(method);
      expect(answer, method).toMatch(/^HTTP\/1\.1 405 /);
      expect(answer, method).toMatch(/\r\nallow: GET, POST\r\n/i);
    }
  });

  it('keeps serving when its log file cannot be written; the lines go to stderr and the failure is said once', async () => {
    const d = serverDir('configfile=/etc/barman.conf\ncommand=/usr/bin/barman\nremote=false');
    mkdirSync(join(d.store, 'logs', 'general.log'), { recursive: true });
    const s = await startServerProcess(d.config);
    running.push(s);
    const t = await token(s.baseUrl);
    for (let i = 0; i < 5; i++) expect((await fetch(`${s.baseUrl}/auth/user?token=${t}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.output().match(/cannot write .*general\.log \(EISDIR\)/g)).toHaveLength(1);
    expect(s.output()).toContain('GET /auth/user?token=***');
  });

  it('refuses to listen beyond loopback while a user has the default password, and says how to fix it', async () => {
    const d = serverDir('remote=false');
    writeFileSync(d.config, readFileSync(d.config, 'utf8').replace('host=\n', 'host=0.0.0.0\n'));
    const r = await runCli(['runserver', '--config', d.config, '--port', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0: user\(s\) memin still have the default password/);
    expect(r.stderr).toMatch(/barmanapi user passwd memin/);
  });

  it('stops on a bad config file with one message naming file, section, key and problem', async () => {
    const d = serverDir('remote=false');
    writeFileSync(d.config, readFileSync(d.config, 'utf8').replace('port=1935', 'port=abc'));
    const r = await runCli(['runserver', '--config', d.config]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`barmanapi: ${d.config}: [application] port: expected a whole number, got "abc"`);
  });

  it('gives the exact fix when the store cannot be created', async () => {
    const d = serverDir('remote=false');
    const locked = join(d.dir, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'file'), '');
    writeFileSync(d.config, readFileSync(d.config, 'utf8').replace('store_directory=store', `store_directory=${join(locked, 'file', 'store')}`));
    chmodSync(locked, 0o500);
    const r = await runCli(['runserver', '--config', d.config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/store directory .* cannot be created: .*\/file is not a directory\. Fix it with:\n  sudo mkdir -p .*\n  sudo chown root:root /);
  });

  it('says how to fix a users file the service user cannot read', async () => {
    const d = mkdtempSync(join(tmpdir(), 'barmanapi-perm-'));
    try {
      chmodSync(d, 0o755);
      writeFileSync(join(d, 'client.conf'), '[memin]\npassword = x\naccess = []\ndeny = []\n', { mode: 0o600 });
      writeFileSync(join(d, 'b.conf'), `[user]\nconfigfile=${join(d, 'client.conf')}\n`, { mode: 0o644 });
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, BIN, 'user', 'list', '--config', join(d, 'b.conf')], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`cannot read ${join(d, 'client.conf')} (EACCES): give the user running barmanapi access: sudo chown nobody:nogroup ${join(d, 'client.conf')} && sudo chmod 600`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('fails at once, with the reason, on a store path that cannot exist', async () => {
    const d = serverDir('remote=false');
    writeFileSync(d.config, readFileSync(d.config, 'utf8').replace('store_directory=store', 'store_directory=/proc/1/barmanapi-store'));
    const started = Date.now();
    const r = await runCli(['runserver', '--config', d.config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/store directory \/proc\/1\/barmanapi-store does not exist and cannot be created \(mkdir \/proc\/1\/barmanapi-store: ENOENT\)/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('manages users from the command line; a changed password takes effect on the running server', async () => {
    const d = serverDir('remote=false');
    const s = await startServerProcess(d.config);
    running.push(s);
    const old = await token(s.baseUrl);
    expect((await runCli(['user', 'add', 'ops', '--access', 'history,auth/user', '--config', d.config], 'ops-password\n')).code).toBe(0);
    expect((await runCli(['user', 'passwd', 'memin', '--config', d.config], 'a-new-password\n')).code).toBe(0);
    const list = await runCli(['user', 'list', '--config', d.config]);
    expect(list.stdout).toContain('ops\taccess=["history","auth/user"]\tdeny=[]');
    await new Promise((r) => setTimeout(r, 1100)); // the server re-reads client.conf at most once a second
    expect((await fetch(`${s.baseUrl}/auth/user?token=${old}`)).status).toBe(401);
    expect((await fetch(`${s.baseUrl}/auth/token`, { headers: basicHeader('memin', 'a-new-password') })).status).toBe(200);
    const ops = await token(s.baseUrl, 'ops', 'ops-password');
    expect((await fetch(`${s.baseUrl}/history/list?token=${ops}`)).status).toBe(200);
    expect((await fetch(`${s.baseUrl}/barman/help?token=${ops}`)).status).toBe(403);
    expect((await runCli(['user', 'change', 'ops', '--access', 'auth/user', '--config', d.config])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    // The rules changed, so the old token is revoked; a new one carries the new rules.
    expect((await fetch(`${s.baseUrl}/history/list?token=${ops}`)).status).toBe(401);
    const ops2 = await token(s.baseUrl, 'ops', 'ops-password');
    expect((await fetch(`${s.baseUrl}/history/list?token=${ops2}`)).status).toBe(403);
    expect((await fetch(`${s.baseUrl}/auth/user/list?token=${ops2}`)).status).toBe(200);
    expect((await runCli(['user', 'remove', 'ops', '--config', d.config])).code).toBe(0);
    expect(readFileSync(d.clientConf, 'utf8')).not.toContain('[ops]');
  }, 60_000); // seven CLI runs and logins, each hashing a password 600 000 times, beside a server building its catalogue

  it.each([
    [['user', 'passwd', 'memin', '--access', 'barman'], /unknown option --access for 'user passwd'; see 'barmanapi user passwd --help'/],
    [['user', 'list', '--bogus'], /unknown option --bogus for 'user list'/],
    [['user', 'list', 'extra'], /'user list' takes no arguments, got also "extra"/],
    [['user', 'add'], /'user add' needs USERNAME/],
    [['user', 'change', 'memin'], /'user change' needs --access RULES, --deny RULES and\/or --hosts HOSTS/],
    [['user'], /user needs one of list, add, passwd, change or remove/],
    [['frob'], /unknown command "frob"; see 'barmanapi --help'/],
    [['execute'], /'execute' needs JOB_ID/],
  ])('treats %j as a usage error: exit 2, pointing to --help, nothing changed', async (args, message) => {
    const d = serverDir('remote=false');
    const before = existsSync(d.clientConf) ? readFileSync(d.clientConf, 'utf8') : null;
    const r = await runCli([...args, ...(args.length > 1 ? ['--config', d.config] : [])], 'some-password\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(d.clientConf) ? readFileSync(d.clientConf, 'utf8') : null).toBe(before);
  });

  it('prints its version and help', async () => {
    const v = await runCli(['--version']);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version);
    const h = await runCli(['--help']);
    expect(h.stdout).toMatch(/barmanapi runserver/);
  });
});

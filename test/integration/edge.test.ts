/**
 * The HTTPS listener against real clients (curl, openssl s_client, Node's https) on the Node server
 * and the single binary: certificates checked, client certificates required, TLS below 1.2
 * refused, a new certificate taken on SIGHUP without dropping open connections, and forwarded
 * headers from a peer that is not a trusted proxy ignored.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { REPO, freePort, serverDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const env = itEnv();
const BUN_BINARY = join(REPO, 'dist', 'barmanapi');

/** A CA, two server certificates for 127.0.0.1 (before and after a renewal), a client certificate it signed, and one it did not. */
function makeCertificates(): string {
  const dir = mkdtempSync(join(tmpdir(), 'barmanapi-tls-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  key('ca');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=barmanapi test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const signed = (name: string, ext: string) => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext);
  };
  signed('server-one', 'server.ext');
  signed('server-two', 'server.ext');
  signed('client', 'client.ext');
  key('stranger');
  ssl('req', '-x509', '-new', '-key', 'stranger.key', '-out', 'stranger.pem', '-days', '2', '-subj', '/CN=stranger');
  return dir;
}

function run(cmd: string, args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(input);
  });
}

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const runtimes: Array<[string, string[] | undefined]> = [
  ['Node server', undefined],
  ['single binary', [BUN_BINARY]],
];

describe.each(runtimes)('TLS on the %s', (runtime, command) => {
  let certs: string;
  let server: ServerProcess;
  let port: string;
  const curl = (path: string, ...extra: string[]) => run('curl', ['-sS', '--max-time', '10', '--cacert', join(certs, 'ca.pem'), ...extra, `https://127.0.0.1:${port}${path}`]);
  const withCert = ['--cert', '', '--key', ''];
  const sClient = (...extra: string[]) => run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', join(certs, 'ca.pem'), '-verify_return_error', ...extra], 'Q\n');

  beforeAll(async () => {
    if (command && !existsSync(command[0]!)) throw new Error(`${command[0]} is missing: run "npm run build:bin" first`);
    certs = makeCertificates();
    withCert[1] = join(certs, 'client.pem');
    withCert[3] = join(certs, 'client.key');
    // The files the settings name; SIGHUP reads them again.
    copyFileSync(join(certs, 'server-one.pem'), join(certs, 'cert.pem'));
    copyFileSync(join(certs, 'server-one.key'), join(certs, 'key.pem'));
    const d = serverDir(
      `configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false`,
      `[tls]\ncert_file=${join(certs, 'cert.pem')}\nkey_file=${join(certs, 'key.pem')}\nclient_ca_file=${join(certs, 'ca.pem')}\n[cache]\nrefresh_interval=0\n`,
    );
    // Proxies trusted elsewhere than the test's own address: its forwarded headers are not believed.
    writeFileSync(d.config, readFileSync(d.config, 'utf8').replace('[application]\n', "[application]\ntrusted_proxies=['10.0.0.0/8']\n"));
    server = await startServerProcess(d.config, { command, scheme: 'https' });
    port = new URL(server.baseUrl).port;
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('serves HTTPS that curl verifies against the CA, with a client certificate: health, login and a real barman command', async () => {
    const health = await curl('/healthz', ...withCert);
    expect(health.stderr).toBe('');
    expect(JSON.parse(health.stdout)).toEqual({ status: 'ok' });
    const ready = await curl('/readyz', ...withCert);
    expect(JSON.parse(ready.stdout)).toMatchObject({ status: 'ready' });
    const login = await curl('/auth/token', ...withCert, '-u', 'memin:1258');
    const token = (JSON.parse(login.stdout) as { token: string }).token;
    const servers = await curl(`/barman/list-server?token=${token}`, ...withCert);
    expect(JSON.parse(servers.stdout)).toMatchObject({ status_code: 200 });
    expect(servers.stdout).toContain(env.barman.server);
  });

  it('refuses a client without a certificate, or with one the CA did not sign, in the handshake', async () => {
    const none = await curl('/healthz');
    expect(none.code).not.toBe(0);
    expect(none.stdout).toBe('');
    const stranger = await curl('/healthz', '--cert', join(certs, 'stranger.pem'), '--key', join(certs, 'stranger.key'));
    expect(stranger.code).not.toBe(0);
    expect(stranger.stdout).toBe('');
    const sNone = await sClient('-tls1_2');
    expect(sNone.stdout + sNone.stderr).toMatch(/alert|certificate required|handshake failure/i);
  });

  it('verifies with openssl s_client on TLS 1.2 and 1.3, and refuses TLS 1.1', async () => {
    for (const version of ['-tls1_2', '-tls1_3']) {
      const res = await sClient(version, '-cert', join(certs, 'client.pem'), '-key', join(certs, 'client.key'));
      expect(res.stdout, version).toContain('Verify return code: 0 (ok)');
      expect(res.stdout).toMatch(/subject=CN\s*=\s*server-one/);
      expect(res.stdout).toContain(version === '-tls1_2' ? 'Protocol  : TLSv1.2' : 'TLSv1.3');
    }
    // SECLEVEL=0 lets this openssl offer TLS 1.1 at all: the refusal must be the server's.
    const old = await sClient('-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', '-cert', join(certs, 'client.pem'), '-key', join(certs, 'client.key'));
    expect(old.stdout).toContain('no peer certificate available');
    expect(old.stdout + old.stderr).toMatch(/alert protocol version/i);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy: the log names the peer, failed logins count against it', async () => {
    // Each guess names another user and claims another client: only counting them against the
    // peer blocks them. The blocks grow (1 s, 2 s, 4 s …), so on any machine, however slow each
    // login is, one of the guesses meets a block: that one answers 429.
    let refused = -1;
    for (let i = 0; i < 40 && refused < 0; i++) {
      const res = await curl('/auth/token', ...withCert, '-u', `nobody${i}:bad`, '-H', `X-Forwarded-For: 198.51.100.${i}`, '-H', `Forwarded: for=198.51.100.${i + 100}`);
      if ((JSON.parse(res.stdout) as { status_code: number }).status_code === 429) refused = i;
    }
    expect(refused).toBeGreaterThanOrEqual(5); // five free failures, then blocks
    await until('the log line', () => /GET \/auth\/token.*"client":"127\.0\.0\.1"/.test(server.output()));
    expect(server.output()).not.toContain('198.51.100.');
  });

  // Last: it changes the certificate.
  it(command ? 'keeps serving the old certificate on SIGHUP and says why (the binary cannot reload it)' : 'takes a new certificate on SIGHUP for new connections while open ones go on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(join(certs, 'ca.pem')), cert: readFileSync(join(certs, 'client.pem')), key: readFileSync(join(certs, 'client.key')) });
    const get = () =>
      new Promise<{ status: number; reused: boolean; peer: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
          // Read now: the socket goes back to the agent once the answer has ended.
          const peer = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket, peer }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await get()).toMatchObject({ status: 200, peer: 'server-one' });
      copyFileSync(join(certs, 'server-two.pem'), join(certs, 'cert.pem'));
      copyFileSync(join(certs, 'server-two.key'), join(certs, 'key.pem'));
      server.child.kill('SIGHUP');
      await until('the reload line', () => /SIGHUP: TLS certificate/.test(server.output()));
      const fresh = await sClient('-cert', join(certs, 'client.pem'), '-key', join(certs, 'client.key'));
      expect(fresh.stdout).toContain('Verify return code: 0 (ok)');
      if (command) {
        expect(server.output()).toContain('SIGHUP: TLS certificate not reloaded; the previous one stays in use');
        expect(fresh.stdout).toMatch(/subject=CN\s*=\s*server-one/);
      } else {
        expect(server.output()).toContain('SIGHUP: TLS certificate reloaded; new connections use it');
        expect(fresh.stdout).toMatch(/subject=CN\s*=\s*server-two/);
      }
      // The connection opened before the signal is still the one used, and still answers.
      expect(await get()).toEqual({ status: 200, reused: true, peer: 'server-one' });
      expect(server.child.exitCode).toBeNull();
    } finally {
      agent.destroy();
    }
  });
});

describe('[tls] min_version = TLSv1.3', () => {
  it('refuses a TLS 1.2 handshake and takes TLS 1.3', async () => {
    const certs = makeCertificates();
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}`, `[tls]\ncert_file=${join(certs, 'server-one.pem')}\nkey_file=${join(certs, 'server-one.key')}\nmin_version=TLSv1.3\n[cache]\nrefresh_interval=0\n`);
    const server = await startServerProcess(d.config, { scheme: 'https' });
    try {
      const port = new URL(server.baseUrl).port;
      const s = (version: string) => run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', join(certs, 'ca.pem'), version], 'Q\n');
      const v12 = await s('-tls1_2');
      expect(v12.stdout + v12.stderr).toMatch(/alert protocol version/i);
      const v13 = await s('-tls1_3');
      expect(v13.stdout).toContain('Verify return code: 0 (ok)');
      expect(v13.stdout).toContain('TLSv1.3');
    } finally {
      await server.stop();
    }
  });
});

describe('a certificate that cannot be used', () => {
  it('stops the start with the reason, naming the file', async () => {
    const certs = makeCertificates();
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}`, `[tls]\ncert_file=${join(certs, 'server-one.pem')}\nkey_file=${join(certs, 'server-two.key')}\n`);
    const mismatch = await run(process.execPath, [join(REPO, 'bin', 'barmanapi.js'), 'runserver', '--config', d.config, '--port', String(await freePort())]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/\[tls\] cert_file .*server-one\.pem and key_file .*server-two\.key cannot be used/);
    const d2 = serverDir(`configfile=${env.barman.config}`, `[tls]\ncert_file=${join(certs, 'missing.pem')}\nkey_file=${join(certs, 'server-one.key')}\n`);
    const missing = await run(process.execPath, [join(REPO, 'bin', 'barmanapi.js'), 'runserver', '--config', d2.config, '--port', String(await freePort())]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`[tls] cert_file ${join(certs, 'missing.pem')}: no such file`);
  });
});

import { execFile, execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSshHost, SshHostError } from '../../adapters/node/ssh-host.js';
import type { SshHost, SshHostOptions } from '../../adapters/node/ssh-host.js';
import { parseRemoteSsh } from '../../src/barman/remote-ssh.js';
import type { RemoteSsh } from '../../src/barman/remote-ssh.js';
import { generateKey, startSshd } from '../support/sshd.js';
import type { TestSshd } from '../support/sshd.js';
import { HOSTILE_WORDS } from '../support/hostile.js';
import { isRunning, waitUntil } from '../support/process.js';

const run = promisify(execFile);

const hostile = [...HOSTILE_WORDS];

/**
 * Signals over SSH are refused by sshd for root logins (no post-auth privilege separation), so
 * the tests that need the remote command killed log in as an ordinary user with a shell.
 */
const ORDINARY_USER = 'barman';
const ordinary = ((): { uid: number; gid: number } | null => {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, ORDINARY_USER], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return null;
  }
})();

let sshd: TestSshd;
let scratch: string;
let recorder: string;
const hosts: SshHost[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  scratch = await mkdtemp(join(tmpdir(), 'barmanapi-ssh-'));
  await chmod(scratch, 0o777);
  recorder = join(scratch, 'record.sh');
  await writeFile(recorder, '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$RECORD"\n', { mode: 0o755 });
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await sshd?.stop();
  await rm(scratch, { recursive: true, force: true });
});

function target(user = sshd.user): RemoteSsh {
  return { user, host: '127.0.0.1', port: sshd.port, identityFiles: [sshd.identity], options: {} };
}

function host(overrides: Partial<SshHostOptions> = {}): SshHost {
  const h = createSshHost({
    target: target(),
    knownHostsFile: sshd.knownHosts,
    globalKnownHostsFile: null,
    agent: '',
    killGraceMs: 300,
    exitDrainMs: 300,
    ...overrides,
  });
  hosts.push(h);
  return h;
}


async function knownHostsWith(name: string, lines: string[]): Promise<string> {
  const file = join(scratch, name);
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

async function pubKeyOf(type: 'ed25519' | 'rsa', name: string): Promise<string> {
  const key = await generateKey(scratch, name, type);
  const [t, blob] = (await readFile(`${key}.pub`, 'utf8')).split(' ');
  return `${t} ${blob}`;
}

function serverKey(): string {
  const [t, blob] = sshd.hostKeyPub.split(' ');
  return `${t} ${blob}`;
}

type SftpStep = 'open' | 'write' | 'fsetstat' | 'ext_openssh_fsync';

/**
 * While `fn` runs, every new SFTP session hands each call of the named methods to `before`
 * first; an error it returns is given to the caller's callback instead of making the request,
 * as a connection dropped at that step would.
 */
async function withSftpFaults<T>(before: (step: SftpStep, args: unknown[]) => Error | null, fn: () => Promise<T>): Promise<T> {
  const proto = ssh2.Client.prototype as unknown as { sftp: (cb: (err: Error | undefined, w: SFTPWrapper) => void) => unknown };
  const original = proto.sftp;
  proto.sftp = function (this: unknown, cb) {
    return original.call(this, (err, w) => {
      if (!err) {
        const methods = w as unknown as Record<SftpStep, (...args: unknown[]) => unknown>;
        for (const step of ['open', 'write', 'fsetstat', 'ext_openssh_fsync'] as const) {
          const real = methods[step].bind(w);
          methods[step] = (...args: unknown[]) => {
            const failure = before(step, args);
            if (failure === null) return real(...args);
            (args.at(-1) as (e: Error) => void)(failure);
            return undefined;
          };
        }
      }
      cb(err, w);
    });
  };
  try {
    return await fn();
  } finally {
    proto.sftp = original;
  }
}

async function rejection(p: Promise<unknown>): Promise<SshHostError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SshHostError);
    return err as SshHostError;
  }
  throw new Error('expected a rejection');
}

describe('createSshHost().run', () => {
  it('describes itself as user@host:port', () => {
    expect(host().description).toBe(`${userInfo().username}@127.0.0.1:${sshd.port}`);
  });

  it('delivers every argv word byte-for-byte through the remote shell', async () => {
    const record = join(scratch, 'argv.bin');
    const result = await host().run([recorder, ...hostile], { env: { RECORD: record } });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const got = await readFile(record);
    expect(got.toString('hex')).toBe(Buffer.concat(hostile.map((w) => Buffer.from(`${w}\0`))).toString('hex'));
  });

  it('connects from a parsed remotessh setting', async () => {
    const h = host({
      target: parseRemoteSsh(`ssh -p ${sshd.port} -i ${sshd.identity} -o UserKnownHostsFile=${sshd.knownHosts} ${sshd.user}@127.0.0.1`),
      knownHostsFile: undefined,
    });
    expect((await h.run(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('reports exit code, stdout, stderr and env values verbatim', async () => {
    const result = await host().run(['/bin/sh', '-c', 'echo "$GREETING"; echo err >&2; exit 7'], {
      env: { GREETING: "it's $(not) run" },
    });
    expect(result).toMatchObject({
      exitCode: 7,
      signal: null,
      stdout: "it's $(not) run\n",
      stderr: 'err\n',
      timedOut: false,
      aborted: false,
    });
  });

  it('gives the remote command /dev/null as stdin', async () => {
    const result = await host().run(['cat'], { timeoutMs: 5_000 });
    expect(result).toMatchObject({ exitCode: 0, stdout: '', timedOut: false });
  });

  it('answers 127 when the program does not exist on the remote side', async () => {
    const result = await host().run(['/nonexistent/barman', 'list-server']);
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toMatch(/No such file or directory|not found/);
  });

  it('refuses an invalid environment variable name', async () => {
    await expect(host().run(['true'], { env: { 'A;B': 'x' } })).rejects.toThrow(/not a valid environment variable name/);
  });

  it('never sends BARMANAPI_* variables: not this process\'s, and refused when a call passes them', async () => {
    const printer = join(scratch, 'print-env.sh');
    await writeFile(printer, '#!/bin/sh\nexec env\n', { mode: 0o755 });
    process.env.BARMANAPI_X = 'leak-x';
    try {
      const h = host();
      const result = await h.run([printer], { env: { CALL_VAR: 'call' } });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).not.toMatch(/barmanapi_|leak-/i);
      expect(result.stdout).toMatch(/^CALL_VAR=call$/m);
      const before = h.connectionsOpened;
      for (const name of ['BARMANAPI_AUTHTOKEN_SECRET', 'barmanapi_x']) {
        await expect(h.run([printer], { env: { [name]: 'leak-secret' } })).rejects.toThrow(name);
      }
      expect(h.connectionsOpened).toBe(before);
    } finally {
      delete process.env.BARMANAPI_X;
    }
  });

  it('runs without a time limit when timeoutMs is 0, whatever the host default', async () => {
    const h = host({ defaultTimeoutMs: 300 });
    // The default applies when the call sets nothing...
    expect(await h.run(['sleep', '1'])).toMatchObject({ exitCode: null, timedOut: true });
    // ...and an explicit 0 (async jobs) overrides it.
    const result = await h.run(['sleep', '1'], { timeoutMs: 0 });
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
    expect(result.durationMs).toBeGreaterThanOrEqual(900);
  });

  it('shares one connection between concurrent commands, even more than sshd allows sessions', async () => {
    const h = host();
    const loginsBefore = sshd.acceptedLogins();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.run(['/bin/sh', '-c', 'sleep 0.2; echo "$0"', `n${i}`])),
    );
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}\n`));
    expect(h.connectionsOpened).toBe(1);
    expect(sshd.acceptedLogins() - loginsBefore).toBe(1);
  });

  it('reconnects on the next call after the server drops the connection', async () => {
    const h = host();
    expect((await h.run(['echo', 'one'])).stdout).toBe('one\n');
    await sshd.dropConnections();
    expect((await h.run(['echo', 'two'])).stdout).toBe('two\n');
    expect(h.connectionsOpened).toBe(2);
  });

  it('fails a command whose connection drops while it runs', async () => {
    const h = host();
    const running = h.run(['sleep', '30']);
    await new Promise((r) => setTimeout(r, 500));
    await sshd.dropConnections();
    const err = await rejection(running);
    expect(err.code).toBe('connection-lost');
    expect((await h.run(['echo', 'back'])).stdout).toBe('back\n');
  });

  it('keeps at most maxOutputBytes per stream and keeps draining', async () => {
    const result = await host().run(['/bin/sh', '-c', 'yes 0123456789 | head -c 2000000; yes e | head -c 500 >&2'], {
      maxOutputBytes: 1000,
      timeoutMs: 20_000,
    });
    expect(result).toMatchObject({ exitCode: 0, truncated: true, timedOut: false });
    expect(result.stdout.length).toBe(1000);
    expect(result.stderr.length).toBe(500);
  });

  it('streams all output to onOutput, beyond the bound kept in the result', async () => {
    const seen = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const result = await host().run(['/bin/sh', '-c', 'yes 0123456789 | head -c 200000; echo oops >&2'], {
      maxOutputBytes: 100,
      onOutput: (stream, chunk) => seen[stream].push(Buffer.from(chunk)),
    });
    expect(result.stdout.length).toBe(100);
    expect(Buffer.concat(seen.stdout).length).toBe(200_000);
    expect(Buffer.concat(seen.stderr).toString()).toBe('oops\n');
  });

  it('rejects with the error of an onOutput that throws', async () => {
    const run = host().run(['echo', 'a'], {
      onOutput: () => {
        throw new Error('log disk full');
      },
    });
    await expect(run).rejects.toThrow('log disk full');
  });

  it('on timeout closes the channel and returns, even where sshd refuses signals (root login)', async () => {
    const started = Date.now();
    const result = await host().run(['sleep', '5'], { timeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true, aborted: false });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  describe.skipIf(ordinary === null)(`as ${ORDINARY_USER}, whose sessions accept signals`, () => {
    it('on timeout kills the remote process group, background children included', async () => {
      const pids = join(scratch, 'pids-timeout');
      const h = host({ target: target(ORDINARY_USER) });
      const result = await h.run(['/bin/sh', '-c', 'sleep 300 & echo "$$ $!" > "$1"; wait', 'sh', pids], { timeoutMs: 500 });
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true, aborted: false });
      const [shell, sleeper] = (await readFile(pids, 'utf8')).trim().split(' ').map(Number);
      expect(await waitUntil(async () => !(await isRunning(shell!)) && !(await isRunning(sleeper!)))).toBe(true);
    });

    it('escalates to KILL when the command ignores TERM', async () => {
      const pids = join(scratch, 'pids-kill');
      const h = host({ target: target(ORDINARY_USER) });
      const result = await h.run(['/bin/sh', '-c', 'trap "" TERM; sleep 300 & echo "$!" > "$1"; wait; wait', 'sh', pids], {
        timeoutMs: 300,
      });
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
      const sleeper = Number((await readFile(pids, 'utf8')).trim());
      expect(await waitUntil(async () => !(await isRunning(sleeper)))).toBe(true);
    });

    it('on abort stops the remote command and says so', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const result = await host({ target: target(ORDINARY_USER) }).run(['sleep', '300'], { signal: controller.signal });
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', aborted: true, timedOut: false });
    });
  });

  it('does not start a command whose signal is already aborted', async () => {
    const h = host();
    const result = await h.run(['echo', 'x'], { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ aborted: true, exitCode: null, stdout: '' });
    expect(h.connectionsOpened).toBe(0);
  });

  it('refuses calls after close()', async () => {
    const h = host();
    await h.run(['true']);
    await h.close();
    const err = await rejection(h.run(['true']));
    expect(err.code).toBe('closed');
  });
});

describe('host key verification', () => {
  it('refuses an unknown host and says how to add it', async () => {
    const file = await knownHostsWith('kh-empty', []);
    const err = await rejection(host({ knownHostsFile: file }).run(['true']));
    expect(err.code).toBe('host-key-unknown');
    expect(err.message).toContain(`ssh-keyscan -p ${sshd.port} -t ssh-ed25519 127.0.0.1 >> ${file}`);
    expect(err.message).toMatch(/SHA256:/);
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('refuses a changed key loudly, even with trust on first use', async () => {
    const other = await pubKeyOf('ed25519', 'impostor');
    const file = await knownHostsWith('kh-changed', [`[127.0.0.1]:${sshd.port} ${other}`]);
    for (const trustOnFirstUse of [false, true]) {
      const err = await rejection(host({ knownHostsFile: file, trustOnFirstUse }).run(['true']));
      expect(err.code).toBe('host-key-changed');
      expect(err.message).toMatch(/HAS CHANGED/);
      expect(err.message).toMatch(/man-in-the-middle/);
      expect(err.message).toContain(`${file} line 1`);
    }
    expect(await readFile(file, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${other}\n`);
  });

  it('refuses a key when only other key types are on record', async () => {
    const rsa = await pubKeyOf('rsa', 'rsa-other');
    const file = await knownHostsWith('kh-other-type', [`[127.0.0.1]:${sshd.port} ${rsa}`]);
    const err = await rejection(host({ knownHostsFile: file, trustOnFirstUse: true }).run(['true']));
    expect(err.code).toBe('host-key-other-type');
  });

  it('refuses a revoked key', async () => {
    const file = await knownHostsWith('kh-revoked', [`@revoked * ${serverKey()}`, `[127.0.0.1]:${sshd.port} ${serverKey()}`]);
    const err = await rejection(host({ knownHostsFile: file }).run(['true']));
    expect(err.code).toBe('host-key-revoked');
  });

  it('ignores @cert-authority lines, negated names and entries for other hosts or ports', async () => {
    const file = await knownHostsWith('kh-unrelated', [
      `@cert-authority * ${serverKey()}`,
      `127.0.0.1 ${serverKey()}`, // port 22 only
      `[127.0.0.1]:${sshd.port + 1} ${serverKey()}`,
      `[localhost]:${sshd.port} ${serverKey()}`,
      `[127.0.0.1]:${sshd.port},![127.0.0.1]:* ${serverKey()}`, // a negated pattern vetoes the line
    ]);
    expect((await rejection(host({ knownHostsFile: file }).run(['true']))).code).toBe('host-key-unknown');
  });

  it('accepts hashed entries and wildcard patterns', async () => {
    const hashed = await knownHostsWith('kh-hashed', [`[127.0.0.1]:${sshd.port} ${serverKey()}`]);
    await run('ssh-keygen', ['-q', '-H', '-f', hashed]);
    expect(await readFile(hashed, 'utf8')).toMatch(/^\|1\|/);
    expect((await host({ knownHostsFile: hashed }).run(['echo', 'hashed'])).stdout).toBe('hashed\n');

    const wildcard = await knownHostsWith('kh-wildcard', [`[127.0.0.?]:${sshd.port},!10.* ${serverKey()}`]);
    expect((await host({ knownHostsFile: wildcard }).run(['echo', 'wild'])).stdout).toBe('wild\n');
  });

  it('on first use records the key, which a strict host then accepts', async () => {
    const file = join(scratch, 'tofu', 'known_hosts');
    expect((await host({ knownHostsFile: file, trustOnFirstUse: true }).run(['echo', 'hi'])).stdout).toBe('hi\n');
    expect(await readFile(file, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${serverKey()}\n`);
    expect((await host({ knownHostsFile: file }).run(['echo', 'again'])).stdout).toBe('again\n');
    expect(await readFile(file, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${serverKey()}\n`);
  });

  it('takes trust on first use from StrictHostKeyChecking=accept-new, appending after a line without newline', async () => {
    const file = join(scratch, 'kh-accept-new');
    await writeFile(file, '# no trailing newline');
    const t = { ...target(), options: { StrictHostKeyChecking: 'accept-new', UserKnownHostsFile: file } };
    expect((await host({ target: t, knownHostsFile: undefined }).run(['true'])).exitCode).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(`# no trailing newline\n[127.0.0.1]:${sshd.port} ${serverKey()}\n`);
  });

  it('refuses trust on first use without a file to remember keys in', () => {
    expect(() => host({ knownHostsFile: '/dev/null', trustOnFirstUse: true })).toThrow(/would accept any key/);
  });
});

describe('connection failures', () => {
  it('reports failed authentication without key material', async () => {
    const wrong = await generateKey(scratch, 'not-authorized');
    const err = await rejection(host({ target: { ...target(), identityFiles: [wrong] } }).run(['true']));
    expect(err.code).toBe('auth');
    expect(err.message).toContain(`SSH authentication as ${sshd.user}`);
    const keyText = await readFile(wrong, 'utf8');
    expect(err.message).not.toContain('PRIVATE KEY');
    expect(err.message).not.toContain(keyText.split('\n')[1]!);
  });

  it('reports an identity that cannot be read', async () => {
    const err = await rejection(host({ target: { ...target(), identityFiles: [join(scratch, 'missing-key')] } }).run(['true']));
    expect(err.code).toBe('auth');
    expect(err.message).toContain('missing-key not readable (ENOENT)');
  });

  it('reports a refused connection', async () => {
    const err = await rejection(host({ target: { ...target(), port: 1 } }).run(['true']));
    expect(err.code).toBe('connect');
  });
});

describe('createSshHost() files over SFTP', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(scratch, 'files');
    await mkdir(dir);
  });

  it('reads, stats and lists; missing paths are null and []', async () => {
    const h = host();
    await writeFile(join(dir, 'b.conf'), 'b = 2\n');
    await writeFile(join(dir, 'a.conf'), 'a = ✓\n', { mode: 0o640 });
    expect(await h.readFile(join(dir, 'a.conf'))).toBe('a = ✓\n');
    expect(await h.listDir(dir)).toEqual(['a.conf', 'b.conf']);
    const info = await h.stat(join(dir, 'a.conf'));
    expect(info).toMatchObject({ size: 8, isDirectory: false, uid: 0 });
    expect(info!.mode & 0o777).toBe(0o640);
    expect(Math.abs(info!.mtimeMs - (await stat(join(dir, 'a.conf'))).mtimeMs)).toBeLessThan(1_000);
    expect((await h.stat(dir))!.isDirectory).toBe(true);
    expect(await h.readFile(join(dir, 'missing'))).toBeNull();
    expect(await h.stat(join(dir, 'missing'))).toBeNull();
    expect(await h.listDir(join(dir, 'missing'))).toEqual([]);
    expect(h.connectionsOpened).toBe(1);
  });

  it('replaces a file atomically, keeping mode and owner', async () => {
    const sub = join(dir, 'replace');
    await mkdir(sub);
    const file = join(sub, 'barman.conf');
    await writeFile(file, 'old\n');
    await chmod(file, 0o640);
    await chown(file, 65534, 65534);
    const before = await stat(file);
    expect(await host().writeFile(file, 'new ✓\n')).toEqual({ mode: 'replaced' });
    const after = await stat(file);
    expect(await readFile(file, 'utf8')).toBe('new ✓\n');
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o7777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([65534, 65534]);
    expect(await readdir(sub)).toEqual(['barman.conf']);
  });

  it('creates a missing file with mode 0644 and writes through symlinks', async () => {
    const sub = join(dir, 'create');
    await mkdir(sub);
    const h = host();
    expect(await h.writeFile(join(sub, 'fresh.conf'), 'x\n')).toEqual({ mode: 'replaced' });
    expect((await stat(join(sub, 'fresh.conf'))).mode & 0o777).toBe(0o644);
    await symlink('fresh.conf', join(sub, 'link.conf'));
    await h.writeFile(join(sub, 'link.conf'), 'through the link\n');
    expect(await readFile(join(sub, 'fresh.conf'), 'utf8')).toBe('through the link\n');
    expect((await stat(join(sub, 'link.conf'))).ino).toBe((await stat(join(sub, 'fresh.conf'))).ino);
  });

  it('serialises concurrent writes to one file', async () => {
    const sub = join(dir, 'concurrent');
    await mkdir(sub);
    const file = join(sub, 'c.conf');
    const h = host();
    const versions = Array.from({ length: 10 }, (_, i) => `version ${i}\n`.repeat(5_000));
    const results = await Promise.all(versions.map((v) => h.writeFile(file, v)));
    expect(results.every((r) => r.mode === 'replaced')).toBe(true);
    expect(versions).toContain(await readFile(file, 'utf8'));
    expect(await readdir(sub)).toEqual(['c.conf']);
  });

  it('reopens SFTP on a new connection after the old one dropped', async () => {
    const h = host();
    await writeFile(join(dir, 'again.txt'), 'again\n');
    expect(await h.readFile(join(dir, 'again.txt'))).toBe('again\n');
    await sshd.dropConnections();
    expect(await h.readFile(join(dir, 'again.txt'))).toBe('again\n');
    expect(await h.listDir(join(dir, 'missing'))).toEqual([]);
    expect(h.connectionsOpened).toBe(2);
  });

  describe('in-place rewrite: a failure at any step leaves a whole version, never an empty file', () => {
    const OLD = 'old content, longer than the new one\n';
    const NEW = 'new content\n';
    let sub: string;
    let file: string;
    let steps: string[];
    let failAt: 'write' | 'truncate' | null;

    beforeEach(async () => {
      sub = await mkdtemp(join(dir, 'in-place-'));
      file = join(sub, 'barman.conf');
      await writeFile(file, OLD);
      steps = [];
      failAt = null;
    });

    /** Writes as if the directory refused the temp file, recording the steps on the file's handle. */
    function writeInPlace(content: string): Promise<unknown> {
      return withSftpFaults(
        (step, args) => {
          if (step === 'open') {
            const [path, flags] = args as [string, string];
            return flags === 'wx' && path.startsWith(`${sub}/`) ? Object.assign(new Error('Permission denied'), { code: 3 }) : null;
          }
          const name = step === 'write' ? 'write' : step === 'fsetstat' ? 'truncate' : 'fsync';
          steps.push(step === 'fsetstat' ? `truncate ${(args[1] as { size?: number }).size}` : name);
          return name === failAt ? new Error(`injected failure at ${name}`) : null;
        },
        () => host().writeFile(file, content),
      );
    }

    it('writes the new content over the old, makes it durable, then cuts the file to its length', async () => {
      const before = await stat(file);
      expect(await writeInPlace(NEW)).toEqual({ mode: 'in-place' });
      expect(steps).toEqual(['write', 'fsync', `truncate ${NEW.length}`, 'fsync']);
      expect(await readFile(file, 'utf8')).toBe(NEW);
      expect((await stat(file)).ino).toBe(before.ino);
      expect(await readdir(sub)).toEqual(['barman.conf']);
    });

    it('keeps the old content when the write fails', async () => {
      failAt = 'write';
      await expect(writeInPlace(NEW)).rejects.toThrow('injected failure at write');
      expect(await readFile(file, 'utf8')).toBe(OLD);
    });

    it('keeps the whole new content, followed by the old tail, when the cut fails', async () => {
      failAt = 'truncate';
      await expect(writeInPlace(NEW)).rejects.toThrow('injected failure at truncate');
      expect(await readFile(file, 'utf8')).toBe(NEW + OLD.slice(NEW.length));
    });
  });

  describe.skipIf(ordinary === null)(`as ${ORDINARY_USER}`, () => {
    it('rewrites in place when the directory refuses a temp file but the file is writable', async () => {
      const sub = join(dir, 'readonly-dir');
      await mkdir(sub, { mode: 0o755 });
      const file = join(sub, 'barman.conf');
      await writeFile(file, 'old content that is longer than the new one\n', { mode: 0o600 });
      await chown(file, ordinary!.uid, ordinary!.gid);
      const before = await stat(file);
      const result = await host({ target: target(ORDINARY_USER) }).writeFile(file, 'new\n');
      expect(result).toEqual({ mode: 'in-place' });
      const after = await stat(file);
      expect([after.ino, after.uid, after.mode & 0o7777]).toEqual([before.ino, ordinary!.uid, 0o600]);
      expect(await readFile(file, 'utf8')).toBe('new\n');
      expect(await readdir(sub)).toEqual(['barman.conf']);
    });

    it('rewrites in place rather than change an owner it cannot give back', async () => {
      const sub = join(dir, 'shared-dir');
      await mkdir(sub);
      await chmod(sub, 0o777);
      const file = join(sub, 'barman.conf');
      await writeFile(file, 'old\n');
      await chmod(file, 0o666);
      const before = await stat(file);
      const result = await host({ target: target(ORDINARY_USER) }).writeFile(file, 'new\n');
      expect(result).toEqual({ mode: 'in-place' });
      const after = await stat(file);
      expect([after.ino, after.uid, after.mode & 0o7777]).toEqual([before.ino, 0, 0o666]);
      expect(await readFile(file, 'utf8')).toBe('new\n');
      expect(await readdir(sub)).toEqual(['barman.conf']);
    });

    it('fails when the file is not writable either', async () => {
      const sub = join(dir, 'locked-dir');
      await mkdir(sub, { mode: 0o755 });
      const file = join(sub, 'barman.conf');
      await writeFile(file, 'old\n', { mode: 0o644 });
      await expect(host({ target: target(ORDINARY_USER) }).writeFile(file, 'new\n')).rejects.toThrow(/denied/i);
      expect(await readFile(file, 'utf8')).toBe('old\n');
    });
  });
});

import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
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

const run = promisify(execFile);

/**
 * What every host does with files and commands is in the BarmanHost contract
 * (test/contract/barman-host.ts, run for this host by barman-host.node.test.ts). Here: what only
 * the SSH host has: its description and settings, the pooled connection, host keys, login
 * failures, and fault injection into its SFTP in-place rewrite.
 */

let sshd: TestSshd;
let scratch: string;
const hosts: SshHost[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  scratch = await mkdtemp(join(tmpdir(), 'barmanapi-ssh-'));
  await chmod(scratch, 0o777);
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

describe('createSshHost().stampTrees', () => {
  it('keeps one session for stamps, and opens a new one after it is gone (connection dropped, loop killed)', async () => {
    const h = host();
    const dir = await mkdtemp(join(scratch, 'stamps-'));
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'a'), 'one');
    const stampOf = async () => (await h.stampTrees!([dir], { maxDepth: 1, skip: [] })).entries.get(join(dir, 'a'))?.stamp;
    const first = await stampOf();
    const logins = sshd.acceptedLogins();
    for (let i = 0; i < 5; i++) expect(await stampOf()).toBe(first);
    expect(sshd.acceptedLogins()).toBe(logins); // the pooled connection, one session
    await sshd.dropConnections();
    await writeFile(join(dir, 'a'), 'two');
    // The kept session went with the connection: the stamp opens a new one by itself.
    const after = await stampOf();
    expect(after).toBeDefined();
    expect(after).not.toBe(first);
    await run('pkill', ['-f', 'while IFS= read -r n']).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(join(dir, 'a'), 'three');
    const third = await stampOf();
    expect(third).not.toBe(after);
    expect(third).toBeDefined();
  });
});

describe('createSshHost().run', () => {
  it('describes itself as user@host:port', () => {
    expect(host().description).toBe(`${userInfo().username}@127.0.0.1:${sshd.port}`);
  });

  it('connects from a parsed remotessh setting', async () => {
    const h = host({
      target: parseRemoteSsh(`ssh -p ${sshd.port} -i ${sshd.identity} -o UserKnownHostsFile=${sshd.knownHosts} ${sshd.user}@127.0.0.1`),
      knownHostsFile: undefined,
    });
    expect((await h.run(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('refuses an invalid environment variable name', async () => {
    await expect(host().run(['true'], { env: { 'A;B': 'x' } })).rejects.toThrow(/not a valid environment variable name/);
  });

  it('refuses a BARMANAPI_* variable before it connects', async () => {
    const h = host();
    await expect(h.run(['true'], { env: { BARMANAPI_AUTHTOKEN_SECRET: 'leak-secret' } })).rejects.toThrow('BARMANAPI_AUTHTOKEN_SECRET');
    expect(h.connectionsOpened).toBe(0);
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

  it('on timeout closes the channel and returns, even where sshd refuses signals (root login)', async () => {
    const started = Date.now();
    const result = await host().run(['sleep', '5'], { timeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true, aborted: false });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('does not even connect for a command whose signal is already aborted', async () => {
    const h = host();
    const result = await h.run(['echo', 'x'], { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ aborted: true, exitCode: null, stdout: '' });
    expect(h.connectionsOpened).toBe(0);
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

  it('serves reads, stats, lists and writes over the one pooled connection', async () => {
    const h = host();
    await writeFile(join(dir, 'pooled.conf'), 'a = 1\n');
    expect(await h.readFile(join(dir, 'pooled.conf'))).toBe('a = 1\n');
    expect(await h.stat(join(dir, 'missing'))).toBeNull();
    expect(await h.listDir(dir)).toContain('pooled.conf');
    await Promise.all([h.writeFile(join(dir, 'pooled.conf'), 'a = 2\n'), h.writeFile(join(dir, 'other.conf'), 'b\n')]);
    expect(await h.readFile(join(dir, 'pooled.conf'))).toBe('a = 2\n');
    expect(h.connectionsOpened).toBe(1);
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
});

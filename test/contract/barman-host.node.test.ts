/**
 * The BarmanHost contract on this machine (createLocalHost) and over SSH (createSshHost against
 * a test sshd). Both act as root, as the integration environment does, and as an ordinary user
 * where the suite can be one (nobody through seteuid here; barman's login over SSH). Skipped with
 * the integration suites where that environment is not available (SKIPPED_SUITES).
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalHost } from '../../adapters/node/local-host.js';
import { createSshHost, type SshHostOptions } from '../../adapters/node/ssh-host.js';
import type { BarmanHost } from '../../src/ports.js';
import { startSshd } from '../support/sshd.js';
import { barmanHostContract, type HostFiles, type Recorder } from './barman-host.js';

const root = process.getuid?.() === 0;

/** The host's files are this machine's: the test reads and arranges them with node:fs. */
function machineFiles(base: string): HostFiles {
  let made = 0;
  return {
    async folder(name) {
      const path = join(base, `${name}-${made++}`);
      await mkdir(path);
      await chmod(path, 0o777);
      return path;
    },
    async mkdir(path) {
      await mkdir(path);
      await chmod(path, 0o755);
    },
    async put(path, content, mode = 0o644) {
      await writeFile(path, content);
      await chmod(path, mode);
    },
    async read(path) {
      return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    },
    async list(dir) {
      return (await readdir(dir)).sort();
    },
  };
}

/** A script that writes its argv, each word followed by NUL, to $RECORD: the bytes as the program got them. */
async function machineRecorder(folder: string): Promise<Recorder> {
  const script = join(folder, 'record.sh');
  const record = join(folder, 'argv.bin');
  await writeFile(script, '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$RECORD"\n');
  await chmod(script, 0o755);
  return {
    argv: [script],
    env: { RECORD: record },
    received: () => readFile(record).then((b) => new Uint8Array(b), (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e))),
  };
}

async function scratch(name: string): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), `barmanapi-contract-${name}-`));
  await chmod(base, 0o755); // an ordinary user's host must reach the folders below
  return base;
}

/** Root ignores permissions: the local host meets them with the effective uid dropped to nobody for one call. */
const canDropPrivileges = root && typeof process.seteuid === 'function';

async function asNobody<T>(fn: () => Promise<T>): Promise<T> {
  process.setegid!(65534);
  process.seteuid!(65534);
  try {
    return await fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
}

barmanHostContract('local', { processes: true, posixFiles: true, lock: true, ordinaryUser: canDropPrivileges }, async () => {
  const base = await scratch('local');
  const host = (options?: { defaultTimeoutMs?: number }) => createLocalHost({ killGraceMs: 300, exitDrainMs: 300, ...options });
  return {
    host,
    stoppableHost: () => host(),
    files: machineFiles(base),
    recorder: machineRecorder,
    otherOwner: root ? { uid: 65534, gid: 65534 } : null,
    ordinary: canDropPrivileges ? { uid: 65534, gid: 65534, with: (fn) => asNobody(() => fn(createLocalHost())) } : null,
    close: () => rm(base, { recursive: true, force: true }),
  };
});

/**
 * sshd refuses signal requests in root's sessions (no privilege separation after login), so
 * commands that must be stopped run in the sessions of this ordinary user, as barman's would.
 */
const ORDINARY_USER = 'barman';
const ordinaryIds = ((): { uid: number; gid: number } | null => {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, ORDINARY_USER], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return null;
  }
})();

barmanHostContract('ssh', { processes: true, posixFiles: true, lock: true, ordinaryUser: root && ordinaryIds !== null }, async () => {
  const sshd = await startSshd();
  const base = await scratch('ssh');
  const host = (user: string, options: Partial<SshHostOptions> = {}): BarmanHost =>
    createSshHost({
      target: { user, host: '127.0.0.1', port: sshd.port, identityFiles: [sshd.identity], options: {} },
      knownHostsFile: sshd.knownHosts,
      globalKnownHostsFile: null,
      agent: '',
      killGraceMs: 300,
      exitDrainMs: 300,
      ...options,
    });
  const ordinary = root && ordinaryIds !== null ? ordinaryIds : null;
  return {
    host: (options) => host(sshd.user, options),
    stoppableHost: () => host(ordinary ? ORDINARY_USER : sshd.user),
    files: machineFiles(base),
    recorder: machineRecorder,
    otherOwner: root ? { uid: 65534, gid: 65534 } : null,
    ordinary: ordinary && {
      ...ordinary,
      async with(fn) {
        const h = host(ORDINARY_USER);
        try {
          return await fn(h);
        } finally {
          await h.close();
        }
      },
    },
    async close() {
      await sshd.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
});

import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { KeyedMutex } from '../../src/util/mutex.js';
import { HostError, type BarmanHost, type HostFileInfo } from '../../src/ports.js';
import { replaceFile } from './atomic-write.js';
import { lockFile } from './file-lock.js';
import { toHostFileError } from './host-file-errors.js';
import { assertNoPrivateEnv, barmanEnv, DEFAULT_MAX_OUTPUT_BYTES, NEW_FILE_MODE } from './command-io.js';
import { runLocal } from './local-run.js';
import { stampLocalTrees } from './tree-stamps.js';

export interface LocalHostOptions {
  /** Timeout for commands that do not set one; 0 or absent means none. */
  defaultTimeoutMs?: number;
  /** Per-stream output bound for commands that do not set one. */
  defaultMaxOutputBytes?: number;
  /**
   * Variables added to this process's environment for every command (RunOptions.env adds on top).
   * BARMANAPI_* names are refused here and in RunOptions.env, and never inherited: see barmanEnv.
   */
  env?: Record<string, string>;
  /** Time between SIGTERM and SIGKILL when a command is stopped. */
  killGraceMs?: number;
  /** How long to keep reading output after the command exits (a background child may hold the pipes). */
  exitDrainMs?: number;
}

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_EXIT_DRAIN_MS = 2_000;

export function createLocalHost(opts: LocalHostOptions = {}): BarmanHost {
  assertNoPrivateEnv(opts.env, 'createLocalHost');
  const killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const exitDrainMs = opts.exitDrainMs ?? DEFAULT_EXIT_DRAIN_MS;
  let closed = false;
  /** Every call after close() is refused, as on any host. */
  const open = <T>(call: () => Promise<T>): Promise<T> =>
    closed ? Promise.reject(new HostError('closed', 'this barman host was closed')) : Promise.resolve().then(call);
  const files = localFiles();

  return {
    kind: 'local',
    description: 'local',
    run: (argv, options = {}) =>
      open(() => {
        assertNoPrivateEnv(options.env, 'run');
        return runLocal(argv, {
          // An explicit 0 (async jobs) means no limit; only an absent timeout takes the default.
          timeoutMs: options.timeoutMs ?? opts.defaultTimeoutMs ?? 0,
          maxOutputBytes: options.maxOutputBytes ?? opts.defaultMaxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
          signal: options.signal,
          env: { ...barmanEnv(), ...opts.env, ...options.env },
          killGraceMs,
          exitDrainMs,
          onOutput: options.onOutput,
        });
      }),
    readFile: (path) => open(() => files.readFile(path)),
    writeFile: (path, content, like) => open(() => files.writeFile(path, content, like)),
    lockFile: (path) => open(async () => lockFile(await realTarget(path))),
    stat: (path) => open(() => files.stat(path)),
    listDir: (path) => open(() => files.listDir(path)),
    stampTrees: (roots, options) => open(() => stampLocalTrees(roots, options)),
    async close() {
      closed = true;
    },
  };
}

/** barman's files on this machine; failures as HostFileError. */
function localFiles(): Pick<BarmanHost, 'readFile' | 'writeFile' | 'stat' | 'listDir'> {
  const writeLock = new KeyedMutex();
  const orNull = <T>(path: string, missing: T) => (err: unknown): T => {
    if (isMissing(err)) return missing;
    throw toHostFileError(err, path, 'read');
  };
  return {
    readFile: (path) => readFile(path, 'utf8').catch(orNull(path, null)),
    async writeFile(path, content, like) {
      const target = await realTarget(path);
      return writeLock
        .run(target, () => replaceFile(target, content, { newMode: NEW_FILE_MODE, like }))
        .catch((err: unknown) => Promise.reject(toHostFileError(err, path, 'write')));
    },
    async stat(path) {
      const s = await stat(path).catch(orNull(path, null));
      if (!s) return null;
      const info: HostFileInfo = { size: s.size, mtimeMs: s.mtimeMs, mode: s.mode, uid: s.uid, gid: s.gid, isDirectory: s.isDirectory() };
      return info;
    },
    listDir: async (path) => (await readdir(path).catch(orNull(path, [] as string[]))).sort(),
  };
}

/** The file a path really names, so two names for one file share a lock; the path itself when it does not exist yet. */
async function realTarget(path: string): Promise<string> {
  return realpath(path).catch((err: unknown) => (isMissing(err) ? resolve(path) : Promise.reject(toHostFileError(err, path, 'read'))));
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { KeyedMutex } from '../../src/util/mutex.js';
import type { BarmanHost, FileOwnership, HostFileInfo, HostWriteResult, RunOptions, RunResult } from '../../src/ports.js';
import { lockFile } from './file-lock.js';
import { folderRefuses, rewriteInPlace } from './in-place.js';
import { assertArgv, assertNoPrivateEnv, barmanEnv, createOutputBuffer, createOutputTap, DEFAULT_MAX_OUTPUT_BYTES, NEW_FILE_MODE } from './command-io.js';

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
  const writeLock = new KeyedMutex();
  const killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const exitDrainMs = opts.exitDrainMs ?? DEFAULT_EXIT_DRAIN_MS;

  return {
    kind: 'local',
    description: 'local',

    run(argv, options = {}) {
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
    },

    async readFile(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    async writeFile(path, content, like) {
      // Lock the file the write really lands on, so two names for one file share a lock.
      const target = await realpath(path).catch((err: unknown) => {
        if (isMissing(err)) return resolve(path);
        throw err;
      });
      return writeLock.run(target, () => replaceFile(target, Buffer.from(content, 'utf8'), like));
    },

    async lockFile(path) {
      // The file a write really lands on, so two names for one file share a lock.
      const target = await realpath(path).catch((err: unknown) => {
        if (isMissing(err)) return resolve(path);
        throw err;
      });
      return lockFile(target);
    },

    async stat(path) {
      try {
        const s = await stat(path);
        const info: HostFileInfo = {
          size: s.size,
          mtimeMs: s.mtimeMs,
          mode: s.mode,
          uid: s.uid,
          gid: s.gid,
          isDirectory: s.isDirectory(),
        };
        return info;
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    async listDir(path) {
      try {
        return (await readdir(path)).sort();
      } catch (err) {
        if (isMissing(err)) return [];
        throw err;
      }
    },

    async close() {},
  };
}

interface LocalRun {
  timeoutMs: number;
  maxOutputBytes: number;
  signal: AbortSignal | undefined;
  env: NodeJS.ProcessEnv;
  killGraceMs: number;
  exitDrainMs: number;
  onOutput: RunOptions['onOutput'];
}

function runLocal(argv: string[], o: LocalRun): Promise<RunResult> {
  assertArgv(argv);
  const started = Date.now();
  const stdout = createOutputBuffer(o.maxOutputBytes);
  const stderr = createOutputBuffer(o.maxOutputBytes);
  const tap = createOutputTap(o.onOutput);
  const result = (exitCode: number | null, signal: string | null, timedOut: boolean, aborted: boolean): RunResult => ({
    exitCode,
    signal,
    stdout: stdout.text(),
    stderr: stderr.text(),
    truncated: stdout.truncated || stderr.truncated,
    timedOut,
    aborted,
    durationMs: Date.now() - started,
  });

  if (o.signal?.aborted) return Promise.resolve(result(null, null, false, true));

  return new Promise<RunResult>((resolvePromise, rejectPromise) => {
    // detached: the child leads a new process group, so a stop reaches everything it started.
    const child = spawn(argv[0]!, argv.slice(1), {
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: o.env,
    });
    let settled = false;
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: string | null } | null = null;
    const timers: ReturnType<typeof setTimeout>[] = [];

    const finish = (value: RunResult | Error): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      o.signal?.removeEventListener('abort', onAbort);
      if (value instanceof Error) rejectPromise(value);
      else resolvePromise(value);
    };
    const finishWithExit = (): void => {
      if (exit) finish(tap.failure ?? result(exit.code, exit.signal, timedOut, aborted));
    };

    const stop = (): void => {
      const pid = child.pid;
      if (pid === undefined) return;
      killGroup(pid, 'SIGTERM');
      // Not cancelled when the leader exits: group members that ignore SIGTERM still go.
      setTimeout(() => {
        killGroup(pid, 'SIGKILL');
        // Something outside the group may still hold the pipes; do not wait on it forever.
        if (!settled) timers.push(setTimeout(finishWithExit, o.exitDrainMs));
      }, o.killGraceMs).unref();
    };
    const onAbort = (): void => {
      if (exit || settled) return;
      aborted = true;
      stop();
    };

    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      tap.emit('stdout', chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      tap.emit('stderr', chunk);
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined && (err.code === 'ENOENT' || err.code === 'EACCES')) {
        // The shell's convention: 127 not found, 126 found but not executable.
        const code = err.code === 'ENOENT' ? 127 : 126;
        const why = err.code === 'ENOENT' ? 'command not found' : 'permission denied';
        stderr.push(Buffer.from(`${argv[0]}: ${why}\n`));
        exit = { code, signal: null };
        finishWithExit();
        return;
      }
      finish(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Output normally ends with the process; a background child keeping the pipes open gets a short grace.
      timers.push(setTimeout(finishWithExit, o.exitDrainMs));
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      exit ??= { code, signal };
      finishWithExit();
    });

    if (o.timeoutMs > 0) {
      timers.push(
        setTimeout(() => {
          if (exit || settled) return;
          timedOut = true;
          stop();
        }, o.timeoutMs),
      );
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    // ESRCH: the whole group is already gone. EPERM: a member changed credentials (a setuid
    // helper); nothing more can be done from here, and throwing from a timer would end the server.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw err;
  }
}

/**
 * Temp file beside the target, fsync, owner and mode of the file it replaces, rename, fsync the
 * directory. When the directory refuses the temp file (or the owner cannot be given back) but
 * the file itself is writable, rewrite it in place instead: not atomic, so the caller is told.
 * Callers hold the per-path lock.
 */
async function replaceFile(target: string, data: Buffer, like?: FileOwnership): Promise<HostWriteResult> {
  const existing = await stat(target).catch((err: unknown) => {
    if (isMissing(err)) return null;
    throw err;
  });
  if (existing?.isDirectory()) throw new Error(`writeFile: ${target} is a directory`);

  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  let handle: FileHandle;
  try {
    // 0600 until the content is complete and the final mode is set: no one reads a half-made file.
    handle = await open(tmp, 'wx', 0o600);
  } catch (err) {
    if (existing && folderRefuses(err)) return rewriteInPlace(target, data);
    throw err;
  }

  let fallBack = false;
  try {
    await handle.writeFile(data);
    const owner = existing ?? like;
    if (owner) {
      const mine = await handle.stat();
      if (mine.uid !== owner.uid || mine.gid !== owner.gid) {
        try {
          await handle.chown(owner.uid, owner.gid);
        } catch (err) {
          // Only root may give a file away; renaming ours over theirs would change the owner.
          // A new file simply stays ours.
          if (!isPermission(err)) throw err;
          if (existing) fallBack = true;
        }
      }
    }
    // After chown, which clears set-id bits.
    if (!fallBack) await handle.chmod(owner ? owner.mode & 0o7777 : NEW_FILE_MODE);
    if (!fallBack) await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  if (fallBack) {
    await rm(tmp, { force: true });
    return rewriteInPlace(target, data);
  }

  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
  return { mode: 'replaced' };
}

/**
 * Rewrites the file through its own inode: owner and mode stay. Not atomic, so ordered to lose
 * the least: the new content goes over the old from offset 0 and reaches the disk before the file
 * is cut to its length. A crash at any step leaves the old content, or the whole new content
 * followed by the rest of the old, never an empty file. Readers may see that mix meanwhile.
 */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic there.
    if (!['EINVAL', 'ENOTSUP', 'EISDIR', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function isPermission(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

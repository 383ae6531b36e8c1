import { spawn } from 'node:child_process';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { KeyedMutex } from '../../src/util/mutex.js';
import type { BarmanHost, HostFileInfo, RunOptions, RunResult } from '../../src/ports.js';
import { replaceFile } from './atomic-write.js';
import { lockFile } from './file-lock.js';
import { toHostFileError } from './host-file-errors.js';
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
        throw toHostFileError(err, path, 'read');
      }
    },

    async writeFile(path, content, like) {
      const target = await realTarget(path);
      return writeLock
        .run(target, () => replaceFile(target, content, { newMode: NEW_FILE_MODE, like }))
        .catch((err: unknown) => Promise.reject(toHostFileError(err, path, 'write')));
    },

    async lockFile(path) {
      return lockFile(await realTarget(path));
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
        throw toHostFileError(err, path, 'read');
      }
    },

    async listDir(path) {
      try {
        return (await readdir(path)).sort();
      } catch (err) {
        if (isMissing(err)) return [];
        throw toHostFileError(err, path, 'read');
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

/** The file a path really names, so two names for one file share a lock; the path itself when it does not exist yet. */
async function realTarget(path: string): Promise<string> {
  return realpath(path).catch((err: unknown) => (isMissing(err) ? resolve(path) : Promise.reject(toHostFileError(err, path, 'read'))));
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

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

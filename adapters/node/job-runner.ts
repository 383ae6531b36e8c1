import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobHandle, JobRunner, JobStart, Logger } from '../../src/ports.js';
import { jobDir } from '../../src/jobs/model.js';

export interface DetachedRunnerOptions {
  /** The store directory (runner.log goes into the job's folder). */
  storeDirectory: string;
  /** The settings file the runner loads, as the server did. */
  configFile: string | null;
  /** How to start this program again; defaults to this process's own entry (see `selfCommand`). */
  command?: string[];
  /**
   * Keep one runner started ahead, waiting for its job, so a job does not wait for a program to
   * start (a Node runner takes ~0.2 s, the single binary ~20 ms). Default: off.
   */
  warm?: boolean;
  /** Where a warm runner that ended without a job is reported. */
  logger?: Logger;
}

/** The job id argument that makes `barmanapi execute` read its job id from standard input. */
export const JOB_ID_FROM_STDIN = '-';

/** A warm runner's output file, in the store's folder, until it has a job. */
export const WARM_LOG_PREFIX = '.runner-warm-';

/** Warm runners that end without a job, in a row, before no more are started. */
const MAX_WARM_FAILURES = 3;

/** A runner started ahead: `barmanapi execute -`, its job id still to come on its stdin. */
interface WarmRunner {
  child: ChildProcess;
  /** Its stdout and stderr until it has a job; then renamed to that job's runner.log. */
  logPath: string;
  exited: Promise<void>;
  assigned: boolean;
}

type SpawnRunner = (id: string, logPath: string, stdin: 'ignore' | 'pipe') => { child: ChildProcess; exited: Promise<void> };

/**
 * Starts each job as `barmanapi execute <id>` in its own session and process group, detached
 * from the server: the job keeps running if the server stops, restarts or is killed. With
 * `warm`, one runner is started ahead and handed the next job's id on its standard input; it
 * ends by itself when the server goes away before giving it one.
 */
export function createDetachedJobRunner(opts: DetachedRunnerOptions): JobRunner {
  const command = opts.command ?? selfCommand();
  const configArgs = opts.configFile ? ['--config', opts.configFile] : [];

  /** Spawn a runner writing to the file `logPath`, detached, with the given stdin. */
  const spawnRunner: SpawnRunner = (id, logPath, stdin) => {
    const log = openSync(logPath, 'a', 0o600);
    try {
      const child = spawn(command[0]!, [...command.slice(1), 'execute', id, ...configArgs], { detached: true, stdio: [stdin, log, log], cwd: '/' });
      // The end is told to this server at once, while the child keeps no hold on its event loop.
      const exited = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
      child.unref();
      return { child, exited };
    } finally {
      closeSync(log);
    }
  };
  const warm = opts.warm ? new WarmRunnerSlot(opts.storeDirectory, spawnRunner, opts.logger) : null;

  return {
    async start(job) {
      let handle = warm?.assign(job) ?? null;
      if (!handle) {
        const { child, exited } = spawnRunner(job.id, join(opts.storeDirectory, job.dir, 'runner.log'), 'ignore');
        handle = { pid: child.pid ?? null, exited };
      }
      warm?.fill();
      return handle;
    },
    prepare: () => warm?.fill(),
    close: async () => warm?.close(),
    isAlive: async (pid, jobId) => isRunnerOf(opts.storeDirectory, pid, jobId),
    async cancel(pid) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    },
  };
}

/** The one runner started ahead, waiting for a job id on its standard input. */
class WarmRunnerSlot {
  private warm: WarmRunner | null = null;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly storeDirectory: string,
    private readonly spawnRunner: SpawnRunner,
    private readonly logger: Logger | undefined,
  ) {}

  /** Start one ahead, unless one waits, the slot is closed, or they keep failing. */
  fill(): void {
    if (this.closed || this.warm || this.failures >= MAX_WARM_FAILURES) return;
    // In the store's own folder: on the job folders' filesystem (whatever logs/ links to), so it can
    // become a job's runner.log, and out of active/, which holds month folders only.
    const logPath = join(this.storeDirectory, `${WARM_LOG_PREFIX}${randomBytes(6).toString('hex')}.log`);
    let started: ReturnType<SpawnRunner>;
    try {
      started = this.spawnRunner(JOB_ID_FROM_STDIN, logPath, 'pipe');
    } catch (e) {
      this.failures += 1;
      this.logger?.log('warn', `could not start a warm job runner: ${(e as Error).message}`);
      return;
    }
    const runner: WarmRunner = { ...started, logPath, assigned: false };
    // A write to a runner that has just died must not become an unhandled 'error' event.
    runner.child.stdin?.on('error', () => undefined);
    (runner.child.stdin as { unref?: () => void } | null)?.unref?.();
    this.warm = runner;
    void runner.exited.then(() => this.ended(runner));
  }

  /** A runner that ended: one given no job says what it said. */
  private ended(runner: WarmRunner): void {
    if (runner.assigned) return;
    if (this.warm === runner) this.warm = null;
    if (this.closed) return removeQuietly(runner.logPath);
    // It ended with no job: bad settings, a missing program, killed.
    this.failures += 1;
    const said = readTail(runner.logPath, 2000);
    removeQuietly(runner.logPath);
    this.logger?.log('warn', `a warm job runner ended before it was given a job${said ? `: ${said}` : ''}${this.failures >= MAX_WARM_FAILURES ? '; jobs start cold from now on' : ''}`);
  }

  /** Hand the job to the waiting runner, or null when there is none that can take it. */
  assign(job: JobStart): JobHandle | null {
    const runner = this.warm;
    if (!runner || !runner.child.stdin?.writable || !processLives(runner.child)) return null;
    this.warm = null;
    try {
      // Its output file becomes the job's runner.log, where a cold runner's output goes (moved, so
      // its fd 2 names it: isAlive). Never in place of one: a runner started for this job before,
      // by a server killed meanwhile, may be writing it; a cold runner appends to it instead.
      // Only a server makes a runner.log, and it makes them one job start at a time.
      const target = join(this.storeDirectory, job.dir, 'runner.log');
      if (existsSync(target)) throw Object.assign(new Error(`${target} exists`), { code: 'EEXIST' });
      renameSync(runner.logPath, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        this.failures += 1;
        this.logger?.log('warn', `a warm job runner could not be given job ${job.id}: ${(e as Error).message}`);
      }
      runner.assigned = true; // ended on purpose, not a failure of its own
      runner.child.stdin.end();
      removeQuietly(runner.logPath);
      return null;
    }
    runner.assigned = true;
    this.failures = 0;
    runner.child.stdin.end(`${job.id}\n`);
    return { pid: runner.child.pid ?? null, exited: runner.exited };
  }

  close(): void {
    this.closed = true;
    const runner = this.warm;
    this.warm = null;
    if (!runner) return;
    // Standard input closed without a job id: the runner ends by itself, soon.
    runner.child.stdin?.end();
    removeQuietly(runner.logPath);
  }
}

/** Whether process `pid` is alive and job `jobId`'s runner (a reused pid does not count). */
function isRunnerOf(storeDirectory: string, pid: number, jobId: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Guard against a reused pid: the process must be this job's runner, and not a zombie.
  const proc = `/proc/${pid}`;
  if (!existsSync(proc)) return true;
  try {
    if (isZombie(pid)) return false;
    const argv = readFileSync(`${proc}/cmdline`, 'utf8').split('\0');
    if (argv.includes(jobId)) return true;
    // A warm runner was given its job on stdin: its output (fd 2) is that job's runner.log.
    if (!argv.includes('execute') || !argv.includes(JOB_ID_FROM_STDIN)) return false;
    let output: string;
    try {
      output = readlinkSync(`${proc}/fd/2`);
    } catch (e) {
      // A process this one may not look into (a runner made non-dumpable): as with EPERM above,
      // it cannot be told apart, so it counts as alive rather than a running job as lost.
      if (['EACCES', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) return true;
      throw e;
    }
    return output === realpathSync(join(storeDirectory, jobDir(jobId), 'runner.log'));
  } catch {
    return false;
  }
}

/**
 * Whether the child process is there now and not a zombie: its exit is seen by Node only at a
 * later turn of the event loop, and a job must not be handed to a runner already dead.
 */
function processLives(child: ChildProcess): boolean {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return false;
  try {
    process.kill(child.pid, 0);
  } catch {
    return false;
  }
  try {
    return !isZombie(child.pid);
  } catch {
    return true; // no /proc here: the signal said it is there
  }
}

/** Whether process `pid` has ended and waits to be reaped (its /proc stat says Z); throws without /proc. */
function isZombie(pid: number): boolean {
  return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

function readTail(path: string, max: number): string {
  try {
    return readFileSync(path, 'utf8').trim().slice(-max);
  } catch {
    return '';
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // a folder we may no longer write to: the file is small and named for what it is
  }
}

/**
 * This program's own command line: the compiled binary itself, or node + bin/barmanapi.js
 * (found from this module's location, so it works when embedded in another service too).
 */
export function selfCommand(): string[] {
  if (isCompiledBinary()) return [process.execPath];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const bin = join(dir, 'bin', 'barmanapi.js');
    if (existsSync(bin)) return [process.execPath, bin];
    dir = dirname(dir);
  }
  throw new Error('cannot find bin/barmanapi.js to start job runners');
}

export function isCompiledBinary(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' && import.meta.url.includes('$bunfs');
}

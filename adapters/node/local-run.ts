import { spawn, type ChildProcess } from 'node:child_process';
import type { RunOptions, RunResult } from '../../src/ports.js';
import { assertArgv, createOutputBuffer, createOutputTap } from './command-io.js';

export interface LocalRun {
  timeoutMs: number;
  maxOutputBytes: number;
  signal: AbortSignal | undefined;
  env: NodeJS.ProcessEnv;
  killGraceMs: number;
  exitDrainMs: number;
  onOutput: RunOptions['onOutput'];
}

/**
 * Run argv[0] with argv[1..] as separate words (no shell) in a process group of its own, so that
 * a timeout or an abort stops everything it started: TERM, then KILL after the grace time.
 */
export function runLocal(argv: string[], o: LocalRun): Promise<RunResult> {
  assertArgv(argv);
  return new Promise<RunResult>((resolve, reject) => new ChildRun(argv, o, resolve, reject).start());
}

class ChildRun {
  private readonly started = Date.now();
  private readonly stdout;
  private readonly stderr;
  private readonly tap;
  private child: ChildProcess | null = null;
  private settled = false;
  private timedOut = false;
  private aborted = false;
  private exit: { code: number | null; signal: string | null } | null = null;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private readonly onAbort = (): void => {
    if (this.exit || this.settled) return;
    this.aborted = true;
    this.stop();
  };

  constructor(
    private readonly argv: string[],
    private readonly o: LocalRun,
    private readonly resolve: (r: RunResult) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.stdout = createOutputBuffer(o.maxOutputBytes);
    this.stderr = createOutputBuffer(o.maxOutputBytes);
    this.tap = createOutputTap(o.onOutput);
  }

  start(): void {
    if (this.o.signal?.aborted) {
      this.aborted = true;
      this.finish(this.result(null, null));
      return;
    }
    // detached: the child leads a new process group, so a stop reaches everything it started.
    const child = spawn(this.argv[0]!, this.argv.slice(1), { shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: this.o.env });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => {
      this.stdout.push(chunk);
      this.tap.emit('stdout', chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk);
      this.tap.emit('stderr', chunk);
    });
    child.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      // Output normally ends with the process; a background child keeping the pipes open gets a short grace.
      this.timers.push(setTimeout(() => this.finishWithExit(), this.o.exitDrainMs));
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.exit ??= { code, signal };
      this.finishWithExit();
    });
    if (this.o.timeoutMs > 0) {
      this.timers.push(
        setTimeout(() => {
          if (this.exit || this.settled) return;
          this.timedOut = true;
          this.stop();
        }, this.o.timeoutMs),
      );
    }
    this.o.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.child?.pid === undefined && (err.code === 'ENOENT' || err.code === 'EACCES')) {
      // The shell's convention: 127 not found, 126 found but not executable.
      const code = err.code === 'ENOENT' ? 127 : 126;
      const why = err.code === 'ENOENT' ? 'command not found' : 'permission denied';
      this.stderr.push(Buffer.from(`${this.argv[0]}: ${why}\n`));
      this.exit = { code, signal: null };
      this.finishWithExit();
      return;
    }
    this.finish(err);
  }

  private stop(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    killGroup(pid, 'SIGTERM');
    // Not cancelled when the leader exits: group members that ignore SIGTERM still go.
    setTimeout(() => {
      killGroup(pid, 'SIGKILL');
      // Something outside the group may still hold the pipes; do not wait on it forever.
      if (!this.settled) this.timers.push(setTimeout(() => this.finishWithExit(), this.o.exitDrainMs));
    }, this.o.killGraceMs).unref();
  }

  private result(exitCode: number | null, signal: string | null): RunResult {
    return {
      exitCode,
      signal,
      stdout: this.stdout.text(),
      stderr: this.stderr.text(),
      truncated: this.stdout.truncated || this.stderr.truncated,
      timedOut: this.timedOut,
      aborted: this.aborted,
      durationMs: Date.now() - this.started,
    };
  }

  private finishWithExit(): void {
    if (this.exit) this.finish(this.tap.failure ?? this.result(this.exit.code, this.exit.signal));
  }

  private finish(value: RunResult | Error): void {
    if (this.settled) return;
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    if (value instanceof Error) this.reject(value);
    else this.resolve(value);
  }
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


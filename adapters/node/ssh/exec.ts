/**
 * Running a command on the barman host: one exec channel per command, every word single-quoted,
 * nothing of this process's environment sent along; output bounded, stops as TERM then KILL to
 * the remote process group, and a lost connection reported as such.
 */
import type { ClientChannel } from 'ssh2';
import type { RunOptions, RunResult } from '../../../src/ports.js';
import { shellJoin, shellQuote } from '../../../src/util/shell-quote.js';
import { assertArgv, assertNoPrivateEnv, createOutputBuffer, createOutputTap, DEFAULT_MAX_OUTPUT_BYTES } from '../command-io.js';
import { SshHostError } from './errors.js';
import { channelEnd, type Pool } from './pool.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface ChannelExit {
  code: number | null;
  signal: string | null;
  stopped: boolean;
}

export interface ExecSettings {
  description: string;
  pool: Pool;
  slots: { acquire(signal: AbortSignal): Promise<() => void> };
  defaultTimeoutMs?: number;
  defaultMaxOutputBytes?: number;
  killGraceMs: number;
  exitDrainMs: number;
}

export function runRemote(x: ExecSettings, argv: string[], options: RunOptions): Promise<RunResult> {
  return runOn(x, argv, options);
}

async function runOn(x: ExecSettings, argv: string[], options: RunOptions): Promise<RunResult> {
  const { description, pool, slots, killGraceMs, exitDrainMs } = x;
  const opts = { defaultTimeoutMs: x.defaultTimeoutMs, defaultMaxOutputBytes: x.defaultMaxOutputBytes };
  assertArgv(argv);
  // Only these are sent; nothing of this process's environment (BARMANAPI_* settings) goes along.
  const env = options.env ?? {};
  for (const name of Object.keys(env)) {
    if (!ENV_NAME.test(name)) throw new TypeError(`run: "${name}" is not a valid environment variable name`);
  }
  assertNoPrivateEnv(env, 'run');
  // exec: the command itself leads the session's process group, so a signal request reaches it
  // and its children rather than only the login shell. stdin is /dev/null, as for a local run.
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`);
  const exported = assignments.length > 0 ? `export ${assignments.join(' ')}; ` : '';
  const command = `${exported}exec ${shellJoin(argv)} </dev/null`;

  // An explicit 0 (async jobs) means no limit; only an absent timeout takes the default.
  const timeoutMs = options.timeoutMs ?? opts.defaultTimeoutMs ?? 0;
  const maxOutputBytes = options.maxOutputBytes ?? opts.defaultMaxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const started = Date.now();
  const stdout = createOutputBuffer(maxOutputBytes);
  const stderr = createOutputBuffer(maxOutputBytes);
  let reason: 'timeout' | 'abort' | null = null;
  /** `stopped`: the stop reached the command (one that had already exited was not stopped). */
  const result = (exitCode: number | null, signal: string | null, stopped: boolean): RunResult => ({
    exitCode,
    signal,
    stdout: stdout.text(),
    stderr: stderr.text(),
    truncated: stdout.truncated || stderr.truncated,
    timedOut: stopped && reason === 'timeout',
    aborted: stopped && reason === 'abort',
    durationMs: Date.now() - started,
  });
  if (options.signal?.aborted) {
    reason = 'abort';
    return result(null, null, true);
  }

  const stopper = new AbortController();
  const requestStop = (why: 'timeout' | 'abort'): void => {
    if (reason !== null) return;
    reason = why;
    stopper.abort();
  };
  const onAbort = (): void => requestStop('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = timeoutMs > 0 ? setTimeout(() => requestStop('timeout'), timeoutMs) : undefined;
  let release: (() => void) | null = null;
  try {
    try {
      release = await slots.acquire(stopper.signal);
    } catch (err) {
      if (stopper.signal.aborted) return result(null, null, true);
      throw err;
    }
    const channel = await pool.openChannel(command);
    const tap = createOutputTap(options.onOutput);
    const exit = await collect(
      { description, killGraceMs, exitDrainMs },
      channel,
      (chunk) => {
        stdout.push(chunk);
        tap.emit('stdout', chunk);
      },
      (chunk) => {
        stderr.push(chunk);
        tap.emit('stderr', chunk);
      },
      stopper.signal,
    );
    if (tap.failure) throw tap.failure;
    return result(exit.code, exit.signal, exit.stopped);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    release?.();
  }
}

function collect(
  x: { description: string; killGraceMs: number; exitDrainMs: number },
  channel: ClientChannel,
  onStdout: (chunk: Buffer) => void,
  onStderr: (chunk: Buffer) => void,
  stop: AbortSignal,
): Promise<ChannelExit> {
  const { description, killGraceMs, exitDrainMs } = x;
  return new Promise((resolve, reject) => {
    let exit: ChannelExit | null = null;
    let stopped = false;
    let settled = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (value: ChannelExit | Error): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      stop.removeEventListener('abort', onStop);
      if (value instanceof Error) reject(value);
      else resolve({ ...value, stopped });
    };
    const onStop = (): void => {
      if (exit) return;
      stopped = true;
      // sshd delivers a "signal" request with killpg, so the remote command's whole group gets it.
      sendSignal(channel, 'TERM');
      timers.push(
        setTimeout(() => {
          sendSignal(channel, 'KILL');
          channel.close();
          timers.push(setTimeout(() => finish(exit ?? { code: null, signal: null, stopped }), exitDrainMs));
        }, killGraceMs),
      );
    };

    channel.on('data', onStdout);
    channel.stderr.on('data', onStderr);
    const onExit = (code: number | null, signal?: string): void => {
      if (exit) return;
      exit =
        typeof code === 'number'
          ? { code, signal: null, stopped }
          : { code: null, signal: signal ? (signal.startsWith('SIG') ? signal : `SIG${signal}`) : null, stopped };
      timers.push(
        setTimeout(() => {
          finish(exit!);
          channel.close();
        }, exitDrainMs),
      );
    };
    const onClose = (): void => {
      if (exit) return finish(exit);
      if (stopped) return finish({ code: null, signal: null, stopped });
      finish(new SshHostError('connection-lost', `the connection to ${description} ended before the command reported its exit status`));
    };
    channel.on('exit', onExit);
    channel.on('close', onClose);
    // A quick command may have ended before these listeners were there (pool.ts keeps what it said).
    // Its output is still in the channel's buffer, given to the listeners above on a later tick:
    // the end is taken after it (onExit waits exitDrainMs; a close alone, one turn of the loop).
    const early = channelEnd(channel);
    if (early.exit) onExit(early.exit.code, early.exit.signal);
    else if (early.closed) timers.push(setTimeout(onClose, 0));
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
  });
}


function sendSignal(channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  try {
    channel.signal(name);
  } catch {
    // The channel is already closing; closing it is all that is left to do.
  }
}

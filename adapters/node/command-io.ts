/**
 * What both hosts, local and SSH, do with a command's words and its output: the argv and
 * environment rules, and the bounded output buffer and the live tap of RunOptions.onOutput.
 */
import type { RunOptions } from '../../src/ports.js';

export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Mode of a file writeFile creates (it keeps the mode of a file it replaces). */
export const NEW_FILE_MODE = 0o644;

/**
 * barmanapi's own settings can come from BARMANAPI_* variables, the token secret among them;
 * barman and its hooks get none of them. Matched without regard to case, to be safe.
 */
const PRIVATE_ENV = /^BARMANAPI_/i;

/** This process's environment without barmanapi's own variables: what a local command inherits. */
export function barmanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!PRIVATE_ENV.test(name)) env[name] = value;
  }
  return env;
}

/** A BARMANAPI_* variable handed to a command is a caller bug: refuse it rather than pass it on. */
export function assertNoPrivateEnv(env: Record<string, string> | undefined, where: string): void {
  for (const name of Object.keys(env ?? {})) {
    if (PRIVATE_ENV.test(name)) throw new TypeError(`${where}: ${name} is a barmanapi setting and is never passed to barman`);
  }
}

/** argv words become C strings; an empty argv or a NUL is a caller bug, not a command result. */
export function assertArgv(argv: readonly string[]): void {
  if (argv.length === 0 || argv[0] === '') throw new TypeError('run: argv must name a command');
  for (const word of argv) {
    if (word.includes('\0')) throw new TypeError('run: an argv word cannot contain a NUL character');
  }
}

export interface OutputBuffer {
  push(chunk: Buffer): void;
  /** The kept bytes as UTF-8; a character cut by the bound is dropped whole, not half-decoded. */
  text(): string;
  readonly truncated: boolean;
}

/** Keeps the first `max` bytes of a stream as Buffers (decoded once, at the end) and counts the rest. */
export function createOutputBuffer(max: number): OutputBuffer {
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  return {
    push(chunk) {
      const room = max - kept;
      if (chunk.length > room) {
        truncated = true;
        if (room > 0) chunks.push(chunk.subarray(0, room));
        kept = max;
        return;
      }
      chunks.push(chunk);
      kept += chunk.length;
    },
    text() {
      const all = Buffer.concat(chunks);
      return (truncated ? all.subarray(0, utf8Boundary(all)) : all).toString('utf8');
    },
    get truncated() {
      return truncated;
    },
  };
}

/** Length of `buf` without a trailing incomplete UTF-8 sequence. */
function utf8Boundary(buf: Buffer): number {
  for (let back = 1; back <= Math.min(4, buf.length); back++) {
    const byte = buf[buf.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? buf.length - back : buf.length;
  }
  return buf.length;
}

export interface OutputTap {
  emit(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /** What the callback threw, if it did; run() rejects with it once the command has ended. */
  readonly failure: Error | null;
}

/**
 * Hands every chunk, unbounded, to RunOptions.onOutput. A callback that throws is not called
 * again; the command still runs to its end (stopping it would be a second failure), then run()
 * rejects with the callback's error rather than report output the caller did not receive.
 */
export function createOutputTap(onOutput: RunOptions['onOutput']): OutputTap {
  let failure: Error | null = null;
  return {
    emit(stream, chunk) {
      if (!onOutput || failure) return;
      try {
        onOutput(stream, chunk);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
    },
    get failure() {
      return failure;
    },
  };
}


import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger, LogLevel } from '../../src/ports.js';
import { redact } from '../../src/util/redact.js';

export interface FileLoggerOptions {
  /** store/logs; null logs to stderr only. */
  dir: string | null;
  format: 'plain' | 'json';
  maxBytes: number;
  backupCount: number;
  debug: boolean;
  stderr?: boolean;
}

export interface FileLogger extends Logger {
  /** Flushes that could not write the log file (their lines went to stderr instead). */
  writeFailures(): number;
  /** Write the lines still waiting now (they are written at exit too). */
  flush(): void;
}

/** Lines in one flush that make the logger busy; it is quiet again after a smaller one. */
const BUSY_LINES = 8;
const BUSY_FLUSH_MS = 10;

/**
 * Lines to stderr and to logs/general.log, rotated like Python's RotatingFileHandler
 * (general.log.1 … .N). Every line passes through redact(), so no token or password is written.
 * Lines are collected and written once per event-loop turn, at most BUSY_FLUSH_MS later while
 * the logger is busy, and at exit: not one syscall each.
 *
 * Logging never throws: when the file cannot be written (permissions, a full disk, a folder in
 * its place) the lines go to stderr instead, the logger says so once on stderr, counts each
 * failed flush, and goes back to the file as soon as a write succeeds again.
 */
export function createFileLogger(opts: FileLoggerOptions): FileLogger {
  const file = opts.dir ? join(opts.dir, 'general.log') : null;
  const toStderr = opts.stderr !== false;
  let failures = 0;
  let failing = false;
  const stderr = (text: string) => {
    try {
      process.stderr.write(text);
    } catch {
      // stderr itself is gone: there is nowhere left to report to.
    }
  };
  // A closed stderr (a pipe whose reader died) reports EPIPE as an event: without a listener that
  // event would end the process. There is nowhere left to say it.
  if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', () => undefined);
  if (opts.dir) {
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      stderr(`barmanapi: cannot create the log folder ${opts.dir} (${(err as NodeJS.ErrnoException).code ?? err}); logging to stderr\n`);
    }
  }
  const sink = file ? rotatingFile(file, opts.maxBytes, opts.backupCount) : null;
  let pending: string[] = [];
  let scheduled = false;
  let lastBatch = 0;
  // A quiet logger writes at the next turn of the event loop; one that just wrote a batch of
  // BUSY_LINES or more (a busy server) gathers lines for BUSY_FLUSH_MS first, so the file is
  // opened, appended and closed a hundred times a second rather than on every turn.
  const schedule = () => {
    scheduled = true;
    if (lastBatch >= BUSY_LINES) setTimeout(flush, BUSY_FLUSH_MS).unref();
    else setImmediate(flush);
  };
  const flush = () => {
    scheduled = false;
    lastBatch = pending.length;
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    const text = lines.join('');
    if (toStderr) stderr(text);
    if (!sink) return;
    try {
      sink.write(lines, text);
      if (failing) {
        failing = false;
        stderr(`barmanapi: writing ${file} works again\n`);
      }
    } catch (err) {
      failures += 1;
      if (!failing) {
        failing = true;
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        stderr(`barmanapi: cannot write ${file} (${code}); log lines go to stderr until it can be written again\n`);
      }
      if (!toStderr) stderr(text);
    }
  };
  process.once('exit', flush);
  const isoNow = isoClock();
  return {
    log(level: LogLevel, message: string, fields?: Record<string, unknown>) {
      if (level === 'debug' && !opts.debug) return;
      const line = formatLine(opts.format, isoNow(), level, message, fields);
      if (!scheduled) schedule();
      pending.push(`${redact(line)}\n`);
    },
    writeFailures: () => failures,
    flush,
  };
}

/** One log line (without its newline): plain text with the fields as JSON, or one JSON object. */
function formatLine(format: 'plain' | 'json', time: string, level: LogLevel, message: string, fields?: Record<string, unknown>): string {
  try {
    // JSON.stringify leaves out undefined fields by itself.
    if (format === 'json') return JSON.stringify({ time, level, message, ...fields });
    const extra = fields ? fieldsJson(fields) : '';
    return `${time} ${level.toUpperCase()} ${message}${extra.length > 2 ? ` ${extra}` : ''}`;
  } catch {
    // A field that cannot be serialised (a cycle, a BigInt) still leaves its message.
    return `${time} ${level.toUpperCase()} ${message} [fields not serialisable]`;
  }
}

/**
 * Appends to `file`, rotating it like Python's RotatingFileHandler (file.1 … file.N) before a line
 * would take it over maxBytes (0: never). Rotation happens between lines, so every file holds
 * whole lines. Write errors are thrown to the caller.
 */
function rotatingFile(file: string, maxBytes: number, backupCount: number): { write(lines: string[], text: string): void } {
  let size = 0;
  try {
    size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    size = 0;
  }
  const rotate = () => {
    if (backupCount === 0) rmSync(file, { force: true });
    for (let i = backupCount - 1; i >= 1; i--) {
      try {
        renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    size = 0;
    try {
      if (backupCount > 0) renameSync(file, `${file}.1`);
    } catch (err) {
      // Moved away or deleted by someone else: there is nothing to rotate.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  };
  return {
    write(lines, text) {
      // The usual case: the whole batch fits below maxBytes, so no line boundary can need a rotation.
      const bytes = Buffer.byteLength(text);
      if (maxBytes <= 0 || size + bytes <= maxBytes) {
        size += bytes;
        appendFileSync(file, text, { mode: 0o600 });
        return;
      }
      let chunk = '';
      for (const line of lines) {
        const n = Buffer.byteLength(line);
        if (size > 0 && size + n > maxBytes) {
          if (chunk) appendFileSync(file, chunk, { mode: 0o600 });
          chunk = '';
          rotate();
        }
        chunk += line;
        size += n;
      }
      if (chunk) appendFileSync(file, chunk, { mode: 0o600 });
    },
  };
}

/**
 * JSON.stringify(fields) for the flat fields of a log line (numbers, strings, booleans, null) at
 * about half its cost; anything else is left to JSON.stringify itself.
 */
export function fieldsJson(fields: Record<string, unknown>): string {
  if (Array.isArray(fields) || typeof fields.toJSON === 'function') return JSON.stringify(fields);
  let out = '{';
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    let text: string;
    switch (typeof value) {
      case 'number':
        text = Number.isFinite(value) ? String(value) : 'null';
        break;
      case 'string':
        text = plainJsonString(value) ? `"${value}"` : JSON.stringify(value);
        break;
      case 'boolean':
        text = value ? 'true' : 'false';
        break;
      case 'undefined':
        continue;
      default:
        if (value !== null) return JSON.stringify(fields); // objects, functions, symbols, bigints
        text = 'null';
    }
    out += `${out.length > 1 ? ',' : ''}${jsonKey(key)}${text}`;
  }
  return `${out}}`;
}

/** Whether JSON.stringify would quote `text` as it is: no control character, quote, backslash or surrogate. */
function plainJsonString(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

const jsonKeys = new Map<string, string>();

function jsonKey(key: string): string {
  let text = jsonKeys.get(key);
  if (text === undefined) {
    text = `${JSON.stringify(key)}:`;
    if (jsonKeys.size < 256) jsonKeys.set(key, text);
  }
  return text;
}

/**
 * `new Date().toISOString()` at a fraction of its cost, for a line per request: the date and
 * time up to the second are formatted once a second, the milliseconds appended.
 */
export function isoClock(): () => string {
  let second = NaN;
  let prefix = '';
  return () => {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      prefix = new Date(s * 1000).toISOString().slice(0, -4); // "YYYY-MM-DDTHH:MM:SS."
    }
    const ms = now - s * 1000;
    return `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  };
}

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
}

/**
 * Lines to stderr and to logs/general.log, rotated like Python's RotatingFileHandler
 * (general.log.1 … .N). Every line passes through redact(), so no token or password is written.
 * Lines are collected and written once per event-loop turn (and at exit), not one syscall each.
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
  let size = 0;
  try {
    size = file ? (statSync(file, { throwIfNoEntry: false })?.size ?? 0) : 0;
  } catch {
    size = 0;
  }
  const rotate = () => {
    if (!file) return;
    if (opts.backupCount === 0) rmSync(file, { force: true });
    for (let i = opts.backupCount - 1; i >= 1; i--) {
      try {
        renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    size = 0;
    try {
      if (opts.backupCount > 0) renameSync(file, `${file}.1`);
    } catch (err) {
      // Moved away or deleted by someone else: there is nothing to rotate.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  };
  const writeFile = (lines: string[]) => {
    // Rotation happens between lines, so every file holds whole lines.
    let chunk = '';
    for (const line of lines) {
      const n = Buffer.byteLength(line);
      if (opts.maxBytes > 0 && size > 0 && size + n > opts.maxBytes) {
        if (chunk) appendFileSync(file!, chunk, { mode: 0o600 });
        chunk = '';
        rotate();
      }
      chunk += line;
      size += n;
    }
    if (chunk) appendFileSync(file!, chunk, { mode: 0o600 });
  };
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    if (toStderr) stderr(lines.join(''));
    if (!file) return;
    try {
      writeFile(lines);
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
      if (!toStderr) stderr(lines.join(''));
    }
  };
  process.once('exit', flush);
  return {
    log(level: LogLevel, message: string, fields?: Record<string, unknown>) {
      if (level === 'debug' && !opts.debug) return;
      const time = new Date().toISOString();
      let line: string;
      try {
        // JSON.stringify leaves out undefined fields by itself.
        const extra = fields ? JSON.stringify(fields) : '';
        line = opts.format === 'json'
          ? JSON.stringify({ time, level, message, ...fields })
          : `${time} ${level.toUpperCase()} ${message}${extra.length > 2 ? ` ${extra}` : ''}`;
      } catch {
        // A field that cannot be serialised (a cycle, a BigInt) still leaves its message.
        line = `${time} ${level.toUpperCase()} ${message} [fields not serialisable]`;
      }
      if (pending.length === 0) setImmediate(flush);
      pending.push(`${redact(line)}\n`);
    },
    writeFailures: () => failures,
  };
}

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

/**
 * Lines to stderr and to logs/general.log, rotated like Python's RotatingFileHandler
 * (general.log.1 … .N). Every line passes through redact(), so no token or password is written.
 * Lines are collected and written once per event-loop turn (and at exit), not one syscall each.
 */
export function createFileLogger(opts: FileLoggerOptions): Logger {
  const file = opts.dir ? join(opts.dir, 'general.log') : null;
  if (opts.dir) mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  let size = file ? (statSync(file, { throwIfNoEntry: false })?.size ?? 0) : 0;
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
    if (opts.backupCount > 0) renameSync(file, `${file}.1`);
    size = 0;
  };
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    if (opts.stderr !== false) process.stderr.write(lines.join(''));
    if (!file) return;
    // Rotation happens between lines, so every file holds whole lines.
    let chunk = '';
    for (const line of lines) {
      const n = Buffer.byteLength(line);
      if (opts.maxBytes > 0 && size > 0 && size + n > opts.maxBytes) {
        if (chunk) appendFileSync(file, chunk, { mode: 0o600 });
        chunk = '';
        rotate();
      }
      chunk += line;
      size += n;
    }
    if (chunk) appendFileSync(file, chunk, { mode: 0o600 });
  };
  process.once('exit', flush);
  return {
    log(level: LogLevel, message: string, fields?: Record<string, unknown>) {
      if (level === 'debug' && !opts.debug) return;
      const time = new Date().toISOString();
      // JSON.stringify leaves out undefined fields by itself.
      const extra = fields ? JSON.stringify(fields) : '';
      const line = redact(
        opts.format === 'json'
          ? JSON.stringify({ time, level, message, ...fields })
          : `${time} ${level.toUpperCase()} ${message}${extra.length > 2 ? ` ${extra}` : ''}`,
      ) + '\n';
      if (pending.length === 0) setImmediate(flush);
      pending.push(line);
    },
  };
}

import type { Clock, Logger, LogLevel } from '../../src/ports.js';

/** A clock that stands still until moved: `clock.set(…)`, `clock.advance(ms)`. */
export function createFixedClock(start: Date | string = '2026-01-15T12:00:00Z'): Clock & { set(d: Date | string): void; advance(ms: number): void } {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (d) => {
      t = new Date(d).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

export interface LogRecord {
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** Keeps log records in an array, for assertions. */
export function createMemoryLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { records, log: (level, message, fields) => records.push({ level, message, fields }) };
}

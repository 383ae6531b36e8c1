import type { Logger, LogLevel } from '../../src/ports.js';

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

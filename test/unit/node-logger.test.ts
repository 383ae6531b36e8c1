import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFileLogger } from '../../adapters/node/logger.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function logsDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'barmanapi-logger-'));
  dirs.push(d);
  return d;
}

const turn = () => new Promise((r) => setImmediate(r));

describe('the file logger on a bad day', () => {
  it.each([
    ['a full disk (ENOSPC)', (dir: string) => symlinkSync('/dev/full', join(dir, 'general.log'))],
    ['a folder where the file should be (EISDIR)', (dir: string) => mkdirSync(join(dir, 'general.log'))],
  ])('never throws on %s: lines go to stderr, the failure is said once and counted', async (_label, breakIt) => {
    const dir = logsDir();
    breakIt(dir);
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (written.push(String(chunk)), true));
    const logger = createFileLogger({ dir, format: 'plain', maxBytes: 0, backupCount: 0, debug: false, stderr: false });
    for (let i = 0; i < 3; i++) {
      expect(() => logger.log('info', `GET /barman/list-server ${i}`, { status: 200 })).not.toThrow();
      await turn();
    }
    const text = written.join('');
    expect(text.match(/cannot write .*general\.log/g)).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect(text).toContain(`GET /barman/list-server ${i}`);
    expect(logger.writeFailures()).toBe(3);
  });

  it('goes back to the file once it can be written again, and says so', async () => {
    const dir = logsDir();
    mkdirSync(join(dir, 'general.log'));
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (written.push(String(chunk)), true));
    const logger = createFileLogger({ dir, format: 'plain', maxBytes: 0, backupCount: 0, debug: false, stderr: false });
    logger.log('info', 'first');
    await turn();
    rmSync(join(dir, 'general.log'), { recursive: true });
    logger.log('info', 'second');
    await turn();
    expect(readFileSync(join(dir, 'general.log'), 'utf8')).toContain('second');
    expect(written.join('')).toMatch(/works again/);
    expect(logger.writeFailures()).toBe(1);
  });

  it('keeps a line whose fields cannot be serialised', async () => {
    const dir = logsDir();
    const logger = createFileLogger({ dir, format: 'json', maxBytes: 0, backupCount: 0, debug: false, stderr: false });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => logger.log('warn', 'odd fields', cyclic)).not.toThrow();
    await turn();
    expect(readFileSync(join(dir, 'general.log'), 'utf8')).toContain('odd fields');
  });
});

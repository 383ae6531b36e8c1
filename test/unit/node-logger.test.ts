import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
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

describe('the file logger when busy', () => {
  const lines = (dir: string) => readFileSync(join(dir, 'general.log'), 'utf8').split('\n').filter((l) => l !== '');

  it('writes a burst at the next turn, then gathers lines for a few milliseconds, in order, and flush() writes at once', async () => {
    const dir = logsDir();
    const logger = createFileLogger({ dir, format: 'plain', maxBytes: 0, backupCount: 0, debug: false, stderr: false });
    for (let i = 0; i < 20; i++) logger.log('info', `burst ${i}`);
    await turn();
    expect(lines(dir)).toHaveLength(20);
    for (let i = 0; i < 3; i++) logger.log('info', `after ${i}`);
    await new Promise((r) => setTimeout(r, 60));
    expect(lines(dir).map((l) => l.replace(/^\S+ INFO /, ''))).toEqual([...Array.from({ length: 20 }, (_, i) => `burst ${i}`), 'after 0', 'after 1', 'after 2']);
    // Quiet again after that small batch: the next line goes out at the next turn.
    logger.log('info', 'quiet');
    await turn();
    expect(lines(dir).at(-1)).toMatch(/quiet$/);
    for (let i = 0; i < 20; i++) logger.log('info', `burst2 ${i}`);
    await turn();
    logger.log('info', 'waiting');
    logger.flush();
    expect(lines(dir).at(-1)).toMatch(/waiting$/);
  });

  it('writes the lines still waiting when the process exits', async () => {
    const dir = logsDir();
    const before = new Set(process.listeners('exit'));
    const logger = createFileLogger({ dir, format: 'plain', maxBytes: 0, backupCount: 0, debug: false, stderr: false });
    const onExit = process.listeners('exit').find((l) => !before.has(l))!;
    for (let i = 0; i < 20; i++) logger.log('info', `burst ${i}`);
    await turn();
    logger.log('warn', 'last words');
    onExit.call(process, 0);
    process.removeListener('exit', onExit);
    expect(lines(dir).at(-1)).toMatch(/WARN last words$/);
  });

  it('rotates between lines when a batch crosses maxBytes, keeping every line whole and in order', async () => {
    const dir = logsDir();
    const logger = createFileLogger({ dir, format: 'plain', maxBytes: 300, backupCount: 3, debug: false, stderr: false });
    for (let i = 0; i < 10; i++) logger.log('info', `line ${i} ${'x'.repeat(30)}`);
    await turn();
    const names = ['general.log.3', 'general.log.2', 'general.log.1', 'general.log'].filter((f) => existsSync(join(dir, f)));
    expect(names.length).toBeGreaterThan(1);
    const files = names.map((f) => readFileSync(join(dir, f), 'utf8'));
    for (const text of files) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(300);
      expect(text.endsWith('\n')).toBe(true);
    }
    const all = files.join('').split('\n').filter((l) => l !== '');
    expect(all.map((l) => l.split(' ')[3])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('stamps lines with the time toISOString gives, at any millisecond', async () => {
    const { isoClock } = await import('../../adapters/node/logger.js');
    vi.useFakeTimers();
    try {
      const now = isoClock();
      for (const at of ['2026-12-02T23:59:59.999Z', '2026-12-03T00:00:00.000Z', '2026-12-03T00:00:00.007Z', '2026-12-03T00:00:00.070Z', '2026-12-03T00:00:01.700Z', '1999-01-01T00:00:00.123Z', '2026-12-03T00:00:00.005Z']) {
        vi.setSystemTime(new Date(at));
        expect(now()).toBe(new Date().toISOString());
      }
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the fields of a log line', () => {
  it('are written exactly as JSON.stringify writes them', async () => {
    const { fieldsJson } = await import('../../adapters/node/logger.js');
    const cases: Array<Record<string, unknown>> = [
      {},
      { status: 200, ms: 0, user: 'memin' },
      { status: 401, ms: 3, user: undefined },
      { n: -0, big: 1e21, small: -1e-7, nan: NaN, inf: -Infinity, t: true, f: false, z: null },
      { quote: 'a"b', backslash: 'a\\b', control: 'tab\there\u0001', line: '\u2028', lone: '\ud800x', pair: '\ud83d\udca1', latin: 'café' },
      { 'a"b': 1, '': 2, 10: 'ten', 2: 'two', 'new\nline': 3 },
      { nested: { a: [1, 'x'] }, list: [1, 2], fn: () => 1, sym: Symbol('s'), date: new Date(0) },
      Object.assign(Object.create({ inherited: 1 }), { own: 1 }),
      { toJSON: () => 'replaced' },
    ];
    for (const fields of cases) expect(fieldsJson(fields)).toBe(JSON.stringify(fields));
    expect(() => fieldsJson({ big: 10n })).toThrow(TypeError);
  });
});


import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLocalHost } from '../../adapters/node/local-host.js';

/**
 * Fault injection for the in-place rewrite. In `readOnlyDir` the temp file is refused (as a
 * directory barman's user cannot write would refuse it), so writes there go through the file's
 * own handle; that handle records its steps and fails, as a crash would, at `failAt`.
 */
const faults = vi.hoisted(() => ({
  readOnlyDir: null as string | null,
  failAt: null as 'write' | 'truncate' | null,
  steps: [] as string[],
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const watch = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          const step =
            prop === 'write' || prop === 'writeFile'
              ? 'write'
              : prop === 'truncate'
                ? `truncate ${String(args[0] ?? 0)}`
                : prop === 'sync' || prop === 'datasync'
                  ? prop
                  : null;
          if (step !== null) {
            faults.steps.push(step);
            if (faults.failAt !== null && step.startsWith(faults.failAt)) {
              return Promise.reject(new Error(`injected failure at ${faults.failAt}`));
            }
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const open = async (...args: Parameters<typeof real.open>): Promise<FileHandle> => {
    const [path, flags] = args;
    const p = String(path);
    if (faults.readOnlyDir !== null && p.slice(0, p.lastIndexOf('/')) === faults.readOnlyDir) {
      if (flags === 'wx') throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
      if (flags === 'r+') return watch(await real.open(...args));
    }
    return real.open(...args);
  };
  return { ...real, open };
});

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'barmanapi-local-'));
  await chmod(dir, 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * What every host does with files and commands is in the BarmanHost contract
 * (test/contract/barman-host.ts, run for this host by barman-host.node.test.ts). Here: what only
 * the local host has, its own environment setting and the fault injection of its in-place rewrite.
 */
describe('createLocalHost() environment', () => {
  it('adds environment variables from the host and from the call', async () => {
    const withBase = createLocalHost({ env: { BASE_VAR: 'base' } });
    const result = await withBase.run(['/bin/sh', '-c', 'printf "%s %s %s" "$BASE_VAR" "$CALL_VAR" "${PATH:+has-path}"'], {
      env: { CALL_VAR: 'call' },
    });
    expect(result.stdout).toBe('base call has-path');
  });

  it('refuses BARMANAPI_* variables handed to the host itself', () => {
    expect(() => createLocalHost({ env: { BARMANAPI_X: 'x' } })).toThrow(/BARMANAPI_X/);
    expect(() => createLocalHost({ env: { barmanapi_lower: 'x' } })).toThrow(/barmanapi_lower/);
  });
});

describe('in-place rewrite: a failure at any step leaves a whole version, never an empty file', () => {
  const OLD = 'old content, longer than the new one\n';
  const NEW = 'new content\n';
  let file: string;

  beforeEach(async () => {
    const sub = await mkdtemp(join(dir, 'in-place-'));
    file = join(sub, 'barman.conf');
    await writeFile(file, OLD);
    Object.assign(faults, { readOnlyDir: sub, failAt: null, steps: [] });
  });
  afterEach(() => {
    Object.assign(faults, { readOnlyDir: null, failAt: null, steps: [] });
  });

  it('writes the new content over the old, makes it durable, then cuts the file to its length', async () => {
    const before = await stat(file);
    expect(await createLocalHost().writeFile(file, NEW)).toEqual({ mode: 'in-place' });
    expect(faults.steps).toEqual(['write', 'datasync', `truncate ${NEW.length}`, 'sync']);
    expect(await readFile(file, 'utf8')).toBe(NEW);
    expect((await stat(file)).ino).toBe(before.ino);
  });

  it('keeps the old content when the write fails', async () => {
    faults.failAt = 'write';
    await expect(createLocalHost().writeFile(file, NEW)).rejects.toThrow('injected failure at write');
    expect(await readFile(file, 'utf8')).toBe(OLD);
  });

  it('keeps the whole new content, followed by the old tail, when the cut fails', async () => {
    faults.failAt = 'truncate';
    await expect(createLocalHost().writeFile(file, NEW)).rejects.toThrow('injected failure at truncate');
    expect(await readFile(file, 'utf8')).toBe(NEW + OLD.slice(NEW.length));
  });
});

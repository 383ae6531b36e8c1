import { chmod, chown, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLocalHost } from '../../adapters/node/local-host.js';
import { HOSTILE_WORDS } from '../support/hostile.js';
import { isRunning, waitUntil } from '../support/process.js';

const hostile = [...HOSTILE_WORDS];

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
let recorder: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'barmanapi-local-'));
  await chmod(dir, 0o755);
  // Writes its argv, NUL-separated, to $RECORD: the bytes exactly as the program received them.
  recorder = join(dir, 'record.sh');
  await writeFile(recorder, '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$RECORD"\n', { mode: 0o755 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});


describe('createLocalHost().run', () => {
  const host = createLocalHost({ killGraceMs: 300, exitDrainMs: 300 });

  it('passes every argv word byte-for-byte, nothing interpreted by a shell', async () => {
    const record = join(dir, 'argv.bin');
    const result = await host.run([recorder, ...hostile], { env: { RECORD: record } });
    expect(result.exitCode).toBe(0);
    const got = await readFile(record);
    // Each word is followed by NUL; compare as hex so a wrong byte shows exactly where.
    expect(got.toString('hex')).toBe(Buffer.concat(hostile.map((w) => Buffer.from(`${w}\0`))).toString('hex'));
  });

  it('reports exit code, stdout and stderr', async () => {
    const result = await host.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({
      exitCode: 3,
      signal: null,
      stdout: 'out\n',
      stderr: 'err\n',
      truncated: false,
      timedOut: false,
      aborted: false,
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('adds environment variables from the host and from the call', async () => {
    const withBase = createLocalHost({ env: { BASE_VAR: 'base' } });
    const result = await withBase.run(['/bin/sh', '-c', 'printf "%s %s %s" "$BASE_VAR" "$CALL_VAR" "${PATH:+has-path}"'], {
      env: { CALL_VAR: 'call' },
    });
    expect(result.stdout).toBe('base call has-path');
  });

  it('gives barman and its hooks none of the BARMANAPI_* variables of this process', async () => {
    const printer = join(dir, 'print-env.sh');
    await writeFile(printer, '#!/bin/sh\nexec env\n', { mode: 0o755 });
    const planted = { BARMANAPI_X: 'leak-x', BARMANAPI_AUTHTOKEN_SECRET: 'leak-secret', barmanapi_lower: 'leak-lower' };
    Object.assign(process.env, planted);
    try {
      const result = await createLocalHost({ env: { BASE_VAR: 'base' } }).run([printer], { env: { CALL_VAR: 'call' } });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).not.toMatch(/barmanapi_/i);
      expect(result.stdout).not.toMatch(/leak-/);
      // Everything else is still inherited or added.
      expect(result.stdout).toMatch(/^PATH=/m);
      expect(result.stdout).toMatch(/^BASE_VAR=base$/m);
      expect(result.stdout).toMatch(/^CALL_VAR=call$/m);
    } finally {
      for (const name of Object.keys(planted)) delete process.env[name];
    }
  });

  it('refuses BARMANAPI_* variables handed to the host or to a run', () => {
    expect(() => host.run(['true'], { env: { BARMANAPI_AUTHTOKEN_SECRET: 'x' } })).toThrow(/BARMANAPI_AUTHTOKEN_SECRET/);
    expect(() => createLocalHost({ env: { BARMANAPI_X: 'x' } })).toThrow(/BARMANAPI_X/);
  });

  it('answers 127 with a clear message when the program does not exist', async () => {
    const result = await host.run(['/nonexistent/barman', 'list-server']);
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toBe('/nonexistent/barman: command not found\n');
  });

  it('answers 126 when the program is not executable', async () => {
    const file = join(dir, 'not-executable');
    await writeFile(file, 'echo hi\n', { mode: 0o644 });
    const result = await host.run([file]);
    expect(result.exitCode).toBe(126);
  });

  it('refuses an empty argv and NUL in a word', async () => {
    expect(() => host.run([])).toThrow(/argv/);
    expect(() => host.run(['echo', 'a\0b'])).toThrow(/NUL/);
  });

  it('on timeout kills the whole process group, grandchildren included', async () => {
    const pids = join(dir, 'pids-timeout');
    const result = await host.run(['/bin/sh', '-c', 'sleep 300 & echo "$$ $!" > "$1"; wait', 'sh', pids], {
      timeoutMs: 300,
    });
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true, aborted: false });
    const [shell, sleeper] = (await readFile(pids, 'utf8')).trim().split(' ').map(Number);
    expect(await waitUntil(async () => !(await isRunning(shell!)) && !(await isRunning(sleeper!)))).toBe(true);
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const pids = join(dir, 'pids-kill');
    const result = await host.run(
      ['/bin/sh', '-c', 'trap "" TERM; sleep 300 & echo "$!" > "$1"; wait; wait', 'sh', pids],
      { timeoutMs: 200 },
    );
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
    const sleeper = Number((await readFile(pids, 'utf8')).trim());
    expect(await waitUntil(async () => !(await isRunning(sleeper)))).toBe(true);
  });

  it('runs without a time limit when timeoutMs is 0, whatever the host default', async () => {
    const limited = createLocalHost({ defaultTimeoutMs: 300, killGraceMs: 300, exitDrainMs: 300 });
    // The default applies when the call sets nothing...
    expect(await limited.run(['sleep', '1'])).toMatchObject({ exitCode: null, timedOut: true });
    // ...and an explicit 0 (async jobs) overrides it.
    const result = await limited.run(['sleep', '1'], { timeoutMs: 0 });
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
    expect(result.durationMs).toBeGreaterThanOrEqual(900);
  });

  it('on abort kills the command and says so', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const result = await host.run(['sleep', '300'], { signal: controller.signal });
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', aborted: true, timedOut: false });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('does not start a command whose signal is already aborted', async () => {
    const marker = join(dir, 'should-not-exist');
    const result = await host.run(['touch', marker], { signal: AbortSignal.abort() });
    expect(result.aborted).toBe(true);
    await expect(stat(marker)).rejects.toThrow(/ENOENT/);
  });

  it('keeps at most maxOutputBytes per stream, flags the cut and keeps draining', async () => {
    // 2 MB through a 64 KB pipe: if reading stopped at the bound, the writer would block forever.
    const result = await host.run(['/bin/sh', '-c', 'yes 0123456789 | head -c 2000000; yes e | head -c 500 >&2'], {
      maxOutputBytes: 1000,
      timeoutMs: 10_000,
    });
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBe(1000);
    expect(result.stderr.length).toBe(500);
  });

  it('streams all output to onOutput, beyond the bound kept in the result', async () => {
    const seen = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const result = await host.run(['/bin/sh', '-c', 'yes 0123456789 | head -c 200000; echo oops >&2'], {
      maxOutputBytes: 100,
      onOutput: (stream, chunk) => seen[stream].push(Buffer.from(chunk)),
    });
    expect(result.stdout.length).toBe(100);
    expect(Buffer.concat(seen.stdout).length).toBe(200_000);
    expect(Buffer.concat(seen.stderr).toString()).toBe('oops\n');
  });

  it('lets the command finish, then rejects, when onOutput throws', async () => {
    const marker = join(dir, 'finished-despite-callback');
    const run = host.run(['/bin/sh', '-c', 'echo a; sleep 0.2; touch "$1"', 'sh', marker], {
      onOutput: () => {
        throw new Error('log disk full');
      },
    });
    await expect(run).rejects.toThrow('log disk full');
    expect((await stat(marker)).isFile()).toBe(true);
  });

  it('never cuts a UTF-8 character in half', async () => {
    const result = await host.run(['printf', '€€€'], { maxOutputBytes: 4 });
    expect(result.truncated).toBe(true);
    expect(result.stdout).toBe('€');
  });

  it('returns soon after exit even when a background child holds the pipes', async () => {
    const pids = join(dir, 'pids-bg');
    const started = Date.now();
    const result = await host.run(['/bin/sh', '-c', 'sleep 300 & echo "$!" > "$1"; echo done', 'sh', pids]);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result).toMatchObject({ exitCode: 0, stdout: 'done\n' });
    process.kill(Number((await readFile(pids, 'utf8')).trim()), 'SIGKILL');
  });
});

describe('createLocalHost() files', () => {
  const host = createLocalHost();

  it('reads, stats and lists; missing paths are null and []', async () => {
    const sub = join(dir, 'listing');
    await mkdir(sub);
    await writeFile(join(sub, 'b.conf'), 'b = 2\n');
    await writeFile(join(sub, 'a.conf'), 'a = 1\n', { mode: 0o640 });
    expect(await host.readFile(join(sub, 'a.conf'))).toBe('a = 1\n');
    expect(await host.listDir(sub)).toEqual(['a.conf', 'b.conf']);
    const info = await host.stat(join(sub, 'a.conf'));
    expect(info).toMatchObject({ size: 6, isDirectory: false, uid: process.getuid!() });
    expect(info!.mode & 0o777).toBe(0o640);
    expect((await host.stat(sub))!.isDirectory).toBe(true);
    expect(await host.readFile(join(sub, 'missing'))).toBeNull();
    expect(await host.stat(join(sub, 'missing'))).toBeNull();
    expect(await host.listDir(join(sub, 'missing'))).toEqual([]);
  });

  it('replaces a file atomically, keeping mode and owner', async () => {
    const sub = join(dir, 'replace');
    await mkdir(sub);
    const file = join(sub, 'barman.conf');
    await writeFile(file, 'old\n');
    await chmod(file, 0o640);
    await chown(file, 65534, 65534);
    const before = await stat(file);
    expect(await host.writeFile(file, 'new ✓\n')).toEqual({ mode: 'replaced' });
    const after = await stat(file);
    expect(await readFile(file, 'utf8')).toBe('new ✓\n');
    expect(after.ino).not.toBe(before.ino); // a new inode: it was renamed into place
    expect(after.mode & 0o7777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([65534, 65534]);
    expect(await readdir(sub)).toEqual(['barman.conf']); // no temp file left behind
  });

  it('creates a missing file with mode 0644', async () => {
    const file = join(dir, 'fresh.conf');
    expect(await host.writeFile(file, 'x\n')).toEqual({ mode: 'replaced' });
    expect((await stat(file)).mode & 0o777).toBe(0o644);
  });

  it('writes through a symlink to its target, leaving the link in place', async () => {
    const sub = join(dir, 'linked');
    await mkdir(sub);
    await writeFile(join(sub, 'real.conf'), 'old\n');
    await symlink('real.conf', join(sub, 'link.conf'));
    await host.writeFile(join(sub, 'link.conf'), 'new\n');
    expect(await readFile(join(sub, 'real.conf'), 'utf8')).toBe('new\n');
    expect(await readlink(join(sub, 'link.conf'))).toBe('real.conf');
  });

  it('serialises concurrent writes to one file: one whole version wins, no temp files', async () => {
    const sub = join(dir, 'concurrent');
    await mkdir(sub);
    const file = join(sub, 'c.conf');
    const versions = Array.from({ length: 20 }, (_, i) => `version ${i}\n`.repeat(1000));
    const results = await Promise.all(versions.map((v) => host.writeFile(file, v)));
    expect(results.every((r) => r.mode === 'replaced')).toBe(true);
    expect(versions).toContain(await readFile(file, 'utf8'));
    expect(await readdir(sub)).toEqual(['c.conf']);
  });

  it('refuses to write over a directory', async () => {
    await expect(host.writeFile(dir, 'x')).rejects.toThrow(/is a directory/);
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

/**
 * Root ignores directory permissions, so the fallback is exercised by dropping the effective
 * uid to nobody for the duration of one write (seteuid is reversible while the real uid is root).
 */
const canDropPrivileges = typeof process.seteuid === 'function' && process.getuid?.() === 0;

async function asNobody<T>(fn: () => Promise<T>): Promise<T> {
  process.setegid!(65534);
  process.seteuid!(65534);
  try {
    return await fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
}

describe.skipIf(!canDropPrivileges)('in-place fallback (as user nobody)', () => {
  it('rewrites in place when the directory refuses a temp file but the file is writable', async () => {
    const sub = join(dir, 'readonly-dir');
    await mkdir(sub, { mode: 0o755 }); // root's, not writable by nobody
    const file = join(sub, 'barman.conf');
    await writeFile(file, 'old content that is longer than the new one\n', { mode: 0o600 });
    await chown(file, 65534, 65534);
    const before = await stat(file);
    const host = createLocalHost();
    const result = await asNobody(() => host.writeFile(file, 'new\n'));
    expect(result).toEqual({ mode: 'in-place' });
    const after = await stat(file);
    expect(after.ino).toBe(before.ino);
    expect(after.mode & 0o7777).toBe(0o600);
    expect(after.uid).toBe(65534);
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readdir(sub)).toEqual(['barman.conf']);
  });

  it('rewrites in place rather than change the owner it cannot give back', async () => {
    const sub = join(dir, 'shared-dir');
    await mkdir(sub);
    await chmod(sub, 0o777); // nobody may create the temp file here...
    const file = join(sub, 'barman.conf');
    await writeFile(file, 'old\n');
    await chmod(file, 0o666); // ...and write the file, but it stays root's
    const before = await stat(file);
    const result = await asNobody(() => createLocalHost().writeFile(file, 'new\n'));
    expect(result).toEqual({ mode: 'in-place' });
    const after = await stat(file);
    expect([after.ino, after.uid, after.mode & 0o7777]).toEqual([before.ino, 0, 0o666]);
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readdir(sub)).toEqual(['barman.conf']);
  });

  it('fails with EACCES when the file is not writable either', async () => {
    const sub = join(dir, 'locked-dir');
    await mkdir(sub, { mode: 0o755 });
    const file = join(sub, 'barman.conf');
    await writeFile(file, 'old\n', { mode: 0o644 });
    await expect(asNobody(() => createLocalHost().writeFile(file, 'new\n'))).rejects.toThrow(/EACCES/);
    expect(await readFile(file, 'utf8')).toBe('old\n');
  });
});

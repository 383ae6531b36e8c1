/**
 * What every BarmanHost adapter does (src/ports.ts): its files (read, stat, list, atomic replace,
 * typed failures) and its commands (argv, result, environment, bounds, stops). Written once, run
 * against each adapter by barman-host.test.ts (in memory) and barman-host.node.test.ts (this
 * machine and SSH).
 *
 * What an adapter cannot do is declared by its entry (HostCapabilities), never skipped silently.
 */
import { chown, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HostError, HostFileError, type BarmanHost, type HostFileErrorKind } from '../../src/ports.js';
import { HOSTILE_WORDS } from '../support/hostile.js';
import { isRunning, waitUntil } from '../support/process.js';

export interface HostCapabilities {
  /**
   * Runs real programs on this machine (a shell, sleep, printf …), whose files and processes the
   * test can see. False for the scripted host, whose commands are answered by a function: there
   * only what the host itself does with a call (argv, refusals, close) is checked.
   */
  processes: boolean;
  /**
   * Files live on this machine's file system, with a mode, an owner, an inode and symbolic
   * links, which the test reads and sets with node:fs. False for the scripted host, whose files
   * are strings in a map (stat gives a fixed mode 0644 and owner 0).
   */
  posixFiles: boolean;
  /** The host offers lockFile (the port lets a host no other process writes through leave it out). */
  lock: boolean;
  /**
   * The suite can act as an ordinary (non-root) user on the host (HostUnderTest.ordinary), to
   * meet permissions. False where it cannot (not root here, no such user) and for the scripted
   * host, which has no users.
   */
  ordinaryUser: boolean;
}

/** The host's files as the test arranges and checks them, behind the adapter's back. */
export interface HostFiles {
  /** A new, empty folder (absolute path as the host names it) that any user may write in. */
  folder(name: string): Promise<string>;
  /** A folder only its owner (root, where the suite runs as root) may write in: mode 0755. */
  mkdir(path: string): Promise<void>;
  put(path: string, content: string, mode?: number): Promise<void>;
  read(path: string): Promise<string | null>;
  list(dir: string): Promise<string[]>;
}

/** A program that keeps the exact argv words it was given. */
export interface Recorder {
  argv: string[];
  env: Record<string, string>;
  /** The words it received, each followed by a NUL; null when it did not run. */
  received(): Promise<Uint8Array | null>;
}

export interface HostUnderTest {
  /** A new host; the suite closes it. */
  host(options?: { defaultTimeoutMs?: number }): BarmanHost;
  /**
   * A host whose commands a signal reaches, for timeouts and aborts; host() where every host's
   * can (sshd refuses signal requests in root's sessions: there, an ordinary user's host).
   */
  stoppableHost(): BarmanHost;
  files: HostFiles;
  recorder(folder: string): Promise<Recorder>;
  /** With posixFiles: an owner other than the host's user that the host may give files to, or null. */
  otherOwner: { uid: number; gid: number } | null;
  /** With ordinaryUser: the host acting as that user; null elsewhere. */
  ordinary: { uid: number; gid: number; with<T>(fn: (host: BarmanHost) => Promise<T>): Promise<T> } | null;
  close(): Promise<void>;
}

/** A call that may throw before it returns its promise, as one promise. */
function attempt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`);
    },
    (err: unknown) => err,
  );
}

async function fileError(p: Promise<unknown>, kind: HostFileErrorKind, path: string): Promise<void> {
  const err = await rejection(p);
  expect(err, String(err)).toBeInstanceOf(HostFileError);
  expect((err as HostFileError).kind, (err as Error).message).toBe(kind);
  expect((err as HostFileError).path).toBe(path);
}

const hex = (words: readonly string[]) => Buffer.concat(words.map((w) => Buffer.from(`${w}\0`))).toString('hex');

export function barmanHostContract(name: string, capabilities: HostCapabilities, setup: () => Promise<HostUnderTest>): void {
  const { processes, posixFiles, lock, ordinaryUser } = capabilities;

  describe(`BarmanHost contract: ${name}`, () => {
    let t: HostUnderTest;
    let files: HostFiles;
    const opened: BarmanHost[] = [];
    const host = (options?: { defaultTimeoutMs?: number }) => {
      const h = t.host(options);
      opened.push(h);
      return h;
    };
    const stoppable = () => {
      const h = t.stoppableHost();
      opened.push(h);
      return h;
    };
    beforeAll(async () => {
      t = await setup();
      files = t.files;
      expect(t.ordinary !== null).toBe(ordinaryUser);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((h) => h.close()));
    });
    afterAll(async () => {
      await t?.close();
    });

    describe('files', () => {
      it('reads, stats and lists; a missing file or folder is null, null and []', async () => {
        const dir = await files.folder('listing');
        await files.put(join(dir, 'b.conf'), 'b = 2\n');
        await files.put(join(dir, 'a.conf'), 'a = ✓\n', 0o640);
        await files.mkdir(join(dir, 'conf.d'));
        const h = host();
        expect(await h.readFile(join(dir, 'a.conf'))).toBe('a = ✓\n');
        expect([...(await h.listDir(dir))].sort()).toEqual(['a.conf', 'b.conf', 'conf.d']);
        const info = await h.stat(join(dir, 'a.conf'));
        expect(info).toMatchObject({ size: 8, isDirectory: false }); // bytes, not characters
        expect((await h.stat(dir))?.isDirectory).toBe(true);
        expect((await h.stat(join(dir, 'conf.d')))?.isDirectory).toBe(true);
        expect(await h.listDir(join(dir, 'conf.d'))).toEqual([]);
        expect(await h.readFile(join(dir, 'missing'))).toBeNull();
        expect(await h.stat(join(dir, 'missing'))).toBeNull();
        expect(await h.listDir(join(dir, 'missing'))).toEqual([]);
        if (posixFiles) {
          const real = await stat(join(dir, 'a.conf'));
          expect(info!.mode & 0o7777).toBe(0o640);
          expect([info!.uid, info!.gid]).toEqual([real.uid, real.gid]);
          expect(Math.abs(info!.mtimeMs - real.mtimeMs)).toBeLessThan(1_000); // SFTP has whole seconds
        }
      });

      it('writes a new file and replaces an old one whole, leaving nothing else in the folder', async () => {
        const dir = await files.folder('write');
        const file = join(dir, 'barman.conf');
        const h = host();
        expect(await h.writeFile(file, 'a longer first version ✓\n')).toEqual({ mode: 'replaced' });
        expect(await files.read(file)).toBe('a longer first version ✓\n');
        expect(await h.writeFile(file, 'new\n')).toEqual({ mode: 'replaced' });
        expect(await files.read(file)).toBe('new\n');
        expect(await h.readFile(file)).toBe('new\n');
        expect(await files.list(dir)).toEqual(['barman.conf']); // no temp file left behind
      });

      it('serialises concurrent writes to one file: one whole version wins, no temp files', async () => {
        const dir = await files.folder('concurrent');
        const file = join(dir, 'c.conf');
        const h = host();
        const versions = Array.from({ length: 10 }, (_, i) => `version ${i}\n`.repeat(5_000));
        const results = await Promise.all(versions.map((v) => h.writeFile(file, v)));
        expect(results.every((r) => r.mode === 'replaced')).toBe(true);
        expect(versions).toContain(await files.read(file));
        expect(await files.list(dir)).toEqual(['c.conf']);
      });

      it.runIf(posixFiles)('replaces a file atomically (a new inode renamed into place), keeping its mode and owner', async () => {
        const dir = await files.folder('replace');
        const file = join(dir, 'barman.conf');
        await files.put(file, 'old\n', 0o640);
        if (t.otherOwner) await chown(file, t.otherOwner.uid, t.otherOwner.gid);
        const before = await stat(file);
        expect(await host().writeFile(file, 'new ✓\n')).toEqual({ mode: 'replaced' });
        const after = await stat(file);
        expect(await readFile(file, 'utf8')).toBe('new ✓\n');
        expect(after.ino).not.toBe(before.ino);
        expect(after.mode & 0o7777).toBe(0o640);
        expect([after.uid, after.gid]).toEqual([before.uid, before.gid]);
        expect(await files.list(dir)).toEqual(['barman.conf']);
      });

      it.runIf(posixFiles)('gives a new file mode 0644, or the mode and owner of `like`', async () => {
        const dir = await files.folder('create');
        const h = host();
        await h.writeFile(join(dir, 'fresh.conf'), 'x\n');
        expect((await stat(join(dir, 'fresh.conf'))).mode & 0o7777).toBe(0o644);
        const owner = t.otherOwner ?? { uid: process.getuid!(), gid: process.getgid!() };
        await h.writeFile(join(dir, 'like.conf'), 'y\n', { ...owner, mode: 0o600 });
        const made = await stat(join(dir, 'like.conf'));
        expect([made.mode & 0o7777, made.uid, made.gid]).toEqual([0o600, owner.uid, owner.gid]);
      });

      it.runIf(posixFiles)('writes through a symbolic link to its target, leaving the link in place', async () => {
        const dir = await files.folder('linked');
        await files.put(join(dir, 'real.conf'), 'old\n');
        await symlink('real.conf', join(dir, 'link.conf'));
        await host().writeFile(join(dir, 'link.conf'), 'through the link\n');
        expect(await readFile(join(dir, 'real.conf'), 'utf8')).toBe('through the link\n');
        expect(await readlink(join(dir, 'link.conf'))).toBe('real.conf');
        expect(await files.list(dir)).toEqual(['link.conf', 'real.conf']);
      });

      describe('failures are HostFileErrors of the right kind', () => {
        it("a write into a folder that does not exist: 'missing', and nothing is made", async () => {
          const dir = await files.folder('no-folder');
          const file = join(dir, 'absent', 'new.conf');
          await fileError(host().writeFile(file, 'x\n'), 'missing', file);
          expect(await files.list(dir)).toEqual([]);
        });

        it("a write onto a directory: 'not-a-file', and the directory stays", async () => {
          const dir = await files.folder('onto-dir');
          await files.mkdir(join(dir, 'pg.conf'));
          await files.put(join(dir, 'pg.conf', 'inside'), 'kept\n');
          await fileError(host().writeFile(join(dir, 'pg.conf'), 'x\n'), 'not-a-file', join(dir, 'pg.conf'));
          expect(await files.read(join(dir, 'pg.conf', 'inside'))).toBe('kept\n');
          expect(await files.list(dir)).toEqual(['pg.conf']);
        });

        it("reading a directory: 'not-a-file'", async () => {
          const dir = await files.folder('read-dir');
          await files.mkdir(join(dir, 'conf.d'));
          await fileError(host().readFile(join(dir, 'conf.d')), 'not-a-file', join(dir, 'conf.d'));
        });

        it.runIf(ordinaryUser)("as an ordinary user, a file it may not read or write: 'permission', the file unchanged", async () => {
          const dir = await files.folder('permission');
          const locked = join(dir, 'locked');
          await files.mkdir(locked); // root's, 0755: no temp file of the user's beside the file
          await files.put(join(locked, 'secret.conf'), 'root only\n', 0o600);
          await files.put(join(locked, 'barman.conf'), 'old\n', 0o644);
          const ordinary = t.ordinary!;
          const [read, write] = await ordinary.with(async (h) => [
            await rejection(h.readFile(join(locked, 'secret.conf'))),
            await rejection(h.writeFile(join(locked, 'barman.conf'), 'new\n')),
          ]);
          for (const [err, path] of [[read, 'secret.conf'], [write, 'barman.conf']] as const) {
            expect(err, String(err)).toBeInstanceOf(HostFileError);
            expect((err as HostFileError).kind, (err as Error).message).toBe('permission');
            expect((err as HostFileError).path).toBe(join(locked, path));
          }
          expect(await files.read(join(locked, 'barman.conf'))).toBe('old\n');
          expect(await files.list(locked)).toEqual(['barman.conf', 'secret.conf']);
        });
      });

      describe.runIf(ordinaryUser)('as an ordinary user, a file it may write in a folder where it may not make a temp file', () => {
        it("is rewritten in place, keeping inode, owner and mode, and the result says 'in-place'", async () => {
          const locked = join(await files.folder('in-place'), 'locked');
          await files.mkdir(locked); // root's, 0755
          const file = join(locked, 'barman.conf');
          await files.put(file, 'old content that is longer than the new one\n', 0o600);
          const { uid, gid } = t.ordinary!;
          await chown(file, uid, gid);
          const before = await stat(file);
          expect(await t.ordinary!.with((h) => h.writeFile(file, 'new\n'))).toEqual({ mode: 'in-place' });
          const after = await stat(file);
          expect([after.ino, after.uid, after.mode & 0o7777]).toEqual([before.ino, uid, 0o600]);
          expect(await files.read(file)).toBe('new\n');
          expect(await files.list(locked)).toEqual(['barman.conf']);
        });

        it('is rewritten in place rather than replaced by a file of the user, whose owner root could not be given back', async () => {
          const dir = await files.folder('shared'); // anyone may make a temp file here...
          const file = join(dir, 'barman.conf');
          await files.put(file, 'old\n', 0o666); // ...and write the file, but it stays root's
          const before = await stat(file);
          expect(await t.ordinary!.with((h) => h.writeFile(file, 'new\n'))).toEqual({ mode: 'in-place' });
          const after = await stat(file);
          expect([after.ino, after.uid, after.mode & 0o7777]).toEqual([before.ino, before.uid, 0o666]);
          expect(await files.read(file)).toBe('new\n');
          expect(await files.list(dir)).toEqual(['barman.conf']);
        });
      });

      describe('stampTrees', () => {
        it('stamps every root and entry down to maxDepth, leaves skipped names out, and a missing root as -', async () => {
          const dir = await files.folder('stamps');
          for (const sub of ['base', 'base/b1', 'base/b1/data', 'base/b1/annotations', 'wals', 'wals/0000000100000000']) await files.mkdir(join(dir, sub));
          await files.put(join(dir, 'base', 'b1', 'backup.info'), 'status=DONE\n');
          await files.put(join(dir, 'base', 'b1', 'data', 'PG_VERSION'), '15\n');
          await files.put(join(dir, 'base', 'b1', 'annotations', 'keep'), 'full');
          await files.put(join(dir, 'wals', '0000000100000000', '000000010000000000000001'), 'x');
          await files.put(join(dir, 'xlog.db'), 'w\n');
          const h = host();
          const missing = join(dir, 'nothing-here');
          const { entries, takenMs } = await h.stampTrees!([dir, join(dir, 'xlog.db'), missing, dir], { maxDepth: 4, skip: ['data', 'wals'] });
          const below = [...entries.keys()].filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1)).sort();
          expect(below).toEqual(['base', 'base/b1', 'base/b1/annotations', 'base/b1/annotations/keep', 'base/b1/backup.info', 'nothing-here', 'xlog.db']);
          expect(entries.get(missing)!.stamp).toBe('-');
          expect(entries.get(dir)!.stamp).not.toBe('-');
          expect(Math.abs(takenMs - Date.now())).toBeLessThan(60_000);
          const shallow = await h.stampTrees!([dir], { maxDepth: 1, skip: [] });
          expect([...shallow.entries.keys()].map((p) => p.slice(dir.length)).sort()).toEqual(['', '/base', '/wals', '/xlog.db']);
        });

        it('gives a new stamp for every change: a replaced file of the same size, a new or removed entry, an in-place rewrite', async () => {
          const dir = await files.folder('restamp');
          const file = join(dir, 'backup.info');
          await files.put(file, 'status=STARTED\n');
          const h = host();
          const stampOf = async (path: string) => (await h.stampTrees!([dir], { maxDepth: 2, skip: [] })).entries.get(path)?.stamp;
          const seen = [await stampOf(file)];
          // Two changes well within one second, each keeping the size: whole-second times could not tell them apart.
          await h.writeFile(file, 'status=FAILED!\n');
          seen.push(await stampOf(file));
          await h.writeFile(file, 'status=DONE!!!\n');
          seen.push(await stampOf(file));
          expect(new Set(seen).size).toBe(3);
          const folderBefore = await stampOf(dir);
          await files.put(join(dir, 'new-entry'), '');
          expect(await stampOf(dir)).not.toBe(folderBefore);
          if (posixFiles) {
            // In place (same inode, same size) after a few milliseconds: the nanosecond times see it.
            await new Promise((r) => setTimeout(r, 20));
            const before = await stampOf(file);
            await writeFile(file, 'status=WAITED!\n');
            expect(await stampOf(file)).not.toBe(before);
            const { entries, takenMs } = await h.stampTrees!([file], { maxDepth: 0, skip: [] });
            expect(Math.abs(takenMs - entries.get(file)!.changedMs)).toBeLessThan(5_000);
          }
        });

        it.runIf(posixFiles)('follows symbolic links below a root: a change where a link leads is seen', async () => {
          const dir = await files.folder('stamp-links');
          const elsewhere = await files.folder('stamp-link-target');
          await files.mkdir(join(elsewhere, 'b1'));
          await files.put(join(elsewhere, 'b1', 'backup.info'), 'status=STARTED\n');
          await symlink(elsewhere, join(dir, 'base'));
          const h = host();
          const info = join(dir, 'base', 'b1', 'backup.info');
          const before = (await h.stampTrees!([dir], { maxDepth: 3, skip: [] })).entries.get(info)?.stamp;
          expect(before).toBeDefined();
          await new Promise((r) => setTimeout(r, 20));
          await writeFile(join(elsewhere, 'b1', 'backup.info'), 'status=FAILED!\n');
          expect((await h.stampTrees!([dir], { maxDepth: 3, skip: [] })).entries.get(info)?.stamp).not.toBe(before);
        });

        it.runIf(posixFiles)('stamps a link that leads into itself as a link, without failing the rest', async () => {
          const dir = await files.folder('stamp-loop');
          await files.put(join(dir, 'a'), 'x');
          await symlink(join(dir, 'self'), join(dir, 'self'));
          const h = host();
          const stamps = await h.stampTrees!([dir], { maxDepth: 2, skip: [] }).catch((e: unknown) => e);
          // Local: the loop is stamped as a link; SSH (find -L): the pass fails as a whole, which the cache treats as "run barman".
          if (stamps instanceof Error) expect(stamps).toBeInstanceOf(HostFileError);
          else expect((stamps as { entries: Map<string, unknown> }).entries.get(join(dir, 'a'))).toBeDefined();
        });

        it('refuses roots that are not absolute paths and skip names that are not names, stamping nothing', async () => {
          const h = host();
          for (const [roots, skip] of [[['relative/path'], []], [['-delete'], []], [['/tmp'], ['tmp']], [['/tmp'], ['a/b']], [['/tmp'], ['-o']]] as const) {
            await expect(attempt(() => h.stampTrees!(roots, { maxDepth: 1, skip }))).rejects.toThrow(TypeError);
          }
        });
      });

      it('offers lockFile exactly where the adapter says it does', () => {
        const h = host();
        expect(typeof h.lockFile === 'function').toBe(lock);
      });

      it.runIf(lock)('lockFile: a second holder waits until the first releases', async () => {
        const dir = await files.folder('lock');
        const file = join(dir, 'barman.conf');
        await files.put(file, 'x\n');
        const a = host();
        const b = host();
        const release = await a.lockFile!(file);
        let second: (() => Promise<void>) | null = null;
        const waiting = b.lockFile!(file).then((r) => (second = r));
        await new Promise((r) => setTimeout(r, 500));
        expect(second).toBeNull();
        await release();
        await waiting;
        expect(second).not.toBeNull();
        await second!();
        await (await a.lockFile!(file))();
      });
    });

    describe('commands', () => {
      it('delivers every argv word byte for byte, nothing interpreted by a shell', async () => {
        const rec = await t.recorder(await files.folder('argv'));
        const result = await host().run([...rec.argv, ...HOSTILE_WORDS], { env: rec.env });
        expect(result.exitCode).toBe(0);
        // Each word followed by NUL, as hex: a wrong byte shows exactly where.
        expect(Buffer.from((await rec.received()) ?? []).toString('hex')).toBe(hex(HOSTILE_WORDS));
      });

      it('refuses an empty argv and a NUL in a word, running nothing', async () => {
        const rec = await t.recorder(await files.folder('argv-refused'));
        const h = host();
        expect(await rejection(attempt(() => h.run([])))).toBeInstanceOf(TypeError);
        expect(await rejection(attempt(() => h.run([''])))).toBeInstanceOf(TypeError);
        const nul = await rejection(attempt(() => h.run([...rec.argv, 'a\0b'], { env: rec.env })));
        expect(nul).toBeInstanceOf(TypeError);
        expect(String(nul)).toMatch(/NUL/);
        expect(await rec.received()).toBeNull();
      });

      it('refuses BARMANAPI_* variables in a call, in any case, running nothing', async () => {
        const rec = await t.recorder(await files.folder('env-refused'));
        const h = host();
        for (const variable of ['BARMANAPI_AUTHTOKEN_SECRET', 'barmanapi_x']) {
          const err = await rejection(attempt(() => h.run(rec.argv, { env: { ...rec.env, [variable]: 'leak-secret' } })));
          expect(err).toBeInstanceOf(TypeError);
          expect(String(err)).toContain(variable);
          expect(String(err)).not.toContain('leak-secret');
        }
        expect(await rec.received()).toBeNull();
      });

      it.runIf(processes)('reports exit code, stdout and stderr, and passes env values verbatim', async () => {
        const result = await host().run(['/bin/sh', '-c', 'echo "$GREETING"; echo err >&2; exit 7'], {
          env: { GREETING: "it's $(not) run `either` ${HOME}" },
        });
        expect(result).toMatchObject({
          exitCode: 7,
          signal: null,
          stdout: "it's $(not) run `either` ${HOME}\n",
          stderr: 'err\n',
          truncated: false,
          timedOut: false,
          aborted: false,
        });
        expect(result.durationMs).toBeGreaterThanOrEqual(0);
      });

      it.runIf(processes)('gives each of many quick commands started at once on a new host its own exit code and output', async () => {
        // Over SSH, a quick command's end may arrive with its channel, before anyone listens.
        const h = host();
        const results = await Promise.all(Array.from({ length: 12 }, (_, i) => h.run(['/bin/sh', '-c', 'printf "%s" "$0"; exit "$1"', `run ${i}`, String(i % 4)])));
        expect(results.map((r) => [r.stdout, r.exitCode])).toEqual(Array.from({ length: 12 }, (_, i) => [`run ${i}`, i % 4]));
      });

      it.runIf(processes)("gives commands none of this process's BARMANAPI_* variables", async () => {
        const dir = await files.folder('env');
        await files.put(join(dir, 'print-env.sh'), '#!/bin/sh\nexec env\n', 0o755);
        const planted = { BARMANAPI_X: 'leak-x', BARMANAPI_AUTHTOKEN_SECRET: 'leak-secret', barmanapi_lower: 'leak-lower' };
        Object.assign(process.env, planted);
        try {
          const result = await host().run([join(dir, 'print-env.sh')], { env: { CALL_VAR: 'call' } });
          expect(result.exitCode).toBe(0);
          expect(result.stdout).not.toMatch(/barmanapi_|leak-/i);
          expect(result.stdout).toMatch(/^CALL_VAR=call$/m);
          expect(result.stdout).toMatch(/^PATH=/m);
        } finally {
          for (const variable of Object.keys(planted)) delete process.env[variable];
        }
      });

      it.runIf(processes)('gives commands /dev/null as stdin', async () => {
        const result = await host().run(['cat'], { timeoutMs: 5_000 });
        expect(result).toMatchObject({ exitCode: 0, stdout: '', timedOut: false });
      });

      it.runIf(processes)('answers 127, naming the program, when it does not exist, and 126 when it cannot be run', async () => {
        const h = host();
        const missing = await h.run(['/nonexistent/barman', 'list-server']);
        expect(missing.exitCode).toBe(127);
        expect(missing.stderr).toContain('/nonexistent/barman');
        const dir = await files.folder('not-executable');
        await files.put(join(dir, 'barman'), 'echo hi\n', 0o644);
        expect((await h.run([join(dir, 'barman')])).exitCode).toBe(126);
      });

      it.runIf(processes)('on timeout stops the whole process group, background children included', async () => {
        const pids = join(await files.folder('timeout'), 'pids');
        const result = await stoppable().run(['/bin/sh', '-c', 'sleep 300 & echo "$$ $!" > "$1"; wait', 'sh', pids], { timeoutMs: 500 });
        expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true, aborted: false });
        const [shell, sleeper] = (await files.read(pids))!.trim().split(' ').map(Number);
        expect(await waitUntil(async () => !(await isRunning(shell!)) && !(await isRunning(sleeper!)))).toBe(true);
      });

      it.runIf(processes)('escalates to KILL when the group ignores TERM', async () => {
        const pids = join(await files.folder('kill'), 'pids');
        const result = await stoppable().run(['/bin/sh', '-c', 'trap "" TERM; sleep 300 & echo "$!" > "$1"; wait; wait', 'sh', pids], {
          timeoutMs: 300,
        });
        expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
        const sleeper = Number((await files.read(pids))!.trim());
        expect(await waitUntil(async () => !(await isRunning(sleeper)))).toBe(true);
      });

      it.runIf(processes)('runs without a time limit when timeoutMs is 0, whatever the host default', async () => {
        const h = host({ defaultTimeoutMs: 300 });
        // The default applies when the call sets nothing...
        expect(await h.run(['sleep', '1'])).toMatchObject({ exitCode: null, timedOut: true });
        // ...and an explicit 0 (async jobs) overrides it.
        const result = await h.run(['sleep', '1'], { timeoutMs: 0 });
        expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
        expect(result.durationMs).toBeGreaterThanOrEqual(900);
      });

      it.runIf(processes)('on abort stops the command and says so', async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 300);
        const started = Date.now();
        const result = await stoppable().run(['sleep', '300'], { signal: controller.signal });
        expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', aborted: true, timedOut: false });
        expect(Date.now() - started).toBeLessThan(5_000);
      });

      it.runIf(processes)('does not start a command whose signal is already aborted', async () => {
        const marker = join(await files.folder('pre-aborted'), 'should-not-exist');
        const result = await host().run(['touch', marker], { signal: AbortSignal.abort() });
        expect(result).toMatchObject({ aborted: true, exitCode: null, stdout: '' });
        expect(await files.read(marker)).toBeNull();
      });

      it.runIf(processes)('keeps at most maxOutputBytes per stream, says so, and keeps draining', async () => {
        // 2 MB through a 64 KB pipe: if reading stopped at the bound, the writer would block forever.
        const result = await host().run(['/bin/sh', '-c', 'yes 0123456789 | head -c 2000000; yes e | head -c 500 >&2'], {
          maxOutputBytes: 1000,
          timeoutMs: 20_000,
        });
        expect(result).toMatchObject({ exitCode: 0, truncated: true, timedOut: false });
        expect(result.stdout).toBe('0123456789\n'.repeat(91).slice(0, 1000));
        expect(result.stderr).toBe('e\n'.repeat(250));
      });

      it.runIf(processes)('never cuts a UTF-8 character in half at the bound', async () => {
        const result = await host().run(['printf', '€€€'], { maxOutputBytes: 4 });
        expect(result).toMatchObject({ truncated: true, stdout: '€' });
      });

      it.runIf(processes)('streams all output to onOutput, beyond the bound kept in the result', async () => {
        const seen = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
        const result = await host().run(['/bin/sh', '-c', 'yes 0123456789 | head -c 200000; echo oops >&2'], {
          maxOutputBytes: 100,
          onOutput: (stream, chunk) => seen[stream].push(Buffer.from(chunk)),
        });
        expect(result.stdout.length).toBe(100);
        expect(Buffer.concat(seen.stdout).toString()).toBe('0123456789\n'.repeat(18_182).slice(0, 200_000));
        expect(Buffer.concat(seen.stderr).toString()).toBe('oops\n');
      });

      it.runIf(processes)('lets the command finish, then rejects with the error of an onOutput that throws', async () => {
        const marker = join(await files.folder('callback'), 'finished');
        const run = host().run(['/bin/sh', '-c', 'echo a; sleep 0.2; echo done > "$1"', 'sh', marker], {
          onOutput: () => {
            throw new Error('log disk full');
          },
        });
        await expect(run).rejects.toThrow('log disk full');
        expect(await files.read(marker)).toBe('done\n');
      });

      it.runIf(processes)('returns soon after the command exits, even when a background child holds its output', async () => {
        const pids = join(await files.folder('background'), 'pids');
        const started = Date.now();
        const result = await host().run(['/bin/sh', '-c', 'sleep 300 & echo "$!" > "$1"; echo done', 'sh', pids]);
        try {
          expect(Date.now() - started).toBeLessThan(3_000);
          expect(result).toMatchObject({ exitCode: 0, stdout: 'done\n' });
        } finally {
          process.kill(Number((await files.read(pids))!.trim()), 'SIGKILL');
        }
      });
    });

    it('refuses every call after close()', async () => {
      const dir = await files.folder('closed');
      await files.put(join(dir, 'a.conf'), 'a\n');
      const rec = await t.recorder(dir);
      const h = host();
      expect(await h.readFile(join(dir, 'a.conf'))).toBe('a\n');
      await h.close();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['run', () => h.run(rec.argv, { env: rec.env })],
        ['readFile', () => h.readFile(join(dir, 'a.conf'))],
        ['writeFile', () => h.writeFile(join(dir, 'a.conf'), 'after close\n')],
        ['stat', () => h.stat(join(dir, 'a.conf'))],
        ['listDir', () => h.listDir(dir)],
      ];
      for (const [what, call] of calls) {
        const err = await rejection(attempt(call));
        expect(err, what).toBeInstanceOf(HostError);
        expect((err as HostError).kind, what).toBe('closed');
      }
      expect(await rec.received()).toBeNull();
      expect(await files.read(join(dir, 'a.conf'))).toBe('a\n');
    });
  });

}

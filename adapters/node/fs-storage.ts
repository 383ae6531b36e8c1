import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Storage, TextFile } from '../../src/ports.js';
import { checkStorePath } from '../../src/util/store-path.js';
import { createFileExclusive, replaceFile, type ReplaceOptions } from './atomic-write.js';
import { storeWriteError, textFileError } from './store-errors.js';
import { lockFile } from './file-lock.js';

/**
 * The store directory on the local file system (default /var/lib/barmanapi). A write the machine
 * refuses (read-only, permissions, full disk) is a 503 naming the folder and the fix.
 */
export function createFsStorage(root: string): Storage {
  const abs = (p: string) => join(root, checkStorePath(p));
  const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';
  const storage = fsStorage(abs, missing);
  const guarded = <K extends keyof Storage>(name: K) =>
    (async (...args: unknown[]) => {
      try {
        return await (storage[name] as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        throw storeWriteError(err, abs(String(args[name === 'rename' ? 1 : 0])));
      }
    }) as Storage[K];
  return {
    ...storage,
    writeAtomic: guarded('writeAtomic'),
    append: guarded('append'),
    rename: guarded('rename'),
    remove: guarded('remove'),
    mkdir: guarded('mkdir'),
    createExclusive: guarded('createExclusive'),
    writeStreamAtomic: guarded('writeStreamAtomic'),
  };
}

/** Store files are the service's own: 0600 in 0700 folders. */
const STORE_FILE: ReplaceOptions = { newMode: 0o600, makeFolders: true };

function fsStorage(abs: (p: string) => string, missing: (e: unknown) => boolean): Storage {
  return {
    async readText(p) {
      return readFile(abs(p), 'utf8').catch((e) => (missing(e) ? null : Promise.reject(e)));
    },
    async readBytes(p) {
      const b = await readFile(abs(p)).catch((e) => (missing(e) ? null : Promise.reject(e)));
      return b === null ? null : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    async writeAtomic(p, data) {
      await replaceFile(abs(p), data, STORE_FILE);
    },
    async append(p, data) {
      await mkdir(dirname(abs(p)), { recursive: true });
      await appendFile(abs(p), data, { mode: 0o600 });
    },
    async list(dir) {
      return (await readdir(abs(dir)).catch((e) => (missing(e) ? [] : Promise.reject(e)))).sort();
    },
    async stat(p) {
      const s = await stat(abs(p)).catch((e) => (missing(e) ? null : Promise.reject(e)));
      return s && { size: s.size, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory() };
    },
    async rename(from, to) {
      await mkdir(dirname(abs(to)), { recursive: true });
      await rename(abs(from), abs(to));
    },
    async remove(p) {
      await rm(abs(p), { recursive: true, force: true });
    },
    async mkdir(p) {
      await mkdir(abs(p), { recursive: true, mode: 0o700 });
    },
    async createExclusive(p, data) {
      return createFileExclusive(abs(p), data, 0o600);
    },
    async writeStreamAtomic(p, stream) {
      await replaceFile(abs(p), stream as unknown as AsyncIterable<Uint8Array>, STORE_FILE);
    },
    async openRead(p, start = 0) {
      const s = await stat(abs(p)).catch(() => null);
      if (!s) return null;
      return Readable.toWeb(createReadStream(abs(p), { start })) as unknown as ReadableStream<Uint8Array>;
    },
  };
}

/** A config file on the local file system, replaced atomically with its owner and mode kept. */
export function createFsTextFile(path: string, mode = 0o600): TextFile {
  return {
    path,
    async read() {
      return readFile(path, 'utf8').catch((e) => ((e as NodeJS.ErrnoException).code === 'ENOENT' ? null : Promise.reject(textFileError(e, path, 'read'))));
    },
    async write(text) {
      await replaceFile(path, text, { newMode: mode, makeFolders: true }).catch((e) => Promise.reject(textFileError(e, path, 'write')));
    },
    async revision() {
      const s = await stat(path).catch(() => null);
      return s ? `${s.mtimeMs}:${s.size}:${s.ino}` : null;
    },
    lock: () => lockFile(path).catch((e) => Promise.reject(textFileError(e, path, 'write'))),
  };
}

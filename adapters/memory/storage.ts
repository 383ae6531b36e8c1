import type { Storage, TextFile } from '../../src/ports.js';
import { checkStorePath } from '../../src/util/store-path.js';
import { concatBytes, readAllBytes } from '../../src/util/bytes.js';

/** The store in memory: for tests, embedding and ephemeral use. */
export function createMemoryStorage(now: () => number = Date.now): Storage & { files: Map<string, Uint8Array> } {
  const tree = memoryTree(now);
  const { files, put } = tree;
  const enc = new TextEncoder();
  const bytes = (d: string | Uint8Array) => (typeof d === 'string' ? enc.encode(d) : new Uint8Array(d));
  return {
    files,
    async readText(p) {
      const b = files.get(checkStorePath(p));
      return b === undefined ? null : new TextDecoder().decode(b);
    },
    async readBytes(p) {
      const b = files.get(checkStorePath(p));
      return b === undefined ? null : new Uint8Array(b);
    },
    async writeAtomic(p, data) {
      put(checkStorePath(p), bytes(data));
    },
    async append(p, data) {
      checkStorePath(p);
      put(p, concatBytes([files.get(p) ?? new Uint8Array(), bytes(data)]));
    },
    async list(dir) {
      checkStorePath(dir);
      return tree.children(dir);
    },
    async stat(p) {
      checkStorePath(p);
      return tree.stat(p);
    },
    async rename(from, to) {
      checkStorePath(from);
      checkStorePath(to);
      tree.move(from, to);
    },
    async remove(p) {
      checkStorePath(p);
      tree.remove(p);
    },
    async mkdir(p) {
      checkStorePath(p);
      tree.addParents(`${p}/x`);
    },
    async createExclusive(p, data) {
      if (files.has(checkStorePath(p))) return false;
      put(p, bytes(data));
      return true;
    },
    async writeStreamAtomic(p, stream) {
      checkStorePath(p);
      put(p, await readAllBytes(stream));
    },
    async openRead(p, start = 0) {
      const b = files.get(checkStorePath(p));
      if (b === undefined) return null;
      return streamOf(b.slice(start));
    },
  };
}

/** Files and folders under '/'-separated paths, with each file's time of last write. */
function memoryTree(now: () => number) {
  const files = new Map<string, Uint8Array>();
  const mtimes = new Map<string, number>();
  const dirs = new Set<string>();
  const under = (p: string, key: string) => key === p || key.startsWith(`${p}/`);
  const addParents = (p: string) => {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  };
  const put = (p: string, data: Uint8Array) => {
    addParents(p);
    files.set(p, data);
    mtimes.set(p, now());
  };
  return {
    files,
    put,
    addParents,
    children(dir: string): string[] {
      const names = new Set<string>();
      for (const key of [...files.keys(), ...dirs]) {
        if (key.startsWith(`${dir}/`)) names.add(key.slice(dir.length + 1).split('/')[0]!);
      }
      return [...names].sort();
    },
    stat(p: string) {
      const f = files.get(p);
      if (f) return { size: f.length, mtimeMs: mtimes.get(p) ?? 0, isDirectory: false };
      if (!dirs.has(p)) return null;
      // A folder's time: its newest file's, as near as memory gets to a directory mtime.
      let mtimeMs = 0;
      for (const [key, t] of mtimes) if (under(p, key) && files.has(key)) mtimeMs = Math.max(mtimeMs, t);
      return { size: 0, mtimeMs, isDirectory: true };
    },
    move(from: string, to: string) {
      for (const key of [...files.keys()]) {
        if (under(from, key)) {
          put(to + key.slice(from.length), files.get(key)!);
          files.delete(key);
        }
      }
      for (const d of [...dirs]) if (under(from, d)) {
        dirs.delete(d);
        dirs.add(to + d.slice(from.length));
      }
      addParents(to);
    },
    remove(p: string) {
      for (const key of [...files.keys()]) if (under(p, key)) files.delete(key);
      for (const d of [...dirs]) if (under(p, d)) dirs.delete(d);
    },
  };
}

/** A stream of one chunk. */
function streamOf(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
}

/** A text file held in memory; `revision` changes with every write. */
export function createMemoryTextFile(path: string, initial: string | null = null): TextFile & { text: string | null } {
  let revision = 0;
  const file = {
    path,
    text: initial,
    async read() {
      return file.text;
    },
    async write(text: string) {
      file.text = text;
      revision += 1;
    },
    async revision() {
      return file.text === null ? null : String(revision);
    },
  };
  return file;
}

/**
 * What every Storage adapter does (the store directory of src/ports.ts), written once and run
 * against each adapter by storage.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../../src/ports.js';

export interface StorageFixture {
  storage: Storage;
  /** Removes whatever the fixture made (a temp folder). */
  close?(): Promise<void>;
}

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

async function readStream(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

function streamOf(chunks: Array<string | Error>): ReadableStream<Uint8Array> {
  const queue = [...chunks];
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) controller.close();
      else if (next instanceof Error) controller.error(next);
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
}

export function storageContract(name: string, make: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fixture: StorageFixture;
    let s: Storage;
    beforeEach(async () => {
      fixture = await make();
      s = fixture.storage;
    });
    afterEach(async () => {
      await fixture.close?.();
    });

    describe('reading', () => {
      it('answers null, null, [] and null for a path that does not exist', async () => {
        expect(await s.readText('active/nothing.json')).toBeNull();
        expect(await s.readBytes('active/nothing.json')).toBeNull();
        expect(await s.list('active/nothing')).toEqual([]);
        expect(await s.stat('active/nothing.json')).toBeNull();
        expect(await s.openRead('active/nothing.json')).toBeNull();
      });

      it('gives back what was written, as text and as bytes, UTF-8 and binary alike', async () => {
        await s.writeAtomic('config/a.txt', 'grüße ✓ 🐘\n');
        expect(await s.readText('config/a.txt')).toBe('grüße ✓ 🐘\n');
        expect(text(await s.readBytes('config/a.txt'))).toBe('grüße ✓ 🐘\n');
        const binary = new Uint8Array([0, 255, 1, 254, 0x80, 0xc3, 10, 0]);
        await s.writeAtomic('config/b.bin', binary);
        expect(Array.from((await s.readBytes('config/b.bin'))!)).toEqual(Array.from(binary));
      });

      it('refuses a path that could leave the store', async () => {
        for (const bad of ['../etc/passwd', 'a/../../b', '/etc/passwd', 'a//b', '', 'a/./b']) {
          await expect(Promise.resolve().then(() => s.readText(bad)), bad).rejects.toThrow(/invalid store path/);
          await expect(Promise.resolve().then(() => s.writeAtomic(bad, 'x')), bad).rejects.toThrow(/invalid store path/);
        }
      });
    });

    describe('writeAtomic', () => {
      it('creates the parent folders', async () => {
        await s.writeAtomic('active/202611/job1/job.json', '{}');
        expect(await s.list('active')).toEqual(['202611']);
        expect(await s.list('active/202611')).toEqual(['job1']);
        expect((await s.stat('active/202611'))?.isDirectory).toBe(true);
      });

      it('replaces the whole content: nothing of a longer old version is left', async () => {
        await s.writeAtomic('config/f.txt', 'a much longer first version\n');
        await s.writeAtomic('config/f.txt', 'short\n');
        expect(await s.readText('config/f.txt')).toBe('short\n');
        expect(await s.list('config')).toEqual(['f.txt']); // no temp file beside it
      });

      it('never shows a reader a mix of two versions', async () => {
        const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(256 * 1024));
        await s.writeAtomic('config/big.txt', versions[0]!);
        let reading = true;
        const seen = new Set<string>();
        const reader = (async () => {
          while (reading) {
            const t = await s.readText('config/big.txt');
            if (t !== null) seen.add(t === versions[Number(t[0])] ? t[0]! : `mixed (${t.length} characters)`);
          }
        })();
        for (const v of versions.slice(1)) await s.writeAtomic('config/big.txt', v);
        reading = false;
        await reader;
        for (const v of seen) expect(v).toMatch(/^[0-7]$/);
        expect(await s.readText('config/big.txt')).toBe(versions.at(-1));
      });
    });

    describe('append', () => {
      it('creates the file and its folders, then adds to the end in order', async () => {
        await s.append('logs/2026/api.log', 'one\n');
        await s.append('logs/2026/api.log', new TextEncoder().encode('two ✓\n'));
        await s.append('logs/2026/api.log', 'three\n');
        expect(await s.readText('logs/2026/api.log')).toBe('one\ntwo ✓\nthree\n');
      });
    });

    describe('list and stat', () => {
      it('lists names, not paths, of files and folders, empty folders included', async () => {
        await s.writeAtomic('active/m/b.json', 'b');
        await s.writeAtomic('active/m/a.json', 'a');
        await s.writeAtomic('active/m/sub/c.json', 'c');
        await s.mkdir('active/m/empty');
        expect([...(await s.list('active/m'))].sort()).toEqual(['a.json', 'b.json', 'empty', 'sub']);
        expect(await s.list('active/m/empty')).toEqual([]);
      });

      it('gives the size in bytes, the modification time and whether it is a folder', async () => {
        const before = Date.now();
        await s.writeAtomic('config/sized.txt', 'ä€🐘'); // 2 + 3 + 4 bytes
        const file = await s.stat('config/sized.txt');
        expect(file).toMatchObject({ size: 9, isDirectory: false });
        // Housekeeping ages files by it: it is the time of the write, not some fixed value.
        expect(file!.mtimeMs).toBeGreaterThan(before - 5_000);
        expect(file!.mtimeMs).toBeLessThan(Date.now() + 5_000);
        expect((await s.stat('config'))?.isDirectory).toBe(true);
      });
    });

    describe('rename', () => {
      it('moves a file, creating the target folder; the old name is gone', async () => {
        await s.writeAtomic('active/m/job/result.json', 'r');
        await s.rename('active/m/job/result.json', 'garbage/x/result.json');
        expect(await s.readText('garbage/x/result.json')).toBe('r');
        expect(await s.readText('active/m/job/result.json')).toBeNull();
      });

      it('moves a folder with everything below it', async () => {
        await s.writeAtomic('active/m/job/job.json', 'j');
        await s.writeAtomic('active/m/job/logs/output.log', 'o');
        await s.rename('active/m/job', 'garbage/m/job');
        expect(await s.readText('garbage/m/job/job.json')).toBe('j');
        expect(await s.readText('garbage/m/job/logs/output.log')).toBe('o');
        expect(await s.stat('active/m/job')).toBeNull();
        expect(await s.list('active/m')).toEqual([]);
      });

      it('replaces a file that is there already', async () => {
        await s.writeAtomic('config/new.txt', 'new');
        await s.writeAtomic('config/cur.txt', 'old');
        await s.rename('config/new.txt', 'config/cur.txt');
        expect(await s.readText('config/cur.txt')).toBe('new');
        expect(await s.list('config')).toEqual(['cur.txt']);
      });
    });

    describe('remove and mkdir', () => {
      it('removes a file, a folder with everything below it, and what is not there without error', async () => {
        await s.writeAtomic('garbage/a/one.json', '1');
        await s.writeAtomic('garbage/a/b/two.json', '2');
        await s.writeAtomic('garbage/keep.json', 'k');
        await s.remove('garbage/keep.json');
        expect(await s.readText('garbage/keep.json')).toBeNull();
        await s.remove('garbage/a');
        expect(await s.stat('garbage/a')).toBeNull();
        expect(await s.readText('garbage/a/b/two.json')).toBeNull();
        await expect(s.remove('garbage/never')).resolves.toBeUndefined();
      });

      it('makes a folder and its parents, and accepts one that exists', async () => {
        await s.mkdir('archive/2026/11');
        await s.mkdir('archive/2026/11');
        expect((await s.stat('archive/2026/11'))?.isDirectory).toBe(true);
        expect(await s.list('archive')).toEqual(['2026']);
      });
    });

    describe('openRead', () => {
      it('streams the whole file, or from an offset', async () => {
        const body = 'line ✓\n'.repeat(10_000);
        await s.writeAtomic('active/m/j/output.log', body);
        expect(text(await readStream((await s.openRead('active/m/j/output.log'))!))).toBe(body);
        const offset = new TextEncoder().encode('line ✓\n').length * 9_999;
        expect(text(await readStream((await s.openRead('active/m/j/output.log', offset))!))).toBe('line ✓\n');
      });
    });

    describe('createExclusive', () => {
      it('creates a file only once: later calls answer false and leave it as it was', async () => {
        expect(await s.createExclusive('active/m/j/run.json', 'first')).toBe(true);
        expect(await s.createExclusive('active/m/j/run.json', 'second')).toBe(false);
        expect(await s.readText('active/m/j/run.json')).toBe('first');
        expect(await s.list('active/m/j')).toEqual(['run.json']);
      });

      it('lets exactly one of many concurrent claims win', async () => {
        const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => s.createExclusive('active/m/race/run.json', `claim ${i}`)));
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await s.readText('active/m/race/run.json')).toBe(`claim ${claims.indexOf(true)}`);
      });
    });

    describe('writeStreamAtomic', () => {
      it('writes a stream of chunks whole, creating the folders', async () => {
        await s.writeStreamAtomic('archive/202611.tar.gz', streamOf(['part one, ', 'part two ✓, ', 'end']));
        expect(await s.readText('archive/202611.tar.gz')).toBe('part one, part two ✓, end');
      });

      it('keeps the old file and leaves nothing behind when the stream fails', async () => {
        await s.writeAtomic('archive/202610.tar.gz', 'old archive');
        await expect(s.writeStreamAtomic('archive/202610.tar.gz', streamOf(['new but ', new Error('packing failed')]))).rejects.toThrow('packing failed');
        expect(await s.readText('archive/202610.tar.gz')).toBe('old archive');
        expect(await s.list('archive')).toEqual(['202610.tar.gz']);
      });
    });
  });
}

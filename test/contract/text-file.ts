/**
 * What every TextFile adapter does (client.conf, barmanapi.conf: src/ports.ts), written once and
 * run against each adapter by text-file.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TextFile } from '../../src/ports.js';

export interface TextFileCapabilities {
  /**
   * The file has an owner and a mode on a real file system, which a write keeps (`posix` below
   * reads and sets them). False for a file held in memory, which has neither.
   */
  ownership: boolean;
  /** The adapter offers lock() (the port lets a file only this process writes leave it out). */
  lock: boolean;
}

export interface TextFileFixture {
  file: TextFile;
  /** With `ownership`: the file as the file system sees it. */
  posix?: {
    /** Mode a file the adapter creates gets. */
    newFileMode: number;
    /** Another owner the test may give the file to (needs root), or null. */
    otherOwner: { uid: number; gid: number } | null;
    setOwnership(mode: number, owner?: { uid: number; gid: number }): Promise<void>;
    ownership(): Promise<{ mode: number; uid: number; gid: number }>;
  };
  close?(): Promise<void>;
}

export function textFileContract(
  name: string,
  capabilities: TextFileCapabilities,
  make: (initial: string | null) => Promise<TextFileFixture>,
): void {
  describe(`TextFile contract: ${name}`, () => {
    const open: TextFileFixture[] = [];
    const fixture = async (initial: string | null) => {
      const f = await make(initial);
      open.push(f);
      return f;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((f) => f.close?.()));
    });

    it('reads null and has no revision while the file does not exist', async () => {
      const { file } = await fixture(null);
      expect(await file.read()).toBeNull();
      expect(await file.revision()).toBeNull();
    });

    it('creates the file on the first write and reads back exactly what was written', async () => {
      const { file } = await fixture(null);
      await file.write('[memin]\npassword = ✓ grüße\n');
      expect(await file.read()).toBe('[memin]\npassword = ✓ grüße\n');
      expect(await file.revision()).not.toBeNull();
    });

    it('replaces the whole content, a longer old version included', async () => {
      const { file } = await fixture('a much longer first version of the file\n');
      expect(await file.read()).toBe('a much longer first version of the file\n');
      await file.write('short\n');
      expect(await file.read()).toBe('short\n');
    });

    it('keeps its revision while nothing changes and changes it with every write, same length or not', async () => {
      const { file } = await fixture('a = 1\n');
      const first = await file.revision();
      expect(first).not.toBeNull();
      expect(await file.revision()).toBe(first);
      await file.write('a = 2\n'); // same size as before
      expect(await file.revision()).not.toBe(first);
    });

    it.runIf(capabilities.ownership)('keeps the owner and mode of the file it replaces; a new file gets the adapter mode', async () => {
      const fresh = await fixture(null);
      await fresh.file.write('new\n');
      expect((await fresh.posix!.ownership()).mode & 0o7777).toBe(fresh.posix!.newFileMode);

      const { file, posix } = await fixture('old\n');
      await posix!.setOwnership(0o640, posix!.otherOwner ?? undefined);
      const before = await posix!.ownership();
      await file.write('new\n');
      expect(await posix!.ownership()).toEqual(before);
      expect(before.mode & 0o7777).toBe(0o640);
      expect(await file.read()).toBe('new\n');
    });

    it('offers lock() exactly where the adapter says it does', async () => {
      const { file } = await fixture(null);
      expect(typeof file.lock === 'function').toBe(capabilities.lock);
    });

    it.runIf(capabilities.lock)('lock(): a second holder waits until the first releases', async () => {
      const { file } = await fixture('x\n');
      const release = await file.lock!();
      let second: (() => Promise<void>) | null = null;
      const waiting = file.lock!().then((r) => (second = r));
      await new Promise((r) => setTimeout(r, 300));
      expect(second).toBeNull();
      await release();
      await waiting;
      expect(second).not.toBeNull();
      await second!();
      // Released for good: it can be taken again at once.
      await (await file.lock!())();
    });
  });
}

/**
 * BarmanHost.stampTrees on this machine: stat with nanosecond times, symbolic links followed (a
 * `base` linked to a bigger disk is what barman reads), folders read in parallel.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { FileStamp, StampOptions, TreeStamps } from '../../src/ports.js';
import { toHostFileError } from './host-file-errors.js';
import { checkStampRequest } from '../../src/util/stamp-request.js';

export async function stampLocalTrees(roots: readonly string[], options: StampOptions): Promise<TreeStamps> {
  const unique = checkStampRequest(roots, options);
  const takenMs = Date.now();
  const entries = new Map<string, FileStamp>();
  const skip = new Set(options.skip);
  const visit = async (path: string, depth: number, isRoot: boolean): Promise<void> => {
    let s: BigIntStats;
    try {
      s = await stat(path, { bigint: true });
    } catch (err) {
      // A link that leads back into itself: the link itself is what can change.
      if ((err as NodeJS.ErrnoException | null)?.code === 'ELOOP') {
        const link = await lstat(path, { bigint: true }).catch(() => null);
        if (link) entries.set(path, stampOf(link));
        return;
      }
      if (!isGone(err)) throw toHostFileError(err, path, 'read');
      // A missing root; below one, an entry removed while we looked (its folder's own stamp has
      // changed) or a link to nothing, which its folder's stamp covers as a name.
      if (isRoot) entries.set(path, { stamp: '-', changedMs: 0 });
      return;
    }
    entries.set(path, stampOf(s));
    if (!s.isDirectory() || depth >= options.maxDepth) return;
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      if (isGone(err)) return;
      throw toHostFileError(err, path, 'read');
    }
    await Promise.all(names.filter((n) => !skip.has(n)).map((n) => visit(join(path, n), depth + 1, false)));
  };
  await Promise.all(unique.map((root) => visit(root, 0, true)));
  return { takenMs, entries };
}

function stampOf(s: BigIntStats): FileStamp {
  const kind = s.isFile() ? 'f' : s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : 'o';
  const changedNs = s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs;
  return { stamp: `${kind} ${s.size} ${s.ino} ${s.mtimeNs} ${s.ctimeNs}`, changedMs: Number(changedNs / 1_000_000n) };
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

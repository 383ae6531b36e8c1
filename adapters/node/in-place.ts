import { open } from 'node:fs/promises';
import type { HostWriteResult } from '../../src/ports.js';

/**
 * Whether a folder refused a temp file beside a file: no permission, or a read-only mount over the
 * folder while the file itself is bound writable (systemd's ProtectSystem=strict with the file
 * in ReadWritePaths). The file can then still be rewritten in place.
 */
export function folderRefuses(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

/**
 * Rewrites a file through its own inode: new content from offset 0, data sync, cut to the new
 * length, sync. Not atomic (a reader may see the new text followed by the tail of the old), which
 * callers report; used only where the folder refuses the atomic way.
 */
export async function rewriteInPlace(target: string, data: Buffer): Promise<HostWriteResult> {
  const handle = await open(target, 'r+');
  try {
    for (let done = 0; done < data.length; ) {
      const { bytesWritten } = await handle.write(data, done, data.length - done, done);
      done += bytesWritten;
    }
    // A file system may commit the smaller size before the overwritten blocks: data first.
    await handle.datasync();
    await handle.truncate(data.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { mode: 'in-place' };
}


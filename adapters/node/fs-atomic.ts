import { randomBytes } from 'node:crypto';
import { chown, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { folderRefuses, rewriteInPlace } from './in-place.js';

/**
 * Replace a file atomically: write a temp file beside it, fsync, give it the old file's mode
 * and owner, rename over the target, fsync the folder. A crash leaves the old or the new file.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  const previous = await stat(target).catch(() => null);
  let handle;
  try {
    handle = await open(tmp, 'wx', previous ? previous.mode & 0o7777 : (opts.mode ?? 0o644));
  } catch (e) {
    // The folder refuses the temp file, the file itself is writable: rewrite it in place.
    if (previous && folderRefuses(e)) {
      await rewriteInPlace(target, typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
      return;
    }
    throw e;
  }
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  try {
    if (previous && process.getuid?.() === 0) await chown(tmp, previous.uid, previous.gid);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r').catch(() => null);
  if (!h) return;
  try {
    await h.sync();
  } catch {
    // Some file systems refuse fsync on folders; the rename is still atomic there.
  } finally {
    await h.close();
  }
}

/**
 * Every file this service writes on the local file system goes through here, with one policy:
 * the content goes to a temp file beside the target (mode 0600 until complete), is fsynced, gets
 * its final owner and mode, is renamed over the target, and the folder is fsynced. A crash leaves
 * the old file or the new one, never a mix and never an empty file.
 *
 * Where the folder refuses the temp file (no write permission, or a read-only mount over the
 * folder with the file itself bound writable, as systemd's ProtectSystem=strict does), or the
 * file's owner could not be given back, an existing file is rewritten through its own inode
 * instead: not atomic, which the result says.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileOwnership, HostWriteResult } from '../../src/ports.js';

export interface ReplaceOptions {
  /** Mode of a file that did not exist (and has no `like`). */
  newMode: number;
  /** Owner and mode for a file that does not exist yet. */
  like?: FileOwnership;
  /** Create missing parent folders (0700); otherwise a missing folder is an error. */
  makeFolders?: boolean;
}

/** Replace `target` with `data` atomically, keeping the owner and mode of the file it replaces. */
export async function replaceFile(target: string, data: string | Uint8Array | AsyncIterable<Uint8Array>, opts: ReplaceOptions): Promise<HostWriteResult> {
  const dir = dirname(target);
  if (opts.makeFolders) await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await stat(target).catch((err: unknown) => (isErrno(err, 'ENOENT') ? null : Promise.reject(err)));
  if (existing?.isDirectory()) throw Object.assign(new Error(`EISDIR: ${target} is a directory`), { code: 'EISDIR' });
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data instanceof Uint8Array ? data : null;

  const tmp = join(dir, `.${basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx', 0o600);
  } catch (err) {
    if (existing && bytes && folderRefuses(err)) return rewriteInPlace(target, bytes);
    throw err;
  }

  let ownerKept = true;
  try {
    if (bytes) await handle.writeFile(bytes);
    else for await (const chunk of data as AsyncIterable<Uint8Array>) await handle.write(chunk);
    const owner = existing ?? opts.like;
    if (owner) ownerKept = await giveTo(handle, owner, existing !== null);
    // After chown, which clears set-id bits; fchmod is not subject to the umask.
    if (ownerKept) {
      await handle.chmod(owner ? owner.mode & 0o7777 : opts.newMode);
      await handle.sync();
    }
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  if (!ownerKept) {
    await rm(tmp, { force: true });
    if (bytes) return rewriteInPlace(target, bytes);
    throw Object.assign(new Error(`EPERM: cannot give ${target} back to uid ${existing!.uid}`), { code: 'EPERM' });
  }

  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncFolder(dir);
  return { mode: 'replaced' };
}

/**
 * chown the temp file to `owner`; false when that is refused for a file that exists (only root
 * may give a file away, and renaming ours over theirs would change the owner). A new file simply
 * stays ours.
 */
async function giveTo(handle: FileHandle, owner: { uid: number; gid: number }, replacing: boolean): Promise<boolean> {
  const mine = await handle.stat();
  if (mine.uid === owner.uid && mine.gid === owner.gid) return true;
  try {
    await handle.chown(owner.uid, owner.gid);
    return true;
  } catch (err) {
    if (!isErrno(err, 'EPERM', 'EACCES')) throw err;
    return !replacing;
  }
}

/**
 * Create `target` only if it does not exist: written whole beside it, then linked into place, so
 * the name appears complete or not at all (a full disk or a kill between open and write leaves no
 * empty claim). False when the name exists.
 */
export async function createFileExclusive(target: string, data: string, mode: number): Promise<boolean> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.new`);
  const h = await open(tmp, 'wx', mode);
  try {
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await link(tmp, target);
    await syncFolder(dir);
    return true;
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Whether a folder refused a temp file beside a file: no permission, or a read-only mount over the
 * folder while the file itself is bound writable. The file can then still be rewritten in place.
 */
function folderRefuses(err: unknown): boolean {
  return isErrno(err, 'EACCES', 'EPERM', 'EROFS');
}

/**
 * Rewrites a file through its own inode, ordered to lose the least: the new content goes over the
 * old from offset 0 and reaches the disk before the file is cut to its length. A crash at any step
 * leaves the old content, or the whole new content followed by the rest of the old, never an
 * empty file. Readers may see that mix meanwhile, which callers report.
 */
export async function rewriteInPlace(target: string, data: Uint8Array): Promise<HostWriteResult> {
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

/**
 * fsync a folder after a rename or link in it. A folder we may not open, or a file system that
 * refuses fsync on folders, is passed over: the rename itself is still atomic there. A real I/O
 * error is not.
 */
export async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, 'r');
  } catch (err) {
    if (isErrno(err, 'EACCES', 'EPERM')) return;
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    if (!isErrno(err, 'EINVAL', 'ENOTSUP', 'EISDIR', 'EBADF')) throw err;
  } finally {
    await handle.close();
  }
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code !== undefined && codes.includes(code);
}

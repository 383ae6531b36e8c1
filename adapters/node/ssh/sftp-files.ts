/**
 * barman's files over SFTP: read, stat, list, and replace atomically (temp file, fsync, owner and
 * mode kept, posix-rename), or in place where the folder refuses a temp file.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import type { HostWriteResult } from '../../../src/ports.js';
import { NEW_FILE_MODE } from '../command-io.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that mean something here. */
export const SFTP_NO_SUCH_FILE = 2;
export const SFTP_PERMISSION_DENIED = 3;
export const SFTP_FAILURE = 4;

export async function statOrNull(w: SFTPWrapper, path: string): Promise<Stats | null> {
  try {
    return await call<Stats>((cb) => w.stat(path, cb));
  } catch (err) {
    if (sftpCode(err) === SFTP_NO_SUCH_FILE) return null;
    throw err;
  }
}

export async function replaceRemote(w: SFTPWrapper, target: string, data: Buffer, description: string): Promise<HostWriteResult> {
  const existing = await statOrNull(w, target);
  if (existing?.isDirectory()) throw new Error(`writeFile: ${target} on ${description} is a directory`);
  const tmp = posix.join(posix.dirname(target), `.${posix.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  let handle: Buffer;
  try {
    handle = await call<Buffer>((cb) => w.open(tmp, 'wx', { mode: 0o600 }, cb));
  } catch (err) {
    if (existing && sftpCode(err) === SFTP_PERMISSION_DENIED) return rewriteRemoteInPlace(w, target, data);
    throw err;
  }

  let fallBack = false;
  try {
    await call<void>((cb) => w.write(handle, data, 0, data.length, 0, cb));
    if (existing) {
      const mine = await call<Stats>((cb) => w.fstat(handle, cb));
      if (mine.uid !== existing.uid || mine.gid !== existing.gid) {
        try {
          await call<void>((cb) => w.fchown(handle, existing.uid, existing.gid, cb));
        } catch (err) {
          // Renaming ours over theirs would change the owner; write through their inode instead.
          if (sftpCode(err) !== SFTP_PERMISSION_DENIED) throw err;
          fallBack = true;
        }
      }
    }
    if (!fallBack) {
      await call<void>((cb) => w.fchmod(handle, existing ? existing.mode & 0o7777 : NEW_FILE_MODE, cb));
      await fsyncIfSupported(w, handle);
    }
  } catch (err) {
    await call<void>((cb) => w.close(handle, cb)).catch(() => undefined);
    await removeQuietly(w, tmp);
    throw err;
  }
  await call<void>((cb) => w.close(handle, cb));

  // Over an existing file only posix-rename@openssh.com replaces atomically: plain SFTP rename
  // refuses to overwrite, and unlink + rename would leave a moment with no file at all.
  const renaming = fallBack
    ? null
    : existing
      ? tryExtension((cb) => w.ext_openssh_rename(tmp, target, cb))
      : call<void>((cb) => w.rename(tmp, target, cb));
  if (renaming === null) {
    await removeQuietly(w, tmp);
    return rewriteRemoteInPlace(w, target, data);
  }
  try {
    await renaming;
  } catch (err) {
    await removeQuietly(w, tmp);
    throw err;
  }
  return { mode: 'replaced' };
}

/**
 * Rewrites the file through its own handle, in the order of the local host's rewriteInPlace:
 * new content from offset 0, fsync, cut to the new length, fsync. A connection lost at any
 * step leaves the old content, or the whole new content followed by the rest of the old.
 */
async function rewriteRemoteInPlace(w: SFTPWrapper, target: string, data: Buffer): Promise<HostWriteResult> {
  const handle = await call<Buffer>((cb) => w.open(target, 'r+', cb));
  try {
    await call<void>((cb) => w.write(handle, data, 0, data.length, 0, cb));
    await fsyncIfSupported(w, handle);
    await call<void>((cb) => w.fsetstat(handle, { size: data.length }, cb));
    await fsyncIfSupported(w, handle);
  } finally {
    await call<void>((cb) => w.close(handle, cb));
  }
  return { mode: 'in-place' };
}

async function removeQuietly(w: SFTPWrapper, path: string): Promise<void> {
  try {
    await call<void>((cb) => w.unlink(path, cb));
  } catch (err) {
    if (sftpCode(err) !== SFTP_NO_SUCH_FILE) throw err;
  }
}


/** Adapts a node-style callback API to a promise. */
export function call<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value)));
  });
}

export function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * An OpenSSH SFTP extension request, or null when the server did not announce the extension
 * (ssh2 throws synchronously then, before anything is sent).
 */
function tryExtension(start: (cb: (err: Error | undefined | null) => void) => void): Promise<void> | null {
  let settle: (err: Error | undefined | null) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  try {
    start(settle);
  } catch {
    return null;
  }
  return done;
}

async function fsyncIfSupported(w: SFTPWrapper, handle: Buffer): Promise<void> {
  // Without fsync@openssh.com the server decides when data reaches its disk; a rename stays atomic and
  // the in-place steps still arrive in order, so a dropped connection cannot leave an empty file.
  await tryExtension((cb) => w.ext_openssh_fsync(handle, cb));
}

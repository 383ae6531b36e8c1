/**
 * barman's files over SFTP: read, stat, list, and replace atomically (temp file, fsync, owner and
 * mode kept, posix-rename), or in place where the folder refuses a temp file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { HostFileError, type FileOwnership, type HostFileErrorKind, type HostWriteResult } from '../../../src/ports.js';
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

export async function replaceRemote(w: SFTPWrapper, target: string, data: Buffer, description: string, like?: FileOwnership): Promise<HostWriteResult> {
  const existing = await statOrNull(w, target);
  if (existing?.isDirectory()) throw new HostFileError('not-a-file', target, `cannot write ${target} on ${description}: it is a directory`);
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
    const owner = existing ?? like;
    if (owner) {
      const mine = await call<Stats>((cb) => w.fstat(handle, cb));
      if (mine.uid !== owner.uid || mine.gid !== owner.gid) {
        try {
          await call<void>((cb) => w.fchown(handle, owner.uid, owner.gid, cb));
        } catch (err) {
          // Renaming ours over theirs would change the owner; write through their inode instead.
          // A new file simply stays ours.
          if (sftpCode(err) !== SFTP_PERMISSION_DENIED) throw err;
          if (existing) fallBack = true;
        }
      }
    }
    if (!fallBack) {
      await call<void>((cb) => w.fchmod(handle, owner ? owner.mode & 0o7777 : NEW_FILE_MODE, cb));
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


const KIND_OF_STATUS: Record<number, HostFileErrorKind> = {
  [SFTP_NO_SUCH_FILE]: 'missing',
  [SFTP_PERMISSION_DENIED]: 'permission',
};

/**
 * An SFTP status error as the host port reports it: a HostFileError ('failed' for statuses that
 * say no more, as SSH_FX_FAILURE). Errors without a status (the connection's) pass through.
 */
export function sftpFileError(err: unknown, path: string, action: 'read' | 'write' | 'lock', description: string): unknown {
  if (err instanceof HostFileError) return err;
  const code = sftpCode(err);
  if (code === undefined) return err;
  const detail = (err as Error).message.split('\n')[0];
  return new HostFileError(KIND_OF_STATUS[code] ?? 'failed', path, `cannot ${action} ${path} on ${description}: ${detail}`);
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

/** A lock older than this is taken to be left by a process that died while holding it. */
const LOCK_EXPIRY_MS = 30_000;
const LOCK_WAIT_MS = 15_000;

/**
 * The inter-process lock of a file on the barman host: `<file>.lock`, created exclusively, naming
 * its owner and its expiry; removed on release. A lock past its expiry is removed and taken.
 * Where the folder refuses the lock file, one named after the path in /tmp on that host.
 */
export async function lockRemote(run: <T>(op: (w: SFTPWrapper) => Promise<T>) => Promise<T>, path: string): Promise<() => Promise<void>> {
  // The token tells our lock from a later holder's: release removes the file only while it is ours.
  const token = randomBytes(12).toString('hex');
  const owner = `barmanapi pid ${process.pid} on ${hostname()}`;
  let lockPath = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  const readLock = (w: SFTPWrapper) => call<Buffer>((cb) => w.readFile(lockPath, cb)).then((b) => b.toString('utf8'), () => null);
  for (let attempt = 0; ; attempt++) {
    const body = JSON.stringify({ owner, token, expires: new Date(Date.now() + LOCK_EXPIRY_MS).toISOString() });
    const taken = await run(async (w) => {
      try {
        const handle = await call<Buffer>((cb) => w.open(lockPath, 'wx', { mode: 0o644 }, cb));
        await call<void>((cb) => w.write(handle, Buffer.from(body), 0, Buffer.byteLength(body), 0, cb));
        await call<void>((cb) => w.close(handle, cb));
        return 'taken' as const;
      } catch (err) {
        const code = sftpCode(err);
        if (code === SFTP_PERMISSION_DENIED && lockPath === `${path}.lock`) return 'elsewhere' as const;
        if (code !== SFTP_FAILURE) throw err;
        // It exists: someone holds it, or held it and died. A holder writes its expiry right
        // after creating the file: an empty one is being taken now, so its age decides.
        const held = await readLock(w);
        if (held === null) {
          // Not there after a failed create: released meanwhile, or a create this server can
          // never make (a full or read-only file system): the deadline decides.
          return (await statOrNull(w, lockPath)) === null ? ('retry' as const) : ('busy' as const);
        }
        let expires = Date.parse((/"expires":"([^"]+)"/.exec(held) ?? [])[1] ?? '');
        if (Number.isNaN(expires)) {
          const info = await statOrNull(w, lockPath);
          expires = info ? info.mtime * 1000 + LOCK_EXPIRY_MS : 0;
        }
        if (expires >= Date.now()) return 'busy' as const;
        // Left by a process that died holding it (rare): remove it, unless it changed meanwhile.
        if ((await readLock(w)) === held) await call<void>((cb) => w.unlink(lockPath, cb)).catch(() => undefined);
        return 'retry' as const;
      }
    });
    if (taken === 'taken') {
      const mine = lockPath;
      return () =>
        run(async (w) => {
          const now = await call<Buffer>((cb) => w.readFile(mine, cb)).then((b) => b.toString('utf8'), () => '');
          if (now.includes(`"token":"${token}"`)) await call<void>((cb) => w.unlink(mine, cb));
        }).catch(() => undefined);
    }
    if (taken === 'elsewhere') {
      lockPath = `/tmp/barmanapi-lock-${createHash('sha256').update(path).digest('hex').slice(0, 32)}`;
      continue;
    }
    if (Date.now() > deadline) throw new HostFileError('busy', path, `${path} is being changed by another barmanapi process, or its lock ${lockPath} cannot be made; try again`);
    await new Promise((r) => setTimeout(r, Math.min(200, 10 + attempt * 10) * (0.5 + Math.random())));
  }
}

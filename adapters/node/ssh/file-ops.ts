/** The file half of the SSH BarmanHost: every read, write, lock and listing goes through SFTP. */
import { KeyedMutex } from '../../../src/util/mutex.js';
import { HostFileError, type BarmanHost, type HostFileInfo } from '../../../src/ports.js';
import type { Pool } from './pool.js';
import { call, lockRemote, replaceRemote, sftpCode, sftpFileError, statOrNull, SFTP_FAILURE, SFTP_NO_SUCH_FILE } from './sftp-files.js';

export type HostFileOps = Pick<BarmanHost, 'readFile' | 'writeFile' | 'lockFile' | 'stat' | 'listDir'>;

/** File operations over the pool's SFTP session; errors come out as HostFileError. */
export function sftpFileOps(withSftp: Pool['withSftp'], description: string): HostFileOps {
  const writeLock = new KeyedMutex();
  /** The file a path really names (symbolic links followed); the path itself when it does not exist yet. */
  const realTarget = (path: string) =>
    withSftp(async (w) => {
      try {
        return await call<string>((cb) => w.realpath(path, cb));
      } catch (err) {
        if (sftpCode(err) !== SFTP_NO_SUCH_FILE) throw sftpFileError(err, path, 'read', description);
        return path;
      }
    }, true);

  return {
    readFile(path) {
      return withSftp(async (w) => {
        try {
          return (await call<Buffer>((cb) => w.readFile(path, cb))).toString('utf8');
        } catch (err) {
          if (sftpCode(err) === SFTP_NO_SUCH_FILE) return null;
          // A folder reads as a plain failure; ask what it is only then (a lost session has no status).
          if (sftpCode(err) === SFTP_FAILURE && (await statOrNull(w, path).catch(() => null))?.isDirectory()) {
            throw new HostFileError('not-a-file', path, `cannot read ${path} on ${description}: it is a directory`);
          }
          throw sftpFileError(err, path, 'read', description);
        }
      }, true);
    },

    async writeFile(path, content, like) {
      // Lock the file the write really lands on.
      const target = await realTarget(path);
      const data = Buffer.from(content, 'utf8');
      return writeLock
        .run(target, () => withSftp((w) => replaceRemote(w, target, data, description, like), false))
        .catch((err: unknown) => Promise.reject(sftpFileError(err, path, 'write', description)));
    },

    async lockFile(path) {
      return lockRemote((op) => withSftp(op, true), await realTarget(path)).catch((err: unknown) =>
        Promise.reject(sftpFileError(err, path, 'lock', description)),
      );
    },

    async stat(path) {
      const s = await withSftp((w) => statOrNull(w, path), true).catch((err: unknown) => Promise.reject(sftpFileError(err, path, 'read', description)));
      if (s === null) return null;
      const info: HostFileInfo = {
        size: s.size,
        mtimeMs: s.mtime * 1000, // SFTP v3 carries whole seconds
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        isDirectory: s.isDirectory(),
      };
      return info;
    },

    listDir(path) {
      return withSftp(async (w) => {
        try {
          const entries = await call<{ filename: string }[]>((cb) => w.readdir(path, cb));
          return entries
            .map((e) => e.filename)
            .filter((name) => name !== '.' && name !== '..')
            .sort();
        } catch (err) {
          if (sftpCode(err) === SFTP_NO_SUCH_FILE) return [];
          throw sftpFileError(err, path, 'read', description);
        }
      }, true);
    },
  };
}

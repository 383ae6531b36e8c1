/**
 * A BarmanHost over one pooled SSH connection (ssh2): exec channels for commands, SFTP for files.
 * connection.ts logs in and checks host keys, pool.ts shares the connection, exec.ts runs
 * commands, sftp-files.ts reads and replaces files.
 */
import { KeyedMutex } from '../../../src/util/mutex.js';
import { HostFileError, type BarmanHost, type HostFileInfo } from '../../../src/ports.js';
import { createConnector, type ConnectionSettings } from './connection.js';
import { runRemote } from './exec.js';
import { createPool, createSlots } from './pool.js';
import { call, lockRemote, replaceRemote, sftpCode, sftpFileError, statOrNull, SFTP_FAILURE, SFTP_NO_SUCH_FILE } from './sftp-files.js';

export { SshHostError, type SshHostErrorCode } from './errors.js';

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_EXIT_DRAIN_MS = 2_000;
const DEFAULT_MAX_CHANNELS = 8;

export interface SshHostOptions extends ConnectionSettings {
  defaultTimeoutMs?: number;
  defaultMaxOutputBytes?: number;
  /** Time between the TERM and the KILL signal when a command is stopped. */
  killGraceMs?: number;
  /** How long to keep reading after the remote command exits (a background child may hold its output). */
  exitDrainMs?: number;
  /** Commands running at once on the one connection; sshd allows 10 sessions by default, SFTP takes one. */
  maxChannels?: number;
}

/** A BarmanHost over one pooled SSH connection. */
export interface SshHost extends BarmanHost {
  readonly kind: 'ssh';
  /** Connections that completed authentication so far (pooling and reconnects are observable). */
  readonly connectionsOpened: number;
}

export function createSshHost(opts: SshHostOptions): SshHost {
  const connector = createConnector(opts);
  const { description } = connector;
  const pool = createPool(connector);
  const withSftp = pool.withSftp;
  const exec = {
    description,
    pool,
    slots: createSlots(opts.maxChannels ?? DEFAULT_MAX_CHANNELS),
    defaultTimeoutMs: opts.defaultTimeoutMs,
    defaultMaxOutputBytes: opts.defaultMaxOutputBytes,
    killGraceMs: opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    exitDrainMs: opts.exitDrainMs ?? DEFAULT_EXIT_DRAIN_MS,
  };
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
    kind: 'ssh',
    description,
    get connectionsOpened() {
      return connector.opened;
    },

    run(argv, options = {}) {
      return runRemote(exec, argv, options);
    },

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

    close() {
      return pool.close();
    },
  };
}

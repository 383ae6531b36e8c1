import { ApiError, unavailable } from '../http/errors.js';
import { HostFileError, type BarmanHost, type HostFileInfo, type Storage } from '../ports.js';
import type { Clock } from '../ports.js';
import { basename } from '../util/path.js';
import type { Settings } from '../settings/load.js';

/**
 * A failed read or write of a config file as an ApiError that names the file, the host and, for
 * permission problems, what the file's owner and mode are and what to change. Another writer
 * holding the file's lock is a 503 FileBusy.
 */
export function describeFileError(err: unknown, action: 'read' | 'write', path: string, host: Pick<BarmanHost, 'description'>, info?: HostFileInfo | null): ApiError {
  if (err instanceof ApiError) return err;
  const where = host.description === 'local' ? 'on this machine' : `on ${host.description}`;
  const kind = err instanceof HostFileError ? err.kind : 'failed';
  if (kind === 'busy') return unavailable('FileBusy', (err as Error).message, 1, { file: path });
  const ownership = info ? ` (owner uid ${info.uid}, gid ${info.gid}, mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})` : '';
  if (kind === 'permission' || kind === 'read-only') {
    return new ApiError(500, 'ConfigNotWritable', `cannot ${action} ${path}${ownership} ${where}: ${kind === 'read-only' ? 'read-only file system' : 'permission denied'}. ` +
      `The user the API ${host.description === 'local' ? 'runs as' : 'logs in as'} needs ${action} permission on the file` +
      `${action === 'write' ? ' (and, for an atomic replace, on its folder)' : ''}: change the file's owner or mode, or the user.`, { file: path, action }, { cause: err });
  }
  // A host's own error already says what it could not do, to which file, and where.
  const message = err instanceof HostFileError ? err.message : `cannot ${action} ${path} ${where}: ${String((err as Error | null)?.message ?? err).split('\n')[0]}`;
  return new ApiError(500, 'ConfigFileError', message, { file: path, action }, { cause: err });
}

/**
 * Keep the previous content of a config file under store/config/backups/ before it is replaced:
 * `<UTC timestamp>_<path with / as _>`, numbered when two land in the same millisecond.
 */
export async function keepBackup(storage: Storage, clock: Clock, path: string, text: string, retention?: BackupRetention): Promise<string> {
  const stamp = clock.now().toISOString().replace(/[-:]/g, '').replace('.', '');
  const base = `config/backups/${stamp}_${backupName(path)}`.slice(0, 200);
  for (let n = 1; n < 10_000; n++) {
    const candidate = n === 1 ? base : `${base}.${n}`;
    if (await storage.createExclusive(candidate, text)) {
      if (retention) await pruneBackups(storage, clock, path, retention);
      return candidate;
    }
  }
  throw new ApiError(500, 'BackupFailed', `cannot find a free backup name for ${path} under config/backups/`);
}

export function backupRetention(settings: Settings): BackupRetention {
  return { keep: settings.application.configBackupsKeep, days: settings.application.configBackupsDays };
}

export interface BackupRetention {
  /** Backups kept per file, newest first (at least 1). */
  keep: number;
  /** Backups older than this many days go, except the newest; 0 keeps any age. */
  days: number;
}

function backupName(path: string): string {
  return path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._@+-]+/g, '_') || basename(path) || 'config';
}

/** A bounded history per file: the newest `keep`, none older than `days` but the newest. */
export async function pruneBackups(storage: Storage, clock: Clock, path: string, retention: BackupRetention): Promise<string[]> {
  const name = backupName(path);
  const mine: Array<{ entry: string; at: number }> = [];
  for (const entry of await storage.list('config/backups')) {
    const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z_/.exec(entry);
    if (!stamp) continue;
    const base = `${stamp[0]}${name}`.slice(0, 200);
    if (!entry.startsWith(base) || !/^(?:\.\d+)?$/.test(entry.slice(base.length))) continue;
    const [, y, mo, d, h, mi, se, ms] = stamp;
    mine.push({ entry, at: Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${se}.${ms}Z`) });
  }
  mine.sort((a, b) => b.at - a.at || (a.entry < b.entry ? 1 : -1));
  const oldest = retention.days > 0 ? clock.now().getTime() - retention.days * 86_400_000 : -Infinity;
  const removed: string[] = [];
  for (const [i, b] of mine.entries()) {
    if (i === 0) continue;
    if (i >= Math.max(1, retention.keep) || b.at < oldest) {
      await storage.remove(`config/backups/${b.entry}`);
      removed.push(b.entry);
    }
  }
  return removed;
}

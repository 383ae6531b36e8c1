import { ApiError } from '../http/errors.js';
import type { Clock, Storage } from '../ports.js';
import type { Settings } from '../settings/load.js';
import { basename } from '../util/path.js';

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

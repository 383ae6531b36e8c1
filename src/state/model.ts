/**
 * barman's state as typed data, built only from barman's own `-f json` output (barman 2.x and
 * 3.x): a server from list-server, show-server and status; its backups from list-backup (and
 * one backup's details from show-backup). A field a barman version does not give is null, never
 * guessed; what barman reported as an error is kept in `errors`.
 */

export interface BackupState {
  id: string;
  /** DONE, FAILED, WAITING_FOR_WALS, STARTED, … as barman says. */
  status: string | null;
  /** ISO 8601 (UTC). */
  beginTime: string | null;
  endTime: string | null;
  sizeBytes: number | null;
  walSizeBytes: number | null;
  /** VALID, OBSOLETE, KEEP:FULL, … or null where barman shows none ('-'). */
  retentionStatus: string | null;
}

export interface ServerState {
  name: string;
  description: string | null;
  active: boolean | null;
  disabled: boolean | null;
  backupMethod: string | null;
  pgVersion: string | null;
  /** The WAL segment PostgreSQL writes now (live). */
  currentWal: string | null;
  /** WAL archiving by archive_command: the last archived and last failed segment, failures (pg_stat_archiver). */
  archiver: { enabled: boolean | null; lastArchivedWal: string | null; lastArchivedTime: string | null; failedCount: number | null; lastFailedWal: string | null };
  streamingArchiver: boolean | null;
  retentionPolicy: string | null;
  /** Newest first, as barman lists them; null when the list could not be read. */
  backups: BackupState[] | null;
  lastBackup: BackupState | null;
  /** Seconds since the last DONE backup ended, at `at`; null without one. */
  lastBackupAgeSeconds: number | null;
  failedBackups: number | null;
  /** What barman reported as errors while answering (its _ERROR and _EXCEPTION lists). */
  errors: string[];
}

/** The outputs the model is built from; each may be missing (not asked, or failed). */
export interface ServerOutputs {
  listServer?: unknown;
  showServer?: unknown;
  status?: unknown;
  listBackup?: unknown;
}

type Doc = Record<string, unknown>;

const isDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One server's part of a `{"<server>": …}` document, or undefined. */
function part(doc: unknown, server: string): unknown {
  return isDoc(doc) ? doc[server] : undefined;
}

/** barman's own error lists in a document (`_ERROR`, `_EXCEPTION`). */
export function errorsOf(...docs: unknown[]): string[] {
  const out: string[] = [];
  for (const doc of docs) {
    if (!isDoc(doc)) continue;
    for (const key of ['_ERROR', '_EXCEPTION']) {
      const list = doc[key];
      if (Array.isArray(list)) out.push(...list.map((e) => String(e).trim()));
    }
  }
  return [...new Set(out)];
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return v === '' || v === 'None' ? null : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

function truth(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  const t = text(v)?.toLowerCase();
  return t === 'true' || t === 'on' ? true : t === 'false' || t === 'off' ? false : null;
}

function count(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return null;
}

/** `status` wraps each value as {description, message}. */
function statusValue(status: unknown, key: string): unknown {
  const v = isDoc(status) ? status[key] : undefined;
  return isDoc(v) ? v.message : v;
}

/** A unix timestamp in seconds (barman prints them as strings) as ISO 8601. */
function isoFromTimestamp(v: unknown): string | null {
  const n = count(v);
  const d = n === null ? null : new Date(n * 1000);
  return d === null || Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** barman's "2026-11-27 23:35:48.921178+00:00" or "Fri Nov 27 23:35:49 2026" as ISO, where unambiguous. */
function isoFromText(v: unknown): string | null {
  const t = text(v);
  if (t === null) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}:\d{2}|Z)$/.exec(t);
  if (!m) return null; // local times without a zone are not guessed
  const d = new Date(`${m[1]}T${m[2]}${m[3]}`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** One backup from a list-backup entry (3.x) or a show-backup document (2.x and 3.x). */
export function backupFrom(entry: unknown): BackupState | null {
  if (!isDoc(entry)) return null;
  const id = text(entry.backup_id);
  if (id === null) return null;
  const base = isDoc(entry.base_backup_information) ? entry.base_backup_information : {};
  const wal = isDoc(entry.wal_information) ? entry.wal_information : {};
  const retention = text(entry.retention_status);
  return {
    id,
    status: text(entry.status),
    beginTime: isoFromTimestamp(entry.begin_time_timestamp ?? base.begin_time_timestamp) ?? isoFromText(entry.begin_time ?? base.begin_time),
    endTime: isoFromTimestamp(entry.end_time_timestamp ?? base.end_time_timestamp) ?? isoFromText(entry.end_time ?? base.end_time),
    sizeBytes: count(entry.size_bytes ?? base.disk_usage_bytes),
    walSizeBytes: count(entry.wal_size_bytes ?? wal.disk_usage_bytes),
    retentionStatus: retention === null || retention === '-' ? null : retention,
  };
}

/** One backup as show-backup details it, beyond what list-backup gives. */
export interface BackupDetails extends BackupState {
  timeline: number | null;
  beginWal: string | null;
  endWal: string | null;
  beginLsn: string | null;
  endLsn: string | null;
  copyTimeSeconds: number | null;
  /** PostgreSQL's version number as barman records it (150018). */
  pgVersion: string | null;
  previousBackup: string | null;
  nextBackup: string | null;
}

/** A backup id of catalog_information: barman writes '- (this is the oldest base backup)' for none. */
function backupRef(v: unknown): string | null {
  const t = text(v);
  return t === null || t.startsWith('-') ? null : t;
}

/** One backup from its show-backup document (the server's part of it). */
export function backupDetailsFrom(entry: unknown): BackupDetails | null {
  const backup = backupFrom(entry);
  if (!backup || !isDoc(entry)) return null;
  const base = isDoc(entry.base_backup_information) ? entry.base_backup_information : {};
  const catalog = isDoc(entry.catalog_information) ? entry.catalog_information : {};
  return {
    ...backup,
    timeline: count(base.timeline ?? entry.timeline),
    beginWal: text(base.begin_wal ?? entry.begin_wal),
    endWal: text(base.end_wal ?? entry.end_wal),
    beginLsn: text(base.begin_lsn ?? entry.begin_xlog),
    endLsn: text(base.end_lsn ?? entry.end_xlog),
    copyTimeSeconds: count(base.copy_time_seconds ?? entry.copy_time),
    pgVersion: text(entry.postgresql_version ?? base.postgresql_version),
    previousBackup: backupRef(catalog.previous_backup),
    nextBackup: backupRef(catalog.next_backup),
  };
}

/** A server's state from barman's outputs; `at` is the time its ages are counted to. */
export function serverFrom(name: string, outputs: ServerOutputs, at: Date): ServerState {
  const show = part(outputs.showServer, name);
  const status = part(outputs.status, name);
  const listed = part(outputs.listServer, name);
  const rawBackups = part(outputs.listBackup, name);
  const backups = Array.isArray(rawBackups) && errorsOf(outputs.listBackup).length === 0
    ? rawBackups.map(backupFrom).filter((b): b is BackupState => b !== null)
    : null;
  const s = isDoc(show) ? show : {};
  const done = backups?.find((b) => b.status === 'DONE') ?? null;
  const endedMs = done?.endTime ? Date.parse(done.endTime) : NaN;
  return {
    name,
    description: text(s.description) ?? text(isDoc(listed) ? listed.description : undefined) ?? text(statusValue(status, 'description')),
    active: truth(s.active ?? statusValue(status, 'active')),
    disabled: truth(s.disabled ?? statusValue(status, 'disabled')),
    backupMethod: text(s.backup_method),
    pgVersion: text(statusValue(status, 'pg_version')) ?? text(s.server_txt_version),
    currentWal: text(s.current_xlog ?? statusValue(status, 'current_xlog')),
    archiver: {
      enabled: truth(s.archiver),
      lastArchivedWal: text(s.last_archived_wal),
      lastArchivedTime: isoFromText(s.last_archived_time),
      failedCount: count(s.failed_count),
      lastFailedWal: text(s.last_failed_wal),
    },
    streamingArchiver: truth(s.streaming_archiver),
    retentionPolicy: text(s.retention_policy),
    backups,
    lastBackup: done,
    lastBackupAgeSeconds: Number.isFinite(endedMs) ? Math.max(0, Math.round((at.getTime() - endedMs) / 1000)) : null,
    failedBackups: backups === null ? null : backups.filter((b) => b.status === 'FAILED').length,
    errors: errorsOf(outputs.showServer, outputs.status, outputs.listBackup, outputs.listServer),
  };
}

/** The names of the servers in a list-server document. */
export function serverNames(listServer: unknown): string[] {
  return isDoc(listServer) ? Object.keys(listServer).filter((k) => !k.startsWith('_')).sort() : [];
}

export interface CheckState {
  name: string;
  /** Every check passed; null when barman gave no checks. */
  ok: boolean | null;
  checks: Array<{ name: string; ok: boolean; status: string; hint: string | null }>;
  errors: string[];
}

/** A server's `check` (a live probe, asked for on its own): each check with its status and hint. */
export function checkFrom(name: string, doc: unknown): CheckState {
  const part = isDoc(doc) ? doc[name] : undefined;
  const checks = isDoc(part)
    ? Object.entries(part)
        .filter(([, v]) => isDoc(v))
        .map(([check, v]) => {
          const status = text((v as Doc).status) ?? 'UNKNOWN';
          return { name: check, ok: status === 'OK', status, hint: text((v as Doc).hint) };
        })
        .sort((a, b) => a.name.localeCompare(b.name))
    : [];
  return { name, ok: checks.length === 0 ? null : checks.every((c) => c.ok), checks, errors: errorsOf(doc) };
}

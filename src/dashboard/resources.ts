/**
 * The v1 resources the pages show, as far as they read them (the OpenAPI document has them
 * whole), and how a server's state becomes one status.
 */
import type { Health } from './view.js';

export interface HostAnswer {
  name: string;
  description: string;
  reachable: boolean | null;
  reason: string | null;
  as_of: string | null;
}

/** GET /hosts/{host}. */
export interface HostResource {
  name: string;
  description: string;
  down: { reason: string | null; since: string | null; next_try: string | null } | null;
}

export interface Backup {
  host: string;
  server: string;
  id: string;
  status: string | null;
  begin_time: string | null;
  end_time: string | null;
  size_bytes: number | null;
  wal_size_bytes: number | null;
  retention_status: string | null;
}

export interface BackupDetail extends Backup {
  timeline: number | null;
  begin_wal: string | null;
  end_wal: string | null;
  begin_lsn: string | null;
  end_lsn: string | null;
  copy_time_seconds: number | null;
  postgresql_version: string | null;
  previous_backup: string | null;
  next_backup: string | null;
}

export interface Wal {
  current: string | null;
  archiver_enabled: boolean | null;
  last_archived: string | null;
  last_archived_time: string | null;
  failed_count: number | null;
  last_failed: string | null;
  streaming: boolean | null;
}

export interface Server {
  host: string;
  name: string;
  description: string | null;
  active: boolean | null;
  disabled: boolean | null;
  backup_method: string | null;
  postgresql_version: string | null;
  retention_policy: string | null;
  last_backup: Backup | null;
  backups: number | null;
  failed_backups: number | null;
  wal: Wal;
  errors: string[];
  stale: boolean;
}

export interface Job {
  id: string;
  host: string;
  server: string;
  command: string;
  status: 'queued' | 'running' | 'done' | 'failed' | 'lost' | 'cancelled';
  user: string;
  created_at: string;
  status_code: number | null;
}

export interface JobDetail extends Job {
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  result: { status_code: number; message: string; list: string[]; truncated?: boolean } | null;
}

export interface CommandResult {
  status_code: number;
  message: string;
  list: string[];
  data?: unknown;
}

/** A last backup older than this is worth attention (barman's own default check has no age). */
export const BACKUP_AGE_WARN_MS = 7 * 86400_000;

/** One status for a server, and the reasons for it, worst first. */
export function serverHealth(server: Server, host: HostAnswer | undefined, now: number): { health: Health; reasons: string[] } {
  const fail: string[] = [];
  const warn: string[] = [];
  if (host?.reachable === false) fail.push(`host ${host.name} unreachable${host.reason ? `: ${host.reason}` : ''}`);
  else if (host?.reachable === null) warn.push(`host ${host.name} did not answer in time`);
  if (server.stale) warn.push('last known state (the host is not answering)');
  for (const e of server.errors) fail.push(e);
  if (server.backups === null) warn.push('backups unknown');
  else if (!server.last_backup) fail.push('no completed backup');
  else {
    const end = Date.parse(server.last_backup.end_time ?? server.last_backup.begin_time ?? '');
    if (!Number.isNaN(end) && now - end > BACKUP_AGE_WARN_MS) warn.push('last backup older than 7 days');
  }
  if ((server.failed_backups ?? 0) > 0) warn.push(`${server.failed_backups} failed backup${server.failed_backups === 1 ? '' : 's'}`);
  if ((server.wal.failed_count ?? 0) > 0) warn.push(`${server.wal.failed_count} failed WAL archiving attempt${server.wal.failed_count === 1 ? '' : 's'}`);
  if (server.wal.archiver_enabled === false && server.wal.streaming === false) warn.push('no WAL archiving or streaming');
  if (server.disabled) warn.push('disabled');
  else if (server.active === false) warn.push('inactive');
  const health: Health = fail.length ? 'fail' : warn.length ? 'warn' : 'ok';
  return { health, reasons: [...fail, ...warn] };
}

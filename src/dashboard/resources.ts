/**
 * The v1 resources the pages show, typed from the schemas the OpenAPI document is written from
 * (types only: nothing of zod is loaded for them), and how a server's state becomes one status.
 */
import type { z } from 'zod';
import type { v1Schemas } from '../api/v1/schemas.js';
import type { Health } from './view.js';

type Schemas = ReturnType<typeof v1Schemas>;
/** A v1 resource as the document describes it (schemas.ts): the pages read the same shapes. */
type Resource<K extends keyof Schemas> = z.infer<Schemas[K]>;

export type HostAnswer = Resource<'HostAnswer'>;
/** GET /hosts/{host}. */
export type HostResource = Resource<'Host'>;
export type Backup = Resource<'Backup'>;
export type BackupDetail = Resource<'BackupDetail'>;
export type Wal = Resource<'Wal'>;
export type Server = Resource<'Server'>;
export type Job = Resource<'Job'>;
export type JobDetail = Resource<'JobDetail'>;
export type CommandResult = Resource<'CommandResult'>;
export type BarmanConfig = Resource<'BarmanConfig'>;
export type BarmanConfigChanged = Resource<'BarmanConfigChanged'>;
export type User = Resource<'User'>;

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

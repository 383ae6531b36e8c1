/**
 * What a webhook tells: a job's end, and the changes the state rounds notice (a new or failed
 * backup made by anyone, barman cron included; a check starting to fail or passing again; a host
 * down or up). Each event has an id: the same occurrence always gets the same id where it can be
 * named (a job's end, a backup's failure), so telling it twice stores it once, and receivers
 * de-duplicate retries by it.
 */
import type { JobView } from '../jobs/service.js';
import { jobHost } from '../jobs/model.js';
import type { StateChange } from '../state/refresher.js';
import type { BackupState } from '../state/model.js';
import type { JobService } from '../jobs/service.js';
import type { HostSet } from '../hosts/services.js';
import type { WebhookOutbox } from './outbox.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export const EVENT_TYPES = [
  'job.ended',
  'backup.new',
  'backup.failed',
  'backup.removed',
  'server.added',
  'server.removed',
  'check.failing',
  'check.ok',
  'host.down',
  'host.up',
  'ping',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The JSON body of a delivery. */
export interface WebhookEvent {
  /** `evt_` and 32 hex digits; the same for every attempt and every receiver. */
  id: string;
  type: EventType;
  /** ISO 8601: when it happened, or was noticed. */
  at: string;
  /** The barman host by name (absent for `ping`). */
  host?: string;
  data: Record<string, unknown>;
}

/** `pattern` (`backup.failed`, `backup.*`, `*`) covers `type`. */
export function eventMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Why `pattern` names no event type, or null. */
export function eventPatternProblem(pattern: string): string | null {
  if (EVENT_TYPES.some((t) => eventMatches(pattern, t))) return null;
  return `${JSON.stringify(pattern)} names no event; events: ${EVENT_TYPES.join(', ')} (or family.*, or *)`;
}

/** An id from what names the occurrence: one occurrence, one id, across restarts too. */
export function eventId(...parts: string[]): string {
  return `evt_${bytesToHex(sha256(utf8ToBytes(parts.join('\u0000'))).slice(0, 16))}`;
}

/** A job ended: who ran what, where, and how it ended (never its output). */
export function jobEvent(view: JobView): WebhookEvent | null {
  const { job, result, status } = view;
  if (!result) return null;
  return {
    id: eventId('job.ended', job.id),
    type: 'job.ended',
    at: result.ended_at,
    host: jobHost(job),
    data: {
      job: job.id,
      command: job.command,
      servers: job.servers,
      user: job.user,
      status,
      exit_code: result.exit_code,
      started_at: result.started_at,
      ended_at: result.ended_at,
      duration_ms: result.duration_ms,
    },
  };
}

const backupData = (b: BackupState) => ({ id: b.id, status: b.status, begin_time: b.beginTime, end_time: b.endTime, size_bytes: b.sizeBytes });

/** A change a state round noticed on host `host` (by name). */
export function stateEvent(host: string, change: StateChange): WebhookEvent {
  const { event, at } = change;
  const base = { at, host };
  switch (event.type) {
    case 'backup-new':
      return { ...base, id: eventId('backup.new', host, event.server, event.backup.id), type: 'backup.new', data: { server: event.server, backup: backupData(event.backup) } };
    case 'backup-failed':
      return { ...base, id: eventId('backup.failed', host, event.server, event.backup.id), type: 'backup.failed', data: { server: event.server, backup: backupData(event.backup) } };
    case 'backup-gone':
      return { ...base, id: eventId('backup.removed', host, event.server, event.backupId), type: 'backup.removed', data: { server: event.server, backup: { id: event.backupId } } };
    case 'server-added':
    case 'server-removed': {
      const type = event.type === 'server-added' ? 'server.added' : 'server.removed';
      return { ...base, id: eventId(type, host, event.server, at), type, data: { server: event.server } };
    }
    case 'check-failing':
      return { ...base, id: eventId('check.failing', host, event.server, event.checkedAt), type: 'check.failing', data: { server: event.server, failing: event.failing, checked_at: event.checkedAt } };
    case 'check-ok':
      return { ...base, id: eventId('check.ok', host, event.server, event.checkedAt), type: 'check.ok', data: { server: event.server, checked_at: event.checkedAt } };
    case 'host-down':
      return { ...base, id: eventId('host.down', host, at), type: 'host.down', data: { reason: event.reason } };
    case 'host-up':
      return { ...base, id: eventId('host.up', host, at), type: 'host.up', data: {} };
  }
}

/** Every job end and every host's state changes, into the outbox. */
export function tellWebhooks(outbox: WebhookOutbox, jobs: JobService, hosts: HostSet): void {
  jobs.onEnd((view) => outbox.accept(jobEvent(view), { user: view.job.user, ...(view.job.user_id ? { id: view.job.user_id } : {}) }));
  for (const h of hosts.list) h.refresher.on((change) => outbox.accept(stateEvent(h.name, change)));
}

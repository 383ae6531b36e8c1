/**
 * /fleet: every server of every barman host the user reaches, with its state from the state
 * model, in one call. A host that does not answer within `[application] fleet_timeout` (down,
 * stalled) is shown as unknown with the reason and its servers as last known, so one bad host
 * never holds up the view of the others.
 */
import { Hono } from 'hono';
import type { AppEnv, AuthedUser, SettingsHolder } from '../context.js';
import { ok } from '../http/envelope.js';
import { readParams } from '../http/params.js';
import { noParams, parseParams } from '../http/schema.js';
import { forbidden } from '../http/errors.js';
import { isDenied } from '../auth/policy.js';
import { redact } from '../util/redact.js';
import type { BackupState, ServerState } from '../state/model.js';
import type { HostServices, HostSet } from './services.js';

export interface FleetHost {
  name: string;
  description: string;
  /** true: answered now; false: failed now; null: did not answer in time. */
  reachable: boolean | null;
  /** Why it is not reachable, or why it has no servers as data (no -f json). */
  reason: string | null;
  /** When the servers shown were read (now, or the last round that read them). */
  as_of: string | null;
  /** With several hosts, one known down: since when, and when it is tried again. */
  down_since?: string;
  next_try?: string;
}

/** One host in the fleet view: how it answered, and its servers (`stale`: the last known ones). */
export interface FleetRow {
  host: FleetHost;
  servers: ServerState[];
  stale: boolean;
}

/** The barman commands whose answers the fleet view is made of, with their other names. */
export const FLEET_COMMANDS = ['list-server', 'list-servers', 'show-server', 'show-servers', 'status', 'list-backup', 'list-backups'];

export function fleetRoutes(hosts: HostSet, settings: SettingsHolder, now: () => Date): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.all('/', async (c) => {
    await parseParams(noParams, await readParams(c));
    const user = c.get('user');
    // The view shows what these commands show: a deny of any of them (the seed's prefix reach:
    // `barman` denies all) keeps the user out here too, so /fleet widens no one.
    checkFleetRules(user, '/fleet');
    const boundMs = settings.current().application.fleetTimeoutSeconds * 1000;
    const rows = await Promise.all(hosts.reachable(c.get('user')).map((h) => readHost(h, boundMs, now)));
    const servers = rows.flatMap((row) => row.servers.map((s) => fleetServer(row.host.name, s, row.stale)));
    return c.json(ok(servers, { hosts: rows.map((row) => row.host) }));
  });
  return r;
}

/**
 * The fleet view shows what these commands show: a deny of any of them (the seed's prefix reach:
 * `barman` denies all) keeps the user out of it, so no view of it widens anyone.
 */
export function checkFleetRules(user: AuthedUser, route: string): void {
  const denied = FLEET_COMMANDS.filter((name) => isDenied(user, `barman/${name}`));
  if (denied.length > 0) throw forbidden(`${route} shows what barman ${FLEET_COMMANDS.join(', ')} show, and user ${user.username} is denied ${denied.map((d) => `barman/${d}`).join(', ')}`);
}

/** One host's servers within the bound; on failure or timeout, the last known ones. */
export async function readHost(h: HostServices, boundMs: number, now: () => Date): Promise<FleetRow> {
  const base = { name: h.name, description: h.deps.host.description };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), boundMs)));
  // Not stopped when late: a slow host's answer still lands in its cache for the next call (its
  // barman runs are bounded by the host's own timeouts, and identical ones are shared).
  const reading = h.state.servers();
  reading.catch(() => undefined);
  try {
    const answer = await Promise.race([reading, late]);
    if (answer === 'late') return lastKnown(h, base, null, `no answer within ${Math.round(boundMs / 1000)} s ([application] fleet_timeout)`);
    const at = now().toISOString();
    if (answer.model === null) return { host: { ...base, reachable: true, reason: answer.reason, as_of: at }, servers: [], stale: false };
    return { host: { ...base, reachable: true, reason: null, as_of: at }, servers: answer.model, stale: false };
  } catch (e) {
    return lastKnown(h, base, false, redact(e instanceof Error ? e.message : String(e)));
  } finally {
    clearTimeout(timer);
  }
}

function lastKnown(h: HostServices, base: { name: string; description: string }, reachable: boolean | null, reason: string): FleetRow {
  const last = h.refresher.current;
  const health = h.breaker.health();
  const down = health.up === false && health.since && health.retryAt ? { down_since: health.since, next_try: health.retryAt } : {};
  return {
    host: { ...base, reachable, reason, as_of: last?.at ?? null, ...down },
    servers: last?.servers ?? [],
    stale: true,
  };
}

function backupRow(b: BackupState | null) {
  if (!b) return null;
  return { id: b.id, status: b.status, begin_time: b.beginTime, end_time: b.endTime, size_bytes: b.sizeBytes, wal_size_bytes: b.walSizeBytes };
}

/** One server as the fleet view shows it; `stale`: from the last round, the host not answering now. */
function fleetServer(host: string, s: ServerState, stale: boolean) {
  return {
    host,
    name: s.name,
    description: s.description,
    active: s.active,
    disabled: s.disabled,
    backup_method: s.backupMethod,
    retention_policy: s.retentionPolicy,
    last_backup: backupRow(s.lastBackup),
    last_backup_age_seconds: s.lastBackupAgeSeconds,
    backups: s.backups?.length ?? null,
    failed_backups: s.failedBackups,
    wal: walView(s),
    errors: s.errors,
    stale,
  };
}

/** A server's WAL archiving as the fleet view and the v1 server resource show it. */
export function walView(s: ServerState) {
  return {
    current: s.currentWal,
    archiver_enabled: s.archiver.enabled,
    last_archived: s.archiver.lastArchivedWal,
    last_archived_time: s.archiver.lastArchivedTime,
    failed_count: s.archiver.failedCount,
    last_failed: s.archiver.lastFailedWal,
    streaming: s.streamingArchiver,
  };
}

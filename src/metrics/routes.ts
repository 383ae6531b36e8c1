/**
 * GET /metrics: Prometheus' text format, read from what the server already holds (the state
 * rounds' model, the caps, the read cache, its own request counts). A scrape asks for a state
 * round, which the read cache answers without running barman while barman's files are unchanged
 * (freshen). prometheus-barman-exporter's metric names, labels and meanings are kept, a `host`
 * label beside `server`, so its dashboards and alerts keep working; ours are `barmanapi_*`.
 *
 * Scraped with `[metrics] token` (a long-lived scrape credential, compared in constant time) or
 * with a login token whose rules allow `metrics` and pass /fleet's checks (then only the hosts
 * that user reaches are shown).
 */
import { Hono, type Context } from 'hono';
import type { AppEnv, AuthedUser, Deps } from '../context.js';
import type { AuthService } from '../auth/service.js';
import type { HostServices, HostSet } from '../hosts/services.js';
import type { ServerState } from '../state/model.js';
import type { ServerChecks } from '../state/checks.js';
import { ApiError, unauthorized } from '../http/errors.js';
import { caller, requestHeader } from '../http/authenticate.js';
import { checkFleetRules } from '../hosts/routes.js';
import { CONTENT_TYPE, Exposition, type Sample } from './exposition.js';
import type { HttpMetrics, JobMetrics } from './http.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { settleWithin } from '../util/concurrency.js';

/** What the server counts of its own work, shown only to who sees every host. */
export interface ServerCounts {
  counts: () => { running: number; queued: number };
  ended: JobMetrics;
  webhooks?: { deliverySamples(): Sample[]; attemptSamples(): Sample[] };
}

export function metricsRoutes(deps: Deps, auth: AuthService, hosts: HostSet, http: HttpMetrics, own: ServerCounts): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const failures = failureLog(deps);
  app.on(['GET', 'HEAD'], '/metrics', async (c) => {
    let scrape: { shown: readonly HostServices[]; whole: boolean };
    try {
      scrape = await scraper(deps, auth, hosts, c);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) failures();
      throw err;
    }
    const { shown, whole } = scrape;
    await freshen(deps, shown);
    const now = deps.clock.now().getTime();
    const text = new Exposition();
    exporterFamilies(text, shown);
    ownFamilies(text, shown, now);
    // The server's own counts span every host and user: only for who sees every host.
    if (whole) {
      const j = own.counts();
      text
        .family('barmanapi_jobs', 'gauge', 'Async jobs of this server by state', [
          { labels: { state: 'running' }, value: j.running },
          { labels: { state: 'queued' }, value: j.queued },
        ])
        .family('barmanapi_jobs_ended_total', 'counter', 'Async jobs this server saw running that ended, by host, barman command and outcome (done, failed, cancelled, lost)', own.ended.endedSamples())
        .family('barmanapi_job_duration_seconds', 'histogram', 'How long the async jobs that ended ran, by host and barman command', own.ended.durationSamples())
        .family('barmanapi_http_requests_total', 'counter', 'HTTP requests answered, by route family, method and status code', http.requestSamples())
        .family('barmanapi_http_request_duration_seconds', 'histogram', 'Time to answer an HTTP request (until the answer starts), by route family', http.durationSamples());
      if (own.webhooks) {
        text
          .family('barmanapi_webhook_deliveries', 'gauge', 'Webhook deliveries in the outbox by receiver and status (pending; sent and failed within [webhooks] keep_days)', own.webhooks.deliverySamples())
          .family('barmanapi_webhook_attempts_total', 'counter', 'Webhook delivery attempts by receiver and outcome (sent, retry, given_up)', own.webhooks.attemptSamples());
      }
    }
    c.header('Cache-Control', 'no-store');
    return c.body(text.text(), 200, { 'Content-Type': CONTENT_TYPE });
  });
  app.all('/metrics', (c) => {
    throw new ApiError(405, 'MethodNotAllowed', `${c.req.method} is not served here; this route answers GET and HEAD`, { allowed: ['GET', 'HEAD'] }, { headers: { Allow: 'GET, HEAD' } });
  });
  return app;
}

/** A scrape waits this long at most for the rounds it asks for; a slower one's values come at the next scrape. */
const FRESH_WAIT_MS = 2_000;
/** A round this recent is fresh enough: scrapes in a loop do not run rounds back to back. */
const FRESH_ENOUGH_MS = 5_000;

/**
 * A state round now on each host shown, so that what comes from barman's files (backups, their
 * sizes and times) is as of this scrape: while the files are unchanged the read cache answers the
 * round and no barman runs; after a change only what changed is read again. Live values (status,
 * show-server) keep the age `[cache] refresh_live` allows, as in the background rounds. None with
 * `[cache] refresh_interval = 0` (rounds are off).
 */
async function freshen(deps: Deps, shown: readonly HostServices[]): Promise<void> {
  if (deps.settings.current().cache.refreshIntervalSeconds <= 0) return;
  const now = deps.clock.now().getTime();
  // Only where the rounds run (an embedding app without background work has none), not on a
  // host known down (its round may wait for a timeout: the background rounds tell when it is
  // back), and not again within FRESH_ENOUGH_MS.
  const due = shown.filter((h) => {
    const last = h.refresher.current;
    return h.refresher.started && !h.refresher.isDown && !(last && now - Date.parse(last.at) < FRESH_ENOUGH_MS);
  });
  if (due.length === 0) return;
  await settleWithin(Promise.all(due.map((h) => h.refresher.tick().catch(() => undefined))), FRESH_WAIT_MS);
}

/** The hosts the caller may see: all with the scrape credential, else the user's (under /fleet's rules). */
async function scraper(deps: Deps, auth: AuthService, hosts: HostSet, c: Context<AppEnv>): Promise<{ shown: readonly HostServices[]; whole: boolean }> {
  const header = requestHeader(c, 'authorization') ?? '';
  const scrapeToken = deps.settings.current().metrics.token;
  const bearer = /^bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (scrapeToken !== '' && bearer !== undefined && sameText(bearer, scrapeToken)) return { shown: hosts.list, whole: true };
  // An embedding service names its users itself (a cookie, a session): no header needed then.
  if (!deps.externalAuth && header === '' && c.req.query('token') === undefined) {
    throw unauthorized('missing credentials: send "Authorization: Bearer <[metrics] token>" or a login token whose rules allow metrics');
  }
  const user: AuthedUser = await caller(deps, auth, c, 'metrics', false);
  checkFleetRules(user, '/metrics');
  const shown = hosts.reachable(user);
  return { shown, whole: shown.length === hosts.list.length };
}

/** A refused scrape is logged, at most once every 10 s with the count since (a guessing client cannot flood the log). */
function failureLog(deps: Deps): () => void {
  let count = 0;
  let loggedAt = -Infinity;
  return () => {
    count += 1;
    const now = deps.clock.now().getTime();
    if (now - loggedAt < 10_000) return;
    deps.logger.log('warn', '/metrics refused credentials', { times: count });
    count = 0;
    loggedAt = now;
  };
}

/** Equal texts, in a time that tells nothing of the guess: both hashed, the hashes compared whole. */
function sameText(a: string, b: string): boolean {
  const x = sha256(new TextEncoder().encode(a));
  const y = sha256(new TextEncoder().encode(b));
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

const seconds = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms / 1000;
};

/** A host's check results, for the servers its last round still lists (a removed one's go). */
function checksOf(h: HostServices): Array<[string, ServerChecks]> {
  const listed = h.refresher.current ? new Set(h.refresher.current.servers.map((s) => s.name)) : null;
  return [...h.state.checks.current()].filter(([server]) => listed === null || listed.has(server));
}

interface ServerRow {
  host: string;
  server: ServerState;
  at: number;
}

function serverRows(shown: readonly HostServices[]): ServerRow[] {
  return shown.flatMap((h) => {
    const round = h.refresher.current;
    const at = seconds(round?.at) ?? 0;
    return (round?.servers ?? []).map((server) => ({ host: h.name, server, at }));
  });
}

/**
 * A backup's time for barman_last_backup / barman_first_backup: its begin where barman's
 * list-backup gives it, else its end (barman 3.4 gives only that). The exporter parses the backup
 * id, the begin in the barman host's local time, which a remote reader cannot place in UTC.
 */
function backupTime(b: { beginTime: string | null; endTime: string | null } | undefined): number | null {
  return b ? (seconds(b.beginTime) ?? seconds(b.endTime)) : null;
}

/**
 * prometheus-barman-exporter's families, same names and meanings: each check of the last
 * `barman check` (1 = OK), backups counted DONE and FAILED, times of the newest and oldest DONE backup in Unix seconds, sizes of DONE backups
 * numbered from 1 = newest, the copy time of the newest (show-backup, read once per backup), the
 * time the values were read.
 */
function exporterFamilies(text: Exposition, shown: readonly HostServices[]): void {
  const rows = serverRows(shown).filter((r) => r.server.backups !== null);
  const per = (f: (r: ServerRow, done: ServerState['backups'] & object) => number | null): Sample[] =>
    rows.flatMap((r) => {
      const done = r.server.backups!.filter((b) => b.status === 'DONE');
      const v = f(r, done);
      return v === null ? [] : [{ labels: { host: r.host, server: r.server.name }, value: v }];
    });
  const sizes = (field: 'sizeBytes' | 'walSizeBytes'): Sample[] =>
    rows.flatMap((r) =>
      r.server.backups!.filter((b) => b.status === 'DONE').flatMap((b, i) => (b[field] === null ? [] : [{ labels: { host: r.host, server: r.server.name, number: String(i + 1) }, value: b[field]! }])),
    );
  const checks = shown.flatMap((h) => checksOf(h).map(([server, c]) => ({ host: h.name, server, ...c })));
  text
    .family('barman_up', 'gauge', 'Barman status checks', checks.flatMap((c) => Object.entries(c.checks).map(([check, ok]) => ({ labels: { host: c.host, server: c.server, check }, value: ok ? 1 : 0 }))))
    .family('barman_backups_total', 'gauge', 'Total number of backups', per((r) => r.server.backups!.filter((b) => b.status === 'DONE' || b.status === 'FAILED').length))
    .family('barman_backups_failed', 'gauge', 'Number of failed backups', per((r) => r.server.backups!.filter((b) => b.status === 'FAILED').length))
    .family('barman_last_backup', 'gauge', 'Last successful backup timestamp', per((_r, done) => backupTime(done[0])))
    .family('barman_first_backup', 'gauge', 'First successful backup timestamp', per((_r, done) => backupTime(done.at(-1))))
    .family('barman_backup_size', 'gauge', 'Size of available backups', sizes('sizeBytes'))
    .family('barman_backup_wal_size', 'gauge', 'WAL size of available backups', sizes('walSizeBytes'))
    .family('barman_last_backup_copy_time', 'gauge', 'Last successful backup copy time', shown.flatMap((h) => {
      const round = h.refresher.current;
      return (round?.servers ?? []).flatMap((server) => {
        const newest = server.backups?.find((b) => b.status === 'DONE');
        const copy = h.state.copyTimes.get(server.name);
        return newest && copy?.id === newest.id && copy.seconds !== null ? [{ labels: { host: h.name, server: server.name }, value: copy.seconds }] : [];
      });
    }))
    .family('barman_metrics_update', 'gauge', 'Barman metrics update timestamp', rows.map((r) => ({ labels: { host: r.host, server: r.server.name }, value: r.at })));
}

/** Ours: ages (computed at the scrape), WAL archiving, hosts, barman processes, the read cache. */
function ownFamilies(text: Exposition, shown: readonly HostServices[], now: number): void {
  const rows = serverRows(shown);
  const labels = (r: ServerRow) => ({ host: r.host, server: r.server.name });
  const each = (f: (r: ServerRow) => number | null): Sample[] =>
    rows.flatMap((r) => {
      const v = f(r);
      return v === null ? [] : [{ labels: labels(r), value: v }];
    });
  const hostUp = shown.flatMap((h) => {
    const health = h.breaker.health();
    const round = h.refresher.current;
    const up = health.up === false || round?.down ? 0 : health.up || round ? 1 : null;
    return up === null ? [] : [{ labels: { host: h.name }, value: up }];
  });
  text
    .family('barmanapi_last_backup_age_seconds', 'gauge', 'Seconds since the newest DONE backup ended, at the scrape', each((r) => {
      const end = seconds(r.server.lastBackup?.endTime);
      return end === null ? null : Math.max(0, now / 1000 - end);
    }))
    .family('barmanapi_server_active', 'gauge', 'Whether barman has the server active (1) or not (0)', each((r) => (r.server.active === null ? null : r.server.active ? 1 : 0)))
    .family('barmanapi_wal_archiver_failed_count', 'gauge', "PostgreSQL's count of failed WAL archiving attempts (pg_stat_archiver.failed_count)", each((r) => r.server.archiver.failedCount))
    .family('barmanapi_wal_last_archived_timestamp_seconds', 'gauge', "When PostgreSQL last archived a WAL segment (pg_stat_archiver.last_archived_time)", each((r) => seconds(r.server.archiver.lastArchivedTime)))
    .family('barmanapi_state_timestamp_seconds', 'gauge', "When the last background round read the host's barman state", shown.flatMap((h) => {
      const at = seconds(h.refresher.current?.at);
      return at === null ? [] : [{ labels: { host: h.name }, value: at }];
    }))
    .family('barmanapi_check_timestamp_seconds', 'gauge', 'When barman check last ran for the server (its results are barman_up)', shown.flatMap((h) =>
      checksOf(h).flatMap(([server, c]) => (seconds(c.at) === null ? [] : [{ labels: { host: h.name, server }, value: seconds(c.at)! }])),
    ))
    .family('barmanapi_check_age_seconds', 'gauge', "Seconds since barman check last ran for the server: barman_up is that old", shown.flatMap((h) =>
      checksOf(h).flatMap(([server, c]) => (seconds(c.at) === null ? [] : [{ labels: { host: h.name, server }, value: Math.max(0, now / 1000 - seconds(c.at)!) }])),
    ))
    .family('barmanapi_host_up', 'gauge', 'Whether the barman host answers (1) or is known down (0); absent until it has been used', hostUp)
    .family('barmanapi_barman_processes', 'gauge', 'barman processes of requests on the host, running and waiting for a slot', shown.flatMap((h) => {
      const s = h.slots.stats();
      return [
        { labels: { host: h.name, state: 'running' }, value: s.active },
        { labels: { host: h.name, state: 'queued' }, value: s.queued },
      ];
    }))
    .family('barmanapi_barman_refused_total', 'counter', 'Requests refused with 503 because the barman slots and their queue were full', shown.map((h) => ({ labels: { host: h.name }, value: h.slots.stats().rejected })))
    .family('barmanapi_cache_requests_total', 'counter', 'Read-only barman commands asked of the read cache, by result', shown.flatMap((h) => {
      const s = h.reads.stats;
      return [
        { labels: { host: h.name, result: 'hit' }, value: s.hits },
        { labels: { host: h.name, result: 'miss' }, value: s.misses },
        { labels: { host: h.name, result: 'uncacheable' }, value: s.uncacheable },
      ];
    }))
    .family('barmanapi_cache_bytes', 'gauge', 'Memory held by cached barman answers', shown.map((h) => ({ labels: { host: h.name }, value: h.reads.stats.bytes })));
}

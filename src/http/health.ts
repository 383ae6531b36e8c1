/**
 * Probes for systemd, load balancers and orchestrators, answered without a token and without
 * running barman. `/healthz`: the process answers (liveness). `/readyz`: it can do its work, which
 * means the store takes writes and the server is not shutting down. A barman host that is down
 * is reported (to a token holder whose rules reach /fleet, for the hosts they reach) but never
 * makes the API "not ready": one dead host must not pull the API out of a load balancer, since
 * every other host is still served.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import type { AuthService } from '../auth/service.js';
import type { HostSet } from '../hosts/services.js';
import { ApiError } from './errors.js';
import { caller, requestHeader } from './authenticate.js';
import { redact } from '../util/redact.js';
import { checkFleetRules } from '../hosts/routes.js';

/** Whether the server takes new work; `draining` once a stop signal came. */
export type ServingPhase = 'serving' | 'draining';

/** Store probes are shared while one runs and their answer kept this long. */
const PROBE_TTL_MS = 1_000;
/** A store that takes longer than this to write a few bytes (a hung NFS mount) is not ready. */
const PROBE_TIMEOUT_MS = 2_000;
const PROBE_FILE = 'config/.ready-probe';

interface StoreProbe {
  ok: boolean;
  error?: string;
}

export function healthRoutes(deps: Deps, auth: AuthService, hosts: HostSet, phase: () => ServingPhase = () => 'serving'): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const probeStore = storeProbe(deps);
  let wasReady: boolean | null = null;

  app.on(['GET', 'HEAD'], '/healthz', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json({ status: 'ok' });
  });

  app.on(['GET', 'HEAD'], '/readyz', async (c) => {
    // Credentials are looked at only when sent: a probe without them gets the verdict alone.
    const user = hasCredentials(c) ? await caller(deps, auth, c, 'fleet', false) : null;
    // The detail shows what /fleet shows: the same rules, barman's deny rules included.
    if (user) checkFleetRules(user, '/readyz');
    const store = await probeStore();
    const serving = phase() === 'serving';
    const ready = store.ok && serving;
    if (ready !== wasReady) {
      if (wasReady !== null || !ready) deps.logger.log(ready ? 'info' : 'warn', ready ? 'ready again' : 'not ready', { store: store.error ?? 'ok', serving: phase() });
      wasReady = ready;
    }
    c.header('Cache-Control', 'no-store');
    const checks = { store: store.ok ? 'ok' : 'failing', serving: serving ? 'ok' : 'draining' };
    const body: Record<string, unknown> = { status: ready ? 'ready' : 'not ready', checks };
    if (user) {
      if (store.error) body.store_error = store.error;
      body.hosts = hosts.reachable(user).map((h) => {
        const health = h.breaker.health();
        const round = h.refresher.current;
        return {
          name: h.name,
          description: h.deps.host.description,
          // null: not used yet. A host is reported down by its breaker (a failed connection) or by the last state round.
          reachable: health.up === false || round?.down ? false : (health.up ?? (round ? true : null)),
          reason: health.reason ?? round?.down ?? null,
          down_since: health.since,
          catalogue: h.catalogue.describe(),
          state_as_of: round?.at ?? null,
        };
      });
    }
    return c.json(body, ready ? 200 : 503);
  });

  for (const path of ['/healthz', '/readyz']) {
    app.all(path, (c) => {
      throw new ApiError(405, 'MethodNotAllowed', `${c.req.method} is not served here; this route answers GET and HEAD`, { allowed: ['GET', 'HEAD'] }, { headers: { Allow: 'GET, HEAD' } });
    });
  }
  return app;
}

function hasCredentials(c: Context): boolean {
  return requestHeader(c, 'authorization') !== undefined || c.req.query('token') !== undefined;
}

/**
 * Write a few bytes to the store the way every store write goes (temp file, fsync, rename). One
 * write at a time: while one hangs (a dead NFS mount), probes answer "failing" without starting
 * more, so a probe storm cannot pile writes onto the file system's threads.
 */
function storeProbe(deps: Deps): () => Promise<StoreProbe> {
  let last: { at: number; result: StoreProbe } | null = null;
  let waiting: Promise<StoreProbe> | null = null;
  let writing: { since: number } | null = null;
  const once = async (): Promise<StoreProbe> => {
    if (writing) return { ok: false, error: `a write to the store has not finished after ${Math.round((Date.now() - writing.since) / 1000)} s` };
    const started = { since: Date.now() };
    writing = started;
    // Through a promise, so a storage that throws at once is answered like one that rejects.
    const write = Promise.resolve()
      .then(() => deps.storage.writeAtomic(PROBE_FILE, deps.clock.now().toISOString()))
      .finally(() => {
        if (writing === started) writing = null;
      });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the store took more than ${PROBE_TIMEOUT_MS / 1000} s to take a write`)), PROBE_TIMEOUT_MS);
    });
    try {
      await Promise.race([write, timeout]);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: redact(String((err as Error).message ?? err)) };
    } finally {
      clearTimeout(timer);
      write.catch(() => undefined); // a write that fails after its timeout was answered already
    }
  };
  return () => {
    if (last && Date.now() - last.at < PROBE_TTL_MS) return Promise.resolve(last.result);
    waiting ??= once()
      .then((result) => {
        last = { at: Date.now(), result };
        return result;
      })
      .finally(() => {
        waiting = null;
      });
    return waiting;
  };
}

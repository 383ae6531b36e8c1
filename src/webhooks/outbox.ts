/**
 * The webhook outbox: each event for each receiver of `[webhooks] urls` is one file in the store
 * (`webhooks/<event id>.<receiver>.json`, written before any attempt), so a delivery survives a
 * restart and is retried with backoff until it is answered 2xx or `retry_hours` pass. Delivery is
 * at least once: an attempt that reached the receiver may be made again (the server stopped
 * before it wrote the answer down), with the same `webhook-id` for the receiver to de-duplicate.
 * One occurrence has one event id, so telling it twice stores it once.
 */
import type { Clock, Logger, Storage } from '../ports.js';
import type { WebhookSettings } from '../settings/load.js';
import { eventMatches, type WebhookEvent } from './events.js';
import { attemptError, backoffSeconds, LAST_RETRY_S, parseDelivery, type Delivery } from './delivery.js';
import { signatureHeaders } from './sign.js';
import { ReceiverIds } from './receivers.js';
import { KeyedMutex } from '../util/mutex.js';
import { Counter, type Sample } from '../metrics/exposition.js';
import { settleWithin } from '../util/concurrency.js';

const DIR = 'webhooks';
const FILE_RE = /^(evt_[0-9a-f]{32})\.([0-9a-f]{12})\.json$/;
/** Attempts under way at once, over every receiver, and to one receiver (a dead one holds no more). */
const PARALLEL = 4;
const PER_RECEIVER = 2;
/** Deliveries waiting at most; a new event beyond is refused (logged), so a receiver down for long cannot fill the disk. */
const MAX_PENDING = 10_000;
/** A finished delivery is sent again on request at most this often. */
const REDELIVER_GAP_MS = 10_000;
/** The loop looks again at least this often (a setting changed, a clock jumped). */
const IDLE_MS = 60_000;
/** Finished deliveries kept in memory at most; older ones are pruned first. */
const KEEP_FINISHED = 10_000;
const STOP_WAIT_MS = 2_000;

export interface OutboxDeps {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  settings: () => WebhookSettings;
  fetch: typeof fetch;
}

export class WebhookOutbox {
  private readonly deliveries = new Map<string, Delivery>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly ids: ReceiverIds;
  private loading: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private aborter = new AbortController();
  private prunedAt = 0;
  /** One write of a delivery's file at a time (an attempt's end, a redelivery, pruning). */
  private readonly writes = new KeyedMutex();
  private readonly accepting = new Set<Promise<unknown>>();
  /** Attempts by receiver and outcome (sent, retry, given_up), for /metrics. */
  private readonly outcomes = new Counter();

  constructor(private readonly deps: OutboxDeps) {
    this.ids = new ReceiverIds(deps.storage, deps.logger);
  }

  /** Take an event (a job's end, a state change) to store in the background; a failure is logged. */
  accept(event: WebhookEvent | null, owner?: Delivery['owner']): void {
    if (!event) return;
    const p = this.publish(event, owner)
      .catch((err: unknown) => this.deps.logger.log('error', 'webhooks: an event could not be stored', { error: String((err as Error).message ?? err) }))
      .finally(() => this.accepting.delete(p));
    this.accepting.add(p);
  }

  /** Resolves once the events taken so far are stored (tests, and a stop). */
  async idle(): Promise<void> {
    while (this.accepting.size > 0) await Promise.all(this.accepting);
  }

  /** Read the store's deliveries (once); finished ones past `keep_days` are deleted. */
  load(): Promise<void> {
    this.loading ??= (async () => {
      for (const name of await this.deps.storage.list(DIR)) {
        if (!FILE_RE.test(name)) continue;
        const text = await this.deps.storage.readText(`${DIR}/${name}`).catch(() => null);
        const d = text === null ? null : parseDelivery(text);
        if (d && `${d.id}.json` === name) this.deliveries.set(d.id, d);
        else this.deps.logger.log('warn', `webhooks: ${DIR}/${name} is not a delivery record; left alone`);
      }
      await this.prune();
    })().catch((err: unknown) => {
      this.loading = null; // the next use tries again
      throw err;
    });
    return this.loading;
  }

  /** Start delivering (a serving process does; an app that is only asked does not). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.aborter.signal.aborted) this.aborter = new AbortController(); // attempts begun before start() stay stoppable
    void this.receivers().catch(() => undefined); // their ids, for /metrics' zero series
    void this.load().then(() => this.schedule(0), (err: unknown) => this.deps.logger.log('error', 'webhooks: the outbox could not be read', { error: String((err as Error).message ?? err) }));
  }

  /** Stop: attempts under way are cut off (they stay pending, and are made again after a restart). */
  async stop(): Promise<void> {
    this.stopped = true;
    await settleWithin(this.idle(), STOP_WAIT_MS); // events told just before are stored
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.aborter.abort(new Error('the server stops'));
    await settleWithin(Promise.all(this.inFlight.values()), STOP_WAIT_MS);
  }

  /**
   * Store `event` for each receiver whose `events` take it (every one for a ping); the ids of the
   * deliveries stored now (none for an event told before).
   */
  async publish(event: WebhookEvent, owner?: Delivery['owner']): Promise<string[]> {
    const settings = this.deps.settings();
    if (settings.urls.length === 0 || (event.type !== 'ping' && !settings.events.some((p) => eventMatches(p, event.type)))) return [];
    await this.load();
    const pending = [...this.deliveries.values()].filter((d) => d.status === 'pending').length;
    if (pending + settings.urls.length > MAX_PENDING) {
      this.deps.logger.log('error', `webhooks: ${pending} deliveries are waiting; ${event.type} ${event.id} is not stored`, {});
      return [];
    }
    const now = this.deps.clock.now();
    const body = JSON.stringify(event);
    const stored: string[] = [];
    for (const url of settings.urls) {
      const receiver = await this.ids.of(url);
      const d: Delivery = {
        id: `${event.id}.${receiver}`, event_id: event.id, type: event.type, host: event.host ?? null, receiver,
        created_at: now.toISOString(), status: 'pending', attempts: 0, next_attempt_at: now.toISOString(),
        give_up_at: new Date(now.getTime() + settings.retryHours * 3600_000).toISOString(), last_attempt: null, sent_at: null, body,
        ...(owner ? { owner } : {}),
      };
      if (this.deliveries.has(d.id)) continue;
      try {
        if (!(await this.deps.storage.createExclusive(`${DIR}/${d.id}.json`, JSON.stringify(d)))) continue;
      } catch (err) {
        // Not written down (a full disk, often the very reason of a failed backup): sent from
        // memory all the same; lost only if the server stops before.
        this.deps.logger.log('warn', `webhooks: delivery ${d.id} could not be written down; it is sent from memory`, { error: String((err as Error).message ?? err) });
      }
      this.deliveries.set(d.id, d);
      stored.push(d.id);
    }
    if (stored.length > 0) this.schedule(0);
    return stored;
  }

  /** Whether a ping to `receiver` waits still (a second one is not taken). */
  pingPending(receiver: string): boolean {
    return [...this.deliveries.values()].some((d) => d.type === 'ping' && d.receiver === receiver && d.status === 'pending');
  }

  /** Deliveries known, by receiver and status, for /metrics: 0 where none, so a rise shows. */
  deliverySamples(): Sample[] {
    const counts = new Map<string, Sample>();
    for (const receiver of this.ids.known(this.deps.settings().urls)) for (const status of ['pending', 'sent', 'failed']) counts.set(`${receiver} ${status}`, { labels: { receiver, status }, value: 0 });
    for (const d of this.deliveries.values()) {
      const key = `${d.receiver} ${d.status}`;
      const s = counts.get(key) ?? { labels: { receiver: d.receiver, status: d.status }, value: 0 };
      s.value += 1;
      counts.set(key, s);
    }
    return [...counts.values()];
  }

  /** Attempts made by this server, by receiver and outcome: 0 where none, so increase() sees the first. */
  attemptSamples(): Sample[] {
    for (const receiver of this.ids.known(this.deps.settings().urls)) for (const outcome of ['sent', 'retry', 'given_up']) this.outcomes.inc({ receiver, outcome }, 0);
    return this.outcomes.samples();
  }

  /** Every delivery known (pending, and finished within `keep_days`). */
  all(): Delivery[] {
    return [...this.deliveries.values()];
  }

  get(id: string): Delivery | undefined {
    return this.deliveries.get(id);
  }

  /** The receivers of the settings now, each with its id and where it points (scheme, host and port only). */
  async receivers(): Promise<Array<{ id: string; origin: string }>> {
    return Promise.all(this.deps.settings().urls.map(async (url) => ({ id: await this.ids.of(url), origin: new URL(url).origin })));
  }

  /** Send a finished delivery again, now, with a new retry window; why not when it is not. */
  redeliver(id: string): Promise<'pending' | 'too soon' | null> {
    return this.writes.run(id, async () => {
      const d = this.deliveries.get(id);
      if (!d || d.status === 'pending') return 'pending';
      const now = this.deps.clock.now();
      if (d.last_attempt && now.getTime() - Date.parse(d.last_attempt.at) < REDELIVER_GAP_MS) return 'too soon';
      const next: Delivery = { ...d, status: 'pending', next_attempt_at: now.toISOString(), give_up_at: new Date(now.getTime() + this.deps.settings().retryHours * 3600_000).toISOString() };
      await this.deps.storage.writeAtomic(`${DIR}/${id}.json`, JSON.stringify(next));
      this.deliveries.set(id, next);
      this.schedule(0);
      return null;
    });
  }

  /** Look again in `delayMs` (sooner if a delivery falls due before). */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.deliverDue();
    }, delayMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /**
   * Start the attempts that are due (PARALLEL at most under way) and plan the next look; resolves
   * when the attempts started now have ended. The loop calls it; tests call it too.
   */
  deliverDue(): Promise<void> {
    const now = this.deps.clock.now().getTime();
    // A time past now + the longest backoff comes from a clock set back: due now.
    const dueAt = (d: Delivery) => Math.min(Date.parse(d.next_attempt_at!), now + LAST_RETRY_S * 1200);
    const pending = [...this.deliveries.values()].filter((d) => d.status === 'pending' && !this.inFlight.has(d.id)).sort((a, b) => dueAt(a) - dueAt(b));
    const perReceiver = new Map<string, number>();
    for (const id of this.inFlight.keys()) {
      const r = this.deliveries.get(id)?.receiver ?? '';
      perReceiver.set(r, (perReceiver.get(r) ?? 0) + 1);
    }
    const started: Array<Promise<void>> = [];
    for (const d of pending) {
      if (this.inFlight.size >= PARALLEL || dueAt(d) > now) break;
      if ((perReceiver.get(d.receiver) ?? 0) >= PER_RECEIVER) continue;
      perReceiver.set(d.receiver, (perReceiver.get(d.receiver) ?? 0) + 1);
      const attempt = this.attempt(d)
        .catch((err: unknown) => {
          // Not an answer of the receiver: tried again after the backoff, never at once.
          this.deps.logger.log('error', `webhooks: delivery ${d.id} failed unexpectedly`, { error: String((err as Error).message ?? err) });
          const current = this.deliveries.get(d.id);
          if (current?.status !== 'pending') return;
          const now = this.deps.clock.now().getTime();
          const attempts = current.attempts + 1;
          const givenUp = now >= Date.parse(current.give_up_at);
          this.deliveries.set(d.id, { ...current, attempts, status: givenUp ? 'failed' : 'pending', next_attempt_at: givenUp ? null : new Date(now + backoffSeconds(attempts) * 1000).toISOString() });
        })
        .finally(() => {
          this.inFlight.delete(d.id);
          this.schedule(0);
        });
      this.inFlight.set(d.id, attempt);
      started.push(attempt);
    }
    // The next due of a receiver with a free slot; the others look again as an attempt ends.
    const next = pending.find((d) => !this.inFlight.has(d.id) && (perReceiver.get(d.receiver) ?? 0) < PER_RECEIVER);
    // A full house looks again as each attempt ends.
    if (this.inFlight.size < PARALLEL) this.schedule(Math.min(next ? Math.max(dueAt(next) - now, 0) : IDLE_MS, IDLE_MS));
    if (now - this.prunedAt > 3600_000) void this.prune();
    return Promise.all(started).then(() => undefined);
  }

  private async attempt(d: Delivery): Promise<void> {
    const stopping = this.aborter.signal; // this run's: a stop after this line cuts the attempt off
    const settings = this.deps.settings();
    const url = await this.ids.urlOf(d.receiver, settings.urls);
    const started = this.deps.clock.now();
    if (url === null) return this.finish(d, started, { status: null, error: 'the receiver is no longer in [webhooks] urls', final: true });
    const headers = { 'content-type': 'application/json', 'user-agent': 'barmanapi-webhooks', ...signatureHeaders(settings.secret, d.event_id, Math.floor(started.getTime() / 1000), d.body) };
    if (stopping.aborted) return; // still pending, as its record says
    const cut = new AbortController();
    const timer = setTimeout(() => cut.abort(new Error(`no answer within ${settings.timeoutSeconds} s`)), settings.timeoutSeconds * 1000);
    const stop = () => cut.abort(new Error('the server stops'));
    stopping.addEventListener('abort', stop, { once: true });
    try {
      const res = await this.deps.fetch(url, { method: 'POST', headers, body: d.body, redirect: 'manual', signal: cut.signal });
      await res.body?.cancel().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 300;
      await this.finish(d, started, { status: res.status, error: ok ? null : res.status >= 300 && res.status < 400 ? 'redirected (redirects are not followed)' : `answered ${res.status}`, final: ok });
    } catch (err) {
      if (stopping.aborted) return; // cut off by a stop: still pending, as its record says
      await this.finish(d, started, { status: null, error: attemptError(err, url), final: false });
    } finally {
      clearTimeout(timer);
      stopping.removeEventListener('abort', stop);
    }
  }

  /** Write down an attempt: sent, given up, or when to try again. */
  private finish(d: Delivery, started: Date, outcome: { status: number | null; error: string | null; final: boolean }): Promise<void> {
    return this.writes.run(d.id, () => this.record(d, started, outcome));
  }

  private async record(d: Delivery, started: Date, outcome: { status: number | null; error: string | null; final: boolean }): Promise<void> {
    const now = this.deps.clock.now();
    const attempts = d.attempts + 1;
    const sent = outcome.error === null;
    const givenUp = !sent && (outcome.final || now.getTime() >= Date.parse(d.give_up_at));
    const next: Delivery = {
      ...d,
      attempts,
      status: sent ? 'sent' : givenUp ? 'failed' : 'pending',
      next_attempt_at: sent || givenUp ? null : new Date(now.getTime() + backoffSeconds(attempts) * 1000).toISOString(),
      last_attempt: { at: started.toISOString(), http_status: outcome.status, error: outcome.error, duration_ms: now.getTime() - started.getTime() },
      sent_at: sent ? now.toISOString() : null,
    };
    this.deliveries.set(d.id, next);
    this.outcomes.inc({ receiver: d.receiver, outcome: sent ? 'sent' : givenUp ? 'given_up' : 'retry' });
    if (!sent) this.deps.logger.log(givenUp ? 'error' : 'warn', `webhooks: delivery ${d.id} (${d.type}) ${givenUp ? 'given up' : 'failed, will retry'}`, { attempts, error: outcome.error });
    // Not written down (a full disk): the memory knows, and after a restart it is sent again.
    await this.deps.storage.writeAtomic(`${DIR}/${d.id}.json`, JSON.stringify(next)).catch((err: unknown) => {
      this.deps.logger.log('warn', `webhooks: delivery ${d.id} could not be written down`, { error: String((err as Error).message ?? err) });
    });
  }

  /** Delete finished deliveries past `keep_days`, and the oldest beyond KEEP_FINISHED. */
  private async prune(): Promise<void> {
    this.prunedAt = this.deps.clock.now().getTime();
    const oldest = this.prunedAt - this.deps.settings().keepDays * 86400_000;
    const finished = [...this.deliveries.values()].filter((d) => d.status !== 'pending').sort((a, b) => a.created_at.localeCompare(b.created_at));
    const excess = finished.length - KEEP_FINISHED;
    for (const [i, d] of finished.entries()) {
      if (i >= excess && Date.parse(d.last_attempt?.at ?? d.created_at) >= oldest) continue;
      await this.writes.run(d.id, async () => {
        if (this.deliveries.get(d.id) !== d) return; // sent again meanwhile
        this.deliveries.delete(d.id);
        await this.deps.storage.remove(`${DIR}/${d.id}.json`).catch(() => undefined);
      });
    }
  }
}

export { DELIVERY_ID_RE, type Delivery, type DeliveryStatus } from './delivery.js';

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
import { eventMatches, type EventType, type WebhookEvent } from './events.js';
import { signatureHeaders } from './sign.js';

const DIR = 'webhooks';
const FILE_RE = /^(evt_[0-9a-f]{32})\.([0-9a-f]{12})\.json$/;
export const DELIVERY_ID_RE = /^evt_[0-9a-f]{32}\.[0-9a-f]{12}$/;
/** Attempts under way at once, over every receiver. */
const PARALLEL = 4;
const FIRST_RETRY_S = 10;
const LAST_RETRY_S = 3600;
/** The loop looks again at least this often (a setting changed, a clock jumped). */
const IDLE_MS = 60_000;
/** Finished deliveries kept in memory at most; older ones are pruned first. */
const KEEP_FINISHED = 10_000;
const STOP_WAIT_MS = 2_000;

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

export interface Delivery {
  /** `<event id>.<receiver>`. */
  id: string;
  event_id: string;
  type: EventType;
  /** The barman host the event is about; null for a ping. */
  host: string | null;
  /** 12 hex digits naming the receiver's URL (which may hold a credential, so is never shown). */
  receiver: string;
  created_at: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  /** Retried until then; past it, a failed attempt gives the delivery up. */
  give_up_at: string;
  last_attempt: { at: string; http_status: number | null; error: string | null; duration_ms: number } | null;
  sent_at: string | null;
  /** The exact JSON that is signed and sent. */
  body: string;
}

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
  private readonly receiverIds = new Map<string, string>();
  private loading: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private aborter = new AbortController();
  private prunedAt = 0;

  constructor(private readonly deps: OutboxDeps) {}

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
    })();
    return this.loading;
  }

  /** Start delivering (a serving process does; an app that is only asked does not). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.aborter = new AbortController();
    void this.load().then(() => this.schedule(0), (err: unknown) => this.deps.logger.log('error', 'webhooks: the outbox could not be read', { error: String((err as Error).message ?? err) }));
  }

  /** Stop: attempts under way are cut off (they stay pending, and are made again after a restart). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.aborter.abort(new Error('the server stops'));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)));
    await Promise.race([Promise.all(this.inFlight.values()), waited]);
    clearTimeout(timer);
  }

  /**
   * Store `event` for each receiver whose `events` take it (every one for a ping); the ids of the
   * deliveries stored now (none for an event told before).
   */
  async publish(event: WebhookEvent): Promise<string[]> {
    const settings = this.deps.settings();
    if (settings.urls.length === 0 || (event.type !== 'ping' && !settings.events.some((p) => eventMatches(p, event.type)))) return [];
    await this.load();
    const now = this.deps.clock.now();
    const body = JSON.stringify(event);
    const stored: string[] = [];
    for (const url of settings.urls) {
      const receiver = await this.receiverId(url);
      const d: Delivery = {
        id: `${event.id}.${receiver}`, event_id: event.id, type: event.type, host: event.host ?? null, receiver,
        created_at: now.toISOString(), status: 'pending', attempts: 0, next_attempt_at: now.toISOString(),
        give_up_at: new Date(now.getTime() + settings.retryHours * 3600_000).toISOString(), last_attempt: null, sent_at: null, body,
      };
      if (this.deliveries.has(d.id) || !(await this.deps.storage.createExclusive(`${DIR}/${d.id}.json`, JSON.stringify(d)))) continue;
      this.deliveries.set(d.id, d);
      stored.push(d.id);
    }
    if (stored.length > 0) this.schedule(0);
    return stored;
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
    return Promise.all(this.deps.settings().urls.map(async (url) => ({ id: await this.receiverId(url), origin: new URL(url).origin })));
  }

  /** Send a finished delivery again, now, with a new retry window; false when it is pending already. */
  async redeliver(id: string): Promise<boolean> {
    const d = this.deliveries.get(id);
    if (!d || d.status === 'pending') return false;
    const now = this.deps.clock.now();
    const next: Delivery = { ...d, status: 'pending', next_attempt_at: now.toISOString(), give_up_at: new Date(now.getTime() + this.deps.settings().retryHours * 3600_000).toISOString() };
    await this.deps.storage.writeAtomic(`${DIR}/${id}.json`, JSON.stringify(next));
    this.deliveries.set(id, next);
    this.schedule(0);
    return true;
  }

  private async receiverId(url: string): Promise<string> {
    let id = this.receiverIds.get(url);
    if (id === undefined) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url)));
      id = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join('');
      this.receiverIds.set(url, id);
    }
    return id;
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
    const pending = [...this.deliveries.values()].filter((d) => d.status === 'pending' && !this.inFlight.has(d.id)).sort((a, b) => Date.parse(a.next_attempt_at!) - Date.parse(b.next_attempt_at!));
    const started: Array<Promise<void>> = [];
    for (const d of pending) {
      if (this.inFlight.size >= PARALLEL || Date.parse(d.next_attempt_at!) > now) break;
      const attempt = this.attempt(d)
        .catch((err: unknown) => this.deps.logger.log('error', `webhooks: delivery ${d.id} failed unexpectedly`, { error: String((err as Error).message ?? err) }))
        .finally(() => {
          this.inFlight.delete(d.id);
          this.schedule(0);
        });
      this.inFlight.set(d.id, attempt);
      started.push(attempt);
    }
    const next = pending.find((d) => !this.inFlight.has(d.id));
    // A full house looks again as each attempt ends.
    if (this.inFlight.size < PARALLEL) this.schedule(Math.min(next ? Math.max(Date.parse(next.next_attempt_at!) - now, 0) : IDLE_MS, IDLE_MS));
    if (now - this.prunedAt > 3600_000) void this.prune();
    return Promise.all(started).then(() => undefined);
  }

  private async attempt(d: Delivery): Promise<void> {
    const settings = this.deps.settings();
    const url = await this.urlOf(d.receiver, settings);
    const started = this.deps.clock.now();
    if (url === null) return this.finish(d, started, { status: null, error: 'the receiver is no longer in [webhooks] urls', final: true });
    const headers = { 'content-type': 'application/json', 'user-agent': 'barmanapi-webhooks', ...(await signatureHeaders(settings.secret, d.event_id, Math.floor(started.getTime() / 1000), d.body)) };
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${settings.timeoutSeconds} s`)), settings.timeoutSeconds * 1000);
    const stop = () => timeout.abort(new Error('the server stops'));
    this.aborter.signal.addEventListener('abort', stop, { once: true });
    try {
      const res = await this.deps.fetch(url, { method: 'POST', headers, body: d.body, redirect: 'manual', signal: timeout.signal });
      await res.body?.cancel().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 300;
      await this.finish(d, started, { status: res.status, error: ok ? null : res.status >= 300 && res.status < 400 ? 'redirected (redirects are not followed)' : `answered ${res.status}`, final: ok });
    } catch (err) {
      if (this.aborter.signal.aborted) return; // cut off by a stop: still pending, as its record says
      await this.finish(d, started, { status: null, error: attemptError(err, url), final: false });
    } finally {
      clearTimeout(timer);
      this.aborter.signal.removeEventListener('abort', stop);
    }
  }

  /** Write down an attempt: sent, given up, or when to try again. */
  private async finish(d: Delivery, started: Date, outcome: { status: number | null; error: string | null; final: boolean }): Promise<void> {
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
    if (!sent) this.deps.logger.log(givenUp ? 'error' : 'warn', `webhooks: delivery ${d.id} (${d.type}) ${givenUp ? 'given up' : 'failed, will retry'}`, { attempts, error: outcome.error });
    // Not written down (a full disk): the memory knows, and after a restart it is sent again.
    await this.deps.storage.writeAtomic(`${DIR}/${d.id}.json`, JSON.stringify(next)).catch((err: unknown) => {
      this.deps.logger.log('warn', `webhooks: delivery ${d.id} could not be written down`, { error: String((err as Error).message ?? err) });
    });
  }

  private async urlOf(receiver: string, settings: WebhookSettings): Promise<string | null> {
    for (const url of settings.urls) if ((await this.receiverId(url)) === receiver) return url;
    return null;
  }

  /** Delete finished deliveries past `keep_days`, and the oldest beyond KEEP_FINISHED. */
  private async prune(): Promise<void> {
    this.prunedAt = this.deps.clock.now().getTime();
    const oldest = this.prunedAt - this.deps.settings().keepDays * 86400_000;
    const finished = [...this.deliveries.values()].filter((d) => d.status !== 'pending').sort((a, b) => a.created_at.localeCompare(b.created_at));
    const excess = finished.length - KEEP_FINISHED;
    for (const [i, d] of finished.entries()) {
      if (i >= excess && Date.parse(d.last_attempt?.at ?? d.created_at) >= oldest) continue;
      this.deliveries.delete(d.id);
      await this.deps.storage.remove(`${DIR}/${d.id}.json`).catch(() => undefined);
    }
  }
}

/** 10 s, 30 s, 90 s, … up to an hour, each ±20 % so that receivers back from an outage are not hit at once. */
export function backoffSeconds(attempts: number): number {
  const base = Math.min(FIRST_RETRY_S * 3 ** (attempts - 1), LAST_RETRY_S);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Why an attempt failed, in words that never hold the URL (it may carry a credential). */
function attemptError(err: unknown, url: string): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const why = e?.name === 'AbortError' || e?.name === 'TimeoutError' ? String(e.message ?? 'aborted') : e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  const parsed = new URL(url);
  let text = why.split(url).join('<url>');
  for (const part of [parsed.pathname, parsed.search, parsed.username, parsed.password]) if (part.length > 1) text = text.split(part).join('<url>');
  return text.slice(0, 300);
}

function parseDelivery(text: string): Delivery | null {
  try {
    const d = JSON.parse(text) as Delivery;
    return typeof d === 'object' && d !== null && typeof d.id === 'string' && DELIVERY_ID_RE.test(d.id) && typeof d.body === 'string' && ['pending', 'sent', 'failed'].includes(d.status) ? d : null;
  } catch {
    return null;
  }
}

/**
 * The one background loop that keeps a host's state model current and says what changed. Every
 * `[cache] refresh_interval` seconds it asks the state service for every server: answers whose
 * files are unchanged come from the read cache (a fingerprint, no barman run), live answers are
 * run again once older than `[cache] refresh_live`, and barman runs are background work (a slot
 * only when no request waits). Comparing each model with the one before gives the change events
 * the metrics, webhooks and dashboard consume: a new backup, a backup that failed (made by barman
 * cron too: events the API notices even when it did not cause them), a backup gone, a server
 * added or removed, the host down or up.
 */
import { Listeners } from '../util/listeners.js';
import type { Logger } from '../ports.js';
import type { BackupState, ServerState } from './model.js';
import type { StateService } from './service.js';
import type { Baseline, BaselineStore } from './baseline.js';
import { settleWithin } from '../util/concurrency.js';

/** What a round keeps of a server to compare the next one with. */
type Seen = Map<string, { backups: Array<{ id: string; status: string | null }> | null }>;

const STOP_WAIT_MS = 2_000;

export type StateEvent =
  | { type: 'backup-new'; server: string; backup: BackupState }
  | { type: 'backup-failed'; server: string; backup: BackupState }
  | { type: 'backup-gone'; server: string; backupId: string }
  | { type: 'server-added' | 'server-removed'; server: string }
  /** The server's last check has failing items where the one before had none (`checkedAt`: when it ran). */
  | { type: 'check-failing'; server: string; failing: string[]; checkedAt: string }
  /** The server's last check passes where the one before did not. */
  | { type: 'check-ok'; server: string; checkedAt: string }
  | { type: 'host-down'; reason: string }
  | { type: 'host-up' };

export interface StateChange {
  host: string;
  /** When the change was noticed (ISO 8601). */
  at: string;
  event: StateEvent;
}

export interface RefresherDeps {
  state: StateService;
  host: string;
  logger: Logger;
  clock: { now(): Date };
  /** Seconds between rounds (0: no rounds) and how old live answers may get. */
  settings: () => { refreshIntervalSeconds: number; refreshLiveSeconds: number; checkIntervalSeconds?: number };
  /** Where what the rounds saw is kept across restarts (none: the first round is the baseline). */
  baseline?: BaselineStore;
}

export class Refresher {
  private previous: Seen | null = null;
  private baselineRead = false;
  private down: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private round: Promise<void> | null = null;
  private stopped = true;
  private aborter = new AbortController();
  /** Each start() begins a new chain of rounds; a chain from before a stop() ends by itself. */
  private chain = 0;
  private readonly listeners: Listeners<StateChange>;
  private last: { at: string; servers: ServerState[] } | null = null;
  private checkedAt = -Infinity;
  private checking: Promise<void> | null = null;
  /** Each server's failing check items at the last check seen (none: not seen since start). */
  private readonly failing = new Map<string, { at: string; items: string[] }>();

  constructor(private readonly deps: RefresherDeps) {
    this.listeners = new Listeners(deps.logger, 'state change');
  }

  /** The model of the last round (null before the first), and why the host is down, if it is. */
  get current(): { at: string; servers: ServerState[]; down: string | null } | null {
    return this.last ? { ...this.last, down: this.down } : null;
  }

  /** Whether the last round found the host down (or the baseline says it was, before a round). */
  get isDown(): boolean {
    return this.down !== null;
  }

  /** Whether the loop runs (start() and no stop() since). */
  get started(): boolean {
    return !this.stopped;
  }

  /** Listen for changes; returns the way to stop listening. */
  on(listener: (change: StateChange) => void): () => void {
    return this.listeners.add(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.aborter = new AbortController();
    this.chain += 1;
    this.schedule(0, this.chain);
  }

  /**
   * Stop the loop; a round under way stops its barman runs. Resolves once that round has ended,
   * or after STOP_WAIT_MS at the most (a shutdown never waits long for background work).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.aborter.abort(new Error('the state refresher stopped'));
    await settleWithin(this.round, STOP_WAIT_MS);
  }

  /** One round now (the loop's own, or a caller's); rounds never overlap. */
  tick(): Promise<void> {
    this.round ??= this.once().finally(() => {
      this.round = null;
    });
    return this.round;
  }

  private schedule(delayMs: number, chain: number): void {
    if (this.stopped || chain !== this.chain) return;
    const interval = this.deps.settings().refreshIntervalSeconds;
    if (interval <= 0) {
      // Off for now; look again later in case the setting is changed while running.
      this.timer = setTimeout(() => this.schedule(0, chain), 60_000);
      this.timer.unref?.();
      return;
    }
    this.timer = setTimeout(() => {
      this.tick()
        .catch((err: unknown) => this.deps.logger.log('error', 'a state round failed', { error: String((err as Error).message ?? err) }))
        .finally(() => this.schedule(interval * 1000, chain));
    }, delayMs);
    this.timer.unref?.();
  }

  private async once(): Promise<void> {
    const at = this.deps.clock.now().toISOString();
    let servers: ServerState[];
    const signal = this.aborter.signal;
    if (!this.baselineRead) await this.seed();
    try {
      const answer = await this.deps.state.servers({ background: true, liveMaxAgeMs: this.deps.settings().refreshLiveSeconds * 1000, signal });
      if (signal.aborted || answer.model === null) return; // stopped, or no model on this barman (no -f json)
      servers = answer.model;
    } catch (err) {
      if (signal.aborted) return; // stopped: not a verdict on the host
      const reason = String((err as Error).message ?? err);
      if (this.down === null) this.emit(at, { type: 'host-down', reason });
      this.down = reason;
      await this.keep(at);
      return;
    }
    if (this.down !== null) this.emit(at, { type: 'host-up' });
    this.down = null;
    const now = new Map(servers.map((s) => [s.name, s]));
    if (this.previous) for (const event of changes(this.previous, now)) this.emit(at, event);
    this.previous = now;
    this.last = { at, servers };
    this.noteChecks(at); // a check a user ran since the last round
    await this.keep(at);
    // After the round is published: neither a slow check nor show-backup holds the state back.
    this.checkWhenDue(signal);
    await this.deps.state.noteCopyTimes(servers, { background: true, signal }).catch((err: unknown) => {
      if (!signal.aborted) this.deps.logger.log('warn', 'reading the newest backups\' copy times failed', { host: this.deps.host, error: String((err as Error).message ?? err) });
    });
  }

  /**
   * `barman check all` every `[metrics] check_interval` (0: only the checks users run), beside the
   * rounds, not in them: a check may take as long as barman's timeout. One at a time.
   */
  private checkWhenDue(signal: AbortSignal): void {
    const interval = (this.deps.settings().checkIntervalSeconds ?? 0) * 1000;
    const now = this.deps.clock.now().getTime();
    if (interval <= 0 || this.checking || now - this.checkedAt < interval) return;
    this.checkedAt = now;
    this.checking = this.deps.state
      .runChecks({ background: true, signal })
      .then((answered) => {
        if (!answered && !signal.aborted) this.deps.logger.log('warn', 'background barman check gave no answer (timed out, or no JSON)', { host: this.deps.host });
        if (!answered || signal.aborted) return; // stopped meanwhile: the next run tells it
        const at = this.deps.clock.now().toISOString();
        this.noteChecks(at);
        return this.keep(at);
      })
      .catch((err: unknown) => {
        if (!signal.aborted) this.deps.logger.log('warn', 'background barman check failed', { host: this.deps.host, error: String((err as Error).message ?? err) });
      })
      .finally(() => {
        this.checking = null;
      });
  }

  /** The background check under way, if any (tests wait for it). */
  get checkUnderWay(): Promise<void> | null {
    return this.checking;
  }

  /** What an earlier run of the server saw last, as this run's baseline (baseline.ts). */
  private async seed(): Promise<void> {
    this.baselineRead = true;
    const b = await this.deps.baseline?.load(this.deps.clock.now(), this.deps.host);
    if (!b) return;
    this.down = b.down;
    if (b.servers) this.previous = new Map(Object.entries(b.servers).map(([name, backups]) => [name, { backups }]));
    for (const [server, seen] of Object.entries(b.checks)) this.failing.set(server, seen);
  }

  /** Keep what this round saw (written only when it differs from what was kept). */
  private async keep(at: string): Promise<void> {
    if (!this.deps.baseline) return;
    const servers: Baseline['servers'] = this.previous ? Object.fromEntries([...this.previous].map(([name, s]) => [name, s.backups?.map((b) => ({ id: b.id, status: b.status })) ?? null])) : null;
    await this.deps.baseline.save({ at, where: this.deps.host, down: this.down, servers, checks: Object.fromEntries(this.failing) });
  }

  /**
   * A check that starts failing, or passes again, compared with the last one seen; a server's
   * first check since start is only noted (it says nothing of a change).
   */
  private noteChecks(at: string): void {
    const current = this.deps.state.checks.current();
    // Servers barman no longer lists are forgotten; one without a result in this run keeps what
    // the baseline says of it until its first check.
    if (this.previous) for (const name of [...this.failing.keys()]) if (!this.previous.has(name)) this.failing.delete(name);
    for (const [server, result] of current) {
      const before = this.failing.get(server);
      if (before?.at === result.at) continue;
      const items = Object.entries(result.checks).filter(([, ok]) => !ok).map(([item]) => item).sort();
      this.failing.set(server, { at: result.at, items });
      if (!before) continue;
      if (items.length > 0 && before.items.length === 0) this.emit(at, { type: 'check-failing', server, failing: items, checkedAt: result.at });
      else if (items.length === 0 && before.items.length > 0) this.emit(at, { type: 'check-ok', server, checkedAt: result.at });
    }
  }

  private emit(at: string, event: StateEvent): void {
    const change: StateChange = { host: this.deps.host, at, event };
    this.deps.logger.log('info', `state: ${event.type}`, { host: this.deps.host, ...('server' in event ? { server: event.server } : {}) });
    this.listeners.emit(change);
  }
}

/** What differs between two rounds. Backups whose list could not be read are not compared. */
export function changes(before: Seen, after: Map<string, ServerState>): StateEvent[] {
  const events: StateEvent[] = [];
  for (const name of after.keys()) if (!before.has(name)) events.push({ type: 'server-added', server: name });
  for (const name of before.keys()) if (!after.has(name)) events.push({ type: 'server-removed', server: name });
  for (const [name, now] of after) {
    const then = before.get(name);
    if (!then?.backups || !now.backups) continue;
    const old = new Map(then.backups.map((b) => [b.id, b]));
    const current = new Set(now.backups.map((b) => b.id));
    for (const b of now.backups) {
      const was = old.get(b.id);
      if (!was) events.push({ type: 'backup-new', server: name, backup: b });
      if (b.status === 'FAILED' && was?.status !== 'FAILED') events.push({ type: 'backup-failed', server: name, backup: b });
    }
    for (const id of old.keys()) if (!current.has(id)) events.push({ type: 'backup-gone', server: name, backupId: id });
  }
  return events;
}

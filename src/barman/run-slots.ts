/**
 * Bounded barman runs per host: at most `limit` barman processes at once; requests beyond wait in
 * a bounded queue, and beyond the queue get a 503 with Retry-After. Background work (the command
 * catalogue, the man page) takes a slot only when no request waits, and at most half of the
 * slots, so a request never waits behind it for longer than one short run.
 */
import { unavailable } from '../http/errors.js';
import type { BarmanHost, RunOptions, RunResult, StampOptions } from '../ports.js';

export interface RunSlotsOptions {
  /** Barman processes at once (read live, so a settings change applies). */
  limit: () => number;
  /** Requests that may wait for a slot; more are refused with 503. */
  queueLimit: () => number;
  description: string;
}

export interface RunSlotStats {
  active: number;
  queued: number;
  peak: number;
  rejected: number;
  limit: number;
}

interface Waiter {
  background: boolean;
  start: () => void;
}

export class RunSlots {
  private active = 0;
  private activeBackground = 0;
  private peak = 0;
  private rejected = 0;
  private readonly waiting: Waiter[] = [];
  /** Moving average of a run's duration, for Retry-After. */
  private averageMs = 500;

  constructor(private readonly opts: RunSlotsOptions) {}

  stats(): RunSlotStats {
    return { active: this.active, queued: this.waiting.length, peak: this.peak, rejected: this.rejected, limit: this.limit() };
  }

  private limit(): number {
    return Math.max(1, this.opts.limit());
  }

  private backgroundLimit(): number {
    return Math.max(1, Math.floor(this.limit() / 2));
  }

  private mayStart(background: boolean): boolean {
    if (this.active >= this.limit()) return false;
    if (!background) return true;
    return this.activeBackground < this.backgroundLimit() && !this.waiting.some((w) => !w.background);
  }

  /** Waits for a slot; resolves to its release, or to null when `signal` aborted the wait. */
  acquire(background: boolean, signal?: AbortSignal): Promise<(() => void) | null> {
    const usersWaiting = this.waiting.filter((w) => !w.background).length;
    if (background ? this.waiting.length === 0 && this.mayStart(true) : usersWaiting === 0 && this.mayStart(false)) {
      return Promise.resolve(this.take(background));
    }
    if (!background && usersWaiting >= this.opts.queueLimit()) {
      this.rejected += 1;
      // Half the time the queue takes to drain: clients that come back then find room before
      // the slots run dry, so the cap keeps the host busy without a crowd at the door.
      const seconds = Math.min(60, Math.max(1, Math.ceil(((this.waiting.length + 1) * this.averageMs) / this.limit() / 2000)));
      throw unavailable(
        'BarmanBusy',
        `${this.limit()} barman commands are running on ${this.opts.description} and ${this.waiting.length} are waiting; try again in ${seconds} s`,
        seconds,
      );
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        background,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take(background));
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(null);
      };
      if (signal?.aborted) return resolve(null);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private take(background: boolean): () => void {
    this.active += 1;
    if (background) this.activeBackground += 1;
    this.peak = Math.max(this.peak, this.active);
    const started = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      if (background) this.activeBackground -= 1;
      this.averageMs = this.averageMs * 0.8 + (Date.now() - started) * 0.2;
      this.next();
    };
  }

  private next(): void {
    // Requests first, in arrival order; background work only when no request waits.
    for (;;) {
      const i = this.waiting.findIndex((w) => !w.background);
      const pick = i >= 0 ? i : 0;
      const w = this.waiting[pick];
      if (!w || !this.mayStart(w.background)) return;
      this.waiting.splice(pick, 1);
      w.start();
    }
  }
}

/** The result of a run its caller left before barman answered (nobody reads it; it says why). */
export function abandonedRun(why: string, durationMs = 0): RunResult {
  return { exitCode: null, signal: null, stdout: '', stderr: why, truncated: false, timedOut: false, aborted: true, durationMs };
}

const ABORTED_WHILE_WAITING = abandonedRun('the request went away while waiting for a free barman slot');

/** The host with its runs bounded by `slots`; everything else passes through. */
export function withRunSlots(host: BarmanHost, slots: RunSlots): BarmanHost & { slots: RunSlots } {
  return {
    kind: host.kind,
    description: host.description,
    slots,
    async run(argv: string[], options: RunOptions = {}) {
      const release = await slots.acquire(options.background === true, options.signal);
      if (!release) return ABORTED_WHILE_WAITING;
      try {
        return await host.run(argv, options);
      } finally {
        release();
      }
    },
    readFile: (path) => host.readFile(path),
    writeFile: (path, content, like) => host.writeFile(path, content, like),
    stat: (path) => host.stat(path),
    listDir: (path) => host.listDir(path),
    ...(host.lockFile ? { lockFile: (path: string) => host.lockFile!(path) } : {}),
    // Stamping files is not a barman process: it takes no slot.
    ...(host.stampTrees ? { stampTrees: (roots: readonly string[], options: StampOptions) => host.stampTrees!(roots, options) } : {}),
    close: () => host.close(),
  };
}

/**
 * Slows password guessing per user and per client address. After FREE_FAILURES failures a key
 * must wait 1 s, then 2 s, 4 s … up to 15 minutes before its next attempt is even checked; the
 * caller answers 429 with Retry-After instead of waiting, so no request is ever held up.
 * At most MAX_IN_FLIGHT checks per key run at once, so a burst of parallel guesses cannot all
 * pass before the first failures are counted.
 */
const FREE_FAILURES = 5;
const MAX_IN_FLIGHT = 4;
const MAX_WAIT_MS = 15 * 60_000;
const FORGET_AFTER_MS = 60 * 60_000;
const MAX_KEYS = 50_000;

interface Entry {
  failures: number;
  blockedUntil: number;
  last: number;
}

export class LoginThrottle {
  private entries = new Map<string, Entry>();
  private inFlight = new Map<string, number>();

  /** Start a check: false (answer 429) when too many checks of one of these keys are running. */
  begin(keys: string[]): boolean {
    if (keys.some((k) => (this.inFlight.get(k) ?? 0) >= MAX_IN_FLIGHT)) return false;
    for (const k of keys) this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    return true;
  }

  end(keys: string[]): void {
    for (const k of keys) {
      const n = (this.inFlight.get(k) ?? 1) - 1;
      if (n <= 0) this.inFlight.delete(k);
      else this.inFlight.set(k, n);
    }
  }

  /** Milliseconds until any of these keys may try again; 0 when all may. */
  waitMs(keys: string[], now: number): number {
    let wait = 0;
    for (const key of keys) {
      const e = this.entries.get(key);
      if (!e) continue;
      if (now - e.last > FORGET_AFTER_MS) {
        this.entries.delete(key);
        continue;
      }
      wait = Math.max(wait, e.blockedUntil - now);
    }
    return wait;
  }

  failed(keys: string[], now: number): void {
    for (const key of keys) {
      const e = this.entries.get(key) ?? { failures: 0, blockedUntil: 0, last: now };
      e.failures += 1;
      e.last = now;
      if (e.failures >= FREE_FAILURES) {
        e.blockedUntil = now + Math.min(MAX_WAIT_MS, 1000 * 2 ** (e.failures - FREE_FAILURES));
      }
      this.entries.delete(key); // re-insert: the map's order is then least recently failed first
      this.entries.set(key, e);
    }
    while (this.entries.size > MAX_KEYS) this.entries.delete(this.entries.keys().next().value as string);
  }

  succeeded(keys: string[]): void {
    for (const key of keys) this.entries.delete(key);
  }

}

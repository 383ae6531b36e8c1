/**
 * Slows password guessing per user and per client address. After FREE_FAILURES failures a key
 * must wait 1 s, then 2 s, 4 s … up to 15 minutes before its next attempt is even checked; the
 * caller answers 429 with Retry-After instead of waiting, so no request is ever held up.
 */
const FREE_FAILURES = 5;
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

  /** Take back one counted failure (a login counted in advance that then succeeded). */
  forgive(keys: string[]): void {
    for (const key of keys) {
      const e = this.entries.get(key);
      if (!e) continue;
      e.failures -= 1;
      if (e.failures <= 0) this.entries.delete(key);
      else if (e.failures < FREE_FAILURES) e.blockedUntil = 0;
    }
  }
}

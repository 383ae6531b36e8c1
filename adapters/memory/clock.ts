import type { Clock } from '../../src/ports.js';

/** A clock that stands still until moved: `clock.set(…)`, `clock.advance(ms)`. */
export function createFixedClock(start: Date | string = '2026-01-15T12:00:00Z'): Clock & { set(d: Date | string): void; advance(ms: number): void } {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    set: (d) => {
      t = new Date(d).getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

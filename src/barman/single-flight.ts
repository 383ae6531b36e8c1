/**
 * Identical read-only barman runs at the same time share one process: the first caller starts
 * it, the others wait for the same result. Only for commands that change nothing (the caller
 * decides); a finished run is forgotten at once, so this never answers from the past.
 *
 * A caller that goes away (its request aborted) stops waiting and gets an aborted result; the
 * shared process is stopped only when every caller has gone.
 */
import type { RunResult } from '../ports.js';
import { abandonedRun } from './run-slots.js';

interface Flight {
  result: Promise<RunResult>;
  controller: AbortController;
  waiters: number;
}

export interface SharedRun {
  result: RunResult;
  /** The process was started by another caller (this one joined it). */
  shared: boolean;
}

export class SingleFlight {
  private readonly flights = new Map<string, Flight>();
  private startedCount = 0;
  private joinedCount = 0;

  /** Processes started and callers that joined one already running, since the start. */
  get stats(): { started: number; joined: number; running: number } {
    return { started: this.startedCount, joined: this.joinedCount, running: this.flights.size };
  }

  /**
   * Runs `start` for `key` unless a run for the same key is going on, in which case its result
   * is shared. `start` gets a signal that aborts when every caller has gone.
   */
  async run(key: string, start: (signal: AbortSignal) => Promise<RunResult>, signal?: AbortSignal): Promise<SharedRun> {
    const started = Date.now();
    if (signal?.aborted) return { result: abortedResult(started), shared: false };
    let flight = this.flights.get(key);
    const shared = flight !== undefined;
    if (flight) {
      this.joinedCount += 1;
    } else {
      this.startedCount += 1;
      const controller = new AbortController();
      const created: Flight = { controller, waiters: 0, result: Promise.resolve(null as unknown as RunResult) };
      created.result = Promise.resolve()
        .then(() => start(controller.signal))
        .finally(() => {
          if (this.flights.get(key) === created) this.flights.delete(key);
        });
      // Every waiter handles the outcome; this keeps a run whose waiters all left from being unhandled.
      created.result.catch(() => undefined);
      flight = created;
      this.flights.set(key, created);
    }
    const own = flight;
    own.waiters += 1;
    if (!signal) return { result: await own.result.finally(() => this.leave(key, own, false)), shared };
    return new Promise<SharedRun>((resolve, reject) => {
      const gone = () => {
        this.leave(key, own, true);
        resolve({ result: abortedResult(started), shared });
      };
      signal.addEventListener('abort', gone, { once: true });
      own.result.then(
        (result) => {
          signal.removeEventListener('abort', gone);
          this.leave(key, own, false);
          resolve({ result, shared });
        },
        (err: unknown) => {
          signal.removeEventListener('abort', gone);
          this.leave(key, own, false);
          reject(err);
        },
      );
    });
  }

  private leave(key: string, flight: Flight, early: boolean): void {
    flight.waiters -= 1;
    if (!early || flight.waiters > 0) return;
    // The last caller has gone: nobody wants this result. Stop the process; a caller arriving now starts afresh.
    if (this.flights.get(key) === flight) this.flights.delete(key);
    flight.controller.abort(new Error('every caller of this barman run has gone'));
  }
}

function abortedResult(started: number): RunResult {
  return abandonedRun('the request went away while waiting for a shared barman run', Date.now() - started);
}

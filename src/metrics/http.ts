/**
 * Requests by route family, method and status, and their latency, for /metrics. The labels are
 * bounded (a handful of families and methods, the HTTP status codes), whatever paths clients
 * send. The time is until the answer's headers are ready: a stream (a job's log) is counted once
 * it has started.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.js';
import { relativePath } from '../http/route-path.js';
import { Counter, Histogram, type Sample } from './exposition.js';

const FAMILIES: Record<string, string> = { auth: 'auth', barman: 'barman', history: 'history', config: 'config', fleet: 'fleet', api: 'v1', healthz: 'health', readyz: 'health', metrics: 'metrics' };
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Seconds: from a cached read (about a millisecond) to a slow synchronous barman run. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class HttpMetrics {
  private readonly requests = new Counter();
  private readonly durations = new Histogram(BUCKETS);

  middleware(): MiddlewareHandler<AppEnv> {
    return async (c, next) => {
      const started = performance.now();
      // Before next(): the mount point is told from this middleware's own route pattern.
      const family = familyOf(c);
      try {
        await next();
      } finally {
        const method = METHODS.has(c.req.method) ? c.req.method : 'other';
        this.requests.inc({ family, method, code: String(c.res.status) });
        this.durations.observe({ family }, (performance.now() - started) / 1000);
      }
    };
  }

  requestSamples(): Sample[] {
    return this.requests.samples();
  }

  durationSamples(): Sample[] {
    return this.durations.samples();
  }
}

function familyOf(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  let path: string;
  try {
    path = relativePath(c);
  } catch {
    return 'other';
  }
  const slash = path.indexOf('/');
  return FAMILIES[slash < 0 ? path : path.slice(0, slash)] ?? 'other';
}

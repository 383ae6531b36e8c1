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
import type { JobService } from '../jobs/service.js';
import { jobHost } from '../jobs/model.js';

// A Map, not an object: a path segment such as `constructor` must not find Object's own keys.
const FAMILIES = new Map(Object.entries({ auth: 'auth', barman: 'barman', history: 'history', config: 'config', fleet: 'fleet', api: 'v1', healthz: 'health', readyz: 'health', metrics: 'metrics' }));
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Seconds: from a cached read (about a millisecond) to a slow synchronous barman run. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Seconds: a cron run to a day-long backup. */
const JOB_BUCKETS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400];

/** Jobs that ended, by host, command and outcome, and how long they ran. */
export class JobMetrics {
  private readonly ended = new Counter();
  private readonly durations = new Histogram(JOB_BUCKETS);

  /** Counting the ends `jobs` tells of: only ends (a runner that exited before claiming its job leaves it queued). */
  static of(jobs: JobService): JobMetrics {
    const metrics = new JobMetrics();
    jobs.onEnd((v) => {
      if (v.result && ['done', 'failed', 'cancelled', 'lost'].includes(v.status)) metrics.record(jobHost(v.job), v.job.command, v.status, v.result.duration_ms ?? null);
    });
    return metrics;
  }

  /** One ended job (its command is a barman command name: a bounded set). */
  record(host: string, command: string, status: string, durationMs: number | null): void {
    this.ended.inc({ host, command, status });
    if (durationMs !== null) this.durations.observe({ host, command }, durationMs / 1000);
  }

  endedSamples(): Sample[] {
    return this.ended.samples();
  }

  durationSamples(): Sample[] {
    return this.durations.samples();
  }
}

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
        // Counting never changes an answer.
        try {
          const method = METHODS.has(c.req.method) ? c.req.method : 'other';
          this.requests.inc({ family, method, code: String(c.res.status) });
          this.durations.observe({ family }, (performance.now() - started) / 1000);
        } catch {
          // nothing to count with
        }
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
  return FAMILIES.get(slash < 0 ? path : path.slice(0, slash)) ?? 'other';
}

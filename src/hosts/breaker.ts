/**
 * A barman host that is down (unreachable, refusing our key, its host key changed) must not slow
 * or fail requests for the others, nor make each of its own requests wait for a connect timeout:
 * once a call fails that way, the host is known down and its calls fail at once (503 with
 * Retry-After) while a probe in the background tries it again, less often the longer it stays
 * down, until it answers; then it is up again by itself.
 */
import type { BarmanHost, Clock, HostErrorKind, Logger, StampOptions } from '../ports.js';
import { HostError } from '../ports.js';
import { ApiError } from '../http/errors.js';
import { redact } from '../util/redact.js';

/** Failures that say the host itself cannot be reached or trusted, not that one command went wrong. */
const DOWN_KINDS: ReadonlySet<HostErrorKind> = new Set(['unreachable', 'connection-lost', 'auth', 'host-key']);
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 60_000;

export interface HostHealth {
  /** null until the host has been used. */
  up: boolean | null;
  /** Why it is down, as the failure said. */
  reason: string | null;
  /** ISO times: down since, and the next probe. */
  since: string | null;
  retryAt: string | null;
}

export interface BreakerOptions {
  name: string;
  clock: Clock;
  logger: Logger;
  /** A cheap call that needs the host (the probe), e.g. a stat of barman's configuration file. */
  probe: (host: BarmanHost) => Promise<unknown>;
  /** The first probe after this long (then twice as long each time, up to a minute). */
  firstRetryMs?: number;
}

export class HostBreaker {
  private down: { kind: HostErrorKind; reason: string; since: number; retryMs: number; retryAt: number } | null = null;
  private used = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inner: BarmanHost | null = null;

  constructor(private readonly opts: BreakerOptions) {}

  health(): HostHealth {
    const d = this.down;
    if (!d) return { up: this.used ? true : null, reason: null, since: null, retryAt: null };
    return { up: false, reason: d.reason, since: new Date(d.since).toISOString(), retryAt: new Date(d.retryAt).toISOString() };
  }

  /** `host` with every call failing at once while it is known down. */
  wrap(host: BarmanHost): BarmanHost {
    // The probe goes to the adapter itself, past every guard (the first one wrapped).
    this.inner ??= host;
    const guard = async <T>(call: () => Promise<T>): Promise<T> => {
      this.refuseWhileDown();
      return this.watch(call);
    };
    return {
      kind: host.kind,
      description: host.description,
      run: (argv, options) => guard(() => host.run(argv, options)),
      readFile: (path) => guard(() => host.readFile(path)),
      writeFile: (path, content, like) => guard(() => host.writeFile(path, content, like)),
      stat: (path) => guard(() => host.stat(path)),
      listDir: (path) => guard(() => host.listDir(path)),
      ...(host.lockFile ? { lockFile: (path: string) => guard(() => host.lockFile!(path)) } : {}),
      ...(host.stampTrees ? { stampTrees: (roots: readonly string[], options: StampOptions) => guard(() => host.stampTrees!(roots, options)) } : {}),
      close: async () => {
        this.stop();
        await host.close();
      },
    };
  }

  /** No more probes (the server stops). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private refuseWhileDown(): void {
    const d = this.down;
    if (!d) return;
    const now = this.opts.clock.now().getTime();
    const wait = Math.max(1, Math.ceil((d.retryAt - now) / 1000));
    throw new ApiError(
      503,
      'BarmanHostDown',
      `barman host ${this.opts.name} is down since ${new Date(d.since).toISOString()} (${d.reason}); it is tried again in the background, next in ${wait} s`,
      { host: this.opts.name },
      { headers: { 'Retry-After': String(wait) } },
    );
  }

  private async watch<T>(call: () => Promise<T>): Promise<T> {
    try {
      const value = await call();
      this.used = true;
      return value;
    } catch (e) {
      if (e instanceof HostError && DOWN_KINDS.has(e.kind)) this.trip(e);
      else this.used = true;
      throw e;
    }
  }

  private trip(e: HostError): void {
    const now = this.opts.clock.now().getTime();
    if (this.down) return; // calls in flight when it went down: one verdict is enough
    const first = this.opts.firstRetryMs ?? FIRST_RETRY_MS;
    this.down = { kind: e.kind, reason: redact(e.message), since: now, retryMs: first, retryAt: now + first };
    this.opts.logger.log('warn', `barman host ${this.opts.name} is down: ${redact(e.message)}`);
    this.schedule(first);
  }

  private schedule(ms: number): void {
    this.stop();
    this.timer = setTimeout(() => void this.probeNow(), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async probeNow(): Promise<void> {
    const d = this.down;
    if (!d || !this.inner) return;
    try {
      await this.opts.probe(this.inner);
      this.down = null;
      this.used = true;
      this.opts.logger.log('info', `barman host ${this.opts.name} is up again after ${Math.round((this.opts.clock.now().getTime() - d.since) / 1000)} s`);
    } catch (e) {
      if (!(e instanceof HostError && DOWN_KINDS.has(e.kind))) {
        // It answered (a file it refused is an answer): the host is there.
        this.down = null;
        this.opts.logger.log('info', `barman host ${this.opts.name} is up again`);
        return;
      }
      const retryMs = Math.min(MAX_RETRY_MS, d.retryMs * 2);
      const reason = redact(e instanceof Error ? e.message : String(e));
      this.down = { ...d, reason, retryMs, retryAt: this.opts.clock.now().getTime() + retryMs };
      this.schedule(retryMs);
    }
  }
}

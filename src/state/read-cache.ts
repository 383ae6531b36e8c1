/**
 * Answers of read-only barman commands, kept in memory and served only while barman's state is
 * unchanged: the fingerprint of the files the answer comes from (fingerprint.ts) must be the one
 * it was run under, our own jobs and configuration changes must not have happened since, and an
 * answer that also shows live state (PostgreSQL's, or a retention window that moves with the
 * clock) must be younger than [cache] live_max_age. Anything else runs barman, sharing the run
 * with identical requests under the same fingerprint (single-flight.ts).
 */
import type { Logger, RunResult } from '../ports.js';
import type { SingleFlight } from '../barman/single-flight.js';
import type { Fingerprint, FingerprintSource } from './fingerprint.js';

/** Runs are the same when the host, the words and the bounds are: they share a process and a cache entry. */
export function readKey(host: string, argv: readonly string[], timeoutMs: number, maxOutputBytes: number): string {
  return JSON.stringify([host, argv, timeoutMs, maxOutputBytes]);
}

/**
 * Answers that come from barman's files alone (unless a recovery-window policy applies).
 * list-files is not one: it walks a backup's data, which is not stamped (it grows while a backup runs).
 */
const FILE_COMMANDS = new Set(['list-backup', 'list-backups', 'show-backup', 'show-backups', 'list-server', 'list-servers']);
/** However small the answers, no more than this many are kept. */
const MAX_ENTRIES = 10_000;

export interface CacheSettings {
  enabled: boolean;
  liveMaxAgeSeconds: number;
  maxBytes: number;
}

/** What a cached or fresh answer says of the cache, in the answer's body. */
export interface CacheNote {
  hit: boolean;
  age_ms: number;
}

export interface ReadRequest {
  /** The command's canonical name. */
  command: string;
  /** Runs that are the same (host, argv, bounds) share this key. */
  key: string;
  /** The servers it reads; empty or 'all': every server. */
  servers: string[];
  /** fresh=1: run barman whatever the cache holds (the answer is kept for the next ones). */
  fresh: boolean;
  run: (signal: AbortSignal) => Promise<RunResult>;
  signal?: AbortSignal;
  /** How old a live answer may be for this caller (the refresher accepts older ones); default [cache] live_max_age. */
  liveMaxAgeMs?: number;
  /** Background work (it waits for a barman slot behind requests): never shared with a request's run. */
  background?: boolean;
  /**
   * A fingerprint taken after the caller's operation began (`fingerprint()`), shared by the reads of
   * that one operation (the state model's four commands) instead of one take each.
   */
  fingerprint?: Promise<Fingerprint>;
}

interface Entry {
  signature: string;
  generation: number;
  /** When the fingerprint it ran under was taken (this process's clock). */
  at: number;
  live: boolean;
  result: RunResult;
  bytes: number;
}

export interface ReadCacheDeps {
  fingerprints: FingerprintSource;
  flights: SingleFlight;
  settings: () => CacheSettings;
  logger: Logger;
  now?: () => number;
}

export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private generation = 0;
  private counts = { hits: 0, misses: 0, uncacheable: 0 };
  private warnedAt = -Infinity;
  private readonly now: () => number;

  constructor(private readonly deps: ReadCacheDeps) {
    // The fingerprints' clock: monotonic, so a clock stepped back never makes an answer younger.
    this.now = deps.now ?? (() => performance.now());
  }

  get stats() {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes };
  }

  /** Our own change of barman's state (a job, a configuration edit): nothing cached before it is served. */
  invalidate(): void {
    this.generation += 1;
    this.deps.fingerprints.forget(); // our change may have moved barman's folders: read the configuration again
    this.entries.clear();
    this.bytes = 0;
  }

  /** A fingerprint taken after this call, for reads that belong together (ReadRequest.fingerprint); null where there is none to take. */
  fingerprint(): Promise<Fingerprint> | null {
    if (!this.deps.settings().enabled || !this.deps.fingerprints.supported) return null;
    const fp = this.deps.fingerprints.take();
    fp.catch(() => undefined); // each read that uses it says why it failed
    return fp;
  }

  async read(req: ReadRequest): Promise<{ result: RunResult; cache?: CacheNote }> {
    const settings = this.deps.settings();
    const generation = this.generation;
    // Runs are shared only within one generation: nothing begun before our own change answers after it.
    const base = `${req.key} g${generation} ${req.background ? 'background' : 'request'}`;
    if (!settings.enabled || !this.deps.fingerprints.supported) return this.share(base, req);
    let fp: Fingerprint;
    try {
      fp = await abortable(req.fingerprint ?? this.deps.fingerprints.take(), req.signal);
    } catch (err) {
      this.counts.uncacheable += 1;
      // Said once a minute: a lasting cause (a link loop, a folder it may not read) turns the cache off.
      const quiet = this.now() - this.warnedAt < 60_000 || req.signal?.aborted === true;
      if (!quiet) this.warnedAt = this.now();
      this.deps.logger.log(quiet ? 'debug' : 'warn', "read cache: no fingerprint of barman's files, barman runs", { error: String((err as Error).message ?? err) });
      return { ...(await this.share(base, req)), cache: { hit: false, age_ms: 0 } };
    }
    const scope = scopeOf(fp, req.servers);
    if (scope === null) {
      this.counts.uncacheable += 1;
      return { ...(await this.share(base, req)), cache: { hit: false, age_ms: 0 } };
    }
    const signature = scope.roots.map((r) => fp.signature(r) ?? '-').join(' ');
    const live = !FILE_COMMANDS.has(req.command) || scope.recoveryWindow;
    const maxAgeMs = live ? (req.liveMaxAgeMs ?? settings.liveMaxAgeSeconds * 1000) : Infinity;
    const held = this.entries.get(req.key);
    if (!req.fresh && held && held.signature === signature && held.generation === generation && this.now() - held.at <= maxAgeMs) {
      this.entries.delete(req.key); // most recently used last
      this.entries.set(req.key, held);
      this.counts.hits += 1;
      return { result: held.result, cache: { hit: true, age_ms: Math.max(0, this.now() - held.at) } };
    }
    this.counts.misses += 1;
    // Shared only among requests under the same fingerprint: a run begun before a change never
    // answers after it. Within the racy window a change may not show in the fingerprint: no sharing then.
    const racy = fp.racy(scope.roots);
    const { result } = await this.share(racy ? `${base} ${Math.random()}` : `${base} ${signature}`, req);
    const keep = isWhole(result) && generation === this.generation && maxAgeMs > 0 && !racy;
    if (keep) this.put(req.key, { signature, generation, at: fp.startedMs, live, result, bytes: sizeOf(req.key, result) }, settings.maxBytes);
    return { result, cache: { hit: false, age_ms: 0 } };
  }

  private async share(key: string, req: ReadRequest): Promise<{ result: RunResult }> {
    const { result } = await this.deps.flights.run(key, req.run, req.signal);
    return { result };
  }

  private put(key: string, entry: Entry, maxBytes: number): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.bytes;
    }
    if (entry.bytes > maxBytes) return;
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= maxBytes && this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }
}

/** The roots an answer about these servers depends on: the configuration's, and each server's. */
function scopeOf(fp: Fingerprint, servers: string[]): { roots: string[]; recoveryWindow: boolean } | null {
  const { files } = fp;
  if (files.autoConf && fp.present(files.autoConf)) return null;
  const every = servers.length === 0 || servers.some((s) => s.toLowerCase() === 'all');
  const names = every ? [...files.servers.keys(), ...files.unresolved] : servers;
  const roots = [...files.configRoots];
  let recoveryWindow = false;
  for (const name of names) {
    if (files.unresolved.has(name)) return null;
    const server = files.servers.get(name);
    // Not a server of this configuration: barman's answer (unknown server) depends on the configuration alone.
    if (!server) continue;
    roots.push(...server.roots);
    recoveryWindow ||= server.recoveryWindow;
  }
  return { roots, recoveryWindow };
}

/** Waiting for `p` ends when `signal` aborts (the request went away). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const gone = () => reject(signal.reason);
    signal.addEventListener('abort', gone, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', gone);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', gone);
        reject(e);
      },
    );
  });
}

/** Only a complete, successful answer is kept. */
function isWhole(r: RunResult): boolean {
  return r.exitCode === 0 && !r.truncated && !r.timedOut && !r.aborted;
}

/** What an entry holds in memory, roughly: its key (the argv) and its answer, as UTF-16, and some. */
function sizeOf(key: string, r: RunResult): number {
  return 2 * (key.length + r.stdout.length + r.stderr.length) + 256;
}

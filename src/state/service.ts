/**
 * The state model of the barman host, on demand: list-server, show-server, status and
 * list-backup run through the read cache (read-cache.ts), so a model asked for again while
 * barman's files are unchanged costs a fingerprint, not a barman run. barman versions without
 * `-f json` have no model: the answer says so.
 */
import { CheckResults } from './checks.js';
import type { Deps } from '../context.js';
import type { RunResult } from '../ports.js';
import { parseJsonOutput } from '../barman/output.js';
import type { Catalogue } from '../barman/catalogue.js';
import type { ReadCache } from './read-cache.js';
import { readKey } from './read-cache.js';
import type { Fingerprint } from './fingerprint.js';
import { backupDetailsFrom, backupFrom, checkFrom, errorsOf, serverFrom, serverNames, type BackupDetails, type BackupState, type CheckState, type ServerOutputs, type ServerState } from './model.js';
import { isRecord } from '../util/shape.js';

/** `missing`: the server (or backup) asked for does not exist; otherwise barman gave no model. */
export type StateAnswer<T> = { model: T; reason?: undefined } | { model: null; reason: string; missing?: boolean };

export interface StateServiceDeps {
  deps: Pick<Deps, 'host' | 'settings' | 'clock'>;
  reads: ReadCache;
  catalogue: () => Promise<Catalogue>;
}

/** How a model is read: background work (the refresher) takes a barman slot only when no request waits. */
export interface ReadMode {
  background?: boolean;
  /** Live answers (status, show-server) this old are still good enough. */
  liveMaxAgeMs?: number;
  /** Stops the barman runs of this read (its waiters, where a run is shared). */
  signal?: AbortSignal;
  /** One fingerprint for every barman read of this operation (ReadCache.fingerprint). */
  fingerprint?: Promise<Fingerprint> | null;
}

export class StateService {
  /** The last check result of each server (barman_up in /metrics). */
  readonly checks = new CheckResults();
  /** Each server's newest DONE backup and its copy time (show-backup), read once per backup. */
  readonly copyTimes = new Map<string, { id: string; seconds: number | null }>();
  private readonly copyTried = new Map<string, { id: string; at: number }>();
  constructor(private readonly d: StateServiceDeps) {}

  /** Every server of the host with its state. */
  async servers(mode: ReadMode = {}): Promise<StateAnswer<ServerState[]>> {
    const unsupported = await this.unsupported();
    if (unsupported) return { model: null, reason: unsupported };
    // One fingerprint, taken now, for all of it: a change before this call is seen by each read.
    const shared = { ...mode, fingerprint: mode.fingerprint ?? this.d.reads.fingerprint() };
    const listServer = await this.json('list-server', [], shared, true);
    const names = serverNames(listServer);
    const servers = await Promise.all(names.map((name) => this.build(name, listServer, shared)));
    return { model: servers };
  }

  /** One server's state; null model with the reason when barman gives none. */
  async server(name: string): Promise<StateAnswer<ServerState>> {
    const unsupported = await this.unsupported();
    if (unsupported) return { model: null, reason: unsupported };
    const listServer = await this.json('list-server', [], {}, true);
    if (!serverNames(listServer).includes(name)) return { model: null, reason: `barman on ${this.d.deps.host.description} has no server ${JSON.stringify(name)}`, missing: true };
    return { model: await this.build(name, listServer) };
  }

  /** A server's backups as list-backup gives them (list-server and list-backup only: nothing live). */
  async backups(server: string): Promise<StateAnswer<BackupState[]>> {
    const unsupported = await this.unsupported();
    if (unsupported) return { model: null, reason: unsupported };
    const listServer = await this.json('list-server', [], {}, true);
    if (!serverNames(listServer).includes(server)) return { model: null, reason: `barman on ${this.d.deps.host.description} has no server ${JSON.stringify(server)}`, missing: true };
    const doc = await this.json('list-backup', [server], {}, true);
    const listed = isRecord(doc) ? doc[server] : undefined;
    const errors = errorsOf(doc);
    if (!Array.isArray(listed) || errors.length > 0) throw new BarmanStateError(`barman list-backup ${server} on ${this.d.deps.host.description} gave no list: ${errors.join('; ') || 'no document'}`);
    return { model: listed.map(backupFrom).filter((b): b is BackupState => b !== null) };
  }

  /**
   * One backup of a server, as show-backup details it. Only an id list-backup lists is run, so no
   * shortcut (latest, oldest) or other word reaches barman from here.
   */
  async backup(server: string, id: string): Promise<StateAnswer<BackupDetails>> {
    const found = await this.backups(server);
    if (found.model === null) return found;
    if (!found.model.some((b) => b.id === id)) return { model: null, reason: `server ${server} has no backup ${JSON.stringify(id)}`, missing: true };
    const doc = await this.json('show-backup', [server, id], {}, true);
    const details = backupDetailsFrom(isRecord(doc) ? doc[server] : undefined);
    if (!details) throw new BarmanStateError(`barman show-backup ${server} ${id} on ${this.d.deps.host.description} gave no details: ${errorsOf(doc).join('; ') || 'no document'}`);
    return { model: details };
  }

  /**
   * barman check of one server: live and costly (it connects to PostgreSQL), so never part of
   * servers(); answered from the cache while younger than [cache] live_max_age.
   */
  async check(name: string, mode: ReadMode = {}): Promise<StateAnswer<CheckState>> {
    const unsupported = await this.unsupported();
    if (unsupported) return { model: null, reason: unsupported };
    const doc = await this.json('check', [name], mode, true);
    const state = checkFrom(name, doc);
    if (state.ok === null && state.errors.length > 0) return { model: null, reason: state.errors.join('; ') };
    return { model: state };
  }

  private async build(name: string, listServer: unknown, mode: ReadMode = {}): Promise<ServerState> {
    const [showServer, status, listBackup] = await Promise.all([
      this.json('show-server', [name], mode),
      this.json('status', [name], mode),
      this.json('list-backup', [name], mode),
    ]);
    const outputs: ServerOutputs = { listServer, showServer, status, listBackup };
    return serverFrom(name, outputs, this.d.deps.clock.now());
  }

  private async unsupported(): Promise<string | null> {
    const cat = await this.d.catalogue();
    return cat.supportsJson ? null : `barman ${cat.version} has no -f json output: only its console output is available (the /barman routes), no state model`;
  }

  /**
   * The copy time of each server's newest DONE backup, by show-backup, for the backups not read
   * yet: a finished backup's details do not change, so each costs one run in its life.
   */
  async noteCopyTimes(servers: readonly ServerState[], mode: ReadMode = {}): Promise<void> {
    const now = this.d.deps.clock.now().getTime();
    for (const s of servers) {
      const newest = s.backups?.find((b) => b.status === 'DONE');
      if (!newest || this.copyTimes.get(s.name)?.id === newest.id) continue;
      const tried = this.copyTried.get(s.name);
      if (tried?.id === newest.id && now - tried.at < COPY_RETRY_MS) continue;
      this.copyTried.set(s.name, { id: newest.id, at: now });
      const doc = await this.json('show-backup', [s.name, newest.id], mode);
      // No answer (a timeout, a stop): asked again after COPY_RETRY_MS. An answer without a copy
      // time is kept as such: that backup is not asked again.
      if (!isRecord(doc) || !isRecord(doc[s.name])) continue;
      const seconds = backupDetailsFrom(doc[s.name])?.copyTimeSeconds;
      this.copyTimes.set(s.name, { id: newest.id, seconds: typeof seconds === 'number' ? seconds : null });
    }
  }

  /**
   * `barman check all` now, its result recorded in `checks`; false when barman printed no
   * document.
   */
  async runChecks(mode: ReadMode = {}): Promise<boolean> {
    if (await this.unsupported()) return false;
    // Due, so run now: a cached check (a user's, seconds old) would not be a new result.
    const doc = await this.json('check', ['all'], { ...mode, liveMaxAgeMs: 0 });
    if (doc === null) return false;
    this.checks.record(doc, this.d.deps.clock.now().toISOString(), true);
    return true;
  }

  /**
   * barman's JSON document for a read-only command, through the cache; null when it printed none.
   * `required`: no document at all means barman could not answer (BarmanStateError).
   */
  private async json(command: string, args: string[], mode: ReadMode = {}, required = false): Promise<unknown> {
    const { deps } = this.d;
    const settings = deps.settings.current().barman;
    const argv = [...settings.command, '-c', settings.configFile, '-f', 'json', command, ...args];
    const timeoutMs = settings.timeoutSeconds * 1000;
    const { result } = await this.d.reads.read({
      command,
      key: readKey(deps.host.description, argv, timeoutMs, settings.maxOutputBytes),
      servers: args,
      fresh: false,
      liveMaxAgeMs: mode.liveMaxAgeMs,
      background: mode.background,
      signal: mode.signal,
      ...(mode.fingerprint ? { fingerprint: mode.fingerprint } : {}),
      run: (signal) => deps.host.run(argv, { timeoutMs, maxOutputBytes: settings.maxOutputBytes, signal, background: mode.background }),
    });
    // A cached answer is the same result each time: its document is parsed once (and only read).
    let doc = parsedDocs.get(result);
    if (doc === undefined) {
      doc = parseJsonOutput(result.stdout);
      parsedDocs.set(result, doc);
    }
    if (doc === null && required) {
      const why = result.timedOut ? 'timed out' : result.exitCode === null ? 'was killed' : `exited ${result.exitCode}`;
      throw new BarmanStateError(`barman ${command} on ${deps.host.description} ${why}: ${(result.stderr || result.stdout).trim().slice(0, 300)}`);
    }
    return doc;
  }
}


/** A show-backup that gave no answer is asked again after this long, not every round. */
const COPY_RETRY_MS = 10 * 60_000;

/** barman's JSON documents by the run result they came from. */
const parsedDocs = new WeakMap<RunResult, unknown>();

/** barman gave no answer to build the state from. */
export class BarmanStateError extends Error {
  override name = 'BarmanStateError';
}

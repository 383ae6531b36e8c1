/**
 * A fingerprint of barman's state on one host: the stamps of the files barman's read-only answers
 * come from (barman-files.ts), taken in one pass (over SSH: one round trip). Equal fingerprints
 * mean barman would read the same files.
 *
 * Takes are shared, but never from the past: a caller waits for a take that started after it
 * asked, so a change made before a request is always seen by it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { BarmanHost, FileStamp, TreeStamps } from '../ports.js';
import type { BarmanConfigView } from '../barman-config/reader.js';
import { dirname } from '../util/path.js';
import { barmanFiles, configRootsOf, STAMP_DEPTH, STAMP_SKIP, type BarmanFiles } from './barman-files.js';

/**
 * A file changed this close to the moment of a take may change again within the same tick of
 * the file system's clock (whole seconds on some) and keep its stamp: such an answer is not kept.
 */
export const RACY_MS = 2_000;
/** A take that has not ended by then (a hung network mount) fails: reads run barman instead. */
const TAKE_TIMEOUT_MS = 15_000;

export interface Fingerprint {
  /** When the take started, by this process's monotonic clock (performance.now()). */
  startedMs: number;
  files: BarmanFiles;
  /** The signature of one root (everything below it included), or undefined when not stamped. */
  signature(root: string): string | undefined;
  /** Whether something below one of these roots changed within RACY_MS of the take. */
  racy(roots: readonly string[]): boolean;
  /** Whether a stamped path exists. */
  present(path: string): boolean;
}

export interface FingerprintDeps {
  host: BarmanHost;
  /** barman's main configuration file now (a settings change may point elsewhere). */
  configFile: () => string;
  readConfig: (host: BarmanHost, mainFile: string) => Promise<BarmanConfigView>;
  /** A monotonic clock in ms; performance.now() unless a test sets one. */
  now?: () => number;
  /** How long a take may last (15 s unless a test sets it). */
  takeTimeoutMs?: number;
}

interface Parsed {
  mainFile: string;
  files: BarmanFiles;
  /** The configuration's stamps when it was read. */
  configSignature: string;
}

const MAX_CONFIG_REREADS = 3;

export class FingerprintSource {
  private parsed: Parsed | null = null;
  private current: { take: Promise<Fingerprint> } | null = null;
  private next: Promise<Fingerprint> | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: FingerprintDeps) {
    this.now = deps.now ?? (() => performance.now());
  }

  /** Whether the host can stamp files at all (the cache is off where it cannot). */
  get supported(): boolean {
    return typeof this.deps.host.stampTrees === 'function';
  }

  /**
   * A fingerprint taken after this call. A take under way may have read some files before the
   * call: the caller waits for the one that follows it, which every caller arriving meanwhile
   * shares (so a burst of requests costs at most two takes).
   */
  take(): Promise<Fingerprint> {
    if (this.current === null) return this.start();
    this.next ??= this.current.take.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  /** Forget the configuration read last (it is read again at the next take). */
  forget(): void {
    this.parsed = null;
  }

  private startNext(): Promise<Fingerprint> {
    this.next = null;
    return this.start();
  }

  private start(): Promise<Fingerprint> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = this.deps.takeTimeoutMs ?? TAKE_TIMEOUT_MS;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stamping barman's files on ${this.deps.host.description} took over ${limit / 1000} s`)), limit);
    });
    const take = Promise.race([this.takeNow(this.now()), timeout]).finally(() => clearTimeout(timer));
    const entry = { take };
    this.current = entry;
    const done = () => {
      if (this.current === entry) this.current = null;
    };
    take.then(done, done);
    return take;
  }

  private async takeNow(startedMs: number): Promise<Fingerprint> {
    const stamp = this.deps.host.stampTrees!.bind(this.deps.host);
    const options = { maxDepth: STAMP_DEPTH, skip: STAMP_SKIP };
    for (let attempt = 0; ; attempt++) {
      const mainFile = this.deps.configFile();
      let parsed = this.parsed?.mainFile === mainFile ? this.parsed : null;
      if (parsed === null) {
        // The configuration's stamps first, then its text: a change in between shows at the next take.
        const configRoots = configRootsOf(await this.deps.readConfig(this.deps.host, mainFile));
        const before = await stamp(configRoots, options);
        const files = barmanFiles(await this.deps.readConfig(this.deps.host, mainFile));
        parsed = { mainFile, files, configSignature: signatureOf(before, files.configRoots) };
        this.parsed = parsed;
      }
      const { files } = parsed;
      const roots = [...files.configRoots, ...[...files.servers.values()].flatMap((s) => s.roots)];
      const stamps = await stamp(roots, options);
      if (signatureOf(stamps, files.configRoots) === parsed.configSignature) {
        const fp = fingerprintOf(startedMs, files, stamps);
        // Read within the racy window, the configuration may change again unseen: read it again next time.
        if (fp.racy(files.configRoots)) this.parsed = null;
        return fp;
      }
      // barman's configuration changed since it was read: read it again.
      this.parsed = null;
      if (attempt + 1 >= MAX_CONFIG_REREADS) throw new Error(`barman's configuration on ${this.deps.host.description} kept changing while it was read`);
    }
  }
}

function fingerprintOf(startedMs: number, files: BarmanFiles, stamps: TreeStamps): Fingerprint {
  // Each entry under the roots it lies below, in one pass: asking for many roots (every server of
  // a large fleet) costs one walk over the stamps, not one per root.
  const roots = new Set([...files.configRoots, ...[...files.servers.values()].flatMap((s) => s.roots)]);
  const byRoot = new Map<string, Array<[string, FileStamp]>>();
  for (const entry of stamps.entries) {
    for (let path = entry[0]; ; path = dirname(path)) {
      if (roots.has(path)) {
        const list = byRoot.get(path);
        if (list) list.push(entry);
        else byRoot.set(path, [entry]);
      }
      if (path === '/' || !path.startsWith('/')) break;
    }
  }
  const signatures = new Map<string, string>();
  return {
    startedMs,
    files,
    signature(root) {
      let sig = signatures.get(root);
      if (sig === undefined) {
        sig = hashOf(byRoot.get(root) ?? (roots.has(root) ? [] : [...stamps.entries].filter(([p]) => under(p, root))));
        signatures.set(root, sig);
      }
      return sig;
    },
    present(path) {
      const entry = stamps.entries.get(path);
      return entry !== undefined && entry.stamp !== '-';
    },
    racy(asked) {
      for (const root of asked) {
        const list = byRoot.get(root) ?? [...stamps.entries].filter(([p]) => under(p, root));
        if (list.some(([, { changedMs }]) => changedMs > stamps.takenMs - RACY_MS)) return true;
      }
      return false;
    },
  };
}

function hashOf(entries: Array<[string, FileStamp]>): string {
  const lines = entries.map(([path, { stamp }]) => `${path}\0${stamp}`).sort();
  return bytesToHex(sha256(utf8ToBytes(lines.join('\n'))));
}

/** A hash of every stamp at or below the roots, in path order. */
function signatureOf(stamps: TreeStamps, roots: readonly string[]): string {
  const lines: string[] = [];
  for (const [path, { stamp }] of stamps.entries) if (roots.some((r) => under(path, r))) lines.push(`${path}\0${stamp}`);
  lines.sort();
  return bytesToHex(sha256(utf8ToBytes(lines.join('\n'))));
}

function under(path: string, root: string): boolean {
  return path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 47 /* / */);
}

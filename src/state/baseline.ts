/**
 * What the state rounds last saw of a host, kept in the store (`state/<host>.json`), so that the
 * first round after a restart compares with it: a backup that failed, a host that went down or a
 * check that started failing while no server ran is still told, and a check failing before and
 * after is not told again. Only what the comparison needs is kept.
 */
import type { Logger, Storage } from '../ports.js';
import { isRecord, isTime } from '../util/shape.js';

export interface Baseline {
  /** When it was seen (ISO 8601). */
  at: string;
  /** Where barman ran (`local`, `ssh barman@dc2`): a host name given to another place starts afresh. */
  where: string;
  /** Why the host was down, or null. */
  down: string | null;
  /** Each server's backups (id and status, newest first); null where the list could not be read. While the host is down, the last lists seen. */
  servers: Record<string, Array<{ id: string; status: string | null }> | null> | null;
  /** Each server's failing check items at its last check, and that check's time. */
  checks: Record<string, { at: string; items: string[] }>;
}

/** A baseline older than this is not compared with: what changed since is too old to tell. */
const MAX_AGE_MS = 7 * 86400_000;
/** An unchanged baseline is written again after this long, so a quiet host's stays young. */
const REWRITE_MS = 86400_000;

export class BaselineStore {
  private saved: { text: string; at: number } | null = null;
  private warned = false;
  /** Writes one after the other (a round's and a check's may meet). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: Storage,
    private readonly host: string,
    private readonly logger: Logger,
  ) {}

  private get path(): string {
    return `state/${this.host}.json`;
  }

  /** The last baseline of `where`, unless missing, damaged or older than a week. */
  async load(now: Date, where: string): Promise<Baseline | null> {
    const text = await this.storage.readText(this.path).catch(() => null);
    if (text === null) return null;
    let b: unknown;
    try {
      b = JSON.parse(text);
    } catch {
      b = null;
    }
    if (!isBaseline(b)) {
      this.logger.log('warn', `state baseline ${this.path} is damaged; the first round is the baseline`);
      return null;
    }
    if (b.where !== where || now.getTime() - Date.parse(b.at) > MAX_AGE_MS) return null;
    this.saved = { text: JSON.stringify({ ...b, at: undefined }), at: Date.parse(b.at) };
    return b;
  }

  /** Write it when it differs from the last written; a failure is logged once and the next round tries again. */
  save(b: Baseline): Promise<void> {
    this.writing = this.writing.then(() => this.write(b));
    return this.writing;
  }

  private async write(b: Baseline): Promise<void> {
    const text = JSON.stringify({ ...b, at: undefined });
    const at = Date.parse(b.at);
    if (text === this.saved?.text && at - this.saved.at < REWRITE_MS) return;
    try {
      await this.storage.writeAtomic(this.path, JSON.stringify(b));
      this.saved = { text, at };
      this.warned = false;
    } catch (err) {
      if (!this.warned) this.logger.log('warn', `state baseline ${this.path} could not be written; changes while no server runs may go untold`, { error: String((err as Error).message ?? err) });
      this.warned = true;
    }
  }
}


/** Every field checked: a file damaged by hand or by a crash is not compared with. */
function isBaseline(b: unknown): b is Baseline {
  if (!isRecord(b) || !isTime(b.at) || typeof b.where !== 'string' || !(b.down === null || typeof b.down === 'string')) return false;
  const backup = (x: unknown) => isRecord(x) && typeof x.id === 'string' && (x.status === null || typeof x.status === 'string');
  const servers = b.servers === null || (isRecord(b.servers) && Object.values(b.servers).every((list) => list === null || (Array.isArray(list) && list.every(backup))));
  const checks = isRecord(b.checks) && Object.values(b.checks).every((c) => isRecord(c) && isTime(c.at) && Array.isArray(c.items) && c.items.every((i) => typeof i === 'string'));
  return servers && checks;
}

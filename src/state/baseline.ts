/**
 * What the state rounds last saw of a host, kept in the store (`state/<host>.json`), so that the
 * first round after a restart compares with it: a backup that failed, a host that went down or a
 * check that started failing while no server ran is still told, and a check failing before and
 * after is not told again. Only what the comparison needs is kept.
 */
import type { Logger, Storage } from '../ports.js';

export interface Baseline {
  /** When it was seen (ISO 8601). */
  at: string;
  /** Why the host was down, or null. */
  down: string | null;
  /** Each server's backups (id and status, newest first); null where the list could not be read. Absent while the host was down. */
  servers: Record<string, Array<{ id: string; status: string | null }> | null> | null;
  /** Each server's failing check items at its last check, and that check's time. */
  checks: Record<string, { at: string; items: string[] }>;
}

/** A baseline older than this is not compared with: what changed since is too old to tell. */
const MAX_AGE_MS = 7 * 86400_000;

export class BaselineStore {
  private saved: string | null = null;
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

  /** The last baseline, unless missing, unreadable or older than a week. */
  async load(now: Date): Promise<Baseline | null> {
    const text = await this.storage.readText(this.path).catch(() => null);
    if (text === null) return null;
    let b: Baseline;
    try {
      b = JSON.parse(text) as Baseline;
    } catch {
      this.logger.log('warn', `state baseline ${this.path} is not JSON; the first round is the baseline`);
      return null;
    }
    if (typeof b !== 'object' || b === null || typeof b.at !== 'string' || typeof b.checks !== 'object' || b.checks === null) return null;
    if (now.getTime() - Date.parse(b.at) > MAX_AGE_MS || Number.isNaN(Date.parse(b.at))) return null;
    this.saved = JSON.stringify({ ...b, at: undefined });
    return b;
  }

  /** Write it when it differs from the last written; a failure is logged once and the next round tries again. */
  save(b: Baseline): Promise<void> {
    this.writing = this.writing.then(() => this.write(b));
    return this.writing;
  }

  private async write(b: Baseline): Promise<void> {
    const text = JSON.stringify({ ...b, at: undefined });
    if (text === this.saved) return;
    try {
      await this.storage.writeAtomic(this.path, JSON.stringify(b));
      this.saved = text;
      this.warned = false;
    } catch (err) {
      if (!this.warned) this.logger.log('warn', `state baseline ${this.path} could not be written; changes while no server runs may go untold`, { error: String((err as Error).message ?? err) });
      this.warned = true;
    }
  }
}

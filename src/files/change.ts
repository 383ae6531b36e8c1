/**
 * The steps both configuration editors (barman's files, our settings file) take to change a file
 * that other processes and people also write: in this process one change per file at a time;
 * across processes the file's lock; then re-read, edit, check that nobody who does not take the
 * lock (an editor) changed it meanwhile, keep the old content in the store, write.
 */
import type { Clock, Storage, TextFile } from '../ports.js';
import type { KeyedMutex } from '../util/mutex.js';
import { keepBackup, type BackupRetention } from './backups.js';

export interface ChangeTarget {
  readonly path: string;
  /** The file's inter-process lock; resolves to its release. */
  lock?(): Promise<() => Promise<void>>;
  read(): Promise<string | null>;
  /** Changes whenever the file does (the content itself where nothing cheaper exists). */
  revision(): Promise<string | null>;
  write(text: string, before: string | null): Promise<'replaced' | 'in-place'>;
}

export interface ChangeContext {
  /** Where the previous content is kept before a write; none: no backup (client.conf). */
  backups?: { storage: Storage; clock: Clock; retention: BackupRetention };
  /** One change per file at a time in this process (callers that serialise themselves leave it out). */
  mutex?: KeyedMutex;
}

/** What the edit makes of the file's current text; 'retry' to plan the change again. */
export type Edit<T> = (before: string | null) => Promise<{ after: string; value: T } | 'retry'>;

export interface ChangeOutcome<T> {
  value: T;
  before: string | null;
  after: string;
  written: boolean;
  /** Store path of the previous content, when the file existed and was written. */
  backup: string | null;
  mode: 'replaced' | 'in-place' | null;
}

/**
 * Apply `edit` under the locks and write the result unless `dryRun` or nothing changed.
 * 'changed-meanwhile': the file changed between the read and the write (nothing written);
 * 'retry': the edit asked to be planned again.
 */
export async function changeFile<T>(target: ChangeTarget, ctx: ChangeContext, dryRun: boolean, edit: Edit<T>): Promise<ChangeOutcome<T> | 'changed-meanwhile' | 'retry'> {
  const steps = async (): Promise<ChangeOutcome<T> | 'changed-meanwhile' | 'retry'> => {
    const release = dryRun ? null : ((await target.lock?.()) ?? null);
    try {
      const revision = await target.revision();
      const before = await target.read();
      const edited = await edit(before);
      if (edited === 'retry') return 'retry';
      const { after, value } = edited;
      // An empty result for a file that does not exist changes nothing either.
      if (dryRun || after === (before ?? '')) return { value, before, after, written: false, backup: null, mode: null };
      if ((await target.revision()) !== revision) return 'changed-meanwhile';
      const b = ctx.backups;
      const backup = before === null || !b ? null : await keepBackup(b.storage, b.clock, target.path, before, b.retention);
      const mode = await target.write(after, before);
      return { value, before, after, written: true, backup, mode };
    } finally {
      // A lock that could not be released cleanly expires by itself; the outcome stands.
      await release?.().catch(() => undefined);
    }
  };
  return ctx.mutex ? ctx.mutex.run(target.path, steps) : steps();
}

/** A TextFile (client.conf, the settings file) as a change target: its lock, its revision, written whole. */
export function textFileTarget(file: TextFile): ChangeTarget {
  return {
    path: file.path,
    lock: file.lock ? () => file.lock!() : undefined,
    read: () => file.read(),
    revision: () => file.revision(),
    async write(text) {
      await file.write(text);
      return 'replaced';
    },
  };
}

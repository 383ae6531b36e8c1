import type { TextFile } from '../ports.js';
import { conflict } from '../http/errors.js';

/**
 * Read-modify-write of a file several processes write (client.conf, the settings file): under
 * the file's inter-process lock, read it, let `change` compute the new text (null: leave it as
 * it is), check that nobody who does not take the lock (an editor) changed it since the read,
 * and replace it. The file ends equal to the accepted edits applied in lock order; an edit that
 * lost a race with an editor is a 409, never reported as written.
 */
export async function editLocked<T>(file: TextFile, change: (current: string | null) => Promise<{ text: string | null; value: T }>): Promise<T> {
  const release = file.lock ? await file.lock() : null;
  try {
    const revision = await file.revision();
    const current = await file.read();
    const { text, value } = await change(current);
    if (text === null || text === current) return value;
    if ((await file.revision()) !== revision) {
      throw conflict(`${file.path} was changed by someone else while this change was being made; nothing was written, try again`, { file: file.path });
    }
    await file.write(text);
    return value;
  } finally {
    // A lock that could not be released cleanly (its folder removed, found stale) expires by
    // itself; the edit's outcome stands either way.
    await release?.().catch(() => undefined);
  }
}

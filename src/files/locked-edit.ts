import type { TextFile } from '../ports.js';
import { conflict } from '../http/errors.js';
import { changeFile, textFileTarget } from './change.js';

/**
 * Read-modify-write of client.conf, which several processes write: the steps of changeFile
 * (lock, re-read, revision check, write) without a backup. `change` computes the new text (null:
 * leave it as it is). The file ends equal to the accepted edits applied in lock order; an edit
 * that lost a race with an editor is a 409, never reported as written.
 */
export async function editLocked<T>(file: TextFile, change: (current: string | null) => Promise<{ text: string | null; value: T }>): Promise<T> {
  const outcome = await changeFile(textFileTarget(file), {}, false, async (current) => {
    const { text, value } = await change(current);
    return { after: text ?? current ?? '', value };
  });
  if (typeof outcome === 'string') {
    throw conflict(`${file.path} was changed by someone else while this change was being made; nothing was written, try again`, { file: file.path });
  }
  return outcome.value;
}

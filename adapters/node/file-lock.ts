import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import lockfile from 'proper-lockfile';
import { HostFileError } from '../../src/ports.js';
import { toHostFileError } from './host-file-errors.js';

/**
 * The inter-process lock of a file we rewrite: `<file>.lock`, a folder created atomically by
 * proper-lockfile and refreshed while held, so a lock left by a killed process goes stale after
 * LOCK_STALE_MS. Waits up to about LOCK_WAIT_MS, then fails with a HostFileError of kind 'busy'.
 */
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

export async function lockFile(path: string): Promise<() => Promise<void>> {
  const lockPath = await lockPathFor(path);
  try {
    return await lockfile.lock(path, {
      realpath: false,
      lockfilePath: lockPath,
      stale: LOCK_STALE_MS,
      update: LOCK_STALE_MS / 4,
      retries: { retries: Math.ceil(LOCK_WAIT_MS / 100), minTimeout: 5, maxTimeout: 100, factor: 1.5, randomize: true },
      onCompromised: () => undefined, // our write is atomic either way; the revision check catches the rest
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new HostFileError('busy', path, `${path} is being changed by another barmanapi process (lock ${lockPath}); try again`);
    }
    throw toHostFileError(e, lockPath, 'lock');
  }
}

/**
 * `<file>.lock` beside the file; where its folder is not writable (barman's configuration
 * folder often is not: the file is then rewritten in place), a lock named after the file's path
 * in the machine's temp folder, which every process on the machine finds alike.
 */
async function lockPathFor(path: string): Promise<string> {
  try {
    await access(dirname(path), constants.W_OK);
    return `${path}.lock`;
  } catch {
    const dir = join(tmpdir(), 'barmanapi-locks');
    // Shared by every user on the machine, like /tmp itself (sticky: each removes only its own).
    if (await mkdir(dir, { mode: 0o1777 }).then(() => true, () => false)) await chmod(dir, 0o1777).catch(() => undefined);
    return join(dir, `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.lock`);
  }
}

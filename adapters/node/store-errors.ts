import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError, unavailable } from '../../src/http/errors.js';

const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);
const FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * A write to the store that the machine refused, as a 503 that names the folder and what fixes
 * it; any other error is returned as it is. The service is up; the store needs an operator.
 */
export function storeWriteError(err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code || (!NOT_WRITABLE.has(code) && !FULL.has(code))) return err;
  const folder = nearestFolder(target);
  let fix: string;
  if (FULL.has(code)) {
    fix = `the file system holding ${folder} is full (${code}): free space there (old archives under archive/, rotated logs under logs/)`;
  } else if (code === 'EROFS') {
    fix = `${folder} is on a read-only file system (EROFS): remount it read-write`;
  } else {
    const s = statSync(folder, { throwIfNoEntry: false });
    const who = `uid ${process.getuid?.() ?? '?'}`;
    const mode = s ? `mode ${(s.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${s.uid}:${s.gid}` : 'not found';
    fix = `${folder} is not writable by this service (${who}; ${mode}; ${code}): ` +
      `chown -R <service user> on the store and give it u+rwx${code === 'EPERM' ? ', and check for an immutable flag (lsattr -d; chattr -i)' : ''}`;
  }
  return unavailable('StoreNotWritable', `cannot write to the store: ${fix}`, 60, { folder }) as ApiError;
}

function nearestFolder(path: string): string {
  let dir = dirname(path);
  while (dir !== '/' && !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) dir = dirname(dir);
  return dir;
}

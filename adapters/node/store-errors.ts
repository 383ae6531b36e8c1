import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { ApiError, unavailable } from '../../src/http/errors.js';
import { HostFileError } from '../../src/ports.js';
import { toHostFileError } from './host-file-errors.js';

/**
 * A write to the store that the machine refused, as a 503 that names the folder and what fixes
 * it; any other error is returned as it is. The service is up; the store needs an operator.
 */
export function storeWriteError(err: unknown, target: string): unknown {
  const e = toHostFileError(err, target, 'write');
  if (!(e instanceof HostFileError) || !['permission', 'read-only', 'no-space'].includes(e.kind)) return err;
  const code = (err as NodeJS.ErrnoException).code ?? e.kind;
  const folder = nearestFolder(target);
  let fix: string;
  if (e.kind === 'no-space') {
    fix = `the file system holding ${folder} is full (${code}): free space there (old archives under archive/, rotated logs under logs/)`;
  } else if (e.kind === 'read-only') {
    fix = `${folder} is on a read-only file system (EROFS): remount it read-write`;
  } else {
    const s = statSync(folder, { throwIfNoEntry: false });
    const mode = s ? `mode ${(s.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${s.uid}:${s.gid}` : 'not found';
    fix = `${folder} is not writable by this service (${serviceOwner()}; ${mode}; ${code}): ` +
      `sudo chown -R ${serviceOwner()} ${folder} && sudo chmod u+rwx ${folder}${code === 'EPERM' ? '; check for an immutable flag too (lsattr -d; chattr -i)' : ''}`;
  }
  return unavailable('StoreNotWritable', `cannot write to the store: ${fix}`, 60, { folder }) as ApiError;
}

function nearestFolder(path: string): string {
  let dir = dirname(path);
  while (dir !== '/' && !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) dir = dirname(dir);
  return dir;
}

/** `user:group` of this process, by name where the system names them (for chown hints). */
export function serviceOwner(): string {
  let info: { username: string; gid: number };
  try {
    info = userInfo();
  } catch {
    // A uid with no passwd entry (containers): numbers do as well in a chown.
    return `${process.getuid?.() ?? 'uid'}:${process.getgid?.() ?? 'gid'}`;
  }
  let group = String(info.gid);
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(info.gid));
    if (line) group = line.split(':')[0]!;
  } catch {
    // no /etc/group: the number does as well
  }
  return `${info.username}:${group}`;
}

/**
 * A file of ours outside the store (client.conf, the settings file) that this process may not
 * read, write or lock: a 503 that says which file, why, and the commands that fix it. Another
 * barmanapi process holding its lock is a 503 FileBusy.
 */
export function textFileError(err: unknown, path: string, verb: 'read' | 'write'): unknown {
  const e = toHostFileError(err, path, verb);
  if (!(e instanceof HostFileError)) return e;
  if (e.kind === 'busy') return unavailable('FileBusy', e.message, 1, { file: e.path });
  const owner = serviceOwner();
  const fix = e.kind === 'read-only' ? 'remount its file system read-write'
    : e.kind === 'no-space' ? 'free space on its file system'
    : e.kind === 'not-a-file' ? 'a folder stands where the file should be, or a file where one of its folders should be; point the setting at a file'
    : e.kind === 'permission' ? `give the user running barmanapi access: sudo chown ${owner} ${e.path} && sudo chmod 600 ${e.path}${verb === 'write' ? ` (and write access to ${dirname(e.path)}, where the file is replaced)` : ''}`
    : null;
  if (fix === null) return err;
  return unavailable('FileNotAccessible', `cannot ${verb} ${e.path} (${(err as NodeJS.ErrnoException).code ?? e.kind}): ${fix}`, 60, { file: e.path });
}

import { ApiError } from '../http/errors.js';
import type { BarmanHost, HostFileInfo, Storage } from '../ports.js';
import type { Clock } from '../ports.js';
import { basename } from '../util/path.js';

/** SFTP's SSH_FX_PERMISSION_DENIED; the SSH host passes SFTP errors through with this code. */
const SFTP_PERMISSION_DENIED = 3;

export function isPermissionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === SFTP_PERMISSION_DENIED;
}

/**
 * A failed read or write of a config file as a 500-class ApiError that names the file, the host
 * and, for permission problems, what the file's owner and mode are and what to change.
 */
export function describeFileError(err: unknown, action: 'read' | 'write', path: string, host: Pick<BarmanHost, 'description'>, info?: HostFileInfo | null): ApiError {
  if (err instanceof ApiError) return err;
  const where = host.description === 'local' ? 'on this machine' : `on ${host.description}`;
  const ownership = info ? ` (owner uid ${info.uid}, gid ${info.gid}, mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})` : '';
  if (isPermissionError(err)) {
    const code = (err as { code?: unknown }).code === 'EROFS' ? 'read-only file system' : 'permission denied';
    return new ApiError(500, 'ConfigNotWritable', `cannot ${action} ${path}${ownership} ${where}: ${code}. ` +
      `The user the API ${host.description === 'local' ? 'runs as' : 'logs in as'} needs ${action} permission on the file` +
      `${action === 'write' ? ' (and, for an atomic replace, on its folder)' : ''}: change the file's owner or mode, or the user.`, { file: path, action });
  }
  const message = (err as Error | null)?.message ?? String(err);
  return new ApiError(500, 'ConfigFileError', `cannot ${action} ${path} ${where}: ${message.split('\n')[0]}`, { file: path, action });
}

/**
 * Keep the previous content of a config file under store/config/backups/ before it is replaced:
 * `<UTC timestamp>_<path with / as _>`, numbered when two land in the same millisecond.
 */
export async function keepBackup(storage: Storage, clock: Clock, path: string, text: string): Promise<string> {
  const stamp = clock.now().toISOString().replace(/[-:]/g, '').replace('.', '');
  const name = path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._@+-]+/g, '_') || basename(path) || 'config';
  const base = `config/backups/${stamp}_${name}`.slice(0, 200);
  for (let n = 1; n < 10_000; n++) {
    const candidate = n === 1 ? base : `${base}.${n}`;
    if (await storage.createExclusive(candidate, text)) return candidate;
  }
  throw new ApiError(500, 'BackupFailed', `cannot find a free backup name for ${path} under config/backups/`);
}

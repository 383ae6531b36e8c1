import { ApiError, unavailable } from '../http/errors.js';
import { HostFileError, type BarmanHost, type HostFileInfo } from '../ports.js';

/**
 * A failed read or write of a config file as an ApiError that names the file, the host and, for
 * permission problems, what the file's owner and mode are and what to change. Another writer
 * holding the file's lock is a 503 FileBusy.
 */
export function describeFileError(err: unknown, action: 'read' | 'write', path: string, host: Pick<BarmanHost, 'description'>, info?: HostFileInfo | null): ApiError {
  if (err instanceof ApiError) return err;
  const where = host.description === 'local' ? 'on this machine' : `on ${host.description}`;
  const kind = err instanceof HostFileError ? err.kind : 'failed';
  if (kind === 'busy') return unavailable('FileBusy', (err as Error).message, 1, { file: path });
  const ownership = info ? ` (owner uid ${info.uid}, gid ${info.gid}, mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})` : '';
  if (kind === 'permission' || kind === 'read-only') {
    return new ApiError(500, 'ConfigNotWritable', `cannot ${action} ${path}${ownership} ${where}: ${kind === 'read-only' ? 'read-only file system' : 'permission denied'}. ` +
      `The user the API ${host.description === 'local' ? 'runs as' : 'logs in as'} needs ${action} permission on the file` +
      `${action === 'write' ? ' (and, for an atomic replace, on its folder)' : ''}: change the file's owner or mode, or the user.`, { file: path, action }, { cause: err });
  }
  // A host's own error already says what it could not do, to which file, and where.
  const message = err instanceof HostFileError ? err.message : `cannot ${action} ${path} ${where}: ${String((err as Error | null)?.message ?? err).split('\n')[0]}`;
  return new ApiError(500, 'ConfigFileError', message, { file: path, action }, { cause: err });
}

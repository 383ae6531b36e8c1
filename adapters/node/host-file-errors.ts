import { HostFileError, type HostFileErrorKind } from '../../src/ports.js';

const KIND_OF_ERRNO: Record<string, HostFileErrorKind> = {
  EACCES: 'permission',
  EPERM: 'permission',
  EROFS: 'read-only',
  ENOENT: 'missing',
  ENOTDIR: 'not-a-file',
  ENOSPC: 'no-space',
  EDQUOT: 'no-space',
  EISDIR: 'not-a-file',
  ELOCKED: 'busy',
};

/**
 * A file operation's failure on this machine as the host port reports it: a HostFileError of
 * the kind its errno names ('failed' for the rest). Errors without an errno pass through.
 */
export function toHostFileError(err: unknown, path: string, action: 'read' | 'write' | 'lock'): unknown {
  if (err instanceof HostFileError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string') return err;
  const kind = KIND_OF_ERRNO[code] ?? 'failed';
  const detail = (err as Error).message.split('\n')[0];
  return new HostFileError(kind, path, `cannot ${action} ${path}: ${detail}`);
}

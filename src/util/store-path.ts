/**
 * Store paths: relative, '/'-separated, made of plain names. Anything else is refused before a
 * path is built, so no request can reach outside the store directory.
 */
const SEGMENT_RE = /^[A-Za-z0-9._@+-]+$/;

export function checkStorePath(path: string): string {
  const parts = path.split('/');
  if (path === '' || parts.some((p) => p === '' || p === '.' || p === '..' || !SEGMENT_RE.test(p))) {
    throw new Error(`invalid store path ${JSON.stringify(path)}`);
  }
  return path;
}

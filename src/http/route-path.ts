import type { Context } from 'hono';

/**
 * The request path relative to the app's mount point, so access rules read the same whether the
 * app serves at / or is mounted with `host.route('/backups', api)`. Middleware registered as
 * `*` sees routePath `/backups/*`; everything before the `*` is the mount prefix.
 */
export function relativePath(c: Context): string {
  const mount = c.req.routePath.replace(/\/?\*$/, '');
  let path = c.req.path;
  if (mount && path.startsWith(mount)) path = path.slice(mount.length);
  return path.replace(/^\/+|\/+$/g, '');
}

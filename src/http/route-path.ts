import type { Context } from 'hono';
import { forbidden } from './errors.js';

/**
 * The request path relative to the app's mount point, so access rules read the same whether the
 * app serves at / or is mounted with `host.route('/backups', api)` or `host.route('/:tenant/backups', api)`.
 * Middleware registered as `*` sees routePath `<mount>/*`: the mount's segments (static, or
 * `:param`) are matched against the request path and stripped. When they do not line up, the
 * request is refused rather than checked against the wrong path.
 */
export function relativePath(c: Context): string {
  const mount = c.req.routePath.replace(/\/?\*$/, '').split('/').filter((s) => s !== '');
  const parts = c.req.path.split('/').filter((s) => s !== '');
  for (let i = 0; i < mount.length; i++) {
    const m = mount[i]!;
    const p = parts[i];
    const fits = p !== undefined && (m.startsWith(':') ? true : m === p);
    if (!fits || m.includes('*')) throw forbidden('cannot tell the route below the mount point; access refused');
  }
  return parts.slice(mount.length).join('/');
}

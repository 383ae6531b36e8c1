import type { Context } from 'hono';
import type { Result, Router } from 'hono/router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { SmartRouter } from 'hono/router/smart-router';
import { TrieRouter } from 'hono/router/trie-router';
import { forbidden } from './errors.js';

/**
 * The request path relative to the app's mount point, so access rules read the same whether the
 * app serves at / or is mounted with `host.route('/backups', api)` or `host.route('/:tenant/backups', api)`.
 * Middleware registered as `*` sees routePath `<mount>/*`: the mount's segments (static, or
 * `:param`) are matched against the request path and stripped. When they do not line up, the
 * request is refused rather than checked against the wrong path.
 */
export function relativePath(c: Context): string {
  const mount = mountSegments(c.req.routePath);
  const path = c.req.path;
  // Served at / and no empty segment (no '//', no trailing '/'): the path without its leading '/'.
  if (mount.length === 0 && path.charCodeAt(0) === 47 && !path.endsWith('/') && !path.includes('//')) return path.slice(1);
  const parts = path.split('/').filter((s) => s !== '');
  for (let i = 0; i < mount.length; i++) {
    const m = mount[i]!;
    const p = parts[i];
    const fits = p !== undefined && (m.startsWith(':') ? true : m === p);
    if (!fits || m.includes('*')) throw forbidden('cannot tell the route below the mount point; access refused');
  }
  return parts.slice(mount.length).join('/');
}

/** The mount point's segments, by the routePath middleware sees (a handful per app). */
const mounts = new Map<string, string[]>();

function mountSegments(routePath: string): string[] {
  let mount = mounts.get(routePath);
  if (!mount) {
    mount = routePath.replace(/\/?\*$/, '').split('/').filter((s) => s !== '');
    if (mounts.size >= 64) mounts.clear();
    mounts.set(routePath, mount);
  }
  return mount;
}

/** Paths whose match is kept, per method, and methods; beyond that the cache starts over. */
const MATCHES_KEPT = 500;
const METHODS_KEPT = 16;
/** Longer paths are matched every time, so the cache stays small whatever is asked. */
const LONGEST_PATH_KEPT = 256;

/**
 * Hono's default router (RegExpRouter, else TrieRouter) with the routes matched for recent paths
 * kept. Once the app is set up the same method and path always match the same routes, and a Map
 * lookup costs far less than walking the route tree on every request (the trie, here: the barman
 * routes' patterns rule out the RegExpRouter). Adding a route empties the cache.
 */
export class CachingRouter<T> implements Router<T> {
  readonly name = 'CachingRouter';
  private readonly matches = new Map<string, Map<string, Result<T>>>();

  constructor(private readonly inner: Router<T> = new SmartRouter<T>({ routers: [new RegExpRouter<T>(), new TrieRouter<T>()] })) {}

  add(method: string, path: string, handler: T): void {
    this.matches.clear();
    this.inner.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > LONGEST_PATH_KEPT) return this.inner.match(method, path);
    let byPath = this.matches.get(method);
    if (!byPath) {
      if (this.matches.size >= METHODS_KEPT) this.matches.clear(); // a runtime may pass any method name
      this.matches.set(method, (byPath = new Map()));
    }
    let result = byPath.get(path);
    if (!result) {
      result = this.inner.match(method, path);
      if (byPath.size >= MATCHES_KEPT) byPath.clear();
      byPath.set(path, result);
    }
    return result;
  }
}

import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { Deps, AppEnv } from '../context.js';
import { ApiError } from './errors.js';
import { relativePath } from './route-path.js';

/** The route families of the seed (and /fleet, made alike): each of their routes answers GET (query) and POST (body). */
const LEGACY_FAMILIES = new Set(['auth', 'barman', 'history', 'config', 'fleet']);
const LEGACY_METHODS = ['GET', 'POST'] as const;

/**
 * Before anyone is authenticated: only the methods a route serves reach it (405 + Allow for the
 * rest; HEAD, OPTIONS and TRACE never reach a handler, so they never run a barman command), and
 * CORS for the origins `[application] cors_origins` lists. Without origins, CORS is off: no
 * Access-Control-* header is ever sent and preflights are refused like any other OPTIONS.
 */
export function methodGate(deps: Pick<Deps, 'settings'>): MiddlewareHandler<AppEnv> {
  const corsWith = (methods: string[]) =>
    cors({
      origin: (origin) => (deps.settings.current().application.corsOrigins.includes(origin) ? origin : null),
      allowMethods: methods,
      allowHeaders: ['Authorization', 'Content-Type', 'If-None-Match', 'Last-Event-ID'],
      exposeHeaders: ['Retry-After', 'ETag', 'Location'],
      maxAge: 600,
    });
  const legacyCors = corsWith([...LEGACY_METHODS]);
  // v1 routes also take PATCH and DELETE.
  const v1Cors = corsWith(['GET', 'POST', 'PATCH', 'DELETE']);
  // Not async: it only passes on next()'s promise, so it needs no promise of its own (a throw
  // here is caught by Hono just as a rejection is).
  return (c, next) => {
    // Worked out once per request; authenticate reads it from here.
    const path = relativePath(c);
    c.set('routePath', path);
    const slash = path.indexOf('/');
    const family = slash < 0 ? path : path.slice(0, slash);
    const legacy = LEGACY_FAMILIES.has(family);
    // v1 (below api/) answers its own 405s (api/v1/gate.ts); CORS is the same for both.
    if (!legacy && family !== 'api') return next();
    const corsFor = legacy ? legacyCors : v1Cors;
    const given = c.req.raw.method;
    const method = given === 'GET' || given === 'POST' ? given : given.toUpperCase();
    // Without origins no header is read: the request's Headers are built only if something needs them.
    const origins = deps.settings.current().application.corsOrigins;
    const origin = origins.length > 0 ? c.req.header('origin') : undefined;
    const corsAllowed = origin !== undefined && origins.includes(origin);
    if (method === 'OPTIONS' && corsAllowed && c.req.header('access-control-request-method') !== undefined) {
      return corsFor(c, next); // answers the preflight itself (204); nothing else runs
    }
    if (legacy && !(LEGACY_METHODS as readonly string[]).includes(method)) {
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not served here; this route answers ${LEGACY_METHODS.join(' and ')}`, { allowed: [...LEGACY_METHODS] }, {
        headers: { Allow: LEGACY_METHODS.join(', ') },
      });
    }
    if (corsAllowed) return corsFor(c, next);
    return next();
  };
}

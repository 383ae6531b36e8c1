import type { Context, MiddlewareHandler } from 'hono';
import type { Deps, AppEnv, AuthedUser } from '../context.js';
import type { AuthService } from '../auth/service.js';
import { isAllowed } from '../auth/policy.js';
import { ApiError, forbidden, unauthorized } from './errors.js';
import { relativePath } from './route-path.js';

/**
 * One gate before every handler: who is calling (Basic on /auth, a login token elsewhere, or
 * the embedding service's own user) and whether their access/deny rules allow this route.
 */
export function authenticate(deps: Deps, auth: AuthService): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // The method gate set it for the seed's routes; other paths (unknown ones) are worked out here.
    const path = c.get('routePath') ?? relativePath(c);
    c.set('routePath', path);
    const user = deps.externalAuth ? await externalUser(deps, c) : await builtinUser(deps, auth, c, path);
    if (!isAllowed(user, path)) throw forbidden(`access to ${path || '/'} is denied for user ${user.username}`);
    c.set('user', user);
    await next();
  };
}

async function externalUser(deps: Deps, c: Context): Promise<AuthedUser> {
  const u = await deps.externalAuth!(c);
  if (!u) throw unauthorized('not authenticated by the host service');
  return { ...u, fingerprint: '', id: '' };
}

async function builtinUser(deps: Deps, auth: AuthService, c: Context, path: string): Promise<AuthedUser> {
  const header = c.req.header('authorization') ?? '';
  const scheme = header.split(' ', 1)[0]!.toLowerCase();
  if (path.startsWith('auth/') || path === 'auth') {
    if (scheme === 'basic') return basicUser(deps, auth, c, header);
    if (path === 'auth/token') throw unauthorized('Basic authentication required: send the username and password');
  }
  const token = tokenFrom(c, header, scheme);
  if (!token) {
    throw unauthorized('missing token: pass ?token=… or the header "Authorization: Bearer …" (get one from /auth/token)');
  }
  const claims = await (await auth.signer()).checkLogin(token, deps.clock.now().getTime());
  const user = await auth.users.get(claims.sub);
  if (!user) throw unauthorized('invalid token: its user no longer exists');
  if (user.fingerprint !== claims.fpr) throw unauthorized('token revoked: the password or access rules changed; get a new token');
  return { username: user.username, access: user.access, deny: user.deny, fingerprint: user.fingerprint, id: user.id };
}

function tokenFrom(c: Context, header: string, scheme: string): string | undefined {
  if (scheme === 'bearer' || scheme === 'barman') return header.slice(scheme.length).trim() || undefined;
  const q = c.req.query('token');
  return q === undefined || q === '' ? undefined : q;
}

async function basicUser(deps: Deps, auth: AuthService, c: Context, header: string): Promise<AuthedUser> {
  const encoded = header.slice(6).trim();
  let decoded: string;
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('not base64');
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0)));
  } catch {
    throw unauthorized('malformed Basic authorization header: expected base64 of "username:password"');
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw unauthorized('malformed Basic authorization header: expected base64 of "username:password"');
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const now = deps.clock.now().getTime();
  const keys = [`user:${username}`, `addr:${deps.clientAddress?.(c) ?? 'unknown'}`];
  const wait = auth.throttle.waitMs(keys, now);
  if (wait > 0 || !auth.throttle.begin(keys)) {
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    c.header('Retry-After', String(seconds));
    throw new ApiError(429, 'TooManyRequests', wait > 0 ? `too many failed logins: try again in ${seconds} s` : 'too many logins at once for this user or address: try again in a second');
  }
  let user: Awaited<ReturnType<typeof auth.users.authenticate>>;
  try {
    user = await auth.users.authenticate(username, password);
  } finally {
    auth.throttle.end(keys);
  }
  if (!user) {
    auth.throttle.failed(keys, now);
    deps.logger.log('warn', 'login failed', { user: username.slice(0, 64), addr: keys[1]!.slice(5) });
    throw unauthorized('wrong username or password');
  }
  auth.throttle.succeeded([keys[0]!]);
  return { username: user.username, access: user.access, deny: user.deny, fingerprint: user.fingerprint, id: user.id };
}


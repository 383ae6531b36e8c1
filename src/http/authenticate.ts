import type { Context, MiddlewareHandler } from 'hono';
import type { Deps, AppEnv, AuthedUser } from '../context.js';
import type { AuthService } from '../auth/service.js';
import type { LoginClaims } from '../auth/tokens.js';
import type { UserRecord } from '../auth/users.js';
import { isAllowed, isAllowedAny } from '../auth/policy.js';
import { ApiError, forbidden, unauthorized } from './errors.js';
import { relativePath } from './route-path.js';
import { throttleKey } from './client.js';

/**
 * One gate before every handler: who is calling (Basic on /auth, a login token elsewhere, or
 * the embedding service's own user) and whether their access/deny rules allow this route.
 */
export function authenticate(deps: Deps, auth: AuthService): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // The method gate set it for the seed's routes; other paths (unknown ones) are worked out here.
    const routePath = c.get('routePath') ?? relativePath(c);
    c.set('routePath', routePath);
    // A v1 route follows the rules of the legacy path it maps to; public ones and the login take no token.
    const matched = c.get('v1Route');
    const v1 = matched?.route;
    if (v1 && (v1.rule === null || v1.login)) return next();
    const path = v1 ? (v1.ruleFrom?.(matched!.params) ?? v1.rule!) : routePath;
    const found = caller(deps, auth, c, path, v1 !== undefined, v1?.ruleAliases);
    // A token seen before needs no waiting: no await, so no extra turn of the microtask queue.
    c.set('user', found instanceof Promise ? await found : found);
    await next();
  };
}

/**
 * The user a request's credentials name, if their rules allow `path` (as on the legacy routes
 * of a barman command, `aliases` are its other names: no deny may reach any, access must cover
 * one). Throws 401 or 403.
 */
export function caller(deps: Deps, auth: AuthService, c: Context, path: string, v1: boolean, aliases?: readonly string[]): AuthedUser | Promise<AuthedUser> {
  const found = deps.externalAuth ? externalUser(deps, c) : builtinUser(deps, auth, c, path, v1);
  const check = (user: AuthedUser): AuthedUser => {
    const allowed = aliases ? isAllowedAny(user, [path, ...aliases]) : isAllowed(user, path);
    if (!allowed) throw forbidden(`access to ${path || '/'} is denied for user ${user.username}`);
    return user;
  };
  return found instanceof Promise ? found.then(check) : check(found);
}

async function externalUser(deps: Deps, c: Context): Promise<AuthedUser> {
  const u = await deps.externalAuth!(c);
  if (!u) throw unauthorized('not authenticated by the host service');
  return { ...u, fingerprint: '', id: '' };
}

function builtinUser(deps: Deps, auth: AuthService, c: Context, path: string, v1: boolean): AuthedUser | Promise<AuthedUser> {
  const header = requestHeader(c, 'authorization') ?? '';
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  if (v1) {
    // v1 takes a token in the Authorization header only: one in the URL ends up in logs and histories.
    const token = scheme === 'bearer' ? header.slice(6).trim() : '';
    if (!token) throw unauthorized('missing token: send the header "Authorization: Bearer …" (get one from POST /api/v1/auth/token)');
    return tokenUserLater(deps, auth, token, auth.readySigner()?.knownLogin(token, deps.clock.now().getTime()));
  }
  if (path.startsWith('auth/') || path === 'auth') {
    if (scheme === 'basic') return basicUser(deps, auth, c, header);
    if (path === 'auth/token') throw unauthorized('Basic authentication required: send the username and password');
  }
  const token = tokenFrom(c, header, scheme);
  if (!token) {
    throw unauthorized('missing token: pass ?token=… or the header "Authorization: Bearer …" (get one from /auth/token)');
  }
  // The usual case, a token verified before and a users file read recently, is answered at once;
  // otherwise the same checks once the signer, the signature and the users file are ready.
  const now = deps.clock.now().getTime();
  const claims = auth.readySigner()?.knownLogin(token, now);
  const known = claims && auth.users.peek(claims.sub, now);
  return known === undefined ? tokenUserLater(deps, auth, token, claims) : tokenUser(claims!, known);
}

async function tokenUserLater(deps: Deps, auth: AuthService, token: string, claims: LoginClaims | undefined): Promise<AuthedUser> {
  claims ??= await (await auth.signer()).checkLogin(token, deps.clock.now().getTime());
  return tokenUser(claims, await auth.users.get(claims.sub));
}

function tokenUser(claims: LoginClaims, user: UserRecord | null | undefined): AuthedUser {
  if (!user) throw unauthorized('invalid token: its user no longer exists');
  if (user.fingerprint !== claims.fpr) throw unauthorized('token revoked: the password or access rules changed; get a new token');
  return { username: user.username, access: user.access, deny: user.deny, ...(user.hosts ? { hosts: user.hosts } : {}), fingerprint: user.fingerprint, id: user.id };
}

function tokenFrom(c: Context, header: string, scheme: string): string | undefined {
  if (scheme === 'bearer' || scheme === 'barman') return header.slice(scheme.length).trim() || undefined;
  const q = c.req.query('token');
  return q === undefined || q === '' ? undefined : q;
}

async function basicUser(deps: Deps, auth: AuthService, c: Context, header: string): Promise<AuthedUser> {
  const { username, password } = basicCredentials(header);
  return logIn(deps, auth, c, username, password);
}

/** The username and password of an `Authorization: Basic …` header. */
export function basicCredentials(header: string): { username: string; password: string } {
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
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A password login, throttled per user and per client address (429 + Retry-After beyond it). */
export async function logIn(deps: Deps, auth: AuthService, c: Context, username: string, password: string): Promise<AuthedUser> {
  const now = deps.clock.now().getTime();
  const address = deps.client(c).address;
  const keys = [`user:${username}`, `addr:${address === undefined ? 'unknown' : throttleKey(address)}`];
  const wait = auth.throttle.waitMs(keys, now);
  if (wait > 0 || !auth.throttle.begin(keys)) {
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    c.header('Retry-After', String(seconds));
    throw new ApiError(429, 'TooManyRequests', wait > 0 ? `too many failed logins: try again in ${seconds} s` : 'too many logins at once for this user or address: try again in a second', { retry_after: seconds });
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
  return { username: user.username, access: user.access, deny: user.deny, ...(user.hosts ? { hosts: user.hosts } : {}), fingerprint: user.fingerprint, id: user.id };
}

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;

/**
 * c.req.header(name) (`name` in lower case) without building the request's Headers, when the
 * request is the Node server's own, unchanged: its raw headers are read as the Headers
 * constructor reads them (names in any case, values trimmed of HTTP white space, repeated ones
 * joined). Building the Headers is most of what reading one header costs. Any other request,
 * Headers already built, or a header the constructor would refuse: c.req.header itself.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const raw = pristineRawHeaders(c);
  if (!raw) return c.req.header(name);
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.charCodeAt(0) === 58) continue; // an HTTP/2 pseudo-header (":path"): not in Headers either
    const v = trimHttpWhitespace(raw[i + 1]!);
    if (!HTTP_TOKEN.test(key) || FORBIDDEN_IN_VALUE.test(v)) return c.req.header(name);
    if (key.length === name.length && key.toLowerCase() === name) value = value === undefined ? v : `${value}${name === 'cookie' ? '; ' : ', '}${v}`;
  }
  return value;
}

/**
 * The raw headers under a request of @hono/node-server that has not built its Headers: it keeps
 * the IncomingMessage it wraps under a symbol `incomingKey`, its Headers under `headersKey`.
 */
function pristineRawHeaders(c: Context): string[] | undefined {
  const incoming = (c.env as { incoming?: { rawHeaders?: unknown } } | undefined)?.incoming;
  const raw = incoming?.rawHeaders;
  if (!Array.isArray(raw)) return undefined;
  const req = c.req.raw as unknown as Record<symbol, unknown>;
  let wraps = false;
  for (const key of Object.getOwnPropertySymbols(req)) {
    const what = key.description;
    if (what === 'incomingKey') wraps = req[key] === incoming;
    else if (what === 'headersKey' || what === 'requestCache') return undefined;
  }
  return wraps ? (raw as string[]) : undefined;
}

function trimHttpWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isHttpWhitespace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

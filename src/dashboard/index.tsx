/**
 * The dashboard below /dashboard: server-rendered pages over API v1 (internal.ts), for the same
 * users and rules. Its session cookie is taken here and nowhere else: the API's routes never
 * read a cookie, so no page elsewhere can make a browser act on the API with it.
 *
 * - The cookie: HttpOnly, SameSite=Strict, Secure when the client came over TLS (directly or
 *   through a trusted proxy), its path the dashboard's own (mount prefix included), its life the
 *   token life. A session ends on sign-out, at its time, or when the user's password or rules
 *   change.
 * - Every POST carries the session's CSRF token (the sign-in form a token of its own cookie), and
 *   a browser's Sec-Fetch-Site must say the form came from this origin.
 * - Content-Security-Policy: only this origin's files, no inline script or style, no framing.
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { AppEnv, AuthedUser, Deps } from '../context.js';
import type { AuthService } from '../auth/service.js';
import type { HostSet } from '../hosts/services.js';
import type { V1Route } from '../api/v1/route.js';
import { mountPrefix, urlPath } from '../api/v1/problem.js';
import { logIn } from '../http/authenticate.js';
import { ApiError } from '../http/errors.js';
import { readBodyParams, single, type Params } from '../http/params.js';
import { redact } from '../util/redact.js';
import { ASSETS } from './assets.js';
import { InternalApi, type Answer, type Problem } from './internal.js';
import { Sessions, csrfMatches, csrfToken, randomId, type Session } from './session.js';
import type { View } from './view.js';
import { ErrorPage, SignInPage } from './pages/admin.js';
import { fleetPage, pageRoutes } from './routes.js';

const SESSION_COOKIE = 'barmanapi_session';
/** The sign-in form's own CSRF cookie: a page elsewhere cannot sign a browser in as someone else. */
const SIGNIN_COOKIE = 'barmanapi_signin';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A request of a signed-in user, as the page handlers get it. */
export interface Dash {
  c: Context<AppEnv>;
  session: Session;
  view: View;
  /** The form of a POST (its CSRF token checked), else the query. */
  form: Params;
  /** A v1 call as this user: status and JSON body. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>>;
  /** A v1 request as this user, its Response as it is (a stream). */
  raw(method: string, path: string, headers?: Record<string, string>): Promise<Response>;
  /** Answers with a page. */
  render(page: JSX.Element, status?: number): Promise<Response>;
  /** Answers 303 to a dashboard path (`/jobs/…`). */
  redirect(path: string): Response;
  /** The page for an error answer of the API. */
  failed(answer: Answer): Promise<Response>;
  hosts: HostSet;
}

export type DashHandler = (d: Dash) => Promise<Response>;

export function dashboardRoutes(deps: Deps, auth: AuthService, hosts: HostSet, routes: readonly V1Route[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const sessions = new Sessions(deps);
  const internal = new InternalApi(deps, auth, routes);
  const base = (c: Context<AppEnv>) => `${mountPrefix(c)}/dashboard`;
  const html = async (c: Context<AppEnv>, page: JSX.Element, status = 200) => {
    c.header('Cache-Control', 'no-store');
    return c.html(`<!doctype html>\n${await page.toString()}`, status as 200);
  };
  const cookieOptions = (c: Context<AppEnv>) => ({ path: base(c), httpOnly: true, sameSite: 'Strict' as const, secure: deps.client(c).secure });

  app.use('*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'same-origin');
    c.header('X-Frame-Options', 'DENY');
  });

  app.get('/assets/:name', (c) => {
    const asset = Object.hasOwn(ASSETS, c.req.param('name')) ? ASSETS[c.req.param('name')]! : undefined;
    if (!asset) return html(c, <ErrorPage view={null} base={base(c)} status={404} problem={{ title: 'Not found', detail: 'no such file of the dashboard' }} />, 404);
    // Pages name each file with its hash (?v=…): that URL never changes its content.
    const versioned = c.req.query('v') === asset.etag;
    return c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': versioned ? 'public, max-age=31536000, immutable' : 'no-cache', ETag: `"${asset.etag}"` });
  });

  // The dashboard signs in barmanapi's own users: behind an embedding service's authentication it is off.
  app.use('*', async (c, next) => {
    if (!deps.externalAuth) return next();
    return html(c, <ErrorPage view={null} base={base(c)} status={404} problem={{ title: 'No dashboard here', detail: "the dashboard signs in barmanapi's own users; this application authenticates through the service it is embedded in" }} />, 404);
  });

  const signInPage = async (c: Context<AppEnv>, status: number, extra: { message?: string; kind?: 'fail' | 'info'; next?: string; username?: string } = {}) => {
    let pre = getCookie(c, SIGNIN_COOKIE);
    if (!pre || !/^[A-Za-z0-9_-]{43}$/.test(pre)) {
      pre = randomId();
      setCookie(c, SIGNIN_COOKIE, pre, { ...cookieOptions(c), maxAge: 3600 });
    }
    return html(c, <SignInPage base={base(c)} csrf={csrfToken(pre)} next={extra.next ?? ''} message={extra.message} kind={extra.kind} username={extra.username} />, status);
  };

  app.get('/sign-in', async (c) => {
    const session = await sessions.find(getCookie(c, SESSION_COOKIE));
    if (session) return c.redirect(`${base(c)}/`, 303);
    const reason = c.req.query('reason');
    const message = reason === 'signed-out' ? 'You have signed out.' : reason === 'changed' ? 'Your password or rules changed: sign in again.' : reason === 'expired' ? 'Your session has ended: sign in again.' : undefined;
    return signInPage(c, 200, { message, kind: 'info', next: c.req.query('next') ?? '' });
  });

  app.post('/sign-in', async (c) => {
    let form: Params;
    try {
      form = await readForm(c);
    } catch (e) {
      return signInPage(c, e instanceof ApiError ? e.status : 400, { message: e instanceof ApiError ? e.message : 'the form could not be read' });
    }
    const next = safeNext(base(c), typeof form.next === 'string' ? form.next : '');
    const pre = getCookie(c, SIGNIN_COOKIE);
    if (!pre || !csrfMatches(pre, form._csrf) || !sameOrigin(c)) {
      return signInPage(c, 403, { message: 'The sign-in form had expired or did not come from this page: try again.', next });
    }
    const username = typeof form.username === 'string' ? form.username : '';
    const password = typeof form.password === 'string' ? form.password : '';
    let user: AuthedUser;
    try {
      user = await logIn(deps, auth, c, username, password);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return signInPage(c, e.status, { message: e.status === 401 ? 'Wrong username or password.' : e.message, next, username: username.slice(0, 200) });
    }
    const life = deps.settings.current().authToken.tokenLife;
    // Signing in again ends the session the browser had.
    const previous = getCookie(c, SESSION_COOKIE);
    let session: Session;
    try {
      session = await sessions.start(user.username, user.fingerprint, life);
      if (previous) await sessions.end(previous).catch(() => undefined);
    } catch (e) {
      deps.logger.log('error', 'dashboard session not stored', { error: redact(String(e)) });
      return signInPage(c, 503, { message: 'The session could not be stored (the store refused the write): try again later.', next });
    }
    setCookie(c, SESSION_COOKIE, session.id, { ...cookieOptions(c), maxAge: life });
    deleteCookie(c, SIGNIN_COOKIE, { path: base(c), secure: deps.client(c).secure });
    deps.logger.log('info', 'dashboard sign-in', { user: user.username });
    return c.redirect(next || `${base(c)}/`, 303);
  });

  /**
   * Every other page: a live session of a user whose password and rules have not changed; a
   * POST's form read, its CSRF token checked (`form: false`: no form is read, for answers that
   * act on nothing).
   */
  const signedIn = (handler: DashHandler, opts: { form?: boolean } = {}) => async (c: Context<AppEnv>) => {
    const b = base(c);
    const session = await sessions.find(getCookie(c, SESSION_COOKIE));
    const isGet = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (!session) {
      if (c.req.header('accept') === 'text/event-stream') return c.text('not signed in', 401);
      const url = c.req.url;
      const query = url.includes('?') ? url.slice(url.indexOf('?')).replace(/#.*$/, '') : '';
      const next = isGet ? `?next=${encodeURIComponent(urlPath(url) + query)}` : '?reason=expired';
      return c.redirect(`${b}/sign-in${next}`, 303);
    }
    const record = await auth.users.get(session.username);
    if (!record || record.fingerprint !== session.fingerprint) {
      // Ended whether or not its file goes now: the fingerprint refuses it on every request.
      await sessions.end(session.id).catch(() => undefined);
      internal.forget(session);
      deleteCookie(c, SESSION_COOKIE, { path: b, secure: deps.client(c).secure });
      return c.redirect(`${b}/sign-in?reason=changed`, 303);
    }
    const user: AuthedUser = { username: record.username, access: record.access, deny: record.deny, ...(record.hosts ? { hosts: record.hosts } : {}), fingerprint: record.fingerprint, id: record.id };
    c.set('user', user);
    const view: View = { base: b, user, csrf: csrfToken(session.id), now: deps.clock.now().getTime() };
    const d: Dash = {
      c,
      session,
      view,
      form: {},
      hosts,
      api: (method, path, body) => internal.call(c, session, method, path, body),
      raw: (method, path, headers) => internal.fetch(c, session, method, path, { headers }),
      render: (page, status) => html(c, page, status),
      redirect: (path) => c.redirect(`${b}${path}`, 303),
      failed: (answer) => html(c, <ErrorPage view={view} base={b} status={answer.status} problem={answer.body as Problem} />, answer.status),
    };
    try {
      if (!isGet && opts.form !== false) {
        d.form = await readForm(c);
        if (!sameOrigin(c) || !csrfMatches(session.id, d.form._csrf)) {
          return d.failed({ status: 403, body: { title: 'Form refused', detail: 'The form had expired or did not come from this dashboard (its CSRF token did not match): reload the page and try again.' } });
        }
      } else d.form = Object.fromEntries(new URL(c.req.url).searchParams);
      return await handler(d);
    } catch (e) {
      if (e instanceof ApiError) return d.failed({ status: e.status, body: { title: e.type, detail: e.message } });
      deps.logger.log('error', 'dashboard page failed', { path: c.req.path, error: redact(String(e)) });
      return d.failed({ status: 500, body: { title: 'Internal error', detail: 'the page could not be made; the log says why' } });
    }
  };

  app.post('/sign-out', signedIn(async (d) => {
    await sessions.end(d.session.id);
    internal.forget(d.session);
    deleteCookie(d.c, SESSION_COOKIE, { path: d.view.base, secure: deps.client(d.c).secure });
    return d.redirect('/sign-in?reason=signed-out');
  }));

  pageRoutes(app, signedIn);
  app.all('*', signedIn(async (d) => {
    const path = urlPath(d.c.req.url);
    const reads = d.c.req.method === 'GET' || d.c.req.method === 'HEAD';
    // `/dashboard/`: the first page, as `/dashboard` is; another page with a trailing slash: that page.
    if (reads && path === `${d.view.base}/`) return fleetPage(d);
    if (reads && path.startsWith(`${d.view.base}/`) && path.endsWith('/') && !path.endsWith('//')) {
      const url = d.c.req.url;
      const query = url.includes('?') ? url.slice(url.indexOf('?')).replace(/#.*$/, '') : '';
      return d.c.redirect(`${path.replace(/\/+$/, '')}${query}`, 308);
    }
    return d.failed({ status: 404, body: { title: 'Not found', detail: `no dashboard page at ${d.c.req.path.slice(0, 200)}` } });
  }, { form: false }));
  return app;
}

/** A form POST's fields: application/x-www-form-urlencoded only (what the pages send). */
async function readForm(c: Context<AppEnv>): Promise<Params> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new ApiError(415, 'UnsupportedMediaType', 'the dashboard takes its own forms only (application/x-www-form-urlencoded)');
  // The body only: a field in the URL (a password, the CSRF token) would end up in logs and histories.
  const params = await readBodyParams(c);
  for (const key of Object.keys(params)) single(params, key);
  return params;
}

/** A browser's word that the request came from a page of this origin (none from other clients). */
function sameOrigin(c: Context<AppEnv>): boolean {
  const site = c.req.header('sec-fetch-site');
  return site === undefined || site === 'same-origin';
}

/** Where to go after signing in: a dashboard page, never elsewhere. */
function safeNext(base: string, next: string): string {
  if (!next.startsWith(`${base}/`) && next !== base) return '';
  if (/[\\\u0000-\u001f]/.test(next) || next.includes('//')) return '';
  return next;
}

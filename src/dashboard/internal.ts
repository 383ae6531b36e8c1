/**
 * The dashboard reads and acts through API v1 itself, in process: each call is a v1 request with
 * a login token of the signed-in user, through the same gate, rules, checks and handlers as a
 * client's. So a page can show nothing and do nothing its user could not do with a token, and
 * the API's answers (403, 409, 422, …) are what the pages show. These calls are not HTTP
 * requests: no request log line and no count of their own (the dashboard's request has both).
 */
import { Hono, type Context } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import type { AuthService } from '../auth/service.js';
import { authenticate } from '../http/authenticate.js';
import { errorHandler } from '../http/on-error.js';
import { relativePath } from '../http/route-path.js';
import { v1Dispatch, v1Gate } from '../api/v1/gate.js';
import type { V1Route } from '../api/v1/route.js';
import type { Session } from './session.js';

/** A v1 answer: its status and its JSON body (a problem for an error; null when not JSON). */
export interface Answer<T = unknown> {
  status: number;
  body: T;
}

/** What a problem+json answer says, for a page. */
export interface Problem {
  title?: string;
  detail?: string;
  status?: number;
  errors?: Array<{ parameter?: string; message?: string }>;
}

const TOKENS_KEPT = 1000;

export class InternalApi {
  private readonly app = new Hono<AppEnv>();
  /** Login tokens of sessions, by session id: one signature per session and process. */
  private readonly tokens = new Map<string, { token: string; expires: number }>();

  constructor(
    private readonly deps: Deps,
    private readonly auth: AuthService,
    routes: readonly V1Route[],
  ) {
    this.app.use('*', (c, next) => {
      c.set('routePath', relativePath(c));
      return next();
    });
    this.app.use('*', v1Gate(routes));
    this.app.use('*', authenticate(deps, auth));
    this.app.all('/api/v1/*', v1Dispatch);
    this.app.onError(errorHandler(deps));
  }

  /**
   * `method path` of v1 (`/hosts/default/servers`, below /api/v1) as the session's user; `body`
   * as JSON. The dashboard request's own context lends its client address (c.env).
   */
  async fetch(c: Context<AppEnv>, session: Session, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const token = await this.token(session);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(init.headers ?? {}) };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const request = new Request(`http://dashboard.invalid/api/v1${path}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: c.req.raw.signal,
    });
    return this.app.fetch(request, c.env);
  }

  /** The answer's status and JSON body. */
  async call<T = unknown>(c: Context<AppEnv>, session: Session, method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const res = await this.fetch(c, session, method, path, body === undefined ? {} : { body });
    const type = res.headers.get('content-type') ?? '';
    const parsed = type.includes('json') ? ((await res.json()) as T) : (null as T);
    return { status: res.status, body: parsed };
  }

  /** The token a session's calls carry: its user's, as long as the session lasts. */
  private async token(session: Session): Promise<string> {
    const now = this.deps.clock.now().getTime();
    const kept = this.tokens.get(session.id);
    if (kept && kept.expires === session.expires) return kept.token;
    const life = Math.max(1, Math.floor((session.expires - now) / 1000));
    const token = await (await this.auth.signer()).issueLogin({ sub: session.username, fpr: session.fingerprint }, now, life);
    this.tokens.set(session.id, { token, expires: session.expires });
    if (this.tokens.size > TOKENS_KEPT) this.tokens.delete(this.tokens.keys().next().value as string);
    return token;
  }

  /** Forgets a session's token (sign-out). */
  forget(session: Session): void {
    this.tokens.delete(session.id);
  }
}

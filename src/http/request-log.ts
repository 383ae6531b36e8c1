import type { MiddlewareHandler } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import { redactQuery } from '../util/redact.js';
import type { ClientInfo } from './client.js';

/** The client's address, and the proxy that named it when one did. */
function clientFields(client: ClientInfo): Record<string, string> {
  if (client.address === undefined) return {};
  return client.via === undefined ? { client: client.address } : { client: client.address, via: client.via };
}

/** A log line for every request, once it is answered: method, path, redacted query, status, time, user, client. */
export function requestLog(deps: Pick<Deps, 'logger' | 'client'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = Date.now();
    await next();
    // The raw query, not a parsed URL: this runs on every request. Redacted here, whatever the logger.
    const q = c.req.url.indexOf('?');
    deps.logger.log(c.res.status >= 500 ? 'error' : 'info', `${c.req.method} ${c.req.path}${q >= 0 ? `?${redactQuery(c.req.url.slice(q + 1))}` : ''}`, {
      status: c.res.status,
      ms: Date.now() - started,
      user: c.get('user')?.username,
      ...clientFields(deps.client(c)),
    });
  };
}

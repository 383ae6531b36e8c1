/**
 * Requests below api/v1: matched to their route before anyone is authenticated (an unknown path
 * is a 404 and a method the path does not serve a 405 with Allow, whoever asks), then answered by
 * the route's handler, reads with an ETag of what the caller may see (etag.ts).
 */
import type { Handler, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../context.js';
import { ApiError, badRequest, notFound } from '../../http/errors.js';
import { isV1Path, urlPath } from './problem.js';
import { compile, matchSegments, type CompiledRoute, type V1Route } from './route.js';
import { conditionalJson } from './etag.js';

export function v1Gate(routes: readonly V1Route[]): MiddlewareHandler<AppEnv> {
  const compiled = routes.map(compile);
  return (c, next) => {
    const path = c.get('routePath');
    if (!isV1Path(path)) return next();
    const parts = v1Segments(c.req.url, path!);
    const fitting = compiled.filter((r) => matchSegments(r, parts) !== null);
    if (fitting.length === 0) throw notFound(`no such route: ${c.req.method} /${path}`);
    const given = c.req.raw.method.toUpperCase();
    const method = given === 'HEAD' ? 'GET' : given;
    const hit: CompiledRoute | undefined = fitting.find((r) => r.route.method === method);
    if (!hit) {
      const allowed = [...new Set(fitting.flatMap((r) => (r.route.method === 'GET' ? ['GET', 'HEAD'] : [r.route.method])))];
      throw new ApiError(405, 'MethodNotAllowed', `${given} is not served here; this route answers ${allowed.join(', ')}`, { allowed }, { headers: { Allow: allowed.join(', ') } });
    }
    c.set('v1Route', { route: hit.route, params: matchSegments(hit, parts)! });
    return next();
  };
}

/** The matched route's answer. */
export const v1Dispatch: Handler<AppEnv> = async (c) => {
  const matched = c.get('v1Route');
  if (!matched) throw notFound(`no such route: ${c.req.method} ${c.req.path}`);
  const answer = await matched.route.handle(c, matched.params);
  if (answer instanceof Response) return answer;
  return matched.route.conditional ? conditionalJson(c, answer, matched.route.etagWithout) : c.json(answer as object);
};

/**
 * The segments below api/v1, each percent-decoded once, from the raw URL: the path Hono gives
 * has been decoded already, but keeps %2F, so the raw segments line up with it one for one.
 */
function v1Segments(url: string, relative: string): string[] {
  const path = urlPath(url);
  // An empty segment (`hosts//servers`, `docs/`) would shift the others: no route has one.
  if (path.includes('//') || path.endsWith('/')) throw notFound(`no such route: ${path.slice(0, 200)} (an empty path segment)`);
  const raw = path.split('/').filter((s) => s !== '');
  const count = relative.split('/').filter((s) => s !== '').length;
  return raw.slice(raw.length - count + 2).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw badRequest(`the path segment ${JSON.stringify(s.slice(0, 64))} is not valid percent-encoded UTF-8`);
    }
  });
}

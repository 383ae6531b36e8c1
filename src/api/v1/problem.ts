/**
 * Errors of the v1 routes as `application/problem+json` (RFC 9457): the same ApiError the legacy
 * routes render as their envelope, with its type as a URN, the HTTP reason as title, the message
 * as detail and its details (the parameter at fault, what is allowed, retry_after) as members.
 */
import type { ApiError } from '../../http/errors.js';

export const PROBLEM_TYPE = 'application/problem+json';

/** Problem types are URNs: stable names a client can switch on, resolvable without any network. */
export const problemType = (type: string) => `urn:barmanapi:problem:${type}`;

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request's path (relative to the API's mount point). */
  instance?: string;
  [member: string]: unknown;
}

/** Members RFC 9457 defines: a detail of the same name never replaces them. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'instance']);

export function problemBody(err: Pick<ApiError, 'status' | 'type' | 'message' | 'details'>, instance?: string): Problem {
  const extra = Object.fromEntries(Object.entries(err.details ?? {}).filter(([k]) => !RESERVED.has(k)));
  return {
    type: problemType(err.type),
    title: TITLES[err.status] ?? 'Error',
    status: err.status,
    detail: err.message,
    ...(instance === undefined ? {} : { instance }),
    ...extra,
  };
}

/** The problem of an error nobody described: nothing of the inside, the log has the stack. */
export function internalProblem(instance?: string): Problem {
  return problemBody({ status: 500, type: 'InternalError', message: 'Internal server error; see the server log.' }, instance);
}

/** The path of a request URL as sent: percent-encoded, the mount point included (a problem's `instance`). */
export function urlPath(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}

/** Where the API is mounted, as the request URL spells it ('' at the root): the URL's path less the route's own segments. */
export function mountPrefix(c: { req: { url: string }; get(key: 'routePath'): string | undefined }): string {
  const raw = urlPath(c.req.url).split('/').filter((s) => s !== '');
  const own = (c.get('routePath') ?? '').split('/').filter((s) => s !== '').length;
  return raw.slice(0, Math.max(0, raw.length - own)).map((s) => `/${s}`).join('');
}

/** Whether a request path (relative to the mount point) belongs to the v1 API. */
export function isV1Path(path: string | undefined): boolean {
  return path !== undefined && (path === 'api/v1' || path.startsWith('api/v1/'));
}

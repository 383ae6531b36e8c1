import type { Context, ErrorHandler } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import { ApiError, unavailable } from './errors.js';
import { errorBody, internalErrorBody } from './envelope.js';
import { redact } from '../util/redact.js';
import { internalProblem, isV1Path, problemBody, PROBLEM_TYPE, urlPath, type Problem } from '../api/v1/problem.js';
import { HostError, HostFileError, type HostErrorKind } from '../ports.js';

/**
 * The one place a thrown error becomes an answer: an ApiError as its envelope (with its headers
 * and the right challenge on 401), a failing barman host as 502, a file on it as 503 (busy) or
 * 500, anything else as a 500 that says nothing of the inside (the log has the stack).
 */
export function errorHandler(deps: Pick<Deps, 'logger' | 'host'>): ErrorHandler<AppEnv> {
  return (thrown: Error, c: Context<AppEnv>) => {
    // The v1 routes answer errors as problem+json, the seed's routes with their envelope.
    const path = c.get('routePath');
    const v1 = isV1Path(path);
    const render = (err: ApiError) => (v1 ? problem(c, problemBody(err, urlPath(c.req.url)), err.status) : c.json(errorBody(err), err.status));
    // A file on the barman host that a route did not describe itself: busy is worth a retry.
    const err = thrown instanceof HostFileError
      ? thrown.kind === 'busy'
        ? unavailable('FileBusy', thrown.message, 1, { file: thrown.path })
        : new ApiError(500, 'HostFileError', redact(thrown.message), { file: thrown.path, kind: thrown.kind })
      : thrown;
    if (err instanceof ApiError) {
      // Basic only where a password can work (/auth); token routes say Bearer, so browsers do
      // not pop up a password prompt that could never succeed there.
      if (err.status === 401) {
        const onAuth = /^\/?auth(\/|$)/.test(path ?? '') || c.get('v1Route')?.route.login === true;
        c.header('WWW-Authenticate', onAuth ? 'Basic realm="barmanapi", charset="UTF-8"' : 'Bearer realm="barmanapi"');
      }
      for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
      return render(err);
    }
    if (err instanceof HostError) {
      // The barman host, not this API, failed: a gateway error that says why; the next request reconnects.
      const host = c.get('barmanHost') ?? deps.host.description;
      deps.logger.log('warn', `barman host ${host}: ${err.kind}`, { path: c.req.path, error: redact(err.message) });
      return render(new ApiError(502, HOST_ERROR_TYPE[err.kind], redact(err.message), { host }));
    }
    deps.logger.log('error', 'unhandled error', { path: c.req.path, error: redact(String((err as Error).stack ?? err)) });
    return v1 ? problem(c, internalProblem(urlPath(c.req.url)), 500) : c.json(internalErrorBody(), 500);
  };
}

const HOST_ERROR_TYPE: Record<HostErrorKind, string> = {
  unreachable: 'BarmanHostUnreachable',
  'connection-lost': 'BarmanHostConnectionLost',
  auth: 'BarmanHostAuthFailed',
  'host-key': 'BarmanHostKeyRefused',
  config: 'BarmanHostMisconfigured',
  closed: 'BarmanHostClosed',
};


function problem(c: Context, body: Problem, status: ApiError['status']): Response {
  return c.body(JSON.stringify(body), status, { 'Content-Type': PROBLEM_TYPE });
}

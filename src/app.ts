import { Hono } from 'hono';
import type { AppDeps, AppEnv } from './context.js';
import { createAuthService } from './auth/service.js';
import { authRoutes } from './auth/routes.js';
import { authenticate } from './http/authenticate.js';
import { ApiError, notFound } from './http/errors.js';
import { errorBody, internalErrorBody } from './http/envelope.js';
import { redact } from './util/redact.js';

/** The one composition point: every route module, wired to the given ports. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const auth = createAuthService(deps);

  app.use('*', async (c, next) => {
    const started = Date.now();
    await next();
    deps.logger.log(c.res.status >= 500 ? 'error' : 'info', `${c.req.method} ${redact(new URL(c.req.url).pathname + new URL(c.req.url).search)}`, {
      status: c.res.status,
      ms: Date.now() - started,
      user: c.get('user')?.username,
    });
  });
  app.use('*', authenticate(deps, auth));

  app.route('/auth', authRoutes(deps, auth));

  app.notFound((c) => {
    const err = notFound(`no such route: ${c.req.method} ${c.req.path}`);
    return c.json(errorBody(err), 404);
  });
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.details?.challenge) c.header('WWW-Authenticate', 'Basic realm="barmanapi", charset="UTF-8"');
      const { challenge: _drop, ...details } = err.details ?? {};
      return c.json(errorBody(new ApiError(err.status, err.type, err.message, details)), err.status);
    }
    deps.logger.log('error', 'unhandled error', { path: c.req.path, error: redact(String((err as Error).stack ?? err)) });
    return c.json(internalErrorBody(), 500);
  });
  return app;
}

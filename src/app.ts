import { Hono, type Context } from 'hono';
import type { AppDeps, AppEnv, Deps, SettingsHolder } from './context.js';
import { createAuthService } from './auth/service.js';
import { authRoutes } from './auth/routes.js';
import { CatalogueStore } from './barman/catalogue.js';
import { barmanRoutes } from './barman/routes.js';
import { historyRoutes } from './jobs/routes.js';
import { orphanedJobs } from './jobs/orphans.js';
import { RunSlots, withRunSlots } from './barman/run-slots.js';
import { configRoutes } from './barman-config/routes.js';
import { settingsRoutes } from './settings/routes.js';
import { holdSettings } from './settings/holder.js';
import { JobService } from './jobs/service.js';
import { authenticate } from './http/authenticate.js';
import { methodGate } from './http/methods.js';
import { CachingRouter } from './http/route-path.js';
import { ApiError, notFound, unavailable } from './http/errors.js';
import { errorBody, internalErrorBody } from './http/envelope.js';
import { redact, redactQuery } from './util/redact.js';
import { HostError, HostFileError, type HostErrorKind } from './ports.js';

export interface Api {
  app: Hono<AppEnv>;
  /** The bound on barman processes of requests. */
  slots: RunSlots;
  jobs: JobService;
  catalogue: CatalogueStore;
  /** The settings the app runs with, live changes included. */
  settings: SettingsHolder;
}

/** The one composition point: every route module, wired to the given ports. */
export function createApi(given: AppDeps): Api {
  const { settings: initial, jobs: formerRunner, runner = formerRunner, ...ports } = given;
  const settings = holdSettings(initial);
  const slots = new RunSlots({
    limit: () => settings.current().barman.maxConcurrent || 2 * (given.cpuCount ?? 2),
    queueLimit: () => settings.current().barman.maxQueued,
    description: given.host.description,
  });
  const deps: Deps = { ...ports, settings, runner, host: withRunSlots(given.host, slots) };
  const app = new Hono<AppEnv>({ router: new CachingRouter() });
  const auth = createAuthService(deps);
  const catalogue = new CatalogueStore(deps);
  const jobs = new JobService({
    storage: deps.storage,
    runner: deps.runner,
    clock: deps.clock,
    logger: deps.logger,
    signer: () => auth.signer(),
    maxRunning: () => settings.current().jobs.maxRunning,
    keepMonths: () => settings.current().jobs.keepMonths,
    hostDescription: deps.host.description,
    orphans: orphanedJobs(deps.host, deps.settings, async (name) => CatalogueStore.find(await catalogue.get(), name) !== undefined),
  });

  app.use('*', async (c, next) => {
    const started = Date.now();
    await next();
    // The raw query, not a parsed URL: this runs on every request. Redacted here, whatever the logger.
    const q = c.req.url.indexOf('?');
    deps.logger.log(c.res.status >= 500 ? 'error' : 'info', `${c.req.method} ${c.req.path}${q >= 0 ? `?${redactQuery(c.req.url.slice(q + 1))}` : ''}`, {
      status: c.res.status,
      ms: Date.now() - started,
      user: c.get('user')?.username,
    });
  });
  app.use('*', methodGate(deps));
  app.use('*', authenticate(deps, auth));

  app.route('/auth', authRoutes(deps, auth));
  app.route('/barman', barmanRoutes(deps, catalogue, jobs));
  app.route('/history', historyRoutes(deps, jobs, {
    commandNames: async (command) => {
      const spec = CatalogueStore.find(await catalogue.get(), command);
      return spec ? [spec.name, ...spec.aliases] : [command];
    },
  }));
  app.route('/config', configRoutes(deps, { versionOf: () => catalogue.barmanVersion() }));
  app.route('/config/barmanapi', settingsRoutes(deps));

  const noRoute = (c: Context) => c.json(errorBody(notFound(`no such route: ${c.req.method} ${c.req.path}`)), 404);
  // A sub-app's notFound is not consulted once it is mounted with route(): the catch-all keeps
  // the JSON 404 for embedders; notFound covers the app served on its own.
  app.all('*', noRoute);
  app.notFound(noRoute);
  app.onError((thrown, c) => {
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
        const onAuth = /^\/?auth(\/|$)/.test(c.get('routePath') ?? '');
        c.header('WWW-Authenticate', onAuth ? 'Basic realm="barmanapi", charset="UTF-8"' : 'Bearer realm="barmanapi"');
      }
      for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
      return c.json(errorBody(err), err.status);
    }
    if (err instanceof HostError) {
      // The barman host, not this API, failed: a gateway error that says why; the next request reconnects.
      deps.logger.log('warn', `barman host ${deps.host.description}: ${err.kind}`, { path: c.req.path, error: redact(err.message) });
      return c.json(errorBody(new ApiError(502, HOST_ERROR_TYPE[err.kind], redact(err.message), { host: deps.host.description })), 502);
    }
    deps.logger.log('error', 'unhandled error', { path: c.req.path, error: redact(String((err as Error).stack ?? err)) });
    return c.json(internalErrorBody(), 500);
  });
  return { app, jobs, catalogue, slots, settings };
}

const HOST_ERROR_TYPE: Record<HostErrorKind, string> = {
  unreachable: 'BarmanHostUnreachable',
  'connection-lost': 'BarmanHostConnectionLost',
  auth: 'BarmanHostAuthFailed',
  'host-key': 'BarmanHostKeyRefused',
  config: 'BarmanHostMisconfigured',
  closed: 'BarmanHostClosed',
};

export function createApp(deps: AppDeps): Hono<AppEnv> {
  return createApi(deps).app;
}

import { Hono, type Context } from 'hono';
import type { AppDeps, AppEnv, Deps, SettingsHolder } from './context.js';
import { createAuthService } from './auth/service.js';
import { authRoutes } from './auth/routes.js';
import { CatalogueStore } from './barman/catalogue.js';
import { barmanRoutes } from './barman/routes.js';
import { historyRoutes, type HistoryRoutesOptions } from './jobs/routes.js';
import { jobOrphans } from './hosts/jobs.js';
import type { RunSlots } from './barman/run-slots.js';
import type { SingleFlight } from './barman/single-flight.js';
import type { ReadCache } from './state/read-cache.js';
import type { StateService } from './state/service.js';
import type { Refresher } from './state/refresher.js';
import { HostSet, hostAdapters, serveHost } from './hosts/services.js';
import { fleetRoutes } from './hosts/routes.js';
import { configRoutes, configTargets } from './barman-config/routes.js';
import { settingsRoutes } from './settings/routes.js';
import { holdSettings } from './settings/holder.js';
import { JobService } from './jobs/service.js';
import { authenticate } from './http/authenticate.js';
import { methodGate } from './http/methods.js';
import { CachingRouter } from './http/route-path.js';
import { notFound } from './http/errors.js';
import { requestLog } from './http/request-log.js';
import { TrustedProxies, clientOf } from './http/client.js';
import { healthRoutes } from './http/health.js';
import { HttpMetrics, JobMetrics } from './metrics/http.js';
import { metricsRoutes } from './metrics/routes.js';
import { errorHandler } from './http/on-error.js';
import { WebhookOutbox } from './webhooks/outbox.js';
import { tellWebhooks } from './webhooks/events.js';
import { v1Api, v1Dispatch, v1Gate, type V1 } from './api/v1/index.js';
import { dashboardRoutes } from './dashboard/index.js';

export interface Api {
  app: Hono<AppEnv>;
  /** Every barman host's services (catalogue, cap, cache, state, refresher), by name. */
  hosts: HostSet;
  /** The default host's bound on barman processes of requests. */
  slots: RunSlots;
  jobs: JobService;
  /** The default host's command catalogue. */
  catalogue: CatalogueStore;
  /** The settings the app runs with, live changes included. */
  settings: SettingsHolder;
  /** The default host's identical read-only barman runs shared while they run. */
  flights: SingleFlight;
  /** The default host's answers of read-only commands while barman's files are unchanged. */
  reads: ReadCache;
  /** The default host's servers and backups as typed data. */
  state: StateService;
  /** The default host's background rounds that keep the state current (started by a server). */
  refresher: Refresher;
  /** The v1 routes and their OpenAPI document. */
  v1: V1;
  /** Signed event deliveries (started by a server). */
  webhooks: WebhookOutbox;
}

/** The one composition point: every route module, wired to the given ports. */
export function createApi(given: AppDeps): Api {
  const { settings: initial, jobs: formerRunner, runner = formerRunner, hosts: further, serving: _serving, fetch: _fetch, ...ports } = given;
  const settings = holdSettings(initial);
  const client = clientOf(new TrustedProxies(() => settings.current().application), given);
  const app0: Deps = { ...ports, settings, runner, client };
  const adapters = hostAdapters(initial, given.host, further);
  const hosts = new HostSet(adapters.map(([h, adapter]) => serveHost(h.name, adapter, app0, given.cpuCount, adapters.length > 1)));
  const main = hosts.default;
  // Route modules not yet host-aware reach the default host through the app's deps.
  const deps: Deps = main.deps;
  const app = new Hono<AppEnv>({ router: new CachingRouter() });
  const auth = createAuthService(deps);
  const { catalogue, flights, reads, state, refresher, slots } = main;
  const jobs = new JobService({
    storage: deps.storage,
    runner: deps.runner,
    clock: deps.clock,
    logger: deps.logger,
    signer: () => auth.signer(),
    maxRunning: () => settings.current().jobs.maxRunning,
    keepMonths: () => settings.current().jobs.keepMonths,
    describeHost: (name) => hosts.find(name)?.deps.host.description ?? name,
    // Which host a job ran on is in its files; dropping every host's cache is as right and cheaper.
    onChange: () => hosts.list.forEach((h) => h.reads.invalidate()),
    orphans: jobOrphans(hosts),
  });

  const historyOptions: HistoryRoutesOptions = {
    // Asked of the job's own host: its barman (and version) named the command.
    commandNames: async (command, host) => {
      const on = hosts.find(host);
      const spec = on ? CatalogueStore.find(await on.catalogue.get(), command) : undefined;
      return spec ? [spec.name, ...spec.aliases] : [command];
    },
    describeHost: (host) => hosts.find(host)?.deps.host.description ?? host,
  };
  const configs = configTargets(hosts, { onChange: (host) => host.reads.invalidate() });
  const webhooks = new WebhookOutbox({ storage: deps.storage, clock: deps.clock, logger: deps.logger, settings: () => settings.current().webhooks, fetch: given.fetch ?? ((input, init) => fetch(input, init)) });
  tellWebhooks(webhooks, jobs, hosts);
  const v1 = v1Api(deps, auth, hosts, jobs, settings, historyOptions, configs, webhooks);

  // Every request is counted for /metrics, probes and scrapes too.
  const http = new HttpMetrics();
  app.use('*', http.middleware());
  // Probes and scrapes come first: no log line for each (a change of readiness is logged).
  app.route('/', healthRoutes(deps, auth, hosts, given.serving));
  app.route('/', metricsRoutes(deps, auth, hosts, http, { counts: () => jobs.counts(), ended: JobMetrics.of(jobs), webhooks }));
  app.use('*', requestLog(deps));
  app.use('*', methodGate(deps));
  // The dashboard takes its session cookie, never a token; the API's routes never take the cookie.
  app.route('/dashboard', dashboardRoutes(deps, auth, hosts, v1.routes));
  // v1's 404 and 405 come before authentication, as the legacy routes' 405 does.
  app.use('*', v1Gate(v1.routes));
  app.use('*', authenticate(deps, auth));

  app.route('/auth', authRoutes(deps, auth));
  app.route('/barman', barmanRoutes(hosts, jobs));
  app.route('/history', historyRoutes(deps, jobs, historyOptions));
  app.route('/config', configRoutes(configs));
  app.route('/config/barmanapi', settingsRoutes(deps));
  app.route('/fleet', fleetRoutes(hosts, settings, () => deps.clock.now()));
  app.all('/api/v1/*', v1Dispatch);

  // Rendered by the error handler: the envelope, or problem+json below api/v1.
  const noRoute = (c: Context): Response => {
    throw notFound(`no such route: ${c.req.method} ${c.req.path}`);
  };
  // A sub-app's notFound is not consulted once it is mounted with route(): the catch-all keeps
  // the JSON 404 for embedders; notFound covers the app served on its own.
  app.all('*', noRoute);
  app.notFound(noRoute);
  app.onError(errorHandler(deps));
  return { app, hosts, jobs, catalogue, slots, settings, flights, reads, state, refresher, v1, webhooks };
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  return createApi(deps).app;
}

import { Hono, type Context } from 'hono';
import type { AppDeps, AppEnv, Deps, SettingsHolder } from './context.js';
import { createAuthService } from './auth/service.js';
import { authRoutes } from './auth/routes.js';
import { CatalogueStore } from './barman/catalogue.js';
import { barmanRoutes } from './barman/routes.js';
import { historyRoutes } from './jobs/routes.js';
import { orphanedJobs } from './jobs/orphans.js';
import { RunSlots, withRunSlots } from './barman/run-slots.js';
import { SingleFlight } from './barman/single-flight.js';
import { FingerprintSource } from './state/fingerprint.js';
import { ReadCache } from './state/read-cache.js';
import { StateService } from './state/service.js';
import { Refresher } from './state/refresher.js';
import { readBarmanConfig } from './barman-config/reader.js';
import { configRoutes } from './barman-config/routes.js';
import { settingsRoutes } from './settings/routes.js';
import { holdSettings } from './settings/holder.js';
import { JobService } from './jobs/service.js';
import { authenticate } from './http/authenticate.js';
import { methodGate } from './http/methods.js';
import { CachingRouter } from './http/route-path.js';
import { notFound } from './http/errors.js';
import { errorBody } from './http/envelope.js';
import { requestLog } from './http/request-log.js';
import { errorHandler } from './http/on-error.js';

export interface Api {
  app: Hono<AppEnv>;
  /** The bound on barman processes of requests. */
  slots: RunSlots;
  jobs: JobService;
  catalogue: CatalogueStore;
  /** The settings the app runs with, live changes included. */
  settings: SettingsHolder;
  /** Identical read-only barman runs shared while they run. */
  flights: SingleFlight;
  /** Answers of read-only commands while barman's files are unchanged. */
  reads: ReadCache;
  /** barman's servers and backups as typed data. */
  state: StateService;
  /** The background rounds that keep the state current and tell its changes (started by a server). */
  refresher: Refresher;
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
  const flights = new SingleFlight();
  const fingerprints = new FingerprintSource({ host: deps.host, configFile: () => settings.current().barman.configFile, readConfig: readBarmanConfig });
  const reads = new ReadCache({ fingerprints, flights, settings: () => settings.current().cache, logger: deps.logger });
  // The model needs to know whether barman has -f json: barman's main help says it, not the whole catalogue.
  const state = new StateService({ deps, reads, catalogue: () => catalogue.forCommand('list-server') });
  const refresher = new Refresher({ state, host: deps.host.description, logger: deps.logger, clock: deps.clock, settings: () => settings.current().cache });
  const jobs = new JobService({
    storage: deps.storage,
    runner: deps.runner,
    clock: deps.clock,
    logger: deps.logger,
    signer: () => auth.signer(),
    maxRunning: () => settings.current().jobs.maxRunning,
    keepMonths: () => settings.current().jobs.keepMonths,
    hostDescription: deps.host.description,
    onChange: () => reads.invalidate(),
    orphans: orphanedJobs(deps.host, deps.settings, async (name) => CatalogueStore.find(await catalogue.get(), name) !== undefined),
  });

  app.use('*', requestLog(deps));
  app.use('*', methodGate(deps));
  app.use('*', authenticate(deps, auth));

  app.route('/auth', authRoutes(deps, auth));
  app.route('/barman', barmanRoutes(deps, catalogue, jobs, reads));
  app.route('/history', historyRoutes(deps, jobs, {
    commandNames: async (command) => {
      const spec = CatalogueStore.find(await catalogue.get(), command);
      return spec ? [spec.name, ...spec.aliases] : [command];
    },
  }));
  app.route('/config', configRoutes(deps, { versionOf: () => catalogue.barmanVersion(), onChange: () => reads.invalidate() }));
  app.route('/config/barmanapi', settingsRoutes(deps));

  const noRoute = (c: Context) => c.json(errorBody(notFound(`no such route: ${c.req.method} ${c.req.path}`)), 404);
  // A sub-app's notFound is not consulted once it is mounted with route(): the catch-all keeps
  // the JSON 404 for embedders; notFound covers the app served on its own.
  app.all('*', noRoute);
  app.notFound(noRoute);
  app.onError(errorHandler(deps));
  return { app, jobs, catalogue, slots, settings, flights, reads, state, refresher };
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  return createApi(deps).app;
}

import { availableParallelism } from 'node:os';
/**
 * The package root (`barmanapi`, also `barmanapi/node`): createBarmanApi for mounting the API in
 * another Hono service, the Node adapters, and everything of the runtime-agnostic core.
 */
import { join } from 'node:path';
import type { Context, Hono } from 'hono';
import type { AppDeps, AppEnv } from '../../src/context.js';
import type { BarmanHost, Clock, JobRunner, Logger, Storage, TextFile } from '../../src/ports.js';
import type { Settings } from '../../src/settings/load.js';
import type { PublicUser } from '../../src/auth/users.js';
import { createApi, type Api } from '../../src/app.js';
import { createInProcessJobRunner } from '../memory/job-runner.js';
import { getClientAddress, isEncrypted } from './client-address.js';
import { nodeDocsAssets } from './docs-assets.js';
import { createFurtherHosts, createHost } from './deps.js';
import { createFsStorage, createFsTextFile } from './fs-storage.js';
import { createDetachedJobRunner } from './job-runner.js';
import { createFileLogger } from './logger.js';
import { prepareStore, readSettings } from './settings-file.js';
import { startHousekeeping } from './housekeeping.js';

export * from '../../src/index.js';
export { createBarmanHost, createFurtherHosts, createHost, createNodeDeps } from './deps.js';
export { createFsStorage, createFsTextFile } from './fs-storage.js';
export { createLocalHost, type LocalHostOptions } from './local-host.js';
export { createSshHost, type SshHostOptions } from './ssh-host.js';
export { createDetachedJobRunner, type DetachedRunnerOptions } from './job-runner.js';
export { createFileLogger } from './logger.js';
export { DEFAULT_CONFIG, prepareStore, readSettings } from './settings-file.js';
export { checkExposure, closeOnSignals, reloadOnHangup, startServer, type RunningServer } from './serve.js';
export { VERSION } from './version.js';

/** Who the caller is when the host service, not barmanapi, authenticates. */
export type ExternalAuth = (c: Context) => PublicUser | null | Promise<PublicUser | null>;

export interface BarmanApiOptions {
  /**
   * The barmanapi settings file, read exactly as `barmanapi runserver --config FILE` reads it
   * (BARMANAPI_* variables still override it). Default: $BARMANAPI_CONFIG, else /etc/barmanapi.conf.
   */
  config?: string;
  /** Settings already loaded (e.g. with loadSettings); used instead of reading `config`. */
  settings?: Settings;
  /** The store; default: the store directory of the settings, on disk. */
  storage?: Storage;
  /** Where barman runs; default: local or SSH as the settings say. */
  host?: BarmanHost;
  /**
   * The further barman hosts of the settings (`[host:NAME]`), by name; default: made from the settings unless `host` is given.
   * Given adapters mean jobs run in this process: a detached runner could only make its own from the settings.
   */
  hosts?: Readonly<Record<string, BarmanHost>>;
  /**
   * Starts async commands. Default: detached `barmanapi execute` processes (as runserver does)
   * when the store and the barman host are the ones the settings file describes; otherwise
   * jobs run inside this process with the given storage and host. `null`: no async commands.
   */
  runner?: JobRunner | null;
  /** @deprecated the former name of `runner`, still taken. */
  jobs?: JobRunner | null;
  /** client.conf; default: [user] configfile of the settings. */
  usersFile?: TextFile;
  /** Default: store/logs/general.log and stderr, as runserver logs. */
  logger?: Logger;
  clock?: Clock;
  /**
   * 'builtin' (default): Basic login on /auth/token and tokens everywhere else, as runserver.
   * `{ external }`: our Basic/JWT auth is off; the function names the user of each request from
   * the host service's own middleware (null → 401), and that user's access/deny rules apply.
   */
  auth?: 'builtin' | { external: ExternalAuth };
  /**
   * Find jobs left by an earlier run, start queued ones every 2 s and archive past months daily,
   * as runserver does. Default true whenever async commands are possible.
   */
  background?: boolean;
  /** Aborting it stops the background work and closes the barman host (its SSH connection). */
  signal?: AbortSignal;
}


/**
 * The API as a Hono app to mount in another service:
 * `app.route('/backups', await createBarmanApi({ config: '/etc/barmanapi.conf' }))`.
 * Access/deny rules match paths relative to the mount point (`barman/backup`, not `backups/barman/backup`).
 */
export async function createBarmanApi(opts: BarmanApiOptions = {}): Promise<Hono<AppEnv>> {
  const settings = opts.settings ?? readSettings({ config: opts.config });
  const storeDirectory = settings.application.storeDirectory;
  if (!opts.storage || !opts.logger) prepareStore(storeDirectory);
  const logger =
    opts.logger ??
    createFileLogger({
      dir: join(storeDirectory, 'logs'),
      format: settings.log.format,
      maxBytes: settings.log.maxBytes,
      backupCount: settings.log.backupCount,
      debug: settings.application.debug,
    });
  for (const w of settings.warnings) logger.log('warn', w);
  const storage = opts.storage ?? createFsStorage(storeDirectory);
  const host = opts.host ?? createHost(settings);
  // Further hosts of the settings: their adapters are made here unless the embedder gives its own.
  const hosts = opts.hosts ?? (opts.host ? undefined : createFurtherHosts(settings));
  const clock = opts.clock ?? { now: () => new Date() };
  const given = opts.runner !== undefined ? opts.runner : opts.jobs;
  const runner =
    given === null
      ? undefined
      : (given ??
        (!opts.storage && !opts.host && !opts.hosts && settings.file
          ? createDetachedJobRunner({ storeDirectory, configFile: settings.file })
          : createInProcessJobRunner({
              storage,
              host,
              clock,
              maxOutputBytes: settings.barman.maxOutputBytes,
              hostFor: (name) => {
                const found = settings.hosts.find((h) => h.name === name);
                const adapter = hosts?.[name];
                return found && adapter ? { host: adapter, maxOutputBytes: found.barman.maxOutputBytes } : null;
              },
            })));
  const external = opts.auth && opts.auth !== 'builtin' ? opts.auth.external : undefined;
  if (opts.auth && opts.auth !== 'builtin' && typeof external !== 'function') {
    throw new TypeError("createBarmanApi: auth must be 'builtin' or { external: (c) => user | null }");
  }
  const deps: AppDeps = {
    settings,
    storage,
    host,
    clock,
    logger,
    usersFile: opts.usersFile ?? createFsTextFile(settings.user.configFile),
    settingsFile: settings.file ? createFsTextFile(settings.file) : undefined,
    clientAddress: getClientAddress,
    connectionSecure: isEncrypted,
    cpuCount: availableParallelism(),
    docsAssets: nodeDocsAssets(),
    runner,
    hosts,
    externalAuth: external,
  };
  const api = createApi(deps);
  // Without async commands there is no housekeeping (no state rounds either); the outbox still
  // sends what it holds and what is published (a ping, a redelivery).
  const background = opts.background !== false;
  if (background && !runner) api.webhooks.start();
  const stop = runner && background ? await startHousekeeping(api, deps) : () => api.webhooks.stop();
  opts.signal?.addEventListener(
    'abort',
    () => {
      stop();
      for (const h of [host, ...Object.values(hosts ?? {})]) void h.close();
    },
    { once: true },
  );
  return api.app;
}


import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { AppDeps } from '../../src/context.js';
import type { BarmanHost } from '../../src/ports.js';
import type { BarmanSettings, Settings } from '../../src/settings/load.js';
import { userInfo } from 'node:os';
import { describeRemoteSsh, parseRemoteSsh } from '../../src/barman/remote-ssh.js';
import { createFsStorage, createFsTextFile } from './fs-storage.js';
import { createFileLogger } from './logger.js';
import { createLocalHost } from './local-host.js';
import { prepareStore } from './settings-file.js';
import { getClientAddress, isEncrypted } from './client-address.js';
import { nodeDocsAssets } from './docs-assets.js';
import { withSshConfig } from './ssh/ssh-config.js';
import { createDetachedJobRunner, isCompiledBinary } from './job-runner.js';

/** The Node wiring of every port, from loaded settings. */
export function createNodeDeps(settings: Settings, opts: { logToStderr?: boolean } = {}): AppDeps {
  prepareStore(settings.application.storeDirectory);
  const logger = createFileLogger({
    dir: join(settings.application.storeDirectory, 'logs'),
    format: settings.log.format,
    maxBytes: settings.log.maxBytes,
    backupCount: settings.log.backupCount,
    debug: settings.application.debug,
    stderr: opts.logToStderr ?? true,
  });
  for (const w of settings.warnings) logger.log('warn', w);
  return {
    settings,
    storage: createFsStorage(settings.application.storeDirectory),
    host: createHost(settings),
    hosts: createFurtherHosts(settings),
    clock: { now: () => new Date() },
    logger,
    usersFile: createFsTextFile(settings.user.configFile),
    settingsFile: settings.file ? createFsTextFile(settings.file) : undefined,
    clientAddress: getClientAddress,
    connectionSecure: isEncrypted,
    cpuCount: availableParallelism(),
    docsAssets: nodeDocsAssets(),
    runner: createDetachedJobRunner({ storeDirectory: settings.application.storeDirectory, configFile: settings.file, warm: settings.jobs.warmRunner && !isCompiledBinary(), logger }),
  };
}

/** The adapter of [barman]'s host. */
export function createHost(settings: Settings): BarmanHost {
  return createBarmanHost(settings.barman);
}

/** The adapters of the further hosts (`[host:NAME]`), by name. */
export function createFurtherHosts(settings: Settings): Record<string, BarmanHost> {
  return Object.fromEntries(settings.hosts.slice(1).map((h) => [h.name, createBarmanHost(h.barman)]));
}

/** The adapter of one barman host: this machine, or SSH. */
export function createBarmanHost(barman: BarmanSettings): BarmanHost {
  const timeout = barman.timeoutSeconds * 1000;
  const maxOutput = barman.maxOutputBytes;
  if (!barman.remote) return createLocalHost({ defaultTimeoutMs: timeout, defaultMaxOutputBytes: maxOutput });
  // Parsed now, so a bad remotessh stops start-up; ssh2 itself is loaded on first use only,
  // which keeps it out of the start-up of every local installation.
  // ssh2 reads no ~/.ssh/config: a Host name of it is resolved as ssh would (ssh -G).
  const target = withSshConfig(barman.remoteSsh, parseRemoteSsh(barman.remoteSsh));
  let host: Promise<BarmanHost> | undefined;
  const get = () =>
    (host ??= import('./ssh-host.js').then(({ createSshHost }) =>
      createSshHost({
        target,
        knownHostsFile: barman.knownHosts || undefined,
        trustOnFirstUse: barman.trustOnFirstUse,
        defaultTimeoutMs: timeout,
        defaultMaxOutputBytes: maxOutput,
      }),
    ));
  return {
    kind: 'ssh',
    description: describeRemoteSsh(target, target.user ?? userInfo().username),
    run: async (argv, options) => (await get()).run(argv, options),
    readFile: async (path) => (await get()).readFile(path),
    writeFile: async (path, content, like) => (await get()).writeFile(path, content, like),
    stat: async (path) => (await get()).stat(path),
    listDir: async (path) => (await get()).listDir(path),
    lockFile: async (path) => (await get()).lockFile!(path),
    stampTrees: async (roots, options) => (await get()).stampTrees!(roots, options),
    close: async () => {
      if (host) await (await host).close();
    },
  };
}

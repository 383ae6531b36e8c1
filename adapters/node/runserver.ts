/** `barmanapi runserver`: the settings read, the users file made sure of, the server started and kept up until a signal. */
import { readSettings } from './settings-file.js';
import { VERSION } from './version.js';
import { redact } from '../../src/util/redact.js';

export async function runserver(values: { config?: string; host?: string; port?: string }): Promise<number> {
  // From the first moment: SIGHUP's default would end the process (and systemd would not start it
  // again). Until the server listens there is nothing to reload.
  let onHangup: () => void = () => undefined;
  process.on('SIGHUP', () => onHangup());
  const [{ UserDirectory }, { createNodeDeps }, { checkExposure, closeOnSignals, reloadOnHangup, startServer }] = await Promise.all([
    import('../../src/auth/users.js'),
    import('./deps.js'),
    import('./serve.js'),
  ]);
  const settings = readSettings({ config: values.config, flags: { 'application.host': values.host, 'application.port': values.port } });
  const deps = createNodeDeps(settings);
  const users = new UserDirectory({ file: deps.usersFile, clock: deps.clock, minPasswordLength: settings.user.minPasswordLength });
  if (await users.ensureExists()) {
    deps.logger.log('warn', `created ${deps.usersFile.path} with the default user memin (password 1258); change it: barmanapi user passwd memin`);
  }
  const refusal = await checkExposure(deps, settings.application.host);
  if (refusal) {
    process.stderr.write(`barmanapi: ${refusal}\n`);
    return 2;
  }
  // Background work (the state rounds, job ends) must never take the server down: a promise
  // rejected with nobody to hear it is logged, and serving goes on.
  process.on('unhandledRejection', (reason) => {
    deps.logger.log('error', 'unhandled rejection in background work', { error: redact(String((reason as Error)?.stack ?? reason)) });
  });
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(deps, { host: settings.application.host, port: settings.application.port });
  } catch (err) {
    // A certificate that cannot be used (./tls.js, loaded only with [tls]): a setup mistake, not a crash.
    if ((err as Error).name !== 'TlsConfigError') throw err;
    process.stderr.write(`barmanapi: ${(err as Error).message}\n`);
    return 2;
  }
  const mutual = settings.tls.clientCaFile ? ', client certificates required' : '';
  deps.logger.log('info', `barmanapi ${VERSION} listening on ${running.scheme}://${settings.application.host}:${running.port}${mutual} (barman on ${deps.host.description})`);
  closeOnSignals(running, deps);
  onHangup = reloadOnHangup(running, deps);
  await new Promise(() => undefined); // serve until a signal
  return 0;
}

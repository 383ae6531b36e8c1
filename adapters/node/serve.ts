import { serve, type ServerType } from '@hono/node-server';
import type { AppDeps } from '../../src/context.js';
import { createApi } from '../../src/app.js';
import { UserDirectory } from '../../src/auth/users.js';
import { startHousekeeping } from './housekeeping.js';
import type { FileLogger } from './logger.js';
import type { ServingPhase } from '../../src/http/health.js';
// node:tls and node:https are loaded only when [tls] is set (./tls.js): a plain HTTP start skips them.
type TlsModule = typeof import('./tls.js');

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Refuse to expose the API while it is trivially open: a default password or a weak token secret. */
export async function checkExposure(deps: AppDeps, host: string): Promise<string | null> {
  if (LOOPBACK.test(host) || deps.settings.application.allowDefaultPassword) return null;
  const users = new UserDirectory({ file: deps.usersFile, clock: deps.clock, minPasswordLength: 1 });
  const defaults = await users.usersWithDefaultPassword();
  if (defaults.length > 0) {
    return (
      `refusing to listen on ${host}: user(s) ${defaults.join(', ')} still have the default password.\n` +
      `Change it first: barmanapi user passwd ${defaults[0]} --config ${deps.settings.file ?? '/etc/barmanapi.conf'}`
    );
  }
  const secret = deps.settings.authToken.secret;
  if (secret !== '' && secret.length < 16) {
    return `refusing to listen on ${host}: [authtoken] secret is shorter than 16 characters; use a long random value or leave it blank to generate one`;
  }
  return null;
}

export interface RunningServer {
  server: ServerType;
  port: number;
  /** https when [tls] is set. */
  scheme: 'http' | 'https';
  /** Read the [tls] files again for new connections; throws TlsConfigError (nothing changes) or when TLS is off. */
  reloadTls(): void;
  close(): Promise<void>;
}

/**
 * Start the HTTP(S) server; resolves once it listens. Async jobs left by an earlier run are found
 * again first, queued ones started, and past months archived now and then daily.
 */
export async function startServer(deps: AppDeps, opts: { host: string; port: number }): Promise<RunningServer> {
  let phase: ServingPhase = 'serving';
  const api = createApi({ ...deps, serving: () => phase });
  const { app } = api;
  const tls = deps.settings.tls;
  // Before anything starts: a certificate that cannot be used stops the start with the reason.
  const tlsModule: TlsModule | null = tls.certFile !== '' ? await import('./tls.js') : null;
  const secure = tlsModule ? { options: tlsModule.tlsOptions(tls), createServer: tlsModule.createHttpsServer } : null;
  const stopHousekeeping = await startHousekeeping(api, deps);
  let port = opts.port;
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening = (info: { port: number }) => {
      port = info.port;
      resolve(s);
    };
    const s = secure
      ? serve({ fetch: app.fetch, hostname: opts.host, port: opts.port, createServer: secure.createServer, serverOptions: secure.options }, listening)
      : serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, listening);
    s.once('error', reject);
  });
  // Idle keep-alive connections stay open longer than clients keep them (undici: 4 s, most
  // proxies: 60 s), so a client never sends a request on a socket the server is closing.
  if ('keepAliveTimeout' in server) {
    const http = server as { keepAliveTimeout: number; headersTimeout: number };
    http.keepAliveTimeout = 65_000;
    http.headersTimeout = 66_000;
  }
  return {
    server,
    port,
    scheme: secure ? 'https' : 'http',
    reloadTls() {
      if (!tlsModule) throw new Error('TLS is off ([tls] cert_file is not set)');
      tlsModule.reloadTls(server, tls);
    },
    async close() {
      phase = 'draining';
      const stopped = stopHousekeeping();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stopped; // a state round under way ends before the host closes
      // The file logger gathers lines for a moment while busy: the last requests' lines go out now.
      const logger = deps.logger as Partial<FileLogger>;
      if (typeof logger.flush === 'function') logger.flush();
      await Promise.all([deps.host, ...Object.values(deps.hosts ?? {})].map((h) => h.close()));
    },
  };
}

/** Stop on SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded), close the SSH connection. */
export function closeOnSignals(running: RunningServer, deps: AppDeps, graceMs = 10_000): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    deps.logger.log('info', `${signal}: shutting down`);
    const timer = setTimeout(() => {
      deps.logger.log('warn', `requests still running after ${graceMs} ms; exiting`);
      process.exit(0);
    }, graceMs);
    timer.unref();
    if ('closeIdleConnections' in running.server) (running.server as { closeIdleConnections(): void }).closeIdleConnections();
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/**
 * What SIGHUP (systemctl reload) does once the server listens: new certificates for new
 * connections; nothing else restarts.
 */
export function reloadOnHangup(running: RunningServer, deps: AppDeps): () => void {
  return () => {
    if (running.scheme !== 'https') {
      deps.logger.log('info', 'SIGHUP: nothing to reload (TLS is off)');
      return;
    }
    try {
      running.reloadTls();
      deps.logger.log('info', 'SIGHUP: TLS certificate reloaded; new connections use it');
    } catch (err) {
      deps.logger.log('error', 'SIGHUP: TLS certificate not reloaded; the previous one stays in use', { error: (err as Error).message });
    }
  };
}

/**
 * The HTTPS listener's certificates: read from `[tls]`'s files at start, checked by building a
 * secure context (a key that does not fit its certificate stops the start with the reason), and
 * read again on SIGHUP. A reload swaps the context for new handshakes only: open connections keep
 * theirs, and a reload that fails keeps the old context and says why in the log.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsSettings } from '../../src/settings/load.js';

/** https.createServer, for @hono/node-server's `createServer` option. */
export { createServer as createHttpsServer } from 'node:https';

export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

export interface TlsOptions extends SecureContextOptions {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** The server options of `tls`; throws TlsConfigError naming the file or the mismatch. */
export function tlsOptions(tls: TlsSettings): TlsOptions {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TlsConfigError(`[tls] ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable by this user' : (err as Error).message}`);
    }
  };
  const mutual = tls.clientCaFile !== '';
  const options: TlsOptions = {
    cert: read('cert_file', tls.certFile),
    key: read('key_file', tls.keyFile),
    ...(mutual ? { ca: read('client_ca_file', tls.clientCaFile) } : {}),
    minVersion: tls.minVersion,
    // With client_ca_file, a client without a certificate those CAs signed fails the handshake.
    requestCert: mutual,
    rejectUnauthorized: mutual,
  };
  try {
    createSecureContext(options);
  } catch (err) {
    throw new TlsConfigError(`[tls] cert_file ${tls.certFile} and key_file ${tls.keyFile} cannot be used: ${(err as Error).message}`);
  }
  return options;
}

/** Where a server's context can be replaced: Node's https.Server (and Bun's, where it has it). */
interface SecureServer {
  setSecureContext?(options: SecureContextOptions): void;
}

/** Read the files again and give new connections the new context; throws TlsConfigError, changing nothing. */
export function reloadTls(server: unknown, tls: TlsSettings): void {
  const s = server as SecureServer;
  if (typeof s.setSecureContext !== 'function') throw new TlsConfigError('this runtime cannot replace the certificate of a running server; restart it instead');
  const { requestCert: _r, rejectUnauthorized: _u, ...context } = tlsOptions(tls);
  s.setSecureContext(context);
}

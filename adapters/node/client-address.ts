import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';

/** The socket's peer address; forwarded headers are read only from trusted proxies (src/http/client.ts). */
export function getClientAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/** Whether the request came over TLS: the socket's word, not the request line's (which a client writes). */
export function isEncrypted(c: Context): boolean {
  const env = c.env as { incoming?: { socket?: { encrypted?: boolean } } } | undefined;
  return env?.incoming?.socket?.encrypted === true;
}

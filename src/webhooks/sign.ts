/**
 * Signatures as Standard Webhooks (standardwebhooks.com) writes them, so receivers can verify with
 * its libraries or a few lines of their own: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`,
 * sent as `webhook-signature: v1,<base64>`. A `whsec_…` secret is used as those libraries use it
 * (the base64 after the prefix is the key; the settings refuse one without); any other secret's
 * UTF-8 bytes are the key.
 */

import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^[A-Za-z0-9+/]{2}==$|^[A-Za-z0-9+/]{3}=$/;

/** Whether a `whsec_` secret has base64 after its prefix (the settings refuse one that has not). */
export function isBase64Secret(secret: string): boolean {
  return secret.startsWith('whsec_') && BASE64.test(secret.slice('whsec_'.length));
}

/** The HMAC key of a `[webhooks] secret`. */
export function signingKey(secret: string): Uint8Array {
  if (isBase64Secret(secret)) return Uint8Array.from(atob(secret.slice('whsec_'.length)), (ch) => ch.charCodeAt(0));
  return new TextEncoder().encode(secret);
}

/** The headers that sign `body` for delivery `id` at `timestamp` (Unix seconds). */
export function signatureHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  const mac = hmac(sha256, signingKey(secret), utf8ToBytes(`${id}.${timestamp}.${body}`));
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${btoa(String.fromCharCode(...mac))}` };
}

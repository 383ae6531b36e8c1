/**
 * MD5, only to check the legacy client.conf hashes before they are upgraded. WebCrypto has no
 * MD5 and src/ must not depend on node:crypto: @noble/hashes runs on every runtime.
 */
import { md5 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export function md5Hex(input: string | Uint8Array): string {
  return bytesToHex(md5(typeof input === 'string' ? new TextEncoder().encode(input) : input));
}

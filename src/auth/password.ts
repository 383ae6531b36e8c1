import { md5Hex } from './md5.js';

/**
 * Password hashes in client.conf. New hashes are PBKDF2-HMAC-SHA256 (WebCrypto, so every runtime
 * has it) with the parameters inside the string: `pbkdf2-sha256$<iterations>$<salt>$<hash>`
 * (base64url). A bare 32-hex-digit value is the seed's MD5 and is accepted only to be upgraded.
 */
export const DEFAULT_ITERATIONS = 600_000;
const PREFIX = 'pbkdf2-sha256';

export type HashKind = 'pbkdf2' | 'md5' | 'unknown';

export function hashKind(stored: string): HashKind {
  if (stored.startsWith(`${PREFIX}$`)) return 'pbkdf2';
  if (/^[0-9a-fA-F]{32}$/.test(stored)) return 'md5';
  return 'unknown';
}

export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${b64url(salt)}$${b64url(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  switch (hashKind(stored)) {
    case 'md5':
      return constantTimeEqual(new TextEncoder().encode(md5Hex(password)), new TextEncoder().encode(stored.toLowerCase()));
    case 'pbkdf2': {
      const [, iter, saltText, hashText] = stored.split('$');
      const iterations = Number(iter);
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000 || !saltText || !hashText) return false;
      const expected = fromB64url(hashText);
      const actual = await derive(password, fromB64url(saltText), iterations);
      return constantTimeEqual(actual, expected);
    }
    default:
      return false;
  }
}

/** Spend the same time as a real check, so unknown users cannot be told from wrong passwords. */
export async function burnPasswordCheck(password: string, iterations = DEFAULT_ITERATIONS): Promise<void> {
  await derive(password, new Uint8Array(16), iterations);
}

export function needsUpgrade(stored: string, iterations = DEFAULT_ITERATIONS): boolean {
  if (hashKind(stored) !== 'pbkdf2') return true;
  return Number(stored.split('$')[1]) < iterations;
}

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

/** Whether two byte strings are equal, in a time that does not depend on where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * Conditional reads: an ETag made of the answer and of the caller's scope (their access, deny and
 * hosts rules), so two users with different rules never share one, even for the same bytes; the
 * answer itself comes from the state model, whose reads are served from the cache only while
 * barman's files are unchanged, so an ETag is never older than barman's state. `Cache-Control:
 * private`: the answer depends on who asks, shared caches must not keep it. If-None-Match that
 * names the current ETag (or `*`) is a 304 without a body.
 */
import type { Context } from 'hono';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { AppEnv } from '../../context.js';

export function etagOf(scope: string, body: string): string {
  return `"${bytesToHex(sha256(utf8ToBytes(`${scope}\n${body}`))).slice(0, 32)}"`;
}

/** What decides what a caller may see: their rules (not their name or password). */
export function scopeOf(c: Context<AppEnv>): string {
  const u = c.get('user');
  return u ? JSON.stringify([u.access, u.deny, u.hosts ?? null]) : '';
}

/** Whether an If-None-Match value names `etag` (weak comparison, RFC 9110 §13.1.2). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

export function conditionalJson(c: Context<AppEnv>, answer: unknown, without: readonly string[] = []): Response {
  const body = JSON.stringify(answer);
  const basis = without.length === 0 ? body : JSON.stringify(answer, (key, value: unknown) => (without.includes(key) ? undefined : value));
  const etag = etagOf(scopeOf(c), basis);
  const headers = { ETag: etag, 'Cache-Control': 'private, no-cache', Vary: 'Authorization' };
  if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(body, 200, { ...headers, 'Content-Type': 'application/json' });
}

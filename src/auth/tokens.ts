import { sign, verify } from 'hono/jwt';
import { unauthorized } from '../http/errors.js';

/**
 * Signed tokens. Login tokens and job tickets share the secret but not the purpose claim, so
 * a ticket is never accepted as a login token, nor a token as a ticket. HS256 is pinned on
 * both sides: a token claiming any other algorithm (or "none") is refused.
 */
export type Purpose = 'login' | 'ticket';

export interface LoginClaims {
  sub: string;
  /** The user's fingerprint when the token was issued. */
  fpr: string;
}

export interface TokenSigner {
  issueLogin(claims: LoginClaims, nowMs: number, lifeSeconds: number): Promise<string>;
  checkLogin(token: string, nowMs: number): Promise<LoginClaims>;
  /**
   * checkLogin without waiting, for a token whose signature was verified before: its claims
   * (expiry, purpose and claims checked now, refused just as checkLogin refuses them), or
   * undefined when checkLogin has to verify it.
   */
  knownLogin(token: string, nowMs: number): LoginClaims | undefined;
  issueTicket(jobId: string, nowMs: number): Promise<string>;
  checkTicket(ticket: string, nowMs: number): Promise<string>;
}

/** Tickets identify jobs for good; they still resolve after the month is archived. */
const TICKET_LIFE_SECONDS = 10 * 366 * 86400;
const JOB_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** Signatures already checked, so a busy client costs a map lookup rather than an HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;
/** Tickets handed out per job, so a history page does not sign a hundred new ones. */
const TICKET_CACHE_SIZE = 20_000;

export function createTokenSigner(secret: string): TokenSigner {
  if (secret.length === 0) throw new Error('token secret is empty');
  const issue = (payload: Record<string, unknown>) => sign(payload, secret, 'HS256');
  // Keyed by the whole token: a token is immutable signed data, so a hit is a token whose
  // signature, algorithm and shape were verified before. Expiry and purpose are checked on every call.
  const verified = new Map<string, Record<string, unknown>>();
  const tickets = new Map<string, string>();
  const check = async (token: string, nowMs: number, purpose: Purpose): Promise<Record<string, unknown>> => {
    let payload = verified.get(token);
    if (!payload) {
      const what = purpose === 'login' ? 'token' : 'ticket';
      if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token) || token.length > 4096) {
        throw unauthorized(`invalid ${what}: not a signed ${what}`);
      }
      try {
        payload = (await verify(token, secret, { alg: 'HS256', exp: false, nbf: false, iat: false })) as Record<string, unknown>;
      } catch {
        throw unauthorized(`invalid ${what}: bad signature or algorithm`);
      }
      remember(verified, token, payload, VERIFIED_CACHE_SIZE);
    }
    return current(payload, nowMs, purpose);
  };
  return {
    issueLogin: (claims, nowMs, life) => {
      const iat = Math.floor(nowMs / 1000);
      return issue({ pur: 'login', sub: claims.sub, fpr: claims.fpr, iat, exp: iat + life });
    },
    async checkLogin(token, nowMs) {
      return loginClaims(await check(token, nowMs, 'login'));
    },
    knownLogin(token, nowMs) {
      const payload = verified.get(token);
      return payload && loginClaims(current(payload, nowMs, 'login'));
    },
    async issueTicket(jobId, nowMs) {
      if (!JOB_ID_RE.test(jobId)) throw new Error(`bad job id ${jobId}`);
      const known = tickets.get(jobId);
      // A cached ticket is good for years; reissue once it has used up a tenth of its life.
      if (known) {
        const exp = (verified.get(known)?.exp as number | undefined) ?? 0;
        if (exp * 1000 - nowMs > TICKET_LIFE_SECONDS * 900) return known;
      }
      const iat = Math.floor(nowMs / 1000);
      const payload = { pur: 'ticket', job: jobId, iat, exp: iat + TICKET_LIFE_SECONDS };
      const ticket = await issue(payload);
      remember(verified, ticket, payload, VERIFIED_CACHE_SIZE);
      remember(tickets, jobId, ticket, TICKET_CACHE_SIZE);
      return ticket;
    },
    async checkTicket(ticket, nowMs) {
      const p = await check(ticket, nowMs, 'ticket');
      if (typeof p.job !== 'string' || !JOB_ID_RE.test(p.job)) throw unauthorized('invalid ticket: missing job');
      return p.job;
    },
  };
}

/** A verified payload, if it is for `purpose` and has not expired at `nowMs`. */
function current(payload: Record<string, unknown>, nowMs: number, purpose: Purpose): Record<string, unknown> {
  const what = purpose === 'login' ? 'token' : 'ticket';
  if (payload.pur !== purpose) throw unauthorized(`invalid ${what}: this is not a ${what}`);
  const exp = payload.exp;
  if (typeof exp !== 'number') throw unauthorized(`invalid ${what}: no expiry`);
  if (exp * 1000 <= nowMs) throw unauthorized(`${what} expired at ${new Date(exp * 1000).toISOString()}; get a new one`);
  return payload;
}

function loginClaims(p: Record<string, unknown>): LoginClaims {
  if (typeof p.sub !== 'string' || typeof p.fpr !== 'string') throw unauthorized('invalid token: missing claims');
  return { sub: p.sub, fpr: p.fpr };
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  // Maps iterate in insertion order: the first key is the oldest.
  if (map.size > max) map.delete(map.keys().next().value as string);
}

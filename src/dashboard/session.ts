/**
 * Dashboard sessions. The cookie holds a random id (256 bits); the store holds, under a hash of
 * it, who signed in, their fingerprint then and when the session ends. So a sign-out ends the
 * session for every process sharing the store, a copied store file is no cookie, and a change of
 * the user's password or rules (a new fingerprint) ends it as it ends their tokens. The CSRF
 * token of a session is another hash of its id: a page can carry it, and it leads to nothing.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { Clock, Logger, Storage } from '../ports.js';
import { isRecord } from '../util/shape.js';
import { b64url, constantTimeEqual } from '../auth/password.js';

const DIR = 'dashboard/sessions';
/** Ended sessions' files are removed at most this often. */
const PRUNE_EVERY_MS = 3600_000;
/** A cookie's value: the user's key, a dot, 32 random bytes. */
const ID_RE = /^([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$/;

export interface Session {
  /** The cookie's value. */
  id: string;
  username: string;
  /** The user's fingerprint when they signed in. */
  fingerprint: string;
  /** Milliseconds since the epoch. */
  expires: number;
}

function hashed(purpose: string, id: string): string {
  return bytesToHex(sha256(utf8ToBytes(`barmanapi-dashboard-${purpose}\u0000${id}`)));
}

/** The session's CSRF token: forms carry it, each POST must give it back (the sign-in form: of its own cookie). */
export function csrfToken(id: string): string {
  return hashed('csrf', id).slice(0, 43);
}

/** Whether `given` is the token of session `id`, compared in constant time. */
export function csrfMatches(id: string, given: unknown): boolean {
  return typeof given === 'string' && constantTimeEqual(utf8ToBytes(csrfToken(id)), utf8ToBytes(given));
}

/** 32 random bytes, base64url without padding (43 characters). */
export function randomId(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** A user's live sessions at most: signing in once more ends the oldest. */
export const MAX_SESSIONS_PER_USER = 10;

export class Sessions {
  private lastPrune = 0;

  constructor(private readonly deps: { storage: Storage; clock: Clock; logger: Logger }) {}

  /**
   * A new session for the user; its file is written before the cookie is handed out. The user's
   * ended sessions are removed, and the oldest live ones beyond the bound, so signing in again
   * and again cannot fill the store. Not under a lock: sign-ins at the same moment may each keep
   * one more, and the next sign-in trims the user's sessions back to the bound.
   */
  async start(username: string, fingerprint: string, lifeSeconds: number): Promise<Session> {
    const now = this.deps.clock.now().getTime();
    const user = userKey(username);
    const session: Session = { id: `${user}.${randomId()}`, username, fingerprint, expires: now + lifeSeconds * 1000 };
    const kept = await this.userSessions(user, now);
    for (const old of kept.slice(0, Math.max(0, kept.length - (MAX_SESSIONS_PER_USER - 1)))) await this.deps.storage.remove(old.path);
    await this.deps.storage.writeAtomic(this.file(session.id)!, `${JSON.stringify({ username, fingerprint, expires: session.expires })}\n`);
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      void this.prune(now);
    }
    return session;
  }

  /** The session of a cookie's value, if it exists and has not ended. */
  async find(id: string | undefined): Promise<Session | null> {
    const path = id === undefined ? undefined : this.file(id);
    if (!path) return null;
    let text: string | null;
    try {
      text = await this.deps.storage.readText(path);
    } catch {
      return null;
    }
    const session = text === null ? null : parse(id!, text);
    // The file is where the user's key says: a record of another user is no session of this cookie.
    if (!session || userKey(session.username) !== id!.slice(0, id!.indexOf('.')) || session.expires <= this.deps.clock.now().getTime()) return null;
    return session;
  }

  /** Ends a session (sign-out): its file goes, so no process takes the cookie again. */
  async end(id: string): Promise<void> {
    const path = this.file(id);
    if (path) await this.deps.storage.remove(path);
  }

  /** `dashboard/sessions/<user key>/<hash of the id>.json`; undefined for a value no session has. */
  private file(id: string): string | undefined {
    const m = ID_RE.exec(id);
    return m ? `${DIR}/${m[1]}/${hashed('session', id)}.json` : undefined;
  }

  /** A user's sessions that have not ended, oldest first; ended ones are removed on the way. */
  private async userSessions(user: string, now: number): Promise<Array<{ path: string; expires: number }>> {
    const live: Array<{ path: string; expires: number }> = [];
    for (const name of await this.deps.storage.list(`${DIR}/${user}`)) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const path = `${DIR}/${user}/${name}`;
      let text: string | null;
      try {
        text = await this.deps.storage.readText(path);
      } catch {
        continue; // not read now: not judged now
      }
      const expires = text === null ? undefined : parse('', text)?.expires;
      if (expires === undefined || expires <= now) await this.deps.storage.remove(path);
      else live.push({ path, expires });
    }
    return live.sort((a, b) => a.expires - b.expires);
  }

  /** Removes the files of sessions that have ended, every user's. */
  private async prune(now: number): Promise<void> {
    try {
      for (const user of await this.deps.storage.list(DIR)) {
        if (/^[0-9a-f]{16}$/.test(user)) await this.userSessions(user, now);
      }
    } catch (e) {
      this.deps.logger.log('warn', 'dashboard sessions not pruned', { error: String(e) });
    }
  }
}

/** Names a user's folder of sessions (and starts their cookies), without naming the user. */
function userKey(username: string): string {
  return hashed('user', username).slice(0, 16);
}

function parse(id: string, text: string): Session | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const { username, fingerprint, expires } = value;
  if (typeof username !== 'string' || typeof fingerprint !== 'string' || typeof expires !== 'number') return null;
  return { id, username, fingerprint, expires };
}

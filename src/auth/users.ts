import type { Clock, TextFile } from '../ports.js';
import { IniDocument, formatList, listProblem, parseList } from '../ini/document.js';
import { badRequest, conflict, notFound, ApiError } from '../http/errors.js';
import { KeyedMutex } from '../util/mutex.js';
import { editLocked } from '../files/locked-edit.js';
import { EVERY_HOST, HOST_NAME_RE } from '../hosts/names.js';
import { b64url, burnPasswordCheck, hashPassword, needsUpgrade, verifyPassword, DEFAULT_ITERATIONS } from './password.js';

/** A user as the API shows it: never the password or its hash. */
export interface PublicUser {
  username: string;
  access: string[];
  deny: string[];
  /** The barman hosts reached (`*`: all); absent: the default host only (all for an empty access list). */
  hosts?: string[];
}

export interface UserRecord extends PublicUser {
  /**
   * Which account this is, beyond its name: a user removed and added again under the same name
   * is another account and does not inherit the old one's jobs. '' for users from before ids.
   */
  id: string;
  passwordHash: string;
  /** Changes whenever the password or the rules change; tokens carry it, so old tokens stop working. */
  fingerprint: string;
}

/**
 * Called under the users file's lock with a user's rules before and after an edit (null: no such
 * user); throws to refuse it. This is where "who may manage whom" is enforced, on what the file
 * holds at the moment of writing.
 */
/** What the user routes and the CLI give for a user; each value is checked here. */
export interface UserInput {
  username?: unknown;
  password?: unknown;
  access?: unknown;
  deny?: unknown;
  hosts?: unknown;
}

export type EditGuard = (before: PublicUser | null, after: PublicUser | null, current: (username: string) => PublicUser | null) => void;

export const DEFAULT_USER = 'memin';
export const DEFAULT_PASSWORD = '1258';

const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const RULE_RE = /^[A-Za-z0-9_*?.\/-]{1,200}$/;
const RECHECK_MS = 1000;

export function validateUsername(name: unknown, parameter = 'username'): string {
  if (typeof name !== 'string' || name === '') throw badRequest(`${parameter} is required`, { parameter });
  if (!USERNAME_RE.test(name) || name.includes('..') || name.toLowerCase() === 'default') {
    throw badRequest(
      `${parameter} is not valid: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (not "DEFAULT", no "..")`,
      { parameter },
    );
  }
  return name;
}


/** A `hosts` list: host names (as settings name them) or `*`; empty means the key is removed. */
export function validateHosts(value: unknown): string[] {
  const problem = typeof value === 'string' ? listProblem(value) : null;
  if (problem) throw badRequest(`hosts is not a readable list (${problem}); write ['default','dc2'] or default,dc2`, { parameter: 'hosts' });
  const list = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? parseList(value) : null;
  if (list === null) throw badRequest(`hosts must be a list such as ['default','dc2'] or a comma list`, { parameter: 'hosts' });
  for (const host of list) {
    if (host !== EVERY_HOST && !HOST_NAME_RE.test(host)) throw badRequest(`hosts: ${JSON.stringify(host.slice(0, 80))} is not a host name (lowercase letters, digits, _ and -) nor * (every host)`, { parameter: 'hosts' });
  }
  return [...new Set(list)];
}

export function validateRules(value: unknown, parameter: string): string[] {
  const problem = typeof value === 'string' ? listProblem(value) : null;
  if (problem) throw badRequest(`${parameter} is not a readable list (${problem}); write ['barman','auth/user/list'] or barman,auth/user/list`, { parameter });
  const list = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? parseList(value) : null;
  if (list === null) throw badRequest(`${parameter} must be a list such as ['barman','auth/user/list'] or a comma list`, { parameter });
  for (const rule of list) {
    if (!RULE_RE.test(rule.replace(/^\/+/, ''))) {
      throw badRequest(`${parameter} rule ${JSON.stringify(rule.slice(0, 80))} is not valid: a route path such as barman/backup, glob characters * and ? allowed`, { parameter });
    }
  }
  return list.map((r) => r.replace(/^\/+/, ''));
}

export interface UserDirectoryOptions {
  file: TextFile;
  clock: Clock;
  minPasswordLength: number;
  /** PBKDF2 iterations for new hashes; lowered only by tests. */
  iterations?: number;
}

/**
 * client.conf, cached and re-read when the file changes on disk (checked at most once a second),
 * so `barmanapi user passwd` takes effect on a running server. Writes are serialised and atomic
 * and change only the lines of the user concerned.
 */
export class UserDirectory {
  private users = new Map<string, UserRecord>();
  private revision: string | null | undefined;
  private checkedAt = -Infinity;
  private readonly mutex = new KeyedMutex();
  readonly iterations: number;

  constructor(private readonly opts: UserDirectoryOptions) {
    this.iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  }

  get path(): string {
    return this.opts.file.path;
  }

  async get(username: string): Promise<UserRecord | undefined> {
    await this.refresh();
    return this.users.get(username);
  }

  /**
   * get() without waiting, while the file was checked recently enough that get() would not look
   * again: the user, or null when there is no such user; undefined when get() has to look.
   * `nowMs`: the clock's time, when the caller has just read it.
   */
  peek(username: string, nowMs = this.opts.clock.now().getTime()): UserRecord | null | undefined {
    if (this.revision === undefined || nowMs - this.checkedAt >= RECHECK_MS) return undefined;
    return this.users.get(username) ?? null;
  }

  async list(): Promise<PublicUser[]> {
    await this.refresh();
    return [...this.users.values()].map(toPublic);
  }

  /** Check a password; on success an MD5 or weaker hash is replaced by a modern one. */
  async authenticate(username: string, password: string): Promise<UserRecord | null> {
    const user = await this.get(username);
    if (!user) {
      await burnPasswordCheck(password, this.iterations);
      return null;
    }
    if (!(await verifyPassword(password, user.passwordHash))) return null;
    if (!needsUpgrade(user.passwordHash, this.iterations)) return user;
    const upgraded = await hashPassword(password, this.iterations);
    try {
      await this.edit(async (doc) => {
        if (doc.get(username, 'password') !== user.passwordHash) return; // changed meanwhile: keep theirs
        doc.set(username, 'password', upgraded);
      });
    } catch {
      // The upgrade is a bonus: a busy or unwritable users file must not refuse a right password.
      // The hash is upgraded at a later login.
      return user;
    }
    return (await this.get(username)) ?? null;
  }

  async add(input: UserInput, guard?: EditGuard): Promise<PublicUser> {
    const username = validateUsername(input.username);
    const password = this.validatePassword(input.password);
    const access = input.access === undefined ? [] : validateRules(input.access, 'access');
    const deny = input.deny === undefined ? [] : validateRules(input.deny, 'deny');
    const hosts = input.hosts === undefined ? [] : validateHosts(input.hosts);
    const hash = await hashPassword(password, this.iterations);
    const user: PublicUser = { username, access, deny, ...(hosts.length > 0 ? { hosts } : {}) };
    await this.edit(async (doc) => {
      if (doc.hasSection(username)) throw conflict(`user ${username} exists`, { parameter: 'username' });
      guard?.(null, user, lookup(doc));
      doc.addSection(username, { password: hash, access: formatList(access), deny: formatList(deny), ...(hosts.length > 0 ? { hosts: formatList(hosts) } : {}), id: newAccountId() });
    });
    return user;
  }

  async change(input: UserInput, guard?: EditGuard): Promise<PublicUser> {
    const username = validateUsername(input.username);
    const password = input.password === undefined ? undefined : this.validatePassword(input.password);
    const access = input.access === undefined ? undefined : validateRules(input.access, 'access');
    const deny = input.deny === undefined ? undefined : validateRules(input.deny, 'deny');
    const hosts = input.hosts === undefined ? undefined : validateHosts(input.hosts);
    const hash = password === undefined ? undefined : await hashPassword(password, this.iterations);
    await this.edit(async (doc) => {
      if (!doc.hasSection(username)) throw notFound(`user ${username} does not exist`, { parameter: 'username' });
      const before = rulesIn(doc, username);
      const afterHosts = hosts === undefined ? before.hosts : hosts.length > 0 ? hosts : undefined;
      guard?.(before, { username, access: access ?? before.access, deny: deny ?? before.deny, ...(afterHosts ? { hosts: afterHosts } : {}) }, lookup(doc));
      if (hash !== undefined) doc.set(username, 'password', hash);
      if (access !== undefined) doc.set(username, 'access', formatList(access));
      if (deny !== undefined) doc.set(username, 'deny', formatList(deny));
      // An empty list removes the key: the default host only (every host for an empty access list).
      if (hosts !== undefined && hosts.length > 0) doc.set(username, 'hosts', formatList(hosts));
      else if (hosts !== undefined) doc.remove(username, 'hosts');
    });
    const user = await this.get(username);
    return toPublic(user!);
  }

  async remove(usernameInput: unknown, guard?: EditGuard): Promise<void> {
    const username = validateUsername(usernameInput);
    await this.edit(async (doc) => {
      if (doc.hasSection(username)) guard?.(rulesIn(doc, username), null, lookup(doc));
      if (!doc.removeSection(username)) throw notFound(`user ${username} does not exist`, { parameter: 'username' });
    });
  }

  /** Users whose password is still the seed's default. */
  async usersWithDefaultPassword(): Promise<string[]> {
    await this.refresh(true);
    const out: string[] = [];
    for (const u of this.users.values()) if (await verifyPassword(DEFAULT_PASSWORD, u.passwordHash)) out.push(u.username);
    return out;
  }

  /** Create the file with the seed's default user when it does not exist yet. */
  async ensureExists(): Promise<boolean> {
    if ((await this.opts.file.read()) !== null) return false;
    const hash = await hashPassword(DEFAULT_PASSWORD, this.iterations);
    return this.mutex.run('file', async () => {
      const created = await editLocked(this.opts.file, async (current) =>
        current !== null
          ? { text: null, value: false }
          : {
              text:
                `# barmanapi users: one [section] per user. Change the default password: barmanapi user passwd ${DEFAULT_USER}\n` +
                `[${DEFAULT_USER}]\npassword = ${hash}\naccess = []\ndeny = []\n`,
              value: true,
            });
      this.revision = undefined;
      return created;
    });
  }

  private validatePassword(value: unknown): string {
    if (typeof value !== 'string' || value === '') throw badRequest('password is required', { parameter: 'password' });
    if (value.length < this.opts.minPasswordLength) {
      throw badRequest(`password is too short: at least ${this.opts.minPasswordLength} characters`, { parameter: 'password' });
    }
    if (value.length > 1024) throw badRequest('password is too long: at most 1024 characters', { parameter: 'password' });
    return value;
  }

  /** Serialised here, and under the file's inter-process lock against the CLI and other servers. */
  private async edit(change: (doc: IniDocument) => Promise<void>): Promise<void> {
    await this.mutex.run('file', async () => {
      await editLocked(this.opts.file, async (current) => {
        const text = current ?? '';
        const doc = new IniDocument(text);
        if (doc.problems.length > 0) throw new ApiError(500, 'UsersFileError', `${this.opts.file.path}: ${doc.problems[0]!.message}; fix it by hand first`);
        await change(doc);
        const next = doc.toString();
        return { text: next === text ? null : next, value: undefined };
      });
      this.revision = undefined; // force a re-read
    });
    await this.refresh(true);
  }

  private async refresh(force = false): Promise<void> {
    const now = this.opts.clock.now().getTime();
    if (!force && this.revision !== undefined && now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    const revision = await this.opts.file.revision();
    if (revision !== null && revision === this.revision) return;
    const text = await this.opts.file.read();
    if (text === null) {
      this.users = new Map();
      this.revision = null;
      return;
    }
    const doc = new IniDocument(text);
    if (doc.problems.length > 0) {
      throw new ApiError(500, 'UsersFileError', `${this.opts.file.path}: ${doc.problems[0]!.message}`);
    }
    const users = new Map<string, UserRecord>();
    for (const name of doc.sectionNames()) {
      const v = doc.values(name);
      const { access, deny, hosts } = rulesIn(doc, name);
      const passwordHash = v.password ?? '';
      const id = v.id ?? '';
      users.set(name, { username: name, id, access, deny, ...(hosts ? { hosts } : {}), passwordHash, fingerprint: await fingerprint(name, passwordHash, access, deny, id, hosts) });
    }
    this.users = users;
    this.revision = revision;
  }
}

function rulesIn(doc: IniDocument, username: string): PublicUser {
  const v = doc.values(username);
  const hosts = parseList(v.hosts);
  return { username, access: parseList(v.access), deny: parseList(v.deny), ...(hosts.length > 0 ? { hosts } : {}) };
}

function lookup(doc: IniDocument): (username: string) => PublicUser | null {
  return (username) => (doc.hasSection(username) ? rulesIn(doc, username) : null);
}

function toPublic(u: UserRecord): PublicUser {
  return { username: u.username, access: [...u.access], deny: [...u.deny], ...(u.hosts ? { hosts: [...u.hosts] } : {}) };
}

function newAccountId(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(9)));
}

async function fingerprint(name: string, hash: string, access: string[], deny: string[], id: string, hosts?: string[]): Promise<string> {
  // hosts only when set, so the tokens of users from before host lists stay valid.
  const data = new TextEncoder().encode([name, hash, access.join(','), deny.join(','), ...(id ? [id] : []), ...(hosts ? [`hosts=${hosts.join(',')}`] : [])].join('\u0000'));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return b64url(digest.slice(0, 12));
}

import { DEFAULT_HOST, EVERY_HOST } from '../hosts/names.js';

/**
 * The one access model (DESIGN §3), used by every route family:
 * - `access` matches on path segments: a rule covers a path equal to it or below it
 *   (`barman/check` covers `barman/check/help`, not `barman/check-backup`); `*` matches within a
 *   segment, `?` one character, `**` any number of segments.
 * - `deny` keeps the seed's prefix reach (`barman/list` blocks every `barman/list-*`), so no
 *   upgrade widens anyone; deny always wins.
 * - Exact-name grants are held only by an empty access list or by a rule naming them exactly.
 * - Who may manage whom: only users whose rights fit inside one's own.
 */

/** The rules of a user, as far as the model is concerned. */
export interface Rules {
  access: readonly string[];
  deny: readonly string[];
  /**
   * The barman hosts reached, by name; `*` is every host. Missing: the default host only, except
   * for an empty access list, which reaches every host.
   */
  hosts?: readonly string[];
}


/** The hosts `user` reaches: 'every', or their names. */
export function hostReach(user: Rules): 'every' | ReadonlySet<string> {
  if (!user.hosts || user.hosts.length === 0) return user.access.length === 0 ? 'every' : new Set([DEFAULT_HOST]);
  return user.hosts.includes(EVERY_HOST) ? 'every' : new Set(user.hosts);
}

/** Whether `user` may reach the barman host named `host`, by any route. */
export function reachesHost(user: Rules, host: string): boolean {
  const reach = hostReach(user);
  return reach === 'every' || reach.has(host);
}

/** Routes every authenticated user may call whatever their rules: logging in and reading one's own rules. */
const ALWAYS_OPEN = new Set(['auth/token', 'auth/user']);

/** Grants no glob or parent rule implies: each hands out more than the route it names. */
/** Changing barman options that barman executes, and barman's own config-changing commands. */
export const CONFIG_EXEC_GRANT = 'config/barman/exec';
/** Changing the settings that decide what the API runs and who reaches it. */
export const SETTINGS_EXEC_GRANT = 'config/barmanapi/exec';
/** Seeing and stopping everyone's jobs. */
export const HISTORY_ALL_GRANT = 'history/all';
export const EXACT_GRANTS = [CONFIG_EXEC_GRANT, SETTINGS_EXEC_GRANT, HISTORY_ALL_GRANT] as const;
export type ExactGrant = (typeof EXACT_GRANTS)[number];

function trim(path: string): string {
  // Route paths come without slashes at either end: those are returned as they are.
  if (path.charCodeAt(0) !== 47 && path.charCodeAt(path.length - 1) !== 47) return path;
  return path.replace(/^\/+|\/+$/g, '');
}

function segments(path: string): string[] {
  return trim(path).split('/').filter((s) => s !== '');
}

/** Whether the user may call the route at `routePath` (relative to the mount point). */
export function isAllowed(user: Rules, routePath: string): boolean {
  const path = trim(routePath);
  if (ALWAYS_OPEN.has(path)) return true;
  return !isDenied(user, path) && (user.access.length === 0 || user.access.some((rule) => accessCovers(rule, path)));
}

/**
 * Whether any of several names of one thing is allowed (a barman command and its aliases): every
 * name must escape the deny list, and at least one must be covered by access.
 */
export function isAllowedAny(user: Rules, paths: readonly string[]): boolean {
  if (paths.some((p) => isDenied(user, p))) return false;
  return paths.some((p) => isAllowed(user, p));
}

export function isDenied(user: Rules, routePath: string): boolean {
  const path = trim(routePath);
  return user.deny.some((rule) => denyReaches(rule, path));
}

/** An exact-name grant: an empty access list or a rule naming it exactly, and no deny reaching it. */
export function holdsGrant(user: Rules, grant: ExactGrant): boolean {
  if (isDenied(user, grant)) return false;
  return user.access.length === 0 || user.access.some((rule) => trim(rule) === grant);
}

const segmentCache = new Map<string, RegExp>();

function segmentRegExp(pattern: string): RegExp {
  let re = segmentCache.get(pattern);
  if (!re) {
    const body = pattern
      .split(/(\*|\?)/)
      .map((part) => (part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`);
    if (segmentCache.size > 1000) segmentCache.clear();
    segmentCache.set(pattern, re);
  }
  return re;
}

/** Access: the rule's segments match the path's first segments (`**` any number of them). */
export function accessCovers(rule: string, path: string): boolean {
  return coversSegments(segments(rule), segments(path));
}

function coversSegments(rule: string[], path: string[]): boolean {
  if (rule.length === 0) return true;
  const [head, ...rest] = rule;
  if (head === '**') {
    for (let skip = 0; skip <= path.length; skip++) if (coversSegments(rest, path.slice(skip))) return true;
    return false;
  }
  if (path.length === 0) return false;
  return segmentRegExp(head!).test(path[0]!) && coversSegments(rest, path.slice(1));
}

const denyCache = new Map<string, RegExp>();

/** Deny: the seed's reach, the path starts with the rule (`*` within a segment, `**` across). */
export function denyReaches(rule: string, path: string): boolean {
  let re = denyCache.get(rule);
  if (!re) {
    const body = trim(rule)
      .split(/(\*\*|\*|\?)/)
      .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}`);
    if (denyCache.size > 1000) denyCache.clear();
    denyCache.set(rule, re);
  }
  return re.test(trim(path));
}

/**
 * Whether every path the access rule `inner` covers is covered by the access rule `outer`.
 * Decided on the rules' text, so it answers "no" where it cannot be sure.
 */
export function ruleWithin(inner: string, outer: string): boolean {
  return ruleSegmentsWithin(segments(inner), segments(outer));
}

function ruleSegmentsWithin(inner: string[], outer: string[]): boolean {
  if (outer.length === 0) return true; // outer is a parent of everything inner reaches
  const [o, ...oRest] = outer;
  if (o === '**') {
    if (ruleSegmentsWithin(inner, oRest)) return true;
    return inner.length > 0 && ruleSegmentsWithin(inner.slice(1), outer);
  }
  if (inner.length === 0) return false;
  const [i, ...iRest] = inner;
  if (i === '**') return false; // any depth, where outer wants one segment
  return segmentWithin(i!, o!) && ruleSegmentsWithin(iRest, oRest);
}

function segmentWithin(inner: string, outer: string): boolean {
  if (inner === outer || outer === '*') return true;
  if (!/[*?]/.test(inner)) return segmentRegExp(outer).test(inner);
  // Both are patterns: only a plain `prefix*` outer is compared; anything else is "not sure".
  const star = outer.indexOf('*');
  if (star === outer.length - 1 && !/[?]/.test(outer)) return inner.startsWith(outer.slice(0, -1));
  return false;
}

/** Whether `deny` rule `kept` reaches at least everything the rule `wanted` reaches. */
function denyKept(wanted: string, kept: string): boolean {
  const w = trim(wanted);
  const k = trim(kept);
  if (w === k) return true;
  return !/[*?]/.test(k) && w.startsWith(k);
}

/**
 * Who may manage whom: `target`'s rights fit inside `manager`'s when every access rule of the
 * target is covered by the manager's (an empty target list means everything, so only a manager
 * with an empty list covers it), every deny of the manager's is kept by the target, and the
 * target names an exact-name grant only if the manager holds it; and every barman host the target
 * reaches, the manager reaches too. Returns why not, or null.
 */
export function whyNotWithin(target: Rules, manager: Rules): string | null {
  for (const d of manager.deny) {
    if (!target.deny.some((t) => denyKept(d, t))) return `it would drop the deny rule ${JSON.stringify(d)} that limits you`;
  }
  const hosts = whyNotWithinHosts(target, manager);
  if (manager.access.length === 0) return hosts;
  if (target.access.length === 0) return 'an empty access list allows everything, and yours does not';
  for (const rule of target.access) {
    const grant = EXACT_GRANTS.find((g) => g === trim(rule));
    if (grant) {
      if (!holdsGrant(manager, grant)) return `the rule ${JSON.stringify(rule)} is a grant you do not hold`;
      continue;
    }
    if (!manager.access.some((m) => ruleWithin(rule, m))) return `the access rule ${JSON.stringify(rule)} reaches beyond yours`;
  }
  return hosts;
}

/** Every barman host the target reaches, the manager reaches too. */
function whyNotWithinHosts(target: Rules, manager: Rules): string | null {
  const managerHosts = hostReach(manager);
  if (managerHosts === 'every') return null;
  const targetHosts = hostReach(target);
  if (targetHosts === 'every') return 'it would reach every barman host, and you do not';
  for (const host of targetHosts) if (!managerHosts.has(host)) return `it would reach the barman host ${JSON.stringify(host)}, which you do not`;
  return null;
}

import type { PublicUser } from './users.js';

/** Routes every authenticated user may call whatever their rules: logging in and reading one's own rules. */
const ALWAYS_OPEN = new Set(['auth/token', 'auth/user']);

/**
 * The seed's access/deny rules: a rule matches a route path (`barman/backup`) that starts with
 * it; `*` matches within one path segment, `**` across segments, `?` one character.
 * Empty access means everything; deny wins over access.
 */
export function isAllowed(user: Pick<PublicUser, 'access' | 'deny'>, routePath: string): boolean {
  const path = routePath.replace(/^\/+|\/+$/g, '');
  if (ALWAYS_OPEN.has(path)) return true;
  if (user.deny.some((rule) => ruleMatches(rule, path))) return false;
  return user.access.length === 0 || user.access.some((rule) => ruleMatches(rule, path));
}

/**
 * Whether an access rule is exactly this path and no deny rule matches it. Rules match by prefix,
 * so `config` alone would cover `config/barman/exec`; grants that hand out command execution on
 * the barman host have to be written out in full, and an empty access list never grants them.
 */
export function isExplicitlyGranted(user: Pick<PublicUser, 'access' | 'deny'>, routePath: string): boolean {
  const path = routePath.replace(/^\/+|\/+$/g, '');
  if (user.deny.some((rule) => ruleMatches(rule, path))) return false;
  return user.access.some((rule) => rule.replace(/^\/+|\/+$/g, '') === path);
}

const cache = new Map<string, RegExp>();

export function ruleMatches(rule: string, path: string): boolean {
  let re = cache.get(rule);
  if (!re) {
    const body = rule
      .replace(/^\/+|\/+$/g, '')
      .split(/(\*\*|\*|\?)/)
      .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}`);
    if (cache.size > 1000) cache.clear();
    cache.set(rule, re);
  }
  return re.test(path);
}

import { isExplicitlyGranted } from '../auth/policy.js';
import type { PublicUser } from '../auth/users.js';

/**
 * Whether an access rule is exactly `path` (and no deny rule matches it). Access rules match by
 * prefix, so `config` alone would also match `config/barman/exec`; a grant that hands out
 * command execution has to be written out in full.
 */
export function isGrantedByName(user: Pick<PublicUser, 'access' | 'deny'>, path: string): boolean {
  return isExplicitlyGranted(user, path) && user.access.some((rule) => rule.replace(/^\/+|\/+$/g, '') === path);
}

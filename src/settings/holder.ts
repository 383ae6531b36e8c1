import type { SettingsHolder } from '../context.js';
import type { Settings } from './load.js';
import { APPLY_LIVE } from './policy.js';

/**
 * Settings behind an explicit holder: readers take current() at each use, a live change puts a
 * new object in place (the old one is never changed under a reader).
 */
export function holdSettings(initial: Settings): SettingsHolder {
  let current = initial;
  return {
    current: () => current,
    update(next, ids) {
      let updated: Settings = current;
      for (const id of ids) {
        const where = APPLY_LIVE[id];
        if (!where) continue;
        const [group, field] = where;
        updated = { ...updated, [group]: { ...(updated[group] as object), [field]: (next[group] as Record<string, unknown>)[field] } };
      }
      // The default host's entry is [barman] itself: it follows a live change of [barman].
      current = { ...updated, hosts: updated.hosts.map((h, i) => (i === 0 ? { ...h, barman: updated.barman } : h)) };
    },
  };
}

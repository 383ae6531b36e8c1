/**
 * The files barman's read-only answers come from, worked out from barman's configuration the way
 * barman itself does (barman/config.py): the main file and configuration_files_directory; per
 * server its backup_directory (default %(barman_home)s/%(name)s), basebackups_directory (default
 * …/base) with every backup's backup.info and annotations (keep), and the WAL index
 * wals_directory/xlog.db. The WAL files themselves, the incoming and streaming queues, failed
 * WALs and the backups' data are left out: list-backup and its kin do not read them, and they
 * change all the time.
 */
import type { BarmanConfigView, MergedSection } from '../barman-config/reader.js';
import { unquote } from '../barman-config/reader.js';

/** backup_directory/base/<id>/annotations/keep lies four levels below backup_directory. */
export const STAMP_DEPTH = 4;
/** Entries not looked into: backup data, WAL files and their queues. */
export const STAMP_SKIP = ['data', 'wals', 'incoming', 'streaming', 'errors'] as const;

export interface ServerFiles {
  name: string;
  roots: string[];
  /** Its retention policy is a recovery window: retention status moves with the clock alone. */
  recoveryWindow: boolean;
}

export interface BarmanFiles {
  configRoots: string[];
  servers: Map<string, ServerFiles>;
  /** Servers whose folders cannot be worked out (e.g. an interpolation we do not follow): never cached. */
  unresolved: Set<string>;
}

export function barmanFiles(view: BarmanConfigView): BarmanFiles {
  const configRoots = [view.mainFile, ...(view.directory.resolved ? [view.directory.resolved] : [])];
  const global = view.sections.find((s) => s.kind === 'global')?.options ?? {};
  const servers = new Map<string, ServerFiles>();
  const unresolved = new Set<string>();
  for (const section of view.sections) {
    if (section.kind !== 'server') continue;
    const files = serverFiles(section, global);
    if (files) servers.set(section.name, files);
    else unresolved.add(section.name);
  }
  return { configRoots, servers, unresolved };
}

function serverFiles(section: MergedSection, global: Record<string, string>): ServerFiles | null {
  const own = (key: string): string | undefined => {
    const v = section.options[key];
    return v === undefined ? undefined : unquote(v.trim());
  };
  const barmanHome = global.barman_home === undefined ? undefined : unquote(global.barman_home.trim());
  const known: Record<string, string | undefined> = { name: section.name, barman_home: barmanHome };
  const resolve = (value: string | undefined, dflt: string): string | null => {
    const text = value === undefined || value === '' ? dflt : value;
    const out = text.replace(/%\(([a-z_]+)\)s/g, (whole, key: string) => known[key] ?? own(key) ?? whole);
    return out.startsWith('/') && !out.includes('%(') && !/[\0\n]/.test(out) ? out.replace(/\/+$/, '') || '/' : null;
  };
  const backupDirectory = resolve(own('backup_directory'), '%(barman_home)s/%(name)s');
  if (backupDirectory === null) return null;
  known.backup_directory = backupDirectory;
  const base = resolve(own('basebackups_directory'), '%(backup_directory)s/base');
  const wals = resolve(own('wals_directory'), '%(backup_directory)s/wals');
  if (base === null || wals === null) return null;
  const roots = [backupDirectory];
  if (base !== `${backupDirectory}/base`) roots.push(base);
  roots.push(`${wals}/xlog.db`);
  // A folder named like what the stamps skip (a server called "data") cannot be a root of them.
  if (roots.some((r) => (STAMP_SKIP as readonly string[]).includes(r.split('/').pop() ?? ''))) return null;
  const policy = own('retention_policy') ?? (global.retention_policy === undefined ? '' : unquote(global.retention_policy.trim()));
  return { name: section.name, roots, recoveryWindow: /^\s*recovery\s+window/i.test(policy) };
}

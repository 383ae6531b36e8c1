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
import { normalise } from '../util/path.js';

/** backup_directory/base/<id>/annotations/keep lies four levels below backup_directory. */
export const STAMP_DEPTH = 4;
/** Entries not looked into: backup data, WAL files and their queues. */
export const STAMP_SKIP = ['data', 'wals', 'incoming', 'streaming', 'errors'] as const;

const RECOVERY_WINDOW = /^\s*recovery\s+window/i;

export interface ServerFiles {
  name: string;
  roots: string[];
  /** Its retention policy is a recovery window: retention status moves with the clock alone. */
  recoveryWindow: boolean;
}

export interface BarmanFiles {
  configRoots: string[];
  /**
   * `<barman_home>/.barman.auto.conf` (barman ≥ 3.10, written by `barman config-update`): barman
   * reads it last, our configuration reader does not; while it exists nothing is cached.
   */
  autoConf: string | null;
  servers: Map<string, ServerFiles>;
  /** Servers whose folders cannot be worked out (e.g. an interpolation we do not follow): never cached. */
  unresolved: Set<string>;
}

/**
 * barman's configuration files: the main file, configuration_files_directory, and (barman ≥ 3.10)
 * `<barman_home>/.barman.auto.conf`, written by `barman config-update` and read after the rest.
 * Every path in one spelling (no `//`, `.`, `..` or trailing `/`), as the stamps print them.
 */
export function configRootsOf(view: BarmanConfigView): string[] {
  const global = view.sections.find((s) => s.kind === 'global')?.options ?? {};
  const home = global.barman_home === undefined ? '' : unquote(global.barman_home.trim());
  const roots = [view.mainFile, ...(view.directory.resolved ? [view.directory.resolved] : []), ...(home.startsWith('/') ? [autoConfOf(home)] : [])];
  return [...new Set(roots.map((r) => {
    const clean = cleanPath(r);
    // Nothing is cached rather than stamping a spelling the files below may not match.
    if (clean === null) throw new Error(`barman's configuration path ${r} holds "..": its answers are not cached`);
    return clean;
  }))];
}

/**
 * One spelling of a path, as the stamps print what lies below it: no `//`, `.` or trailing `/`.
 * A path with `..` is not cleaned (a symbolic link before it decides where it leads): null.
 */
export function cleanPath(path: string): string | null {
  return path.split('/').includes('..') ? null : normalise(path);
}

function autoConfOf(barmanHome: string): string {
  return `${barmanHome}/.barman.auto.conf`;
}

export function barmanFiles(view: BarmanConfigView): BarmanFiles {
  const configRoots = configRootsOf(view);
  const global = view.sections.find((s) => s.kind === 'global')?.options ?? {};
  const home = global.barman_home === undefined ? '' : unquote(global.barman_home.trim());
  const autoConf = home.startsWith('/') ? cleanPath(autoConfOf(home)) : null;
  // A model (barman ≥ 3.10) may set a recovery window for the servers of its cluster: any such model counts for all.
  const modelWindow = view.sections.some((s) => s.kind === 'model' && RECOVERY_WINDOW.test(unquote((s.options.retention_policy ?? '').trim())));
  const servers = new Map<string, ServerFiles>();
  const unresolved = new Set<string>();
  for (const section of view.sections) {
    if (section.kind !== 'server') continue;
    const files = serverFiles(section, global);
    if (files) servers.set(section.name, { ...files, recoveryWindow: files.recoveryWindow || modelWindow });
    else unresolved.add(section.name);
  }
  return { configRoots, autoConf, servers, unresolved };
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
    return out.startsWith('/') && !out.includes('%(') && !/[\0\n]/.test(out) ? cleanPath(out) : null;
  };
  const backupDirectory = resolve(own('backup_directory'), '%(barman_home)s/%(name)s');
  if (backupDirectory === null) return null;
  known.backup_directory = backupDirectory;
  const base = resolve(own('basebackups_directory'), '%(backup_directory)s/base');
  const wals = resolve(own('wals_directory'), '%(backup_directory)s/wals');
  if (base === null || wals === null) return null;
  known.basebackups_directory = base;
  known.wals_directory = wals;
  const roots = [backupDirectory];
  if (base !== `${backupDirectory}/base`) roots.push(base);
  // The WAL index: wals_directory/xlog.db, or (barman ≥ 3.13) <xlogdb_directory>/<server>-xlog.db.
  const xlogdbDirectory = resolve(own('xlogdb_directory') ?? (global.xlogdb_directory === undefined ? undefined : unquote(global.xlogdb_directory.trim())), wals);
  if (xlogdbDirectory === null) return null;
  roots.push(`${wals}/xlog.db`, `${xlogdbDirectory}/${section.name}-xlog.db`);
  // A folder named like what the stamps skip (a server called "data") cannot be a root of them.
  if (roots.some((r) => (STAMP_SKIP as readonly string[]).includes(r.split('/').pop() ?? ''))) return null;
  const policy = own('retention_policy') ?? (global.retention_policy === undefined ? '' : unquote(global.retention_policy.trim()));
  return { name: section.name, roots: [...new Set(roots)], recoveryWindow: RECOVERY_WINDOW.test(policy) };
}

/**
 * Arguments that name a folder or file on the barman host (recover's destination, get-wal's
 * output directory, staging paths, tablespace locations): barman writes there as its own user,
 * so such a path may not reach barman's home, its configuration folders, or our store.
 */
import { badRequest, forbidden, unavailable } from '../http/errors.js';
import type { BarmanHost } from '../ports.js';
import type { Params } from '../http/params.js';
import { readBarmanConfig, unquote } from '../barman-config/reader.js';
import { dirname, normalise } from '../util/path.js';
import type { CommandSpec } from './help-parser.js';
import { normaliseName } from './params.js';

export interface PathArgument {
  param: string;
  value: string;
}

/** A place barman's files live: nothing may be written into it, at it, or above it. */
export interface ProtectedPlace {
  path: string;
  why: string;
}

const PATH_WORD = /(?:^|[_-])(?:directory|dir|path|file|location)(?:$|[_-])/i;

function isPathName(name: string | null | undefined): boolean {
  return !!name && PATH_WORD.test(name);
}

/**
 * The parameter values of `params` that are paths, as barman's help names them
 * (`destination_directory`, `--output-directory`, `--tablespace NAME:LOCATION`).
 */
export function pathArguments(spec: CommandSpec, params: Params): PathArgument[] {
  const byName = new Map<string, { location: boolean }>();
  for (const p of spec.positionals) {
    if (isPathName(p.name) || isPathName(p.metavar)) for (const n of [p.name, p.metavar]) byName.set(normaliseName(n), { location: false });
  }
  for (const o of spec.options) {
    if (!o.takesValue || isFileName(o.name) || isFileName(o.metavar)) continue;
    const location = /:LOCATION$/i.test(o.metavar ?? '');
    if (location || isPathName(o.name) || isPathName(o.metavar)) byName.set(normaliseName(o.name), { location });
  }
  const out: PathArgument[] = [];
  for (const [param, raw] of Object.entries(params)) {
    const kind = byName.get(normaliseName(param));
    if (!kind) continue;
    for (const value of givenValues(raw)) {
      const colon = value.indexOf(':');
      out.push({ param, value: kind.location ? (colon >= 0 ? value.slice(colon + 1) : value) : value });
    }
  }
  return out;
}

/** The values barman will get for a parameter: empty ones mean "not given" (as in commandArgs). */
function givenValues(raw: Params[string] | undefined): string[] {
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]).map(String).filter((v) => v !== '');
}

/** Whether a remote SSH command sends the paths to another host (recover --remote-ssh-command). */
export function isRemoteRecovery(params: Params): boolean {
  return Object.entries(params).some(([name, raw]) => normaliseName(name) === 'remotesshcommand' && givenValues(raw).length > 0);
}

/** `--recovery-conf-filename FILENAME`: a file name barman joins onto another folder. */
function isFileName(name: string | null | undefined): boolean {
  return !!name && /filename$/i.test(name.replace(/[-_]/g, ''));
}

/**
 * File-name arguments barman joins onto a folder (recover's --recovery-conf-filename joins the
 * destination): a plain name, never a path, so the join stays inside that folder.
 */
export function checkFileNameArguments(spec: CommandSpec, params: Params): void {
  const names = new Set(spec.options.filter((o) => o.takesValue && (isFileName(o.name) || isFileName(o.metavar))).map((o) => normaliseName(o.name)));
  for (const [param, raw] of Object.entries(params)) {
    if (!names.has(normaliseName(param))) continue;
    for (const value of givenValues(raw)) {
      if (value.includes('/') || value === '.' || value === '..') {
        throw badRequest(`parameter "${param}": a file name, not a path (no "/", not "." or "..")`, { parameter: param, allowed: ['a plain file name'] });
      }
    }
  }
}

/** Folder options of barman's configuration whose folders barman keeps its backups and WAL in. */
const BARMAN_FOLDER_OPTION = /^(?:barman_home|[a-z_]*_directory)$/;

/** barman's home and every folder its configuration names, plus where that configuration lives. */
export async function protectedPlaces(host: BarmanHost, configFile: string, extra: ProtectedPlace[]): Promise<ProtectedPlace[]> {
  const places: ProtectedPlace[] = [...extra, { path: dirname(configFile), why: "barman's configuration folder" }];
  let home = '/var/lib/barman';
  try {
    const view = await readBarmanConfig(host, configFile);
    const global = view.sections.find((s) => s.name === 'barman')?.options ?? {};
    if (global.barman_home) home = unquote(global.barman_home.trim());
    if (view.directory.resolved) places.push({ path: view.directory.resolved, why: "barman's configuration_files_directory" });
    for (const section of view.sections) {
      for (const [key, value] of Object.entries(section.options)) {
        if (!BARMAN_FOLDER_OPTION.test(key) || key === 'configuration_files_directory') continue;
        const path = interpolate(unquote(value.trim()), section.options, global);
        if (path.startsWith('/')) places.push({ path, why: `barman's ${section.name}.${key}` });
      }
    }
  } catch (err) {
    // Without barman's configuration the folders it names are unknown: refuse rather than guess.
    throw unavailable(
      'BarmanConfigUnreadable',
      `cannot read barman's configuration to check the paths of this command (${(err as Error).message}); nothing was run`,
      60,
    );
  }
  places.push({ path: home, why: "barman's home (barman_home)" });
  return places.map((p) => ({ ...p, path: normalise(p.path) }));
}

function interpolate(value: string, section: Record<string, string>, global: Record<string, string>): string {
  return value.replace(/%\(([a-z_]+)\)s/g, (whole, key: string) => unquote((section[key] ?? global[key] ?? whole).trim()));
}

function inside(path: string, folder: string): boolean {
  return folder === '/' || path === folder || path.startsWith(`${folder}/`);
}

/**
 * Refuses (400) a relative path, and (403) a path into, at, or above a protected place, or
 * outside `roots` when roots are configured.
 */
export function checkPathArguments(args: PathArgument[], places: ProtectedPlace[], roots: string[]): void {
  for (const { param, value } of args) {
    if (!value.startsWith('/')) {
      throw badRequest(`parameter "${param}": a path on the barman host must be absolute (start with /)`, { parameter: param, allowed: ['absolute paths'] });
    }
    // The kernel resolves ".." through symbolic links (which barman itself creates for
    // tablespaces), so a path that looks outside a protected folder on paper may be inside it.
    if (value.split('/').some((part) => part === '.' || part === '..')) {
      throw badRequest(`parameter "${param}": a path may not hold "." or ".." segments`, { parameter: param, allowed: ['absolute paths without . or ..'] });
    }
    const path = normalise(value);
    for (const place of places) {
      if (inside(path, place.path) || inside(place.path, path)) {
        throw forbidden(`parameter "${param}": ${path} ${path === place.path ? 'is' : inside(path, place.path) ? 'is inside' : 'holds'} ${place.why} (${place.path}); barman may not write there`);
      }
    }
    const normalisedRoots = roots.map(normalise);
    if (normalisedRoots.length > 0 && !normalisedRoots.some((root) => inside(path, root) && path !== root)) {
      throw forbidden(`parameter "${param}": ${path} is outside the folders [barman] path_roots allows (${normalisedRoots.join(', ')})`);
    }
  }
}

/**
 * Arguments that name a folder or file on the barman host (recover's destination, get-wal's
 * output directory, staging paths, tablespace locations): barman writes there as its own user,
 * so such a path may not reach barman's home, its configuration folders, or our store.
 */
import { badRequest, forbidden } from '../http/errors.js';
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
 * The parameter values of `params` that are paths on the barman host, as barman's help names
 * them (`destination_directory`, `--output-directory`, `--tablespace NAME:LOCATION`). None when a
 * remote SSH command is given: then they are paths on the PostgreSQL host.
 */
export function pathArguments(spec: CommandSpec, params: Params): PathArgument[] {
  const byName = new Map<string, { location: boolean }>();
  for (const p of spec.positionals) {
    if (isPathName(p.name) || isPathName(p.metavar)) for (const n of [p.name, p.metavar]) byName.set(normaliseName(n), { location: false });
  }
  for (const o of spec.options) {
    if (!o.takesValue) continue;
    const location = /:LOCATION$/i.test(o.metavar ?? '');
    if (location || isPathName(o.name) || isPathName(o.metavar)) byName.set(normaliseName(o.name), { location });
  }
  const out: PathArgument[] = [];
  for (const [param, raw] of Object.entries(params)) {
    if (normaliseName(param) === 'remotesshcommand' && String(raw) !== '') return [];
    const kind = byName.get(normaliseName(param));
    if (!kind) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      const value = String(v);
      if (value === '') continue;
      const colon = value.indexOf(':');
      out.push({ param, value: kind.location ? (colon >= 0 ? value.slice(colon + 1) : value) : value });
    }
  }
  return out;
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
  } catch {
    // barman cannot run without its configuration either; its default home is still protected.
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

/**
 * Changes to barman's configuration: parse a request, check every key and value, decide which
 * file each change lands in, and apply the change to that file's text, touching only the lines
 * of the changed keys. Pure functions; routes.ts adds the I/O (lock, backup, atomic write).
 *
 * barman 3.4 has no `config-update` command (it arrived in 3.10, and only for its own JSON
 * input), so files are edited directly, with the checks barman would otherwise do on read.
 */
import { refuseControlCharacters } from '../util/control-chars.js';
import { ApiError, badRequest, conflict, forbidden } from '../http/errors.js';
import { IniDocument } from '../ini/document.js';
import type { Params } from '../http/params.js';
import { joinPath } from '../util/path.js';
import { isExecutableOption, type BarmanOption } from './option-catalogue.js';
import { redactValue, type BarmanConfigView, type SectionKind } from './reader.js';

/** Parameters of /config/barman/change that are not `section.key`. */
export const CHANGE_FLAGS = ['create', 'force', 'dry_run', 'remove'] as const;

/** Section names the API writes: configparser allows more, but these are safe as file names too. */
const SECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const KEY_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
const MAX_VALUE_LENGTH = 8192;
/** barman refuses 'all' as a server name; DEFAULT is configparser's section of defaults for all. */
const RESERVED_SECTIONS = new Set(['all', 'DEFAULT']);

/**
 * Options that do not run a command themselves but decide what barman runs or where it writes
 * as its user; changing them needs the same explicit grant as the executable ones.
 */
const PRIVILEGED_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['configuration_files_directory', 'chooses which further files barman reads, and with them which hooks it runs'],
  ['barman_user', 'chooses the system user barman runs as, and so runs its hooks and commands as'],
  ['log_file', 'chooses a file barman appends text to as its user (a shell start-up file would run it)'],
  ['barman_home', 'chooses the folder under which barman keeps, moves and deletes backups and WAL files as its user'],
  ['config_changes_queue', 'chooses a file barman writes to as its user (barman 3.10+)'],
]);

/**
 * Folders barman writes to, moves files out of, or empties as its user: pointed at another
 * folder, `barman cron` moves away whatever lands in an incoming WAL folder and retention
 * deletes from the backup ones. Patterns, so folders of newer barman releases are covered too.
 */
const PRIVILEGED_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [/_directory$/, 'chooses a folder barman writes to, moves files out of or deletes from as its user'],
  [/_staging_path$/, 'chooses a folder barman copies backups into and deletes from as its user'],
  [/_file$/, 'chooses a file barman writes to or reads as its user'],
];

/** Why a user needs `config/barman/exec` to change this option, or null when anyone may. */
export function privilegeReason(option: string): string | null {
  const name = option.toLowerCase();
  if (isExecutableOption(name)) return 'barman executes its value';
  return PRIVILEGED_OPTIONS.get(name) ?? PRIVILEGED_PATTERNS.find(([pattern]) => pattern.test(name))?.[1] ?? null;
}

export interface KeyChange {
  section: string;
  /** Lower-cased, as configparser stores it. */
  key: string;
  action: 'set' | 'remove';
  value?: string;
}

export interface ChangeRequest {
  changes: KeyChange[];
  create: boolean;
  force: boolean;
  dryRun: boolean;
}

/** `section.key`: the key is after the last dot, since option names never contain one. */
export function parseDottedKey(name: string, what = 'parameter'): { section: string; key: string } {
  const dot = name.lastIndexOf('.');
  if (dot < 0) {
    throw badRequest(`${what} ${JSON.stringify(name)} has no section: write section.key, e.g. pg.description=… or barman.log_level=…`, { parameter: name });
  }
  const section = name.slice(0, dot);
  const key = name.slice(dot + 1);
  if (!SECTION_NAME.test(section)) {
    throw badRequest(`${what} ${JSON.stringify(name)}: section names are letters, digits, '.', '_' and '-' (no spaces, '=', '[' or ']')`, { parameter: name });
  }
  if (!KEY_NAME.test(key)) {
    throw badRequest(`${what} ${JSON.stringify(name)}: option names are a letter followed by letters, digits and '_' (no spaces, '=', ':' or ']')`, { parameter: name });
  }
  return { section, key: key.toLowerCase() };
}

/** Reject what would break the file or barman's reading of it; returns the value as configparser will read it. */
export function checkValue(name: string, raw: unknown): string {
  if (Array.isArray(raw)) throw badRequest(`${name} given more than once; give each key one value`, { parameter: name });
  const value = String(raw);
  refuseControlCharacters(name, value);
  if (value.length > MAX_VALUE_LENGTH) throw badRequest(`value of ${name} is longer than ${MAX_VALUE_LENGTH} characters`, { parameter: name });
  // barman reads values with configparser's interpolation: a lone % makes barman fail on start.
  if (value.replace(/%%|%\([^()%]+\)s/g, '').includes('%')) {
    throw badRequest(`value of ${name}: barman reads % as interpolation; write %% for a percent sign or %(option)s to refer to an option`, { parameter: name });
  }
  return value.trim();
}

export function parseChangeRequest(params: Params, flagOf: (name: string) => boolean): ChangeRequest {
  const changes: KeyChange[] = [];
  const seen = new Map<string, string>();
  const add = (change: KeyChange, param: string) => {
    const id = `${change.section}.${change.key}`;
    const before = seen.get(id);
    if (before !== undefined) throw badRequest(`${id} is changed twice in one request (${before} and ${param})`, { parameter: param });
    seen.set(id, param);
    changes.push(change);
  };
  for (const [name, raw] of Object.entries(params)) {
    if ((CHANGE_FLAGS as readonly string[]).includes(name)) continue;
    const { section, key } = parseDottedKey(name);
    add({ section, key, action: 'set', value: checkValue(name, raw) }, name);
  }
  const removals = params.remove === undefined ? [] : (Array.isArray(params.remove) ? params.remove : [params.remove]);
  for (const item of removals.flatMap((r) => String(r).split(','))) {
    const name = item.trim();
    if (name === '') continue;
    const { section, key } = parseDottedKey(name, 'remove');
    add({ section, key, action: 'remove' }, `remove=${name}`);
  }
  if (changes.length === 0) {
    throw badRequest('nothing to change: pass section.key=value (e.g. pg.description=Main) and/or remove=section.key');
  }
  return { changes, create: flagOf('create'), force: flagOf('force'), dryRun: flagOf('dry_run') };
}

export interface PlannedChange extends KeyChange {
  kind: SectionKind;
  /** The section does not exist yet in the target file. */
  newSection: boolean;
}

export interface ChangePlan {
  file: string;
  /** The file does not exist yet (a new server file in configuration_files_directory). */
  newFile: boolean;
  changes: PlannedChange[];
  warnings: string[];
}

export interface PlanContext {
  view: BarmanConfigView;
  /** The catalogue plus the options barman reads without documenting them. */
  options: BarmanOption[];
  /** Whether the user's access list names config/barman/exec. */
  mayChangeExecutable: boolean;
}

/**
 * Check a request against the configuration and the catalogue and pick the one file it changes.
 * One file per request: a single atomic replace is the only way every key of a request applies
 * together or not at all; keys in two files would need two renames and a rollback that can fail.
 */
export function planChange(req: ChangeRequest, ctx: PlanContext): ChangePlan {
  const { view } = ctx;
  const warnings: string[] = [];
  const planned: Array<PlannedChange & { file: string }> = [];
  const refusedExec: string[] = [];
  const creating = new Set(req.changes.filter((c) => c.action === 'set' && c.key === 'model').filter((c) => /^(?:true|t|yes|1|on)$/i.test(c.value ?? '')).map((c) => c.section));

  for (const change of req.changes) {
    const id = `${change.section}.${change.key}`;
    if (RESERVED_SECTIONS.has(change.section)) {
      throw badRequest(`${id}: [${change.section}] cannot be edited through the API (${change.section === 'all' ? 'barman reserves the name all' : 'configparser applies it to every section'})`, { parameter: id });
    }
    const existing = view.sections.find((s) => s.name === change.section);
    let kind: SectionKind;
    let files: string[];
    let newSection = false;
    if (existing) {
      kind = existing.kind;
      if (change.action === 'set') {
        files = [change.section === 'barman' ? view.mainFile : existing.origins[change.key] ?? existing.file];
      } else {
        // Every definition goes, or barman would fall back to an earlier file's value.
        files = view.files.filter((f) => f.doc.get(change.section, change.key) !== undefined).map((f) => f.path);
        if (files.length === 0) files = [existing.file];
      }
    } else {
      const sections = view.sections.map((s) => s.name);
      if (change.action === 'remove' || !req.create) {
        throw badRequest(`${id}: there is no section [${change.section}] in barman's configuration` +
          `${change.action === 'set' ? '; add create=true to create it as a new server' : ''}. Sections: ${sections.join(', ') || '(none)'}`,
        { parameter: id, sections });
      }
      newSection = true;
      kind = change.section === 'barman' ? 'global' : creating.has(change.section) ? 'model' : 'server';
      files = [newSectionFile(view, change.section)];
    }

    const option = ctx.options.find((o) => o.name === change.key);
    if (!option && !req.force) {
      throw badRequest(`${id}: barman has no option ${change.key} (see /config/barman/help); add force=true to write it anyway`, { parameter: id });
    }
    if (option && !req.force && option.scopes.length > 0 && !option.scopes.includes(kind)) {
      throw badRequest(`${id}: ${change.key} is a ${option.scopes.join('/')} option and cannot be set in a ${kind} section${
        option.scopes.includes('global') && !option.scopes.includes(kind) ? ' (set it in [barman])' : ''}; add force=true to write it anyway`, { parameter: id, scopes: option.scopes });
    }
    if (privilegeReason(change.key) && !ctx.mayChangeExecutable) refusedExec.push(id);
    if (change.action === 'set' && option) warnings.push(...checkType(id, option, change.value ?? '', req.force));
    for (const file of files) planned.push({ ...change, kind, newSection, file });
  }

  if (refusedExec.length > 0) {
    throw forbidden(`changing ${refusedExec.join(', ')} needs an access rule that names config/barman/exec: ${refusedExec
      .map((id) => `${id.slice(id.lastIndexOf('.') + 1)} ${privilegeReason(id.slice(id.lastIndexOf('.') + 1))}`)
      .join('; ')}`);
  }
  const files = [...new Set(planned.map((p) => p.file))];
  if (files.length > 1) {
    throw badRequest(`this request changes ${files.length} files (${files.join(', ')}); send one request per file, so that each applies completely or not at all`, { files });
  }
  const file = files[0]!;
  return {
    file,
    newFile: !view.files.some((f) => f.path === file),
    changes: planned.map(({ file: _file, ...change }) => change),
    warnings,
  };
}

function newSectionFile(view: BarmanConfigView, section: string): string {
  if (section === 'barman') return view.mainFile;
  if (!view.directory.resolved || !view.directory.usable) {
    throw conflict(`cannot create [${section}]: a new server goes to <configuration_files_directory>/${section}.conf, and ` +
      (view.directory.configured === null ? `${view.mainFile} sets no configuration_files_directory` : `configuration_files_directory (${view.directory.configured}) is not a usable folder`));
  }
  return joinPath(view.directory.resolved, `${section}.conf`);
}

const BOOLEAN_WORDS = /^(?:true|t|yes|1|on|false|f|no|0|off)$/i;

/** Errors for values barman cannot parse (unless forced); warnings for values its page does not list. */
function checkType(id: string, option: BarmanOption, value: string, force: boolean): string[] {
  // barman treats 'none' as unset for every option.
  if (value.toLowerCase() === 'none') return [];
  const fail = (problem: string): string[] => {
    if (force) return [`${id}: ${problem} (written anyway: force=true)`];
    throw badRequest(`${id}: ${problem}; add force=true to write it anyway`, { parameter: id });
  };
  // Messages quote the value, so they hide passwords as the rest of the response does.
  const shown = JSON.stringify(redactValue(value));
  if (option.type === 'boolean' && !BOOLEAN_WORDS.test(value)) return fail(`${option.name} is a switch: use true or false (or on/off, yes/no, 1/0), not ${shown}`);
  if (option.type === 'integer' && !/^-?\d+$/.test(value)) return fail(`${option.name} is a whole number, not ${shown}`);
  if (option.type === 'enum' && option.choices && value !== '' && !option.choices.some((c) => c.toLowerCase() === value.toLowerCase())) {
    return [`${id}: ${shown} is not among the values barman(5) lists (${option.choices.join(', ')}); written as given`];
  }
  return [];
}

export interface ChangeResult {
  section: string;
  key: string;
  action: 'set' | 'remove';
  /** The value before the change; null when the key was not set in this file. */
  previous: string | null;
  value: string | null;
  changed: boolean;
}

/**
 * Apply a plan to the current text of its file (re-read under the file's lock). Sections that
 * vanished since the plan was made are a conflict, not a silent re-creation.
 */
export function applyChanges(text: string | null, plan: ChangePlan): { text: string; results: ChangeResult[] } {
  const doc = new IniDocument(text ?? '');
  if (doc.problems.length > 0) {
    const problems = redactValue(doc.problems.map((p) => p.message).join('; '));
    throw conflict(`${plan.file} has lines configparser cannot read (${problems}); fix the file by hand before changing it through the API`, { file: plan.file });
  }
  const results: ChangeResult[] = [];
  for (const change of plan.changes) {
    if (!doc.hasSection(change.section)) {
      if (!change.newSection) throw conflict(`[${change.section}] is no longer in ${plan.file}: the file changed meanwhile; repeat the request`, { file: plan.file });
      doc.addSection(change.section);
    }
    const previous = doc.get(change.section, change.key) ?? null;
    if (change.action === 'set') {
      const value = change.value ?? '';
      if (previous !== value) doc.set(change.section, change.key, value);
      results.push({ section: change.section, key: change.key, action: 'set', previous, value, changed: previous !== value });
    } else {
      let removed = false;
      // configparser (strict=False) lets a key repeat in one section; remove every copy.
      while (doc.remove(change.section, change.key)) removed = true;
      results.push({ section: change.section, key: change.key, action: 'remove', previous, value: null, changed: removed });
    }
  }
  const after = doc.toString();
  verifyChange(text ?? '', after, results, plan.file);
  return { text: after, results };
}

/**
 * Read the new text back as barman will and compare it with the old one: the changed keys hold
 * their new values, every other key of every section is as it was, and nothing new is unreadable.
 */
function verifyChange(before: string, after: string, results: ChangeResult[], file: string): void {
  const old = new IniDocument(before).toObject();
  const now = new IniDocument(after);
  const fail = (why: string): never => {
    throw new ApiError(500, 'ConfigEditFailed', `refusing to write ${file}: the edited text does not read back as intended (${why}); nothing was changed`, { file });
  };
  if (now.problems.length > 0) fail(now.problems[0]!.message);
  const expected: Record<string, Record<string, string>> = JSON.parse(JSON.stringify(old));
  for (const r of results) {
    const section = (expected[r.section] ??= {});
    if (r.action === 'set') section[r.key] = r.value ?? '';
    else delete section[r.key];
  }
  const actual = now.toObject();
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const name of names) {
    const a = actual[name] ?? {};
    const e = expected[name] ?? {};
    for (const key of new Set([...Object.keys(a), ...Object.keys(e)])) {
      if (a[key] !== e[key]) fail(`[${name}] ${key}`);
    }
  }
}

/**
 * Edits of the settings file for /config/barmanapi/change: what a request asks, applied to the
 * INI document under any spelling of section and key, checked to read back as intended, and a
 * diff with every secret masked.
 */
import { ApiError, badRequest, conflict } from '../http/errors.js';
import type { Params } from '../http/params.js';
import { formatList, IniDocument } from '../ini/document.js';
import { refuseControlCharacters } from '../util/control-chars.js';
import { readSettingsFile } from './file.js';
import { coerce, SettingsError, type RawValue } from './load.js';
import { MIN_TOKEN_SECRET_LENGTH } from './policy.js';
import { canonicalSection, findSetting, SETTINGS, type SettingSpec } from './schema.js';

export const SECRET_MASK = '***';

export interface SettingChange {
  spec: SettingSpec;
  /** `barman.timeout`, or `host:dc2.timeout` for a further host's key. */
  id: string;
  /** A further barman host's section (`[host:NAME]`) the change is for; its spec is [barman]'s. */
  host?: string;
  action: 'set' | 'remove';
  /** The text written to the file. */
  text?: string;
}

/** The settings a file sets, by spec, as written (the last spelling wins, as in the loader). */
export function fileValues(text: string, path: string): { values: Map<SettingSpec, unknown>; hosts: Map<string, Map<SettingSpec, unknown>>; warnings: string[] } {
  const { entries, warnings } = readSettingsFile(text, path, { strict: false });
  const hosts = new Map<string, Map<SettingSpec, unknown>>();
  for (const e of entries) if (e.host !== undefined) (hosts.get(e.host) ?? hosts.set(e.host, new Map()).get(e.host)!).set(e.spec, e.value);
  return { values: new Map(entries.filter((e) => !e.host).map((e) => [e.spec, e.value])), hosts, warnings };
}

/**
 * What a request asks to change: `section.key=value` pairs and `remove=section.key,…`. A further
 * barman host's keys are `host:NAME.key`, for a host the file already has (`hosts`): hosts are
 * added by hand, where a new place barman runs is a deliberate act.
 */
export function parseSettingChanges(params: Params, hosts: ReadonlySet<string> = new Set()): SettingChange[] {
  const changes: SettingChange[] = [];
  const seen = new Set<string>();
  const add = (name: string, action: 'set' | 'remove', raw?: unknown) => {
    const dot = name.lastIndexOf('.');
    if (dot < 0) throw badRequest(`${JSON.stringify(name)} has no section: write section.key, e.g. barman.timeout=600`, { parameter: name });
    const section = name.slice(0, dot);
    const key = name.slice(dot + 1);
    const host = /^host:(.+)$/i.exec(section)?.[1];
    if (host !== undefined && !hosts.has(host)) {
      throw badRequest(`no barman host ${JSON.stringify(host.slice(0, 64))} among those the server runs with; further barman hosts are added to the settings file by hand (and need a restart)`, { parameter: name });
    }
    const spec = host === undefined ? findSetting(section, key) : findSetting('barman', key);
    if (!spec) {
      throw badRequest(`unknown setting ${JSON.stringify(name)}; settings: ${SETTINGS.map((s) => `${s.section}.${s.key}`).join(', ')}${hosts.size > 0 ? ', and the [barman] keys of host:NAME' : ''}`, { parameter: name });
    }
    const id = host === undefined ? `${spec.section}.${spec.key}` : `host:${host}.${spec.key}`;
    if (seen.has(id)) throw badRequest(`${id} is changed twice in one request`, { parameter: name });
    seen.add(id);
    const where = host === undefined ? {} : { host };
    if (action === 'remove') {
      changes.push({ spec, id, action, ...where });
      return;
    }
    if (Array.isArray(raw)) throw badRequest(`${name} given more than once; give each setting one value`, { parameter: name });
    const text = String(raw);
    refuseControlCharacters(name, text);
    let value: RawValue;
    try {
      value = coerce(spec, text, '(request)', spec.section, spec.key);
    } catch (err) {
      if (err instanceof SettingsError) throw badRequest(err.message, { parameter: name });
      throw err;
    }
    if (spec.section === 'authtoken' && spec.key === 'secret' && value !== '' && String(value).length < MIN_TOKEN_SECRET_LENGTH) {
      throw badRequest(`authtoken.secret must be at least ${MIN_TOKEN_SECRET_LENGTH} characters (or empty, to use a generated one)`, { parameter: name });
    }
    changes.push({ spec, id, action, text: formatSetting(value), ...where });
  };
  for (const [name, raw] of Object.entries(params)) {
    if (name === 'dry_run' || name === 'remove') continue;
    add(name, 'set', raw);
  }
  const removals = params.remove === undefined ? [] : Array.isArray(params.remove) ? params.remove : [params.remove];
  for (const name of removals.flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter((x) => x !== '')) add(name, 'remove');
  if (changes.length === 0) throw badRequest('nothing to change: pass section.key=value (e.g. barman.timeout=600) and/or remove=section.key');
  return changes;
}

/** As the file should say it: lists in the seed's Python-list form, everything else as text. */
function formatSetting(value: RawValue): string {
  return Array.isArray(value) ? formatList(value) : String(value);
}

/**
 * Every place the file sets this spec, under any spelling of its section or key, in file order:
 * in its own section, or in the further host's section `[host:NAME]`.
 */
function entriesOf(doc: IniDocument, spec: SettingSpec, host?: string) {
  const inSection = (name: string) => (host === undefined ? canonicalSection(name) === spec.section : name.toLowerCase() === `host:${host}`);
  return doc.sections
    .filter((s) => s.header >= 0 && inSection(s.name))
    .flatMap((s) => s.entries.filter((e) => findSetting(host === undefined ? s.name : 'barman', e.key) === spec))
    .sort((a, b) => a.first - b.first);
}

export function applySetting(doc: IniDocument, ch: SettingChange, previousRaw: unknown) {
  const previous = previousRaw === undefined ? null : (previousRaw as RawValue);
  const entries = entriesOf(doc, ch.spec, ch.host);
  if (ch.action === 'remove') {
    for (const e of entries.reverse()) doc.remove(e.section, e.key);
    return { spec: ch.spec, id: ch.id, action: ch.action, previous, value: null, changed: entries.length > 0 };
  }
  const text = ch.text ?? '';
  const last = entries[entries.length - 1];
  if (last) {
    if (last.value !== text) doc.set(last.section, last.key, text);
  } else if (ch.host !== undefined) {
    // The section exists (parseSettingChanges checked): the key goes at its end.
    const section = doc.sectionNames().filter((n) => n.toLowerCase() === `host:${ch.host}`).pop();
    if (section === undefined) throw conflict(`the settings file no longer has a [host:${ch.host}] section (removed by hand since the server started); nothing was changed`);
    doc.set(section, ch.spec.key, text);
  } else {
    const section = doc.sectionNames().filter((n) => canonicalSection(n) === ch.spec.section).pop();
    if (section === undefined) doc.addSection(ch.spec.section);
    doc.set(section ?? ch.spec.section, ch.spec.key, text);
  }
  return { spec: ch.spec, id: ch.id, action: ch.action, previous, value: text, changed: last?.value !== text };
}

/** The edited file sets exactly what was asked, and every other setting as before. */
export function verifySettings(before: string, after: string, path: string, changes: SettingChange[]): void {
  const old = fileValues(before, path);
  const now = fileValues(after, path);
  const check = (spec: SettingSpec, host: string | undefined, o: unknown, n: unknown) => {
    const ch = changes.find((x) => x.spec === spec && x.host === host);
    const expected = !ch ? o : ch.action === 'remove' ? undefined : ch.text;
    if (n !== expected) {
      const id = host === undefined ? `${spec.section}.${spec.key}` : `host:${host}.${spec.key}`;
      throw new ApiError(500, 'ConfigEditFailed', `refusing to write ${path}: ${id} does not read back as intended; nothing was changed`, { file: path });
    }
  };
  for (const spec of SETTINGS) check(spec, undefined, old.values.get(spec), now.values.get(spec));
  for (const host of new Set([...old.hosts.keys(), ...now.hosts.keys()])) {
    for (const spec of SETTINGS.filter((s) => s.section === 'barman')) check(spec, host, old.hosts.get(host)?.get(spec), now.hosts.get(host)?.get(spec));
  }
}

/** The text with every secret's value replaced, for diffs; other lines stay as they are. */
export function maskSecrets(text: string, changed: ReadonlySet<SettingSpec> = new Set()): string {
  const doc = new IniDocument(text);
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  for (const spec of SETTINGS.filter((s) => s.secret)) {
    for (const e of entriesOf(doc, spec)) {
      if (e.value === '') continue;
      for (let i = e.first; i <= e.last; i++) {
        const eol = /\r?\n$/.exec(lines[i] ?? '')?.[0] ?? '';
        lines[i] = i === e.first ? `${e.key} = ${SECRET_MASK}${changed.has(spec) ? ' (changed)' : ''}${eol}` : eol;
      }
    }
  }
  return lines.join('');
}

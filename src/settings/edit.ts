/**
 * Edits of the settings file for /config/barmanapi/change: what a request asks, applied to the
 * INI document under any spelling of section and key, checked to read back as intended, and a
 * diff with every secret masked.
 */
import { ApiError, badRequest } from '../http/errors.js';
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
  id: string;
  action: 'set' | 'remove';
  /** The text written to the file. */
  text?: string;
}

/** The settings a file sets, by spec, as written (the last spelling wins, as in the loader). */
export function fileValues(text: string, path: string): { values: Map<SettingSpec, unknown>; warnings: string[] } {
  const { entries, warnings } = readSettingsFile(text, path, { strict: false });
  return { values: new Map(entries.filter((e) => !e.host).map((e) => [e.spec, e.value])), warnings };
}

export function parseSettingChanges(params: Params): SettingChange[] {
  const changes: SettingChange[] = [];
  const seen = new Set<SettingSpec>();
  const add = (name: string, action: 'set' | 'remove', raw?: unknown) => {
    const dot = name.lastIndexOf('.');
    if (dot < 0) throw badRequest(`${JSON.stringify(name)} has no section: write section.key, e.g. barman.timeout=600`, { parameter: name });
    const section = name.slice(0, dot);
    const key = name.slice(dot + 1);
    const spec = findSetting(section, key);
    if (!spec) {
      throw badRequest(`unknown setting ${JSON.stringify(name)}; settings: ${SETTINGS.map((s) => `${s.section}.${s.key}`).join(', ')}`, { parameter: name });
    }
    const id = `${spec.section}.${spec.key}`;
    if (seen.has(spec)) throw badRequest(`${id} is changed twice in one request`, { parameter: name });
    seen.add(spec);
    if (action === 'remove') {
      changes.push({ spec, id, action });
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
    changes.push({ spec, id, action, text: formatSetting(value) });
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

/** Every place the file sets this spec, under any spelling of its section or key, in file order. */
function entriesOf(doc: IniDocument, spec: SettingSpec) {
  return doc.sections
    .filter((s) => s.header >= 0 && canonicalSection(s.name) === spec.section)
    .flatMap((s) => s.entries.filter((e) => findSetting(s.name, e.key) === spec))
    .sort((a, b) => a.first - b.first);
}

export function applySetting(doc: IniDocument, ch: SettingChange, previousRaw: unknown) {
  const previous = previousRaw === undefined ? null : (previousRaw as RawValue);
  const entries = entriesOf(doc, ch.spec);
  if (ch.action === 'remove') {
    for (const e of entries.reverse()) doc.remove(e.section, e.key);
    return { spec: ch.spec, id: ch.id, action: ch.action, previous, value: null, changed: entries.length > 0 };
  }
  const text = ch.text ?? '';
  const last = entries[entries.length - 1];
  if (last) {
    if (last.value !== text) doc.set(last.section, last.key, text);
  } else {
    const section = doc.sectionNames().filter((n) => canonicalSection(n) === ch.spec.section).pop();
    if (section === undefined) doc.addSection(ch.spec.section);
    doc.set(section ?? ch.spec.section, ch.spec.key, text);
  }
  return { spec: ch.spec, id: ch.id, action: ch.action, previous, value: text, changed: last?.value !== text };
}

/** The edited file sets exactly what was asked, and every other setting as before. */
export function verifySettings(before: string, after: string, path: string, changes: SettingChange[]): void {
  const old = fileValues(before, path).values;
  const now = fileValues(after, path).values;
  const touched = new Set(changes.map((ch) => ch.spec));
  for (const spec of SETTINGS) {
    const o = old.get(spec);
    const n = now.get(spec);
    const ch = changes.find((x) => x.spec === spec);
    const expected = !touched.has(spec) ? o : ch?.action === 'remove' ? undefined : ch?.text;
    if (n !== expected) {
      throw new ApiError(500, 'ConfigEditFailed', `refusing to write ${path}: ${spec.section}.${spec.key} does not read back as intended; nothing was changed`, { file: path });
    }
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

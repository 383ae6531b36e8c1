/**
 * /config/barmanapi: our own settings file, secrets hidden, and its comment-preserving editor.
 * Values are checked by the same table and coerce() the loader uses, and the whole edited file
 * must load before it is written, so a change can never leave a file the server refuses to start with.
 */
import { Hono } from 'hono';
import { parse as parseToml } from 'smol-toml';
import type { AppDeps, AppEnv } from '../context.js';
import { ok } from '../http/envelope.js';
import { ApiError, badRequest, conflict, forbidden } from '../http/errors.js';
import { flag, readParams, rejectUnknown, type Params } from '../http/params.js';
import { formatList, IniDocument } from '../ini/document.js';
import { KeyedMutex } from '../util/mutex.js';
import { redact } from '../util/redact.js';
import { unifiedDiff } from '../barman-config/diff.js';
import { describeFileError, keepBackup } from '../barman-config/file-errors.js';
import { holdsGrant } from '../auth/policy.js';
import { editLocked } from '../util/locked-edit.js';
import { backupRetention } from '../barman-config/file-errors.js';
import { refuseControlCharacters } from '../util/control-chars.js';
import { coerce, loadSettings, SettingsError, type RawValue, type Settings } from './load.js';
import { canonicalSection, findSetting, SETTINGS, type SettingSpec } from './schema.js';
import { APPLY_LIVE, isPrivilegedSetting, MIN_TOKEN_SECRET_LENGTH, SETTINGS_EXEC_ACCESS_PATH } from './policy.js';

const SECRET_MASK = '***';

interface FileValue {
  spec: SettingSpec;
  raw: unknown;
}

/** The settings a file sets, by spec (the last spelling wins, as in the loader). */
function readFileValues(text: string, path: string): { values: Map<SettingSpec, FileValue>; warnings: string[] } {
  const values = new Map<SettingSpec, FileValue>();
  const warnings: string[] = [];
  const add = (section: string, key: string, raw: unknown) => {
    const spec = findSetting(section, key);
    if (spec) values.set(spec, { spec, raw });
    else warnings.push(`[${section}] ${key}: unknown setting, ignored`);
  };
  if (isToml(path)) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      throw new ApiError(500, 'SettingsUnreadable', `${path} is not valid TOML: ${(err as Error).message.split('\n')[0]}`);
    }
    for (const [section, table] of Object.entries(doc)) {
      if (typeof table === 'object' && table !== null && !Array.isArray(table) && canonicalSection(section)) {
        for (const [key, raw] of Object.entries(table)) add(section, key, raw);
      } else warnings.push(`[${section}]: unknown section, ignored`);
    }
  } else {
    const doc = new IniDocument(text);
    for (const p of doc.problems) warnings.push(p.message);
    for (const section of doc.sectionNames().filter((n, i, all) => all.indexOf(n) === i)) {
      if (!canonicalSection(section)) {
        warnings.push(`[${section}]: unknown section, ignored`);
        continue;
      }
      for (const [key, raw] of Object.entries(doc.values(section))) add(section, key, raw);
    }
  }
  return { values, warnings };
}

function isToml(path: string): boolean {
  return path.toLowerCase().endsWith('.toml');
}

function shown(spec: SettingSpec, value: RawValue | unknown): unknown {
  if (spec.secret) return value === '' || value === undefined ? '' : SECRET_MASK;
  return typeof value === 'string' ? redact(value) : value;
}

interface SettingChange {
  spec: SettingSpec;
  id: string;
  action: 'set' | 'remove';
  /** The text written to the file. */
  text?: string;
}

export function settingsRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const lock = new KeyedMutex();

  r.all('/', async (c) => {
    rejectUnknown(await readParams(c), []);
    const file = deps.settingsFile;
    const text = file ? await file.read().catch((err: unknown) => {
      throw describeFileError(err, 'read', file.path, { description: 'local' });
    }) : null;
    const { values, warnings } = text !== null && file ? readFileValues(text, file.path) : { values: new Map<SettingSpec, FileValue>(), warnings: [] };
    const list = SETTINGS.map((spec) => {
      const found = values.get(spec);
      let value: unknown = spec.default;
      if (found) {
        try {
          value = coerce(spec, found.raw, file?.path ?? null, spec.section, spec.key);
        } catch (err) {
          value = found.raw;
          warnings.push((err as Error).message);
        }
      }
      return {
        section: spec.section,
        key: spec.key,
        value: shown(spec, value),
        default: shown(spec, spec.default),
        from: found ? 'file' : 'default',
        type: spec.type,
        ...(spec.choices ? { choices: spec.choices } : {}),
        ...(spec.min !== undefined ? { min: spec.min } : {}),
        ...(spec.max !== undefined ? { max: spec.max } : {}),
        secret: spec.secret === true,
        live: APPLY_LIVE[`${spec.section}.${spec.key}`] !== undefined,
        privileged: isPrivilegedSetting(spec),
        description: spec.description,
      };
    });
    return c.json(ok(list, {
      file: file?.path ?? null,
      format: file ? (isToml(file.path) ? 'toml' : 'ini') : null,
      warnings: warnings.map(redact),
      note: 'BARMANAPI_<SECTION>_<KEY> variables and command-line flags override the file; values shown are the file\'s (or the defaults).',
    }));
  });

  r.all('/change', async (c) => {
    const params = await readParams(c);
    const changes = parseSettingChanges(params);
    const dryRun = flag(params, 'dry_run');
    const file = deps.settingsFile;
    if (!file) throw conflict('barmanapi was started without a settings file, so there is none to change; start it with --config FILE');
    if (isToml(file.path)) {
      throw conflict(`${file.path} is TOML: the API edits only INI settings files, where it can keep every comment and line as it is; edit the TOML file by hand, or switch to the INI format`, { file: file.path });
    }
    const privileged = changes.filter((ch) => isPrivilegedSetting(ch.spec)).map((ch) => ch.id);
    if (privileged.length > 0 && !holdsGrant(c.get('user'), SETTINGS_EXEC_ACCESS_PATH)) {
      throw forbidden(`changing ${privileged.join(', ')} needs an access rule that names ${SETTINGS_EXEC_ACCESS_PATH}: these settings decide what the API runs, who can reach it and log in, what the audit log keeps, or hold secrets`);
    }

    const outcome = await lock.run(file.path, () =>
      editLocked(file, async (current) => {
        const before = current ?? '';
        const doc = new IniDocument(before);
        if (doc.problems.length > 0) {
          throw conflict(`${file.path} has lines the settings loader cannot read (${redact(doc.problems.map((p) => p.message).join('; '))}); fix it by hand first`, { file: file.path });
        }
        const previous = readFileValues(before, file.path).values;
        const results = changes.map((ch) => applySetting(doc, ch, previous.get(ch.spec)?.raw));
        const after = doc.toString();
        let next: Settings;
        try {
          next = loadSettings({ text: after, path: file.path });
        } catch (err) {
          if (err instanceof SettingsError) throw badRequest(`the change would leave settings the server refuses: ${err.message}`);
          throw err;
        }
        verifySettings(before, after, file.path, changes);
        const changedSpecs = new Set(results.filter((x) => x.changed).map((x) => x.spec));
        const diff = unifiedDiff(maskSecrets(before), maskSecrets(after, changedSpecs), { fromFile: file.path, toFile: file.path });
        if (dryRun || after === before) return { text: null, value: { results, diff, next, backup: null as string | null, written: false } };
        const backup = await keepBackup(deps.storage, deps.clock, file.path, before, backupRetention(deps.settings));
        return { text: after, value: { results, diff, next, backup, written: true } };
      }).catch((err: unknown) => {
        throw describeFileError(err, 'write', file.path, { description: 'local' });
      }),
    );

    const changed = outcome.results.filter((x) => x.changed).map((x) => x.id);
    const live = outcome.written ? changed.filter((id) => APPLY_LIVE[id] !== undefined) : [];
    for (const id of live) APPLY_LIVE[id]!(deps.settings, outcome.next);
    const restart = changed.filter((id) => APPLY_LIVE[id] === undefined);
    if (outcome.written) {
      deps.logger.log('info', 'barmanapi settings changed', { user: c.get('user').username, file: file.path, keys: changed, backup: outcome.backup });
    }
    const message = dryRun
      ? 'dry run: nothing was changed'
      : restart.length > 0
        ? `Restart barmanapi to apply ${restart.join(', ')}.`
        : '';
    return c.json(ok(outcome.results.map(({ spec, ...rest }) => ({
      ...rest,
      previous: shown(spec, rest.previous),
      value: shown(spec, rest.value),
      live: APPLY_LIVE[rest.id] !== undefined,
    })), {
      file: file.path,
      dry_run: dryRun,
      written: outcome.written,
      applied_live: live,
      restart_required: dryRun ? [] : restart,
      diff: outcome.diff,
      backup: outcome.backup,
    }, message));
  });

  return r;
}

function parseSettingChanges(params: Params): SettingChange[] {
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

function applySetting(doc: IniDocument, ch: SettingChange, previousRaw: unknown) {
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
function verifySettings(before: string, after: string, path: string, changes: SettingChange[]): void {
  const old = readFileValues(before, path).values;
  const now = readFileValues(after, path).values;
  const touched = new Set(changes.map((ch) => ch.spec));
  for (const spec of SETTINGS) {
    const o = old.get(spec)?.raw;
    const n = now.get(spec)?.raw;
    const ch = changes.find((x) => x.spec === spec);
    const expected = !touched.has(spec) ? o : ch?.action === 'remove' ? undefined : ch?.text;
    if (n !== expected) {
      throw new ApiError(500, 'ConfigEditFailed', `refusing to write ${path}: ${spec.section}.${spec.key} does not read back as intended; nothing was changed`, { file: path });
    }
  }
}

/** The text with every secret's value replaced, for diffs; other lines stay as they are. */
function maskSecrets(text: string, changed: ReadonlySet<SettingSpec> = new Set()): string {
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

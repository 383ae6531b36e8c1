/**
 * /config/barmanapi: our own settings file, secrets hidden, and its comment-preserving editor.
 * Values are checked by the same table and coerce() the loader uses, and the whole edited file
 * must load before it is written, so a change can never leave a file the server refuses to start with.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import { holdsGrant, reachesHost, SETTINGS_EXEC_GRANT } from '../auth/policy.js';
import { unifiedDiff } from '../barman-config/diff.js';
import { backupRetention } from '../files/backups.js';
import { changeFile, textFileTarget } from '../files/change.js';
import { describeFileError } from '../files/errors.js';
import { ok } from '../http/envelope.js';
import { ApiError, badRequest, conflict, forbidden } from '../http/errors.js';
import { readParams, type Params } from '../http/params.js';
import { flag, lazySchema, noParams, openValues, parseParams } from '../http/schema.js';
import { IniDocument } from '../ini/document.js';
import type { TextFile } from '../ports.js';
import { KeyedMutex } from '../util/mutex.js';
import { redact } from '../util/redact.js';
import { applySetting, fileValues, maskSecrets, parseSettingChanges, SECRET_MASK, verifySettings } from './edit.js';
import { isToml } from './file.js';
import { coerce, loadSettings, SettingsError, type RawValue, type Settings } from './load.js';
import { APPLY_LIVE, isPrivilegedSetting } from './policy.js';
import { SETTINGS, type SettingSpec } from './schema.js';

const LOCAL = { description: 'local' };

/** /config/barmanapi/change: section.key=value pairs (and remove=…), dry_run to see the diff only. */
export const settingsChangeParams = lazySchema((z) => z.object({ dry_run: flag() }).catchall(openValues()));

/**
 * The settings hold every barman host's ([barman] and each [host:NAME]) and the whole API's: they
 * are seen and changed only by users who reach every host the server runs with (with one host,
 * anyone who reaches it), so a user limited to some hosts learns nothing of the others.
 */
export function checkReachesAll(deps: Deps, c: Context<AppEnv>): void {
  const user = c.get('user');
  if (deps.settings.current().hosts.every((h) => reachesHost(user, h.name))) return;
  throw forbidden(`the settings cover every barman host and the whole API: user ${user.username} does not reach every host`);
}

/** Changes of the settings file made by this process, one at a time (its lock covers other processes). */
const mutex = new KeyedMutex();

export function settingsRoutes(deps: Deps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  r.all('/', async (c) => {
    checkReachesAll(deps, c);
    await parseParams(noParams, await readParams(c));
    const { settings, ...rest } = await settingsView(deps.settingsFile);
    return c.json(ok(settings, rest));
  });
  r.all('/change', async (c) => {
    checkReachesAll(deps, c);
    const { changes, message, ...rest } = await changeSettings(deps, c, await readParams(c));
    return c.json(ok(changes, rest, message));
  });
  return r;
}

function shown(spec: SettingSpec, value: RawValue | unknown): unknown {
  if (spec.secret) return value === '' || value === undefined ? '' : Array.isArray(value) ? value.map(() => SECRET_MASK) : SECRET_MASK;
  return typeof value === 'string' ? redact(value) : value;
}

/** Every setting with the file's value (or the default), where it came from and how it may change. */
export async function settingsView(file: TextFile | undefined) {
  const text = file ? await file.read().catch((err: unknown) => Promise.reject(describeFileError(err, 'read', file.path, LOCAL))) : null;
  const { values, hosts, warnings } = text !== null && file ? readValues(text, file.path) : { values: new Map<SettingSpec, unknown>(), hosts: new Map<string, Map<SettingSpec, unknown>>(), warnings: [] };
  const row = (spec: SettingSpec, values: Map<SettingSpec, unknown>, host?: string) => {
    const found = values.has(spec);
    let value: unknown = spec.default;
    if (found) {
      try {
        value = coerce(spec, values.get(spec), file?.path ?? null, spec.section, spec.key);
      } catch (err) {
        value = values.get(spec);
        warnings.push((err as Error).message);
      }
    }
    return {
      section: host === undefined ? spec.section : `host:${host}`,
      ...(host === undefined ? {} : { host }),
      key: spec.key,
      value: shown(spec, value),
      default: shown(spec, spec.default),
      from: found ? 'file' : 'default',
      type: spec.type,
      ...(spec.choices ? { choices: spec.choices } : {}),
      ...(spec.min !== undefined ? { min: spec.min } : {}),
      ...(spec.max !== undefined ? { max: spec.max } : {}),
      secret: spec.secret === true,
      // A further host's settings are read at start only.
      live: host === undefined && APPLY_LIVE[`${spec.section}.${spec.key}`] !== undefined,
      privileged: isPrivilegedSetting(spec),
      description: spec.description,
    };
  };
  const list = [
    ...SETTINGS.map((spec) => row(spec, values)),
    // Each further barman host ([host:NAME]): the keys of [barman], as its section sets them.
    ...[...hosts].flatMap(([name, own]) => SETTINGS.filter((spec) => spec.section === 'barman').map((spec) => row(spec, own, name))),
  ];
  return {
    settings: list,
    file: file?.path ?? null,
    format: file ? (isToml(file.path) ? 'toml' : 'ini') : null,
    warnings: warnings.map(redact),
    note: 'BARMANAPI_<SECTION>_<KEY> variables and command-line flags override the file; values shown are the file\'s (or the defaults).',
  };
}

/** fileValues, with a file that cannot be parsed as a 500 that says why. */
function readValues(text: string, path: string) {
  try {
    return fileValues(text, path);
  } catch (err) {
    if (err instanceof SettingsError) throw new ApiError(500, 'SettingsUnreadable', redact(err.message), { file: path });
    throw err;
  }
}

/**
 * Change settings (section.key=value, host:NAME.key=value, dry_run) in the settings file, under
 * its locks; what applies live is applied, the rest waits for a restart.
 */
export async function changeSettings(deps: Deps, c: Context<AppEnv>, params: Params) {
  const { dry_run: dryRun } = await parseParams(settingsChangeParams, params);
  const file = deps.settingsFile;
  if (!file) throw conflict('barmanapi was started without a settings file, so there is none to change; start it with --config FILE');
  const changes = parseSettingChanges(params, new Set(deps.settings.current().hosts.slice(1).map((h) => h.name)));
  if (isToml(file.path)) {
    throw conflict(`${file.path} is TOML: the API edits only INI settings files, where it can keep every comment and line as it is; edit the TOML file by hand, or switch to the INI format`, { file: file.path });
  }
  const privileged = changes.filter((ch) => isPrivilegedSetting(ch.spec)).map((ch) => ch.id);
  if (privileged.length > 0 && !holdsGrant(c.get('user'), SETTINGS_EXEC_GRANT)) {
    throw forbidden(`changing ${privileged.join(', ')} needs an access rule that names ${SETTINGS_EXEC_GRANT}: these settings decide what the API runs, who can reach it and log in, what the audit log keeps, or hold secrets`);
  }

  const ctx = { backups: { storage: deps.storage, clock: deps.clock, retention: backupRetention(deps.settings.current()) }, mutex };
  const outcome = await changeFile(textFileTarget(file), ctx, dryRun, async (current) => {
    const before = current ?? '';
    const doc = new IniDocument(before);
    if (doc.problems.length > 0) {
      throw conflict(`${file.path} has lines the settings loader cannot read (${redact(doc.problems.map((p) => p.message).join('; '))}); fix it by hand first`, { file: file.path });
    }
    const previous = fileValues(before, file.path);
    const results = changes.map((ch) => applySetting(doc, ch, (ch.host === undefined ? previous.values : previous.hosts.get(ch.host))?.get(ch.spec)));
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
    return { after, value: { results, diff, next } };
  }).catch((err: unknown) => Promise.reject(describeFileError(err, 'write', file.path, LOCAL)));
  if (outcome === 'retry' || outcome === 'changed-meanwhile') {
    throw conflict(`${file.path} was changed by someone else while this change was being made; nothing was written, try again`, { file: file.path });
  }

  const { results, diff, next } = outcome.value;
  const changed = results.filter((x) => x.changed).map((x) => x.id);
  // A further host's keys are read at start only (`host:NAME.key` is in no live table).
  const live = outcome.written ? changed.filter((id) => APPLY_LIVE[id] !== undefined) : [];
  deps.settings.update(next, live);
  const restart = changed.filter((id) => APPLY_LIVE[id] === undefined);
  if (outcome.written) {
    deps.logger.log('info', 'barmanapi settings changed', { user: c.get('user').username, file: file.path, keys: changed, backup: outcome.backup });
  }
  const message = dryRun ? 'dry run: nothing was changed' : restart.length > 0 ? `Restart barmanapi to apply ${restart.join(', ')}.` : '';
  return {
    changes: results.map(({ spec, ...rest }) => ({
      ...rest,
      previous: shown(spec, rest.previous),
      value: shown(spec, rest.value),
      live: APPLY_LIVE[rest.id] !== undefined,
    })),
    file: file.path,
    dry_run: dryRun,
    written: outcome.written,
    applied_live: live,
    restart_required: dryRun ? [] : restart,
    diff,
    backup: outcome.backup,
    message,
  };
}

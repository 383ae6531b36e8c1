import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';
import { ok } from '../http/envelope.js';
import { badRequest, conflict } from '../http/errors.js';
import { flag, readParams, rejectUnknown, single } from '../http/params.js';
import { settingsRoutes } from '../settings/routes.js';
import { KeyedMutex } from '../util/mutex.js';
import { dirname, joinPath } from '../util/path.js';
import type { FileOwnership } from '../ports.js';
import { unifiedDiff } from './diff.js';
import { applyChanges, parseChangeRequest, planChange, privilegeReason, type ChangePlan, type ChangeResult } from './editor.js';
import { backupRetention, describeFileError, keepBackup } from './file-errors.js';
import { holdsGrant } from '../auth/policy.js';
import { firstSentence, type BarmanOption, type OptionScope } from './option-catalogue.js';
import { knownOptions, OptionCatalogueStore, type InstalledOptions } from './options-store.js';
import { publicView, readBarmanConfig, redactValue } from './reader.js';

export interface ConfigRoutesOptions {
  /** The installed barman's version, e.g. `async () => (await catalogue.get()).version`. */
  versionOf: () => Promise<string>;
}

/** The exact-name grant that lets a user change options barman executes (an empty access list or that exact rule). */
export const EXEC_ACCESS_PATH = 'config/barman/exec' as const;
/** Another request changed the file between our read and our write this many times in a row: give up. */
const MAX_WRITE_ATTEMPTS = 3;

/** /config: barman's configuration (/config/barman…) and ours (/config/barmanapi…). */
export function configRoutes(deps: AppDeps, opts: ConfigRoutesOptions): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const options = new OptionCatalogueStore(deps, opts.versionOf);
  const fileLock = new KeyedMutex();

  r.all('/barman', async (c) => {
    rejectUnknown(await readParams(c), []);
    const view = publicView(await readBarmanConfig(deps.host, deps.settings.barman.configFile));
    return c.json(ok(view.sections, {
      main_file: view.mainFile,
      configuration_files_directory: view.directory,
      files: view.files,
      sections: Object.fromEntries(view.sections.map((s) => [s.name, s])),
      warnings: view.warnings,
    }));
  });

  r.all('/barman/help', async (c) => {
    rejectUnknown(await readParams(c), []);
    return c.json(describeCatalogue(await options.get()));
  });

  r.all('/barman/reload', async (c) => {
    rejectUnknown(await readParams(c), []);
    return c.json(describeCatalogue(await options.reload()));
  });

  r.all('/barman/template', async (c) => {
    const params = await readParams(c);
    rejectUnknown(params, ['scope', 'section']);
    const scope = (single(params, 'scope') ?? 'server').toLowerCase();
    if (scope !== 'global' && scope !== 'server' && scope !== 'model') {
      throw badRequest('scope must be global, server or model', { parameter: 'scope', allowed: ['global', 'server', 'model'] });
    }
    const section = single(params, 'section') ?? (scope === 'global' ? 'barman' : 'example');
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(section)) throw badRequest('section: letters, digits, ".", "_" and "-" only', { parameter: 'section' });
    const installed = await options.get();
    const picked = knownOptions(installed.catalogue).filter((o) => o.scopes.length === 0 || o.scopes.includes(scope));
    return c.json(ok(picked.map(summary), {
      scope,
      section,
      source: installed.catalogue.source,
      barman_version: installed.version ?? installed.catalogue.barmanVersion,
      template: makeTemplate(section, scope, picked, installed),
    }));
  });

  r.all('/barman/change', async (c) => {
    const params = await readParams(c);
    const req = parseChangeRequest(params, (name) => flag(params, name));
    const installed = await options.get();
    const mayChangeExecutable = holdsGrant(c.get('user'), EXEC_ACCESS_PATH);
    const user = c.get('user').username;

    for (let attempt = 1; ; attempt++) {
      const view = await readBarmanConfig(deps.host, deps.settings.barman.configFile);
      const plan = planChange(req, { view, options: knownOptions(installed.catalogue), mayChangeExecutable });
      // In this process, then across processes (other servers, on this machine or over SFTP).
      const outcome = await fileLock.run(plan.file, async () => {
        const release = req.dryRun ? null : await deps.host.lockFile?.(plan.file);
        try {
          return await writePlan(plan, req.dryRun, user);
        } finally {
          await release?.();
        }
      });
      if (outcome === 'retry') {
        if (attempt < MAX_WRITE_ATTEMPTS) continue;
        throw conflict(`${plan.file} kept changing while this request tried to write it; nothing was changed, try again`, { file: plan.file });
      }
      return c.json(ok(outcome.results.map(publicResult), {
        file: plan.file,
        dry_run: req.dryRun,
        diff: outcome.diff,
        written: outcome.written,
        write_mode: outcome.mode,
        backup: outcome.backup,
        warnings: plan.warnings,
        ...(outcome.written ? { note: 'barman reads its configuration on every run; processes already running (receive-wal) keep the old values until they restart.' } : {}),
      }, outcome.message));
    }
  });

  interface Written {
    results: ChangeResult[];
    diff: string;
    written: boolean;
    mode: 'replaced' | 'in-place' | 'created' | null;
    backup: string | null;
    message: string;
  }

  /** Under the file's lock: re-read, apply, and (unless a dry run) back up and replace the file. */
  async function writePlan(plan: ChangePlan, dryRun: boolean, user: string): Promise<Written | 'retry'> {
    const read = () => deps.host.readFile(plan.file).catch((err: unknown) => {
      throw describeFileError(err, 'read', plan.file, deps.host);
    });
    const before = await read();
    if (before === null && !plan.newFile) return 'retry'; // removed meanwhile: plan again
    const { text: after, results } = applyChanges(before, plan);
    const diff = redactValue(unifiedDiff(before ?? '', after, { fromFile: before === null ? '/dev/null' : plan.file, toFile: plan.file }));
    if (dryRun || after === before) {
      return { results, diff, written: false, mode: null, backup: null, message: dryRun ? 'dry run: nothing was changed' : 'nothing to change: the file already says so' };
    }
    // Someone outside this process may have written the file since it was read.
    if ((await read()) !== before) return 'retry';
    const backup = before === null ? null : await keepBackup(deps.storage, deps.clock, plan.file, before, backupRetention(deps.settings));
    let mode: 'replaced' | 'in-place';
    try {
      ({ mode } = await deps.host.writeFile(plan.file, after, before === null ? await siblingOwnership(plan.file) : undefined));
    } catch (err) {
      const info = await deps.host.stat(plan.file).catch(() => null);
      throw describeFileError(err, 'write', plan.file, deps.host, info);
    }
    deps.logger.log('info', 'barman configuration changed', {
      user,
      file: plan.file,
      keys: results.filter((r) => r.changed).map((r) => `${r.section}.${r.key}`),
      mode,
      backup,
    });
    const message = mode === 'in-place'
      ? `The folder of ${plan.file} is not writable, so the file was rewritten in place (not atomically); the previous content is in the store at ${backup}.`
      : '';
    return { results, diff, written: true, mode: before === null ? 'created' : mode, backup, message };
  }

  /**
   * A new server file looks like the files beside it (barman's user, their mode), or, in an
   * empty folder, belongs to the folder's owner with mode 0644 less what the folder withholds.
   */
  async function siblingOwnership(file: string): Promise<FileOwnership | undefined> {
    const folder = dirname(file);
    for (const name of (await deps.host.listDir(folder)).filter((n) => n.endsWith('.conf')).sort()) {
      const info = await deps.host.stat(joinPath(folder, name)).catch(() => null);
      if (info && !info.isDirectory) return { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777 };
    }
    const dir = await deps.host.stat(folder).catch(() => null);
    return dir ? { uid: dir.uid, gid: dir.gid, mode: 0o644 & dir.mode } : undefined;
  }

  r.route('/barmanapi', settingsRoutes(deps));
  return r;
}

function publicResult(r: ChangeResult) {
  return {
    ...r,
    previous: r.previous === null ? null : redactValue(r.previous),
    value: r.value === null ? null : redactValue(r.value),
  };
}

function summary(o: BarmanOption & { documented: boolean }) {
  return {
    name: o.name,
    description: o.description,
    scopes: o.scopes,
    type: o.type,
    choices: o.choices,
    default: o.default,
    executes: o.executes,
    /** Changing it needs an access rule naming config/barman/exec. */
    privileged: privilegeReason(o.name) !== null,
    documented: o.documented,
  };
}

function describeCatalogue(installed: InstalledOptions) {
  const all = knownOptions(installed.catalogue);
  return ok(all.map(summary), {
    source: installed.catalogue.source,
    man_page: installed.manPage,
    barman_version: installed.version ?? installed.catalogue.barmanVersion,
    options: all.length,
    built_at: installed.builtAt,
    ...(installed.fallbackReason ? { fallback_reason: installed.fallbackReason } : {}),
  });
}

/** A commented-out section: every option of the scope with its first sentence and default. */
function makeTemplate(section: string, scope: OptionScope, picked: BarmanOption[], installed: InstalledOptions): string {
  const version = installed.version ?? installed.catalogue.barmanVersion ?? 'unknown';
  const lines = [
    `; [${section}]: ${scope} options of barman ${version} (from ${installed.manPage ?? 'the built-in catalogue'}).`,
    '; Uncomment and set what you need; see /config/barman/help for the full descriptions.',
    `[${section}]`,
  ];
  for (const o of picked) {
    lines.push('', `; ${firstSentence(o.description).replace(/\s+/g, ' ')}`);
    if (o.choices) lines.push(`; values: ${o.choices.join(', ')}`);
    if (privilegeReason(o.name)) lines.push('; changing it through the API needs access to config/barman/exec');
    lines.push(`;${o.name} = ${o.default ?? ''}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

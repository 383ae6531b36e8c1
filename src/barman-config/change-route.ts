/** /config/barman/change: plan a change of barman's configuration, then make it under the file's locks. */
import type { Context } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import { CONFIG_EXEC_GRANT, holdsGrant } from '../auth/policy.js';
import { backupRetention } from '../files/backups.js';
import { changeFile, type ChangeTarget } from '../files/change.js';
import { describeFileError } from '../files/errors.js';
import { ok } from '../http/envelope.js';
import { conflict } from '../http/errors.js';
import type { Params } from '../http/params.js';
import { flag, lazySchema, openValues, parseParams } from '../http/schema.js';
import type { FileOwnership } from '../ports.js';
import { KeyedMutex } from '../util/mutex.js';
import { dirname, joinPath } from '../util/path.js';
import { unifiedDiff } from './diff.js';
import { applyChanges, parseChangeRequest, planChange, type ChangePlan, type ChangeResult } from './editor.js';
import type { OptionCatalogueStore } from './options-store.js';
import { knownOptions } from './options-store.js';
import { readBarmanConfig, redactValue } from './reader.js';

/** Another writer changed the file between our read and our write this many times in a row: give up. */
const MAX_WRITE_ATTEMPTS = 3;

/** /config/barman/change: section.key=value pairs, remove=section.key, and how to apply them. */
export const configChangeParams = lazySchema((z) =>
  z.object({ create: flag(), force: flag(), dry_run: flag(), remove: openValues().optional() }).catchall(openValues()),
);

/** The barman host a change request is for, with its parameters (less `host`). */
export interface ChangeTargetHost {
  deps: Deps;
  options: OptionCatalogueStore;
  onChange?: () => void;
  params: Params;
}

/** Changes of barman's files made by this process, one at a time per file (the file lock covers other processes). */
const mutex = new KeyedMutex();

export function changeHandler(resolve: (c: Context<AppEnv>) => Promise<ChangeTargetHost>) {
  return async (c: Context<AppEnv>) => {
    const { results, message, ...rest } = await changeBarmanConfig(c, await resolve(c));
    return c.json(ok(results, rest, message));
  };
}

/** What a change of barman's configuration did (or, dry run, would do). */
export interface ConfigChangeOutcome {
  results: Array<ReturnType<typeof publicResult>>;
  file: string;
  dry_run: boolean;
  diff: string;
  written: boolean;
  write_mode: 'created' | 'replaced' | 'in-place' | null;
  backup: string | null;
  warnings: string[];
  note?: string;
  message: string;
}

/**
 * Plan a change (section.key=value, remove=section.key, create, force, dry_run), then make it
 * under the file's locks, again from a fresh read when another writer came first.
 */
export async function changeBarmanConfig(c: Context<AppEnv>, target: ChangeTargetHost): Promise<ConfigChangeOutcome> {
  const { deps, options, onChange, params } = target;
  const { create, force, dry_run } = await parseParams(configChangeParams, params);
  const flags: Record<string, boolean> = { create, force, dry_run };
  const req = parseChangeRequest(params, (name) => flags[name] ?? false);
  const installed = await options.get();
  const mayChangeExecutable = holdsGrant(c.get('user'), CONFIG_EXEC_GRANT);
  for (let attempt = 1; ; attempt++) {
    const view = await readBarmanConfig(deps.host, deps.settings.current().barman.configFile);
    const plan = planChange(req, { view, options: knownOptions(installed.catalogue), mayChangeExecutable });
    const ctx = { backups: { storage: deps.storage, clock: deps.clock, retention: backupRetention(deps.settings.current()) }, mutex };
    const outcome = await changeFile(hostTarget(deps, plan.file), ctx, req.dryRun, async (before) => {
      if (before === null && !plan.newFile) return 'retry'; // removed meanwhile: plan again
      const { text: after, results } = applyChanges(before, plan);
      return { after, value: results };
    });
    if (outcome === 'retry' || outcome === 'changed-meanwhile') {
      if (attempt < MAX_WRITE_ATTEMPTS) continue;
      throw conflict(`${plan.file} kept changing while this request tried to write it; nothing was changed, try again`, { file: plan.file });
    }
    const { before, after, value: results, written, backup } = outcome;
    if (written) onChange?.();
    const diff = redactValue(unifiedDiff(before ?? '', after, { fromFile: before === null ? '/dev/null' : plan.file, toFile: plan.file }));
    if (written) {
      deps.logger.log('info', 'barman configuration changed', {
        user: c.get('user').username,
        file: plan.file,
        keys: results.filter((r) => r.changed).map((r) => `${r.section}.${r.key}`),
        mode: outcome.mode,
        backup,
      });
    }
    return {
      results: results.map(publicResult),
      file: plan.file,
      dry_run: req.dryRun,
      diff,
      written,
      write_mode: written ? (before === null ? 'created' : outcome.mode) : null,
      backup,
      warnings: plan.warnings,
      ...(written ? { note: 'barman reads its configuration on every run; processes already running (receive-wal) keep the old values until they restart.' } : {}),
      message: message(req.dryRun, written, outcome.mode, plan, backup),
    };
  }
}

function message(dryRun: boolean, written: boolean, mode: 'replaced' | 'in-place' | null, plan: ChangePlan, backup: string | null): string {
  if (dryRun) return 'dry run: nothing was changed';
  if (!written) return 'nothing to change: the file already says so';
  return mode === 'in-place'
    ? `The folder of ${plan.file} is not writable, so the file was rewritten in place (not atomically); the previous content is in the store at ${backup}.`
    : '';
}

/** A file on the barman host: its lock, its content as its revision, a new file shaped like its neighbours. */
function hostTarget(deps: Deps, path: string): ChangeTarget {
  const read = () => deps.host.readFile(path).catch((err: unknown) => Promise.reject(describeFileError(err, 'read', path, deps.host)));
  return {
    path,
    lock: deps.host.lockFile ? () => deps.host.lockFile!(path) : undefined,
    read,
    revision: read,
    async write(text, before) {
      try {
        return (await deps.host.writeFile(path, text, before === null ? await siblingOwnership(deps, path) : undefined)).mode;
      } catch (err) {
        const info = await deps.host.stat(path).catch(() => null);
        throw describeFileError(err, 'write', path, deps.host, info);
      }
    },
  };
}

/**
 * A new server file looks like the files beside it (barman's user, their mode), or, in an
 * empty folder, belongs to the folder's owner with mode 0644 less what the folder withholds.
 */
async function siblingOwnership(deps: Deps, file: string): Promise<FileOwnership | undefined> {
  const folder = dirname(file);
  for (const name of (await deps.host.listDir(folder)).filter((n) => n.endsWith('.conf')).sort()) {
    const info = await deps.host.stat(joinPath(folder, name)).catch(() => null);
    if (info && !info.isDirectory) return { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777 };
  }
  const dir = await deps.host.stat(folder).catch(() => null);
  return dir ? { uid: dir.uid, gid: dir.gid, mode: 0o644 & dir.mode } : undefined;
}

function publicResult(r: ChangeResult) {
  return {
    ...r,
    previous: r.previous === null ? null : redactValue(r.previous),
    value: r.value === null ? null : redactValue(r.value),
  };
}

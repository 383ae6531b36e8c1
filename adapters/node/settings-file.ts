import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { serviceOwner } from './store-errors.js';
import { loadSettings, SettingsError, type Settings } from '../../src/settings/load.js';

export const DEFAULT_CONFIG = '/etc/barmanapi.conf';
export const STORE_FOLDERS = ['archive', 'active', 'config', 'garbage', 'logs'] as const;

/** Read the settings file named by --config, BARMANAPI_CONFIG or the default. */
export function readSettings(opts: { config?: string; env?: NodeJS.ProcessEnv; flags?: Record<string, string | undefined> } = {}): Settings {
  const env = opts.env ?? process.env;
  const explicit = opts.config ?? env.BARMANAPI_CONFIG;
  const path = resolve(explicit ?? DEFAULT_CONFIG);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Without an explicit file, a missing default means "use the defaults".
    if (code !== 'ENOENT' || explicit) {
      throw new SettingsError(path, null, null, code === 'ENOENT' ? 'file not found' : `cannot read (${code}); check its owner and mode`);
    }
  }
  return loadSettings({ text, path: text === null ? null : path, env, flags: opts.flags });
}

/**
 * Create the store's folders; a store that cannot be made or written gets the reason and the
 * exact commands that fix it. Folders are made one level at a time: a path that cannot exist
 * (under a file, or in /proc) fails at once with its reason.
 */
export function prepareStore(root: string): void {
  const owner = serviceOwner();
  const fix = (why: string) =>
    new Error(
      `store directory ${root} ${why}. Fix it with:\n  sudo mkdir -p ${root}\n  sudo chown ${owner} ${root}\n` +
        `or set [application] store_directory in the config file.`,
    );
  const problem = makeFolders(root);
  if (problem) throw fix(problem);
  try {
    accessSync(root, constants.W_OK | constants.X_OK);
  } catch {
    throw fix(`is not writable by ${owner}`);
  }
  for (const sub of STORE_FOLDERS) {
    const subProblem = makeFolders(`${root}/${sub}`);
    if (subProblem) throw fix(`has a ${sub} that ${subProblem.replace(/^does not exist and /, '')}`);
  }
}

/** mkdir -p, one level at a time; the reason it cannot, or null. */
function makeFolders(path: string): string | null {
  let current = '';
  for (const part of resolve(path).split('/').filter((p) => p !== '')) {
    current += `/${part}`;
    const s = statSync(current, { throwIfNoEntry: false });
    if (s) {
      if (!s.isDirectory()) return current === resolve(path) ? 'is not a directory' : `cannot be created: ${current} is not a directory`;
      continue;
    }
    try {
      mkdirSync(current, { mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      return `does not exist and cannot be created (mkdir ${current}: ${code ?? (e as Error).message})`;
    }
  }
  return null;
}

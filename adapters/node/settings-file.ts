import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
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

/** Create the store's folders; a missing or unwritable store gets the exact commands that fix it. */
export function prepareStore(root: string): void {
  const fix = (why: string) => {
    const user = process.env.USER ?? process.env.LOGNAME ?? 'barman';
    return new Error(
      `store directory ${root} ${why}. Fix it with:\n  sudo mkdir -p ${root}\n  sudo chown ${user}:${user} ${root}\n` +
        `or set [application] store_directory in the config file.`,
    );
  };
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch {
    throw fix('does not exist and cannot be created');
  }
  if (!statSync(root).isDirectory()) throw fix('is not a directory');
  try {
    accessSync(root, constants.W_OK | constants.X_OK);
  } catch {
    throw fix('is not writable by this user');
  }
  for (const sub of STORE_FOLDERS) mkdirSync(`${root}/${sub}`, { recursive: true, mode: 0o700 });
}

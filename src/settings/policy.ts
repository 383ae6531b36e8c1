/**
 * The rules about our own settings: which need the config/barmanapi/exec grant to change, and
 * which reach the running server without a restart (and how).
 */
import type { Settings } from './load.js';
import type { SettingSpec } from './schema.js';

/** The exact-name grant that lets a user change the settings below (held by an empty access list or that exact rule). */
export const SETTINGS_EXEC_ACCESS_PATH = 'config/barmanapi/exec' as const;

/**
 * Settings that decide what runs, who may log in or where secrets live: whoever changes them
 * controls the API host or every account, so they need an explicit grant. Secrets and `command`
 * settings are included by their spec.
 */
const PRIVILEGED = new Set([
  'user.configfile',
  // Password and token policy: weakening it weakens every account.
  'user.min_password_length',
  'authtoken.tokenlife',
  'application.store_directory',
  // Who can reach the API: with host=0.0.0.0 and allow_default_password, memin/1258 is open to
  // the network at the next restart; a new port can pass firewall rules written for another one.
  'application.host',
  'application.port',
  'application.allow_default_password',
  // More log lines rotate the audit trail away sooner.
  'application.debug',
  // Deletes archived job history (who ran what) once it applies.
  'jobs.keep_months',
  'barman.configfile',
  'barman.remote',
  'barman.remotessh',
  'barman.known_hosts',
  'barman.trust_on_first_use',
  'barman.allow_free_remote_ssh_command',
  'barman.path_roots',
  // Who may call the API from a browser page.
  'application.cors_origins',
  // Deleting earlier versions of configuration files erases the record of who changed what.
  'application.config_backups_keep',
  'application.config_backups_days',
  // Each can stop the service or starve the machine: a 1-second timeout kills every backup
  // check, `asynccommand` empties the job queue's guard, max_running 256 runs 256 barmans.
  'barman.timeout',
  'barman.asynccommand',
  'barman.max_output_bytes',
  'jobs.max_running',
  'barman.max_concurrent',
  'barman.max_queued',
]);

/**
 * Every setting of these sections. [log] holds the audit trail: backupcount=0 or maxbytes=1
 * erase it, a new format breaks whatever reads it.
 */
const PRIVILEGED_SECTIONS = new Set(['log']);

export function isPrivilegedSetting(spec: SettingSpec): boolean {
  return spec.type === 'command' || spec.secret === true || PRIVILEGED_SECTIONS.has(spec.section) || PRIVILEGED.has(`${spec.section}.${spec.key}`);
}

/** HS256 keys shorter than this are guessable offline from any token. */
export const MIN_TOKEN_SECRET_LENGTH = 32;

/** The settings that take effect without a restart, and how a new value reaches the running server. */
export const APPLY_LIVE: Record<string, (to: Settings, from: Settings) => void> = {
  'barman.asynccommand': (to, from) => void (to.barman.asyncCommands = from.barman.asyncCommands),
  'barman.timeout': (to, from) => void (to.barman.timeoutSeconds = from.barman.timeoutSeconds),
  'barman.max_output_bytes': (to, from) => void (to.barman.maxOutputBytes = from.barman.maxOutputBytes),
  'barman.allow_free_remote_ssh_command': (to, from) => void (to.barman.allowFreeRemoteSshCommand = from.barman.allowFreeRemoteSshCommand),
  'authtoken.tokenlife': (to, from) => void (to.authToken.tokenLife = from.authToken.tokenLife),
  'jobs.max_running': (to, from) => void (to.jobs.maxRunning = from.jobs.maxRunning),
  'barman.path_roots': (to, from) => void (to.barman.pathRoots = from.barman.pathRoots),
  'barman.max_concurrent': (to, from) => void (to.barman.maxConcurrent = from.barman.maxConcurrent),
  'barman.max_queued': (to, from) => void (to.barman.maxQueued = from.barman.maxQueued),
  'application.config_backups_keep': (to, from) => void (to.application.configBackupsKeep = from.application.configBackupsKeep),
  'application.config_backups_days': (to, from) => void (to.application.configBackupsDays = from.application.configBackupsDays),
  'user.min_password_length': (to, from) => void (to.user.minPasswordLength = from.user.minPasswordLength),
};


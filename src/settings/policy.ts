/**
 * The rules about our own settings: which need the config/barmanapi/exec grant to change, and
 * which reach the running server without a restart (and how).
 */
import type { Settings } from './load.js';
import type { SettingSpec } from './schema.js';

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
  // Whose word on the client's address is believed: a trusted peer can name any address, so
  // login throttling and the audit log would follow what it says.
  'application.trusted_proxies',
  'application.forwarded_header',
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
  // How often barman check runs in the background on every host.
  'metrics.check_interval',
]);

/**
 * Every setting of these sections. [log] holds the audit trail: backupcount=0 or maxbytes=1
 * erase it, a new format breaks whatever reads it. [tls] decides who can read the traffic and
 * which client certificates open the door. [webhooks] is a path for requests out of the API host
 * and for what barman does to leave it.
 */
const PRIVILEGED_SECTIONS = new Set(['log', 'tls', 'webhooks']);

export function isPrivilegedSetting(spec: SettingSpec): boolean {
  return spec.type === 'command' || spec.secret === true || PRIVILEGED_SECTIONS.has(spec.section) || PRIVILEGED.has(`${spec.section}.${spec.key}`);
}

/** HS256 keys shorter than this are guessable offline from any token. */
export const MIN_TOKEN_SECRET_LENGTH = 32;

/** The settings that take effect without a restart: section.key → where the loaded value lives. */
export const APPLY_LIVE: Readonly<Record<string, readonly [keyof Settings, string]>> = {
  'barman.asynccommand': ['barman', 'asyncCommands'],
  'barman.timeout': ['barman', 'timeoutSeconds'],
  'barman.max_output_bytes': ['barman', 'maxOutputBytes'],
  'barman.allow_free_remote_ssh_command': ['barman', 'allowFreeRemoteSshCommand'],
  'barman.path_roots': ['barman', 'pathRoots'],
  'barman.max_concurrent': ['barman', 'maxConcurrent'],
  'barman.max_queued': ['barman', 'maxQueued'],
  'authtoken.tokenlife': ['authToken', 'tokenLife'],
  'jobs.max_running': ['jobs', 'maxRunning'],
  'cache.enabled': ['cache', 'enabled'],
  'cache.live_max_age': ['cache', 'liveMaxAgeSeconds'],
  'cache.max_bytes': ['cache', 'maxBytes'],
  'cache.refresh_interval': ['cache', 'refreshIntervalSeconds'],
  'cache.refresh_live': ['cache', 'refreshLiveSeconds'],
  'application.config_backups_keep': ['application', 'configBackupsKeep'],
  'application.config_backups_days': ['application', 'configBackupsDays'],
  'application.fleet_timeout': ['application', 'fleetTimeoutSeconds'],
  'application.trusted_proxies': ['application', 'trustedProxies'],
  'application.forwarded_header': ['application', 'forwardedHeader'],
  'metrics.token': ['metrics', 'token'],
  'metrics.check_interval': ['metrics', 'checkInterval'],
  'user.min_password_length': ['user', 'minPasswordLength'],
  'webhooks.urls': ['webhooks', 'urls'],
  'webhooks.secret': ['webhooks', 'secret'],
  'webhooks.events': ['webhooks', 'events'],
  'webhooks.timeout': ['webhooks', 'timeoutSeconds'],
  'webhooks.retry_hours': ['webhooks', 'retryHours'],
  'webhooks.keep_days': ['webhooks', 'keepDays'],
};

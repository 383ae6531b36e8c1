/**
 * Every barmanapi setting in one table: the loader, the validator, /config/barmanapi (with its
 * redaction) and the change endpoint all read it, so a new key is added here once.
 */
export type SettingType = 'string' | 'path' | 'int' | 'bool' | 'list' | 'command' | 'enum';

export interface SettingSpec {
  section: string;
  key: string;
  /** Other spellings seen in the wild (seed files). */
  aliases?: string[];
  type: SettingType;
  default: string | number | boolean | string[];
  choices?: string[];
  min?: number;
  max?: number;
  /** Never shown in responses or logs. */
  secret?: boolean;
  description: string;
}

/** Section spellings: the canonical name first. */
export const SECTION_ALIASES: Record<string, string[]> = {
  authtoken: ['authtoken', 'auth_token'],
};

export const SETTINGS: SettingSpec[] = [
  { section: 'user', key: 'configfile', aliases: ['config_file'], type: 'path', default: '/usr/share/barmanapi/client.conf', description: 'Users file (client.conf); relative paths are resolved against this config file.' },
  { section: 'user', key: 'secret', type: 'string', default: '', secret: true, description: "The seed's password-hash secret; kept for compatibility, not used by modern hashes." },
  { section: 'user', key: 'min_password_length', type: 'int', default: 8, min: 1, max: 1024, description: 'Shortest password accepted for new or changed passwords.' },
  { section: 'application', key: 'store_directory', aliases: ['storedirectory'], type: 'path', default: '/var/lib/barmanapi/', description: 'Store directory: archive, active, config, garbage, logs.' },
  { section: 'application', key: 'host', type: 'string', default: '127.0.0.1', description: 'Listen address; blank means 127.0.0.1.' },
  { section: 'application', key: 'port', type: 'int', default: 1935, min: 1, max: 65535, description: 'Listen port.' },
  { section: 'application', key: 'debug', type: 'bool', default: false, description: 'Debug logging. Never exposes stack traces in responses.' },
  { section: 'application', key: 'allow_default_password', type: 'bool', default: false, description: 'Listen on a non-loopback address even while a user has the default password (not recommended).' },
  { section: 'application', key: 'cors_origins', type: 'list', default: [], description: "Browser origins (e.g. https://portal.example.com) allowed to call the API from their pages; empty turns CORS off." },
  { section: 'application', key: 'config_backups_keep', type: 'int', default: 50, min: 1, max: 100_000, description: 'Earlier versions kept per configuration file changed through the API (store/config/backups/).' },
  { section: 'application', key: 'config_backups_days', type: 'int', default: 365, min: 0, max: 36_500, description: 'Earlier versions older than this many days are deleted, except the newest; 0 keeps them whatever their age.' },
  { section: 'barman', key: 'configfile', aliases: ['config_file'], type: 'path', default: '/etc/barman.conf', description: "barman's main configuration file on the barman host." },
  { section: 'barman', key: 'command', type: 'command', default: '/usr/bin/barman', description: 'barman executable, optionally with a prefix such as "sudo -u barman /usr/bin/barman" (split into words; no shell).' },
  { section: 'barman', key: 'remote', type: 'bool', default: false, description: 'Run barman on a remote host over SSH.' },
  { section: 'barman', key: 'remotessh', aliases: ['remote_ssh'], type: 'string', default: '', description: 'How to reach the barman host, e.g. "ssh -p 22 -i /path/key barman@backup".' },
  { section: 'barman', key: 'known_hosts', type: 'path', default: '', description: 'known_hosts file for the barman host (default ~/.ssh/known_hosts).' },
  { section: 'barman', key: 'trust_on_first_use', type: 'bool', default: false, description: "Accept and remember an unknown SSH host key on first connection (a changed key is always refused)." },
  { section: 'barman', key: 'asynccommand', aliases: ['async_command'], type: 'list', default: ['backup', 'cron', 'recover', 'restore'], description: 'Commands run as background jobs that return a ticket.' },
  { section: 'barman', key: 'timeout', type: 'int', default: 300, min: 1, max: 86400, description: 'Seconds a synchronous barman command may run before it is killed.' },
  { section: 'barman', key: 'max_output_bytes', type: 'int', default: 16 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, description: 'Output kept in memory per stream of a synchronous command; the rest is cut and flagged.' },
  { section: 'barman', key: 'allow_free_remote_ssh_command', type: 'bool', default: false, description: 'Accept any --remote-ssh-command value, not only plain ssh invocations (barman runs it through a shell).' },
  { section: 'barman', key: 'max_concurrent', type: 'int', default: 0, min: 0, max: 1024, description: 'barman commands of requests running at once on a host; 0 means twice the cores of the API machine. Async jobs count under [jobs] max_running instead.' },
  { section: 'barman', key: 'max_queued', type: 'int', default: 16, min: 0, max: 100_000, description: 'Requests that may wait for a free barman slot; beyond that the answer is 503 with Retry-After.' },
  { section: 'barman', key: 'path_roots', type: 'list', default: [], description: "Folders under which paths on the barman host given to barman (recover's destination, get-wal's output directory, staging and tablespace locations) must lie; empty allows any folder outside barman's own." },
  { section: 'authtoken', key: 'secret', type: 'string', default: '', secret: true, description: 'HS256 signing secret for tokens and tickets; blank generates one in store/config/token.secret.' },
  { section: 'authtoken', key: 'algorithm', type: 'enum', default: 'HS256', choices: ['HS256'], description: 'Token algorithm (pinned to HS256).' },
  { section: 'authtoken', key: 'tokenlife', aliases: ['token_life'], type: 'int', default: 6000, min: 1, max: 31 * 86400, description: 'Token lifetime in seconds.' },
  { section: 'log', key: 'backupcount', aliases: ['backup_count'], type: 'int', default: 5, min: 0, max: 1000, description: 'Rotated log files kept.' },
  { section: 'log', key: 'maxbytes', aliases: ['max_bytes'], type: 'int', default: 20_000_000, min: 0, max: 1 << 30, description: 'Rotate general.log past this size (0 = never).' },
  { section: 'log', key: 'format', type: 'enum', default: 'plain', choices: ['plain', 'json'], description: 'Log line format.' },
  { section: 'application', key: 'fleet_timeout', type: 'int', default: 10, min: 1, max: 600, description: 'Seconds /fleet waits for a barman host; one that takes longer is shown as unknown, with the reason and its last known servers.' },
  { section: 'jobs', key: 'max_running', type: 'int', default: 4, min: 1, max: 256, description: 'Async jobs running at once; more wait in the queue.' },
  { section: 'cache', key: 'enabled', type: 'bool', default: true, description: "Answer read-only barman commands from memory while barman's files are unchanged (see README: Read cache)." },
  { section: 'cache', key: 'live_max_age', type: 'int', default: 5, min: 0, max: 3600, description: 'Seconds a cached answer of a command that also shows live state (status, show-server, check, diagnose, …; list-backup under a recovery-window policy) may be served; 0 never serves them from the cache.' },
  { section: 'cache', key: 'refresh_interval', type: 'int', default: 30, min: 0, max: 86400, description: "Seconds between the background rounds that keep barman's state current and notice changes (new or failed backups, a host down); 0 stops them." },
  { section: 'cache', key: 'refresh_live', type: 'int', default: 300, min: 1, max: 86400, description: 'Seconds the background rounds let live answers (status, show-server) age before running them again.' },
  { section: 'cache', key: 'max_bytes', type: 'int', default: 64 * 1024 * 1024, min: 0, max: 1 << 30, description: 'Memory the cached answers may take; the least recently used go first.' },
  { section: 'jobs', key: 'warm_runner', type: 'bool', default: true, description: 'Keep one job runner started ahead, waiting for the next async job, so a job does not wait for a Node program to start (the single binary starts quickly and keeps none). It ends by itself when the server stops.' },
  { section: 'application', key: 'trusted_proxies', type: 'list', default: [], description: "Addresses or CIDR ranges (127.0.0.1/32, 10.0.0.0/8, ::1) of reverse proxies whose forwarded_header (and X-Forwarded-Proto) is believed for logs, login throttling and whether the client used HTTPS; from any other peer those headers are ignored. Empty believes none." },
  { section: 'application', key: 'forwarded_header', type: 'enum', default: 'x-forwarded-for', choices: ['x-forwarded-for', 'forwarded'], description: 'The header the trusted proxies append the client to: x-forwarded-for (nginx, HAProxy, most load balancers; with X-Forwarded-Proto) or forwarded (RFC 7239). Only that one is read: the other may come from the client.' },
  { section: 'metrics', key: 'token', type: 'string', default: '', secret: true, description: 'Scrape credential for /metrics (Authorization: Bearer …), 16 characters or more; blank: only login tokens whose rules allow metrics.' },
  { section: 'metrics', key: 'check_interval', type: 'int', default: 600, min: 0, max: 86400, description: "Seconds between the background `barman check all` runs whose results /metrics shows (barman_up) with their age; 0: only the checks users run." },
  { section: 'tls', key: 'cert_file', type: 'path', default: '', description: 'PEM certificate (chain) of the HTTPS listener; with key_file it turns TLS on. Both are read again on SIGHUP.' },
  { section: 'tls', key: 'key_file', type: 'path', default: '', description: "PEM private key of cert_file (readable by the service user only)." },
  { section: 'tls', key: 'client_ca_file', type: 'path', default: '', description: 'PEM CA certificates: when set, every client must present a certificate they signed (mutual TLS); others are refused in the handshake.' },
  { section: 'tls', key: 'min_version', type: 'enum', default: 'TLSv1.2', choices: ['TLSv1.2', 'TLSv1.3'], description: 'Oldest TLS version accepted.' },
  { section: 'webhooks', key: 'urls', type: 'list', default: [], secret: true, description: 'Receivers (http:// or https:// URLs) every event is POSTed to, signed with secret; empty turns webhooks off. Kept as secrets: chat services put their credential in the URL.' },
  { section: 'webhooks', key: 'secret', type: 'string', default: '', secret: true, description: 'HMAC-SHA256 signing key of every delivery (Standard Webhooks headers), 24 characters or more; a whsec_… value is used as Standard Webhooks libraries use it. Required with urls.' },
  { section: 'webhooks', key: 'events', type: 'list', default: ['*'], description: 'Events sent: job.ended, backup.new, backup.failed, backup.removed, server.added, server.removed, check.failing, check.ok, host.down, host.up (family.* or * for many); ping is always sent.' },
  { section: 'webhooks', key: 'timeout', type: 'int', default: 10, min: 1, max: 120, description: 'Seconds a receiver has to answer one delivery; slower is a failed attempt.' },
  { section: 'webhooks', key: 'retry_hours', type: 'int', default: 24, min: 0, max: 720, description: 'Hours a delivery is retried (backoff from 10 seconds to an hour) before it is given up as failed; 0: one attempt only.' },
  { section: 'webhooks', key: 'keep_days', type: 'int', default: 7, min: 1, max: 365, description: 'Days finished deliveries (sent or given up) stay in the store and in /api/v1/webhooks.' },
  { section: 'jobs', key: 'keep_months', type: 'int', default: 0, min: 0, max: 1200, description: 'Delete monthly archives older than this many months (0 = keep all).' },
];

export function canonicalSection(name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [canon, spellings] of Object.entries(SECTION_ALIASES)) if (spellings.includes(lower)) return canon;
  return SETTINGS.some((s) => s.section === lower) ? lower : undefined;
}

export function findSetting(section: string, key: string): SettingSpec | undefined {
  const canon = canonicalSection(section);
  const k = key.toLowerCase();
  return SETTINGS.find((s) => s.section === canon && (s.key === k || s.aliases?.includes(k)));
}

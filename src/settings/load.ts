import { truthOf } from '../util/truth.js';
import { listProblem, parseList } from '../ini/document.js';
import { dirname, resolveAgainst } from '../util/path.js';
import { SETTINGS, findSetting, type SettingSpec } from './schema.js';
import { didYouMean } from './suggest.js';
import { SettingsError } from './errors.js';
import { readSettingsFile } from './file.js';
import { DEFAULT_HOST } from '../hosts/names.js';
import { isAddressRange } from '../http/client.js';
import { eventPatternProblem } from '../webhooks/events.js';
import { isBase64Secret, signingKey } from '../webhooks/sign.js';

/** Variables that are not settings but are read by barmanapi. */
const OTHER_VARIABLES = new Set(['BARMANAPI_CONFIG']);

export interface Settings {
  /** The file the settings came from, or null when only defaults/env/flags were used. */
  file: string | null;
  user: { configFile: string; secret: string; minPasswordLength: number };
  application: { storeDirectory: string; host: string; port: number; debug: boolean; allowDefaultPassword: boolean; corsOrigins: string[]; configBackupsKeep: number; configBackupsDays: number; fleetTimeoutSeconds: number; trustedProxies: string[]; forwardedHeader: 'x-forwarded-for' | 'forwarded' };
  /** The HTTPS listener: off while certFile is ''. */
  tls: TlsSettings;
  /** /metrics: the scrape credential ('' for none). */
  metrics: { token: string; checkInterval: number };
  /** Where events are POSTed (none: off), signed with `secret`. */
  webhooks: WebhookSettings;
  barman: BarmanSettings;
  /**
   * Every barman host: the one of [barman] first (named `default`), then each `[host:NAME]` in file
   * order. A further host's keys it does not set take the defaults, not [barman]'s values.
   */
  hosts: HostSettings[];
  authToken: { secret: string; algorithm: 'HS256'; tokenLife: number };
  log: { backupCount: number; maxBytes: number; format: 'plain' | 'json' };
  jobs: { maxRunning: number; keepMonths: number; warmRunner: boolean };
  cache: { enabled: boolean; liveMaxAgeSeconds: number; maxBytes: number; refreshIntervalSeconds: number; refreshLiveSeconds: number };
  /** Unknown keys and similar non-fatal findings, one sentence each. */
  warnings: string[];
}

export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** '' : no client certificates asked; else the CAs every client's certificate must chain to. */
  clientCaFile: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface WebhookSettings {
  urls: string[];
  secret: string;
  /** Event patterns (`backup.failed`, `backup.*`, `*`). */
  events: string[];
  timeoutSeconds: number;
  retryHours: number;
  keepDays: number;
}

/** One barman host: where barman runs and how it is run and bounded. */
export interface HostSettings {
  name: string;
  barman: BarmanSettings;
}

export interface BarmanSettings {
    configFile: string;
    command: string[];
    remote: boolean;
    remoteSsh: string;
    knownHosts: string;
    trustOnFirstUse: boolean;
    asyncCommands: string[];
    timeoutSeconds: number;
    maxOutputBytes: number;
    allowFreeRemoteSshCommand: boolean;
    /** Folders that paths on the barman host must lie under; empty: anywhere outside barman's own. */
    pathRoots: string[];
    /** 0: twice the cores of the API machine. */
    maxConcurrent: number;
    maxQueued: number;
}

export type RawValue = string | number | boolean | string[];

export { SettingsError };

export interface SettingsInput {
  /** File contents, or null when there is no file (defaults apply). */
  text: string | null;
  path: string | null;
  /** BARMANAPI_<SECTION>_<KEY> variables override the file. */
  env?: Record<string, string | undefined>;
  /** Command-line flags override everything: `section.key` → value. */
  flags?: Record<string, string | undefined>;
}

/** flags > env > file > defaults. */
export function loadSettings(input: SettingsInput): Settings {
  const warnings: string[] = [];
  const values = new Map<SettingSpec, RawValue>();
  const hosts = new Map<string, Map<SettingSpec, RawValue>>();
  const fromFile = input.text === null ? { entries: [], warnings: [] } : readSettingsFile(input.text, input.path, { strict: true });
  warnings.push(...fromFile.warnings);
  for (const { spec, value, section, key, host } of fromFile.entries) {
    const into = host === undefined ? values : hosts.get(host) ?? hosts.set(host, new Map()).get(host)!;
    into.set(spec, coerce(spec, value, input.path, section, key));
  }
  const variables = SETTINGS.map((spec) => `BARMANAPI_${spec.section}_${spec.key}`.toUpperCase());
  SETTINGS.forEach((spec, i) => {
    const name = variables[i]!;
    const v = input.env?.[name];
    if (v !== undefined && v !== '') values.set(spec, coerce(spec, v, name, spec.section, spec.key));
  });
  for (const name of Object.keys(input.env ?? {})) {
    if (name.startsWith('BARMANAPI_') && !variables.includes(name) && !OTHER_VARIABLES.has(name)) {
      warnings.push(`environment: ${name} is not a barmanapi setting, ignored${didYouMean(name, variables)}`);
    }
  }
  for (const [dotted, v] of Object.entries(input.flags ?? {})) {
    if (v === undefined) continue;
    const [section = '', key = ''] = dotted.split('.');
    const spec = findSetting(section, key);
    if (!spec) throw new SettingsError('(command line)', section, key, 'unknown setting');
    values.set(spec, coerce(spec, v, '(command line)', section, key));
  }
  return toSettings(values, hosts, input.path, warnings);
}

/** Check one value against its spec; `where` names the file or variable for the error. */
export function coerce(spec: SettingSpec, value: unknown, where: string | null, section: string, key: string): RawValue {
  const fail = (problem: string): never => {
    throw new SettingsError(where, section, key, problem);
  };
  // A secret's value (a webhook URL holds a credential too) is never repeated in a message.
  const shown = (v: unknown) => (spec.secret ? '(the value, a secret, not shown)' : JSON.stringify(v));
  switch (spec.type) {
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n)) fail(`expected a whole number, got ${JSON.stringify(value)}`);
      if (spec.min !== undefined && n < spec.min) fail(`must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) fail(`must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      const truth = truthOf(String(value));
      if (truth !== null) return truth;
      return fail(`expected true or false, got ${JSON.stringify(value)}`);
    }
    case 'list': {
      if (Array.isArray(value)) return value.map(String);
      if (typeof value !== 'string') return fail(`expected a list such as ['backup','cron'], got ${shown(value)}`);
      const problem = listProblem(value);
      if (problem) fail(`${problem} in ${shown(value)}; write a list such as ['backup','cron'] or backup,cron`);
      return parseList(value);
    }
    case 'enum': {
      const s = String(value).trim();
      if (!spec.choices?.includes(s)) fail(`must be one of ${spec.choices?.join(', ')}, got ${JSON.stringify(value)}`);
      return s;
    }
    default: {
      if (typeof value !== 'string') return fail(`expected text, got ${shown(value)}`);
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f]/.test(value)) fail('control characters are not allowed');
      return value.trim();
    }
  }
}

/** Typed reads of one section's values, defaults where a key is not set. */
function reader(values: Map<SettingSpec, RawValue>, path: string | null) {
  const get = (section: string, key: string): RawValue => {
    const spec = findSetting(section, key)!;
    return values.has(spec) ? values.get(spec)! : spec.default;
  };
  const str = (s: string, k: string) => String(get(s, k));
  const base = path ? dirname(path) : '.';
  return {
    get,
    str,
    num: (s: string, k: string) => Number(get(s, k)),
    bool: (s: string, k: string) => get(s, k) === true,
    file: (s: string, k: string) => (str(s, k) === '' ? '' : resolveAgainst(base, str(s, k))),
  };
}

/** The [barman] keys of one host; `section` names where they came from in errors. */
function barmanSettings(values: Map<SettingSpec, RawValue>, path: string | null, section: string): BarmanSettings {
  const { get, str, num, bool, file } = reader(values, path);
  const command = splitWords(str('barman', 'command'));
  if (command.length === 0) throw new SettingsError(path, section, 'command', 'must name the barman executable');
  const remote = bool('barman', 'remote');
  if (remote && str('barman', 'remotessh') === '') {
    throw new SettingsError(path, section, 'remotessh', 'required when remote = true (e.g. "ssh barman@backup")');
  }
  for (const root of get('barman', 'path_roots') as string[]) {
    if (!root.startsWith('/')) throw new SettingsError(path, section, 'path_roots', `${JSON.stringify(root)} is not an absolute folder (start it with /)`);
  }
  return {
    configFile: str('barman', 'configfile'),
    command,
    remote,
    remoteSsh: str('barman', 'remotessh'),
    knownHosts: file('barman', 'known_hosts'),
    trustOnFirstUse: bool('barman', 'trust_on_first_use'),
    asyncCommands: (get('barman', 'asynccommand') as string[]).map((c) => c.toLowerCase()),
    timeoutSeconds: num('barman', 'timeout'),
    maxOutputBytes: num('barman', 'max_output_bytes'),
    allowFreeRemoteSshCommand: bool('barman', 'allow_free_remote_ssh_command'),
    pathRoots: get('barman', 'path_roots') as string[],
    maxConcurrent: num('barman', 'max_concurrent'),
    maxQueued: num('barman', 'max_queued'),
  };
}

function toSettings(values: Map<SettingSpec, RawValue>, hostValues: Map<string, Map<SettingSpec, RawValue>>, path: string | null, warnings: string[]): Settings {
  const { get, str, num, bool, file } = reader(values, path);
  const barman = barmanSettings(values, path, 'barman');
  const hosts: HostSettings[] = [{ name: DEFAULT_HOST, barman }];
  for (const [name, v] of hostValues) hosts.push({ name, barman: barmanSettings(v, path, `host:${name}`) });
  for (const origin of get('application', 'cors_origins') as string[]) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new SettingsError(path, 'application', 'cors_origins', `${JSON.stringify(origin)} is not an origin such as https://portal.example.com (scheme and host, no path)`);
  }
  const trustedProxies = get('application', 'trusted_proxies') as string[];
  const badProxy = trustedProxies.find((p) => !isAddressRange(p));
  if (badProxy !== undefined) throw new SettingsError(path, 'application', 'trusted_proxies', `${JSON.stringify(badProxy)} is not an address or CIDR range such as 10.0.0.0/8, 127.0.0.1 or ::1 (IPv4 in four decimal parts)`);
  const tls: TlsSettings = { certFile: file('tls', 'cert_file'), keyFile: file('tls', 'key_file'), clientCaFile: file('tls', 'client_ca_file'), minVersion: str('tls', 'min_version') as TlsSettings['minVersion'] };
  if ((tls.certFile === '') !== (tls.keyFile === '')) throw new SettingsError(path, 'tls', tls.certFile ? 'key_file' : 'cert_file', 'cert_file and key_file go together: set both to serve HTTPS, or neither');
  if (tls.clientCaFile && !tls.certFile) throw new SettingsError(path, 'tls', 'client_ca_file', 'client certificates need the HTTPS listener: set cert_file and key_file too');
  const metricsToken = str('metrics', 'token');
  if (metricsToken !== '' && metricsToken.length < 16) throw new SettingsError(path, 'metrics', 'token', 'a scrape credential must be 16 characters or more (a long random value)');
  const webhooks = webhookSettings(reader(values, path), path);
  return {
    file: path,
    user: { configFile: file('user', 'configfile'), secret: str('user', 'secret'), minPasswordLength: num('user', 'min_password_length') },
    application: {
      storeDirectory: file('application', 'store_directory').replace(/\/+$/, '') || '/',
      host: str('application', 'host') || '127.0.0.1',
      port: num('application', 'port'),
      debug: bool('application', 'debug'),
      allowDefaultPassword: bool('application', 'allow_default_password'),
      corsOrigins: get('application', 'cors_origins') as string[],
      configBackupsKeep: num('application', 'config_backups_keep'),
      configBackupsDays: num('application', 'config_backups_days'),
      fleetTimeoutSeconds: num('application', 'fleet_timeout'),
      trustedProxies,
      forwardedHeader: str('application', 'forwarded_header') as Settings['application']['forwardedHeader'],
    },
    tls,
    metrics: { token: metricsToken, checkInterval: num('metrics', 'check_interval') },
    webhooks,
    barman,
    hosts,
    authToken: { secret: str('authtoken', 'secret'), algorithm: 'HS256', tokenLife: num('authtoken', 'tokenlife') },
    log: { backupCount: num('log', 'backupcount'), maxBytes: num('log', 'maxbytes'), format: str('log', 'format') as 'plain' | 'json' },
    jobs: { maxRunning: num('jobs', 'max_running'), keepMonths: num('jobs', 'keep_months'), warmRunner: bool('jobs', 'warm_runner') },
    cache: {
      enabled: bool('cache', 'enabled'),
      liveMaxAgeSeconds: num('cache', 'live_max_age'),
      maxBytes: num('cache', 'max_bytes'),
      refreshIntervalSeconds: num('cache', 'refresh_interval'),
      refreshLiveSeconds: num('cache', 'refresh_live'),
    },
    warnings,
  };
}

/** The [webhooks] keys, each URL and event pattern checked: a typo would lose events silently. */
function webhookSettings({ get, str, num }: ReturnType<typeof reader>, path: string | null): WebhookSettings {
  const urls = get('webhooks', 'urls') as string[];
  for (const url of urls) {
    const problem = webhookUrlProblem(url);
    // The URL may hold a credential: the message names its position, never the URL.
    if (problem) throw new SettingsError(path, 'webhooks', 'urls', `URL ${urls.indexOf(url) + 1} ${problem}`);
  }
  if (new Set(urls).size !== urls.length) throw new SettingsError(path, 'webhooks', 'urls', 'a URL is listed twice; each receiver once');
  const secret = str('webhooks', 'secret');
  if (secret.startsWith('whsec_') && !isBase64Secret(secret)) throw new SettingsError(path, 'webhooks', 'secret', 'a whsec_ secret is base64 after the prefix (as Standard Webhooks libraries make it)');
  if (secret.startsWith('whsec_') && signingKey(secret).length < 16) throw new SettingsError(path, 'webhooks', 'secret', 'a whsec_ secret needs 16 bytes or more after the prefix (24 base64 characters)');
  if (urls.length > 0 && secret.length < MIN_WEBHOOK_SECRET_LENGTH) throw new SettingsError(path, 'webhooks', 'secret', `receivers need a signing secret of ${MIN_WEBHOOK_SECRET_LENGTH} characters or more (a long random value)`);
  const events = get('webhooks', 'events') as string[];
  for (const pattern of events) {
    const problem = eventPatternProblem(pattern);
    if (problem) throw new SettingsError(path, 'webhooks', 'events', problem);
  }
  return { urls, secret, events, timeoutSeconds: num('webhooks', 'timeout'), retryHours: num('webhooks', 'retry_hours'), keepDays: num('webhooks', 'keep_days') };
}

const MIN_WEBHOOK_SECRET_LENGTH = 24;

/** Why `url` cannot be a receiver, or null. */
function webhookUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL such as https://hooks.example.com/barman';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must start with https:// or http://';
  if (parsed.hash !== '') return 'must not have a #fragment';
  // fetch refuses credentials in a URL: every delivery would fail.
  if (parsed.username !== '' || parsed.password !== '') return 'must not hold user:password@ (put a credential in the path or query, or let the signature authenticate)';
  return null;
}

/** Split a command setting into words: whitespace separates, single or double quotes group. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new SettingsError(null, 'barman', 'command', 'unbalanced quote');
  if (inWord) words.push(current);
  return words;
}

export { parseList };

import type { Context } from 'hono';
import type { BarmanHost, Clock, DocsAssets, JobRunner, Logger, Storage, TextFile } from './ports.js';
import type { Settings } from './settings/load.js';
import type { PublicUser } from './auth/users.js';
import type { V1Route } from './api/v1/route.js';
import type { ClientInfo } from './http/client.js';
import type { ServingPhase } from './http/health.js';

/** Everything a handler may reach; adapters build it. */
export interface AppDeps {
  settings: Settings;
  storage: Storage;
  /** The barman host of [barman] (named `default`). */
  host: BarmanHost;
  /** The further barman hosts of the settings (`[host:NAME]`), by name: one for each. */
  hosts?: Readonly<Record<string, BarmanHost>>;
  clock: Clock;
  logger: Logger;
  /** client.conf. */
  usersFile: TextFile;
  /** The barmanapi config file itself, for /config/barmanapi. */
  settingsFile?: TextFile;
  /** Starts async barman commands (detached processes on Node). */
  runner?: JobRunner;
  /** @deprecated the former name of `runner`, still taken. */
  jobs?: JobRunner;
  /**
   * The socket peer's address. Forwarded headers are believed only from the peers of
   * `[application] trusted_proxies` (src/http/client.ts), never read here.
   */
  clientAddress?: (c: Context) => string | undefined;
  /** Whether the connection itself is TLS (false when not given). */
  connectionSecure?: (c: Context) => boolean;
  /**
   * For embedding: when set, our Basic/JWT auth is off and the host service names the user
   * (whose access/deny rules still apply) from its own middleware. Return null for 401.
   */
  externalAuth?: (c: Context) => PublicUser | null | Promise<PublicUser | null>;
  /** Cores of the API machine: `[barman] max_concurrent = 0` means twice this (2 when unknown). */
  cpuCount?: number;
  /** The docs page's files (/api/v1/docs); without them the page says they are missing. */
  docsAssets?: DocsAssets;
  /** Whether the server takes new work (/readyz answers 503 once it is `draining`). */
  serving?: () => ServingPhase;
  /** Outbound HTTP for webhook deliveries (default: the runtime's fetch). */
  fetch?: typeof fetch;
  /** PBKDF2 iterations for new password hashes (tests lower it). */
  passwordIterations?: number;
}

/** The settings a running app uses: read at each use, replaced whole by a live change. */
export interface SettingsHolder {
  current(): Settings;
  /** Take the values of `ids` (section.key, each one that applies live) from `next`; the rest stay. */
  update(next: Settings, ids: readonly string[]): void;
}

/** What route modules reach: AppDeps with the settings behind their holder. */
export interface Deps extends Omit<AppDeps, 'settings' | 'jobs' | 'runner' | 'hosts'> {
  settings: SettingsHolder;
  runner?: JobRunner;
  /** Who is calling: the peer, or the client trusted proxies name (worked out once per request). */
  client: (c: Context) => ClientInfo;
}

export interface AuthedUser extends PublicUser {
  fingerprint: string;
  /** The account's id ('' for users from before ids, and for an embedding service's users). */
  id: string;
}

export type AppEnv = {
  Variables: {
    user: AuthedUser;
    /** Path relative to where the app is mounted, without leading slash: `barman/backup`. */
    routePath: string;
    /** The barman host the request works on, described (`local`, `ssh barman@dc2`), once chosen. */
    barmanHost?: string;
    /** The v1 route a request matched (api/v1/gate.ts), with its path parameters. */
    v1Route?: { route: V1Route; params: Record<string, string> };
    /** Set by Deps.client on first use. */
    client?: ClientInfo;
  };
};

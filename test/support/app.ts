import { createApi } from '../../src/app.js';
import type { AppDeps } from '../../src/context.js';
import { loadSettings, type Settings } from '../../src/settings/load.js';
import { createFixedClock, createInProcessJobRunner, createMemoryLogger, createMemoryStorage, createMemoryTextFile, createScriptedHost } from '../../adapters/memory/index.js';
import type { BarmanHost } from '../../src/ports.js';

/** The seed README's client.conf: memin / 1258 as plain MD5. */
export const SEED_CLIENT_CONF = `[memin]
password = 26588e932c7ccfa1df309280702fe1b5
access = []
deny = []
`;

export function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** An app on memory adapters; every part is returned for assertions. */
export function testApp(overrides: Partial<AppDeps> & { settingsText?: string; clientConf?: string } = {}) {
  const clock = createFixedClock('2026-11-15T10:00:00Z');
  const settings: Settings = overrides.settings ?? loadSettings({
    text: overrides.settingsText ?? '[authtoken]\nsecret=test-secret-of-enough-length\n',
    path: '/etc/barmanapi.conf',
  });
  const deps: AppDeps = {
    settings,
    storage: createMemoryStorage(() => clock.now().getTime()),
    host: createScriptedHost(),
    clock,
    logger: createMemoryLogger(),
    usersFile: createMemoryTextFile('/usr/share/barmanapi/client.conf', overrides.clientConf ?? SEED_CLIENT_CONF),
    passwordIterations: 1000,
    ...overrides,
  };
  const api = createApi(deps);
  const app = api.app;
  const usersFile = deps.usersFile as ReturnType<typeof createMemoryTextFile>;
  const logger = deps.logger as ReturnType<typeof createMemoryLogger>;
  return { app, api, deps, clock, usersFile, logger };
}

/**
 * An app with two barman hosts (default and dc2, backup async on both) whose async jobs run in
 * this process (createInProcessJobRunner), each on its own host.
 */
export function twoHostApp(main: BarmanHost, dc2: BarmanHost, clientConf: string) {
  const settings = loadSettings({
    text: "[barman]\nconfigfile=/etc/barman.conf\nasynccommand=['backup']\n[host:dc2]\nconfigfile=/etc/barman.conf\nasync_command=['backup']\n[authtoken]\nsecret=test-secret-of-enough-length\n",
    path: '/etc/barmanapi.conf',
  });
  const holder: { deps?: AppDeps } = {};
  const runner = createInProcessJobRunner({
    get storage() {
      return holder.deps!.storage;
    },
    host: main,
    hostFor: (name: string) => (name === 'dc2' ? { host: dc2, maxOutputBytes: 1 << 20 } : null),
    clock: { now: () => new Date() },
    maxOutputBytes: 1 << 20,
  } as never);
  const t = testApp({ host: main, hosts: { dc2 }, settings, clientConf, jobs: runner });
  holder.deps = t.deps;
  return { ...t, runner };
}

export async function loginToken(app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> }, user = 'memin', password = '1258'): Promise<string> {
  const res = await app.request('/auth/token', { headers: basic(user, password) });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** A client.conf section whose password is the seed's (1258, plain MD5), with the given rules. */
export function clientConfUser(name: string, access: string[], opts: { deny?: string[]; hosts?: string[] } = {}): string {
  const list = (items: string[]) => JSON.stringify(items).replace(/"/g, "'");
  return `[${name}]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = ${list(access)}\ndeny = ${list(opts.deny ?? [])}\n${opts.hosts ? `hosts = ${list(opts.hosts)}\n` : ''}\n`;
}

/** Calls of `app` as a user of client.conf (password 1258): a query string, or a JSON body by POST. */
export function caller(app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> }) {
  const tokens = new Map<string, string>();
  return async (who: string, path: string, body?: Record<string, unknown>) => {
    if (!tokens.has(who)) tokens.set(who, await loginToken(app, who));
    const auth = { authorization: `Bearer ${tokens.get(who)}` };
    const res = await app.request(path, body ? { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) } : { headers: auth });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { res, body: (await res.json()) as { status_code: number; message: string; list: any; type?: string; [k: string]: any } };
  };
}

/** The dashboard over the app in memory, and a browser, roughly, for unit tests (test/unit/dashboard*.test.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { fixtureBarmanHost } from './fake-barman.js';
import { SEED_CLIENT_CONF, clientConfUser, testApp } from './app.js';
import { createInProcessJobRunner } from '../../adapters/memory/index.js';
import { HostError, type Storage } from '../../src/ports.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const LIMITED = clientConfUser('viewer', ['fleet', 'barman/list-backup', 'barman/show-backup', 'history/list', 'history/result']);

/** The app with barman answering from 3.4's real outputs, the seed's user and `viewer` (reads only). */
export function dashboardApp(opts: { clientConf?: string; settingsText?: string; mount?: string; serverDescription?: string } = {}) {
  /** Set `down` and every barman command fails as an unreachable host's would. */
  const outage = { down: false };
  const host = fixtureBarmanHost('3.4', (argv) => {
    if (outage.down) throw new HostError('unreachable', 'connect ECONNREFUSED 192.0.2.7:22');
    const command = ['list-server', 'show-server', 'status', 'list-backup', 'show-backup', 'check'].find((c) => argv.includes(c) || argv.includes(`${c}s`));
    if (!command) return { exitCode: 1, stderr: 'unexpected' };
    if (command === 'check') return { stdout: JSON.stringify({ pg: { postgresql: { status: 'OK', hint: '' } } }) };
    let stdout = readFileSync(join(OUTPUT, `${command}.json`), 'utf8');
    if (opts.serverDescription && (command === 'list-server' || command === 'show-server')) stdout = stdout.replace(/"description": "[^"]*"/, `"description": ${JSON.stringify(opts.serverDescription)}`);
    return { stdout };
  });
  // In an outage the host's files are out of reach too (the read cache cannot vouch for anything).
  for (const method of ['stat', 'listDir', 'readFile'] as const) {
    const original = host[method].bind(host) as (path: string) => Promise<unknown>;
    (host as unknown as Record<string, unknown>)[method] = (path: string) => (outage.down ? Promise.reject(new HostError('unreachable', 'connect ECONNREFUSED 192.0.2.7:22')) : original(path));
  }
  const holder: { storage?: Storage } = {};
  // Background commands (backup, recover) run in this process, on the same host.
  const runner = createInProcessJobRunner({
    get storage() {
      return holder.storage!;
    },
    host,
    clock: { now: () => new Date() },
    maxOutputBytes: 1 << 20,
  } as never);
  const t = testApp({ host, runner, clientAddress: () => '127.0.0.1', clientConf: opts.clientConf ?? SEED_CLIENT_CONF + '\n' + LIMITED, ...(opts.settingsText ? { settingsText: opts.settingsText } : {}) });
  holder.storage = t.deps.storage;
  const outer = opts.mount ? new Hono().route(opts.mount, t.app) : t.app;
  return { ...t, outer, prefix: opts.mount ?? '', outage };
}

/** A browser, roughly: keeps cookies per path, follows nothing, sends forms as browsers do. */

/** A browser, roughly: keeps cookies, follows nothing, sends forms as browsers do. */
export function browser(app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> }) {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (/max-age=0/i.test(line) || value === '') jar.delete(name!);
      else jar.set(name!, value!);
    }
    return res;
  };
  return {
    jar,
    get: async (path: string, headers: Record<string, string> = {}) => keep(await app.request(path, { headers: { cookie: cookieHeader(), ...headers } })),
    post: async (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      keep(await app.request(path, { method: 'POST', headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers }, body: new URLSearchParams(form).toString() })),
  };
}

export const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

export async function signIn(b: ReturnType<typeof browser>, prefix: string, user = 'memin', password = '1258') {
  const page = await (await b.get(`${prefix}/dashboard/sign-in`)).text();
  return b.post(`${prefix}/dashboard/sign-in`, { _csrf: field(page, '_csrf')!, next: '', username: user, password });
}


import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, runCli, USERS } from './support.js';
import { startValidatingProxy, type ValidatingProxy } from './prism.js';
import { defineV1Cases } from './v1.js';

/** Where one API answers: requests go to `prefix + path`. */
export interface Endpoint {
  prefix: string;
  /** Where the API's root is: `http://127.0.0.1:PORT` + prefix. */
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export function endpoint(baseUrl: string, prefix = ''): Endpoint {
  return { prefix, url: `${baseUrl}${prefix}`, fetch: (path, init) => fetch(`${baseUrl}${prefix}${path}`, init) };
}

export interface BlackboxTarget {
  /** barman on this machine. */
  local: Endpoint;
  /** barman over SSH. */
  ssh: Endpoint;
  /** The CLI of this runtime, e.g. ['dist/barmanapi']. */
  cli: string[];
  localConfig: string;
  localStore: string;
  /** Server processes only: SIGTERM the local one and report how it ended. */
  terminate?: () => Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stop(): Promise<void>;
}

type Json = Record<string, any>;

/** The first /barman request of a fresh store discovers barman's commands from its help (many runs). */
const BARMAN_TIMEOUT = 120_000;

const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function json(res: Response): Promise<Json> {
  const text = await res.text();
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new Error(`expected JSON, got ${res.status}: ${text.slice(0, 300)}`);
  }
}

function expectError(body: Json, status: number, type: string): void {
  expect(body).toEqual({ status_code: status, type, message: expect.any(String) });
  expect(body.message.length).toBeGreaterThan(0);
}

async function login(api: Endpoint, user: keyof typeof USERS): Promise<string> {
  const res = await api.fetch('/auth/token', { headers: basic(user, USERS[user].password) });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`login as ${user} failed: ${res.status} ${JSON.stringify(body)}`);
  return body.token as string;
}

/** Poll /history/result until the job has ended. */
async function waitForResult(api: Endpoint, token: string, ticket: string, timeoutMs = 60_000): Promise<Json> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.fetch(`/history/result?ticket=${encodeURIComponent(ticket)}`, { headers: bearer(token) });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    if (body.status !== 'queued' && body.status !== 'running') return body;
    if (Date.now() > until) throw new Error(`job still ${body.status} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function submit(api: Endpoint, token: string, path: string): Promise<string> {
  const res = await api.fetch(path, { headers: bearer(token) });
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(202);
  expect(body).toMatchObject({ status_code: 200, list: { ticket: expect.any(String) } });
  expect(body.message).toContain('/history/result?ticket=');
  return body.list.ticket as string;
}

/**
 * The one black-box suite: the same HTTP cases against every way of running barmanapi (Node
 * server, Bun binary, sub-app mounted in a host service). `start` brings the target up.
 */
export function defineBlackboxSuite(name: string, start: () => Promise<BlackboxTarget>, opts: { serverProcess: boolean }): void {
  describe(name, () => {
    let t: BlackboxTarget;
    /**
     * Well-formed requests go through a validating proxy (Prism) holding the document the API
     * serves: a request or an answer that does not fit it fails. Requests meant to be refused
     * (no credentials, unknown routes) go directly: the proxy would answer those itself.
     */
    let proxy: ValidatingProxy;
    let checked: Endpoint;
    beforeAll(async () => {
      t = await start();
      proxy = await startValidatingProxy(t.local.url);
      checked = endpoint(proxy.baseUrl);
    }, 120_000);
    afterAll(async () => {
      await proxy?.stop();
      await t?.stop();
    });

    describe('/auth', () => {
      it('issues a token for Basic credentials', async () => {
        const res = await checked.fetch('/auth/token', { headers: basic('admin', USERS.admin.password) });
        expect(res.status).toBe(200);
        const body = await json(res);
        expect(body).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), expires_in: 600 });
        expect(claimsOf(body.token)).toMatchObject({ sub: 'admin' });
      });

      it('answers 401 with a Basic challenge when credentials are missing or wrong', async () => {
        const missing = await t.local.fetch('/auth/token');
        expect(missing.status).toBe(401);
        expect(missing.headers.get('www-authenticate')).toMatch(/^Basic realm="barmanapi"/);
        expectError(await json(missing), 401, 'Unauthorized');

        const wrong = await t.local.fetch('/auth/token', { headers: basic('admin', 'not-the-password') });
        expect(wrong.status).toBe(401);
        expectError(await json(wrong), 401, 'Unauthorized');
      });

      it('names the caller on /auth/user, with the token as Bearer header or ?token=', async () => {
        const token = await login(checked, 'limited');
        const expected = { status_code: 200, message: '', list: { username: 'limited', access: ['auth', 'barman'], deny: ['barman/check'] } };
        const viaHeader = await checked.fetch('/auth/user', { headers: bearer(token) });
        expect(viaHeader.status).toBe(200);
        expect(await json(viaHeader)).toEqual(expected);
        const viaQuery = await checked.fetch(`/auth/user?token=${token}`);
        expect(viaQuery.status).toBe(200);
        expect(await json(viaQuery)).toEqual(expected);
      });

      it('answers 401 on other routes without a valid token', async () => {
        const none = await t.local.fetch('/barman/list-server');
        expect(none.status).toBe(401);
        expectError(await json(none), 401, 'Unauthorized');
        const forged = await t.local.fetch('/barman/list-server', { headers: bearer('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.AAAA') });
        expect(forged.status).toBe(401);
        expectError(await json(forged), 401, 'Unauthorized');
      });
    });

    describe('routing and access rules', () => {
      it('answers 404 in the JSON envelope for an unknown route', async () => {
        const token = await login(t.local, 'admin');
        const res = await t.local.fetch('/no/such/route', { headers: bearer(token) });
        expect(res.status).toBe(404);
        expectError(await json(res), 404, 'NotFound');
      });

      it('matches access and deny rules against paths relative to where the API is mounted', async () => {
        const token = await login(checked, 'limited');
        // access "barman" covers barman/list-server ...
        const allowed = await checked.fetch('/barman/list-server', { headers: bearer(token) });
        expect(allowed.status, await allowed.clone().text()).toBe(200);
        // ... deny "barman/check" wins over it ...
        const denied = await checked.fetch('/barman/check?server_name=pg', { headers: bearer(token) });
        expect(denied.status).toBe(403);
        const body = await json(denied);
        expectError(body, 403, 'Forbidden');
        expect(body.message).toContain('barman/check');
        if (t.local.prefix) expect(body.message).not.toContain(t.local.prefix.replace(/^\//, ''));
        // ... and history is in neither list.
        const outside = await checked.fetch('/history/list', { headers: bearer(token) });
        expect(outside.status).toBe(403);
        expectError(await json(outside), 403, 'Forbidden');
      }, BARMAN_TIMEOUT);
    });

    describe('/barman with the real barman', () => {
      it('runs list-server locally and returns its parsed JSON', async () => {
        const token = await login(checked, 'admin');
        const res = await checked.fetch('/barman/list-server', { headers: bearer(token) });
        const body = await json(res);
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(body).toMatchObject({ status_code: 200, list: expect.any(Array), data: { pg: { description: expect.any(String) } } });
      }, BARMAN_TIMEOUT);

      it('runs an async command through a detached `execute` runner and reports its result', async () => {
        const token = await login(checked, 'admin');
        const ticket = await submit(checked, token, '/barman/list-backups?server_name=pg');
        const result = await waitForResult(checked, token, ticket);
        expect(result).toMatchObject({ status: 'done', exit_code: 0, status_code: 200, command: 'list-backups', server: 'pg', user: 'admin' });
        expect(result.data).toHaveProperty('pg');
        // The runner was a separate process: it claimed the job with its own pid.
        const id = claimsOf(ticket).job as string;
        const claim = JSON.parse(readFileSync(join(t.localStore, 'active', id.slice(0, 6), id, 'run.json'), 'utf8')) as { pid: number };
        expect(claim.pid).toBeGreaterThan(0);
        expect(claim.pid).not.toBe(process.pid);
        const listed = await json(await checked.fetch('/history/list', { headers: bearer(token) }));
        expect(listed.list.map((j: Json) => j.id)).toContain(id);
      }, BARMAN_TIMEOUT);

      it('runs list-server over SSH', async () => {
        const token = await login(t.ssh, 'admin');
        const res = await t.ssh.fetch('/barman/list-server', { headers: bearer(token) });
        const body = await json(res);
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(body).toMatchObject({ status_code: 200, data: { pg: { description: expect.any(String) } } });
      }, BARMAN_TIMEOUT);
    });

    describe('API v1', () => {
      defineV1Cases(() => ({ direct: t.local, checked, proxy, store: t.localStore }));
    });

    describe('CLI', () => {
      it('lists the users that `user add` created', async () => {
        const r = await runCli(t.cli, ['user', 'list', '--config', t.localConfig]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('admin\taccess=[]\tdeny=[]');
        expect(r.stdout).toContain('limited\taccess=["auth","barman"]\tdeny=["barman/check"]');
      });
    });

    // An embedded API has no process of its own: the host service owns start and stop.
    if (opts.serverProcess) describe('shutdown', () => {
      it('exits on SIGTERM while a detached job keeps running to its end', async () => {
        if (!t.terminate) throw new Error('a server-process target must provide terminate()');
        const token = await login(t.local, 'admin');
        const ticket = await submit(t.local, token, '/barman/check?server_name=pg');
        const id = claimsOf(ticket).job as string;
        const dir = join(t.localStore, 'active', id.slice(0, 6), id);
        const sent = Date.now();
        const ended = await t.terminate();
        expect(ended).toMatchObject({ code: 0, signal: null });
        expect(ended.at - sent).toBeLessThan(5_000);
        // The runner outlives the server and writes the result itself.
        const until = Date.now() + 60_000;
        let result: Json | null = null;
        while (!result && Date.now() < until) {
          try {
            result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as Json;
          } catch {
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        expect(result, `no result.json in ${dir}`).not.toBeNull();
        expect(['done', 'failed']).toContain(result!.status);
        expect(Date.parse(result!.ended_at)).toBeGreaterThan(ended.at);
      }, BARMAN_TIMEOUT);
    });

    it('found no request or answer outside the document, of all those sent through the validating proxy', () => {
      console.info(`${name}: ${proxy.requests()} requests through the validating proxy, ${proxy.mismatches().length} mismatches`);
      expect(proxy.requests()).toBeGreaterThan(20);
      expect(proxy.mismatches()).toEqual([]);
    });
  });
}

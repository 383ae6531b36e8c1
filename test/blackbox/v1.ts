import { expect, it } from 'vitest';
import fc from 'fast-check';
import puppeteer from 'puppeteer-core';
import type { Endpoint } from './suite.js';
import type { ValidatingProxy } from './prism.js';
import { DocumentCheck } from './document-check.js';
import { USERS } from './support.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = Record<string, any>;

export interface V1Context {
  /** The API, directly. */
  direct: Endpoint;
  /** The API through the validating proxy. */
  checked: Endpoint;
  proxy: ValidatingProxy;
  /** The direct endpoint's store (job files). */
  store: string;
}

type SseEvent = { event: string; id: string; data: string };

/** The events of a Server-Sent Events answer, until `stop` says so (then the connection is dropped) or the end. */
async function readEvents(res: Response, stop: (e: SseEvent) => boolean = () => false): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const e: SseEvent = { event: 'message', id: '', data: '' };
      const data: string[] = [];
      for (const line of buffer.slice(0, end).split('\n')) {
        const colon = line.indexOf(': ');
        const [k, v] = colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 2)];
        if (k === 'event') e.event = v;
        else if (k === 'id') e.id = v;
        else if (k === 'data') data.push(v);
      }
      buffer = buffer.slice(end + 2);
      e.data = data.join('\n');
      out.push(e);
      if (stop(e)) {
        await reader.cancel();
        return out;
      }
    }
  }
}

const CHROMIUM = process.env.BARMANAPI_CHROMIUM ?? '/usr/bin/chromium';
const BARMAN_TIMEOUT = 120_000;

async function v1Token(api: Endpoint, user: keyof typeof USERS): Promise<string> {
  const res = await api.fetch('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password: USERS[user].password }) });
  const body = (await res.json()) as Json;
  if (res.status !== 200) throw new Error(`v1 login as ${user}: ${res.status} ${JSON.stringify(body)}`);
  return body.token as string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function getJson(api: Endpoint, path: string, token: string, headers: Record<string, string> = {}): Promise<{ res: Response; body: Json }> {
  const res = await api.fetch(path, { headers: { ...bearer(token), ...headers } });
  const text = await res.text();
  return { res, body: text ? (JSON.parse(text) as Json) : {} };
}

/** A backup of pg to read: one barman lists, or one taken now (an async job, followed through /api/v1/jobs). */
async function someBackup(api: Endpoint, token: string): Promise<string> {
  const listed = await getJson(api, '/api/v1/hosts/default/servers/pg/backups', token);
  expect(listed.res.status).toBe(200);
  const done = (listed.body.items as Json[]).find((b) => b.status === 'DONE');
  if (done) return done.id as string;
  const started = await api.fetch('/barman/backup?server_name=pg&wait=true', { headers: bearer(token) });
  expect(started.status, await started.clone().text()).toBe(202);
  const until = Date.now() + 90_000;
  for (;;) {
    const jobs = await getJson(api, '/api/v1/jobs?command=backup&limit=1', token);
    const job = jobs.body.items[0] as Json | undefined;
    if (job && job.status !== 'running' && job.status !== 'queued') {
      expect(job.status).toBe('done');
      break;
    }
    if (Date.now() > until) throw new Error(`backup still ${job?.status} after 90 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return someBackup(api, token);
}

/** The v1 cases of the black-box suite: well-formed requests through the validating proxy. */
export function defineV1Cases(ctx: () => V1Context): void {
  it('v1: a token from a JSON body, then the caller, hosts, servers, a server, its backups and one backup', async () => {
    const { checked } = ctx();
    const token = await v1Token(checked, 'admin');
    expect((await getJson(checked, '/api/v1/me', token)).body).toEqual({ username: 'admin', access: [], deny: [], hosts: ['default'] });
    expect((await getJson(checked, '/api/v1/hosts', token)).body.items).toEqual([{ name: 'default', description: 'local', down: null }]);
    const servers = await getJson(checked, '/api/v1/servers', token);
    expect(servers.body.items.map((s: Json) => s.name)).toContain('pg');
    const server = await getJson(checked, '/api/v1/hosts/default/servers/pg', token);
    expect(server.body).toMatchObject({ host: 'default', name: 'pg', active: true, stale: false });
    const id = await someBackup(checked, token);
    const backup = await getJson(checked, `/api/v1/hosts/default/servers/pg/backups/${id}`, token);
    expect(backup.res.status).toBe(200);
    expect(backup.body).toMatchObject({ id, status: 'DONE', server: 'pg', timeline: expect.any(Number), begin_wal: expect.stringMatching(/^[0-9A-F]{24}$/) });
    const jobs = await getJson(checked, '/api/v1/jobs?limit=5', token);
    expect(jobs.res.status).toBe(200);
    for (const job of jobs.body.items as Json[]) expect((await getJson(checked, `/api/v1/jobs/${job.id}`, token)).body).toMatchObject({ id: job.id, user: job.user });
  }, BARMAN_TIMEOUT);

  it('v1: an unchanged read is a 304 for its ETag; errors are problem+json naming the parameter', async () => {
    const { checked } = ctx();
    const token = await v1Token(checked, 'admin');
    const first = await getJson(checked, '/api/v1/hosts/default/servers/pg/backups', token);
    const etag = first.res.headers.get('etag')!;
    expect(first.res.headers.get('cache-control')).toContain('private');
    expect((await checked.fetch('/api/v1/hosts/default/servers/pg/backups', { headers: { ...bearer(token), 'if-none-match': etag } })).status).toBe(304);
    const missing = await getJson(checked, '/api/v1/hosts/default/servers/nope', token);
    expect(missing.res.status).toBe(404);
    expect(missing.res.headers.get('content-type')).toBe('application/problem+json');
    expect(missing.body).toMatchObject({ type: 'urn:barmanapi:problem:NotFound', status: 404, parameter: 'server' });
  }, BARMAN_TIMEOUT);

  it('v1: a user limited by rules gets the same refusals as on the legacy routes', async () => {
    const { checked } = ctx();
    const token = await v1Token(checked, 'limited');
    // limited: access auth, barman; deny barman/check. /fleet is not theirs, list-backup is.
    expect((await checked.fetch('/fleet', { headers: bearer(token) })).status).toBe(403);
    expect((await getJson(checked, '/api/v1/servers', token)).res.status).toBe(403);
    // Allowed: run (list-backups is an async command in this suite's settings, so 202).
    expect((await checked.fetch('/barman/list-backup?server_name=pg', { headers: bearer(token) })).status).toBeLessThan(300);
    expect((await getJson(checked, '/api/v1/hosts/default/servers/pg/backups', token)).res.status).toBe(200);
    expect((await checked.fetch('/history/list', { headers: bearer(token) })).status).toBe(403);
    expect((await getJson(checked, '/api/v1/jobs', token)).res.status).toBe(403);
  }, BARMAN_TIMEOUT);

  it('v1 actions: start a backup (202, Location), follow its log, drop it and resume with Last-Event-ID: the stream is output.log byte for byte', async () => {
    const { checked, direct, store } = ctx();
    const token = await v1Token(checked, 'admin');
    const doc = new DocumentCheck((await (await direct.fetch('/api/v1/openapi.json')).json()) as Json);
    const started = await checked.fetch('/api/v1/hosts/default/servers/pg/backups', { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ immediate_checkpoint: true, wait: true }) });
    expect(started.status, await started.clone().text()).toBe(202);
    const job = (await started.json()) as Json;
    expect(started.headers.get('location')).toBe(`${direct.prefix}/api/v1/jobs/${job.id}`);
    // The first part of the stream, dropped after its first event; then the rest from its id.
    const first = await readEvents(await direct.fetch(`/api/v1/jobs/${job.id}/log`, { headers: bearer(token) }), () => true);
    const rest = await readEvents(await direct.fetch(`/api/v1/jobs/${job.id}/log`, { headers: { ...bearer(token), 'last-event-id': first[0]!.id } }));
    const end = rest[rest.length - 1]!;
    expect(end.event).toBe('end');
    expect(JSON.parse(end.data)).toMatchObject({ id: job.id, status: 'done' });
    const text = [...first, ...rest].filter((e) => e.event === 'log').map((e) => JSON.parse(e.data) as string).join('');
    const file = readFileSync(join(store, 'active', String(job.id).slice(0, 6), String(job.id), 'output.log'));
    expect(Buffer.from(text, 'utf8').equals(file)).toBe(true);
    expect(text.length).toBeGreaterThan(0);
    // The stream's answer fits the document too (checked here: the proxy is for whole answers).
    expect(await doc.mismatch('/api/v1/jobs/{job}/log', 'GET', await direct.fetch(`/api/v1/jobs/${job.id}/log`, { headers: bearer(token) }))).toBeNull();
    // The new backup is in the list.
    const backups = await getJson(checked, '/api/v1/hosts/default/servers/pg/backups', token);
    expect(backups.body.items.length).toBeGreaterThan(0);
  }, BARMAN_TIMEOUT);

  it('v1 actions: a check now, and a user denied barman/check refused as on /barman/check', async () => {
    const { checked } = ctx();
    const admin = await v1Token(checked, 'admin');
    const check = await checked.fetch('/api/v1/hosts/default/servers/pg/check', { method: 'POST', headers: bearer(admin) });
    // check is an async command in this suite's settings: a job.
    expect([200, 202]).toContain(check.status);
    const limited = await v1Token(checked, 'limited');
    expect((await checked.fetch('/barman/check?server_name=pg', { headers: bearer(limited) })).status).toBe(403);
    expect((await checked.fetch('/api/v1/hosts/default/servers/pg/check', { method: 'POST', headers: bearer(limited) })).status).toBe(403);
    expect((await checked.fetch('/api/v1/hosts/default/commands/check', { method: 'POST', headers: { ...bearer(limited), 'content-type': 'application/json' }, body: '{"server_name":"pg"}' })).status).toBe(403);
  }, BARMAN_TIMEOUT);

  it('v1: 405 with Allow and 401 without a token, as the document says (sent directly: the proxy answers those itself)', async () => {
    const { direct, proxy } = ctx();
    const doc = new DocumentCheck((await (await direct.fetch('/api/v1/openapi.json')).json()) as Json);
    const del = await direct.fetch('/api/v1/jobs', { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    expect(await doc.mismatch('/api/v1/jobs', 'GET', del)).toBeNull();
    const none = await direct.fetch('/api/v1/jobs');
    expect(none.status).toBe(401);
    expect(await doc.mismatch('/api/v1/jobs', 'GET', none)).toBeNull();
    expect(proxy.requests()).toBeGreaterThan(0);
  });

  it('v1: the docs page renders in a browser with every file from the API, nothing from elsewhere', async () => {
    const { direct } = ctx();
    const url = new URL(`${direct.url}/api/v1/docs`);
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const elsewhere: string[] = [];
      const problems: string[] = [];
      await page.setRequestInterception(true);
      page.on('request', (req) => {
        if (new URL(req.url()).origin === url.origin || req.url().startsWith('data:')) void req.continue();
        else {
          elsewhere.push(req.url());
          void req.abort();
        }
      });
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      await page.goto(url.href, { waitUntil: 'networkidle0' });
      await page.waitForSelector('.opblock-summary-path', { timeout: 20_000 });
      const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.textContent?.replace(/\u200b/g, '')));
      expect(paths).toContain('/api/v1/hosts/{host}/servers/{server}/backups');
      expect(paths).toContain('/barman/{command}');
      expect(await page.$eval('.info .title', (e) => e.textContent)).toContain('barmanapi');
      expect(elsewhere).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('v1 property pass: generated requests to every read route never get a 500 or an answer outside the document', async () => {
    const { direct, checked, proxy } = ctx();
    const doc = new DocumentCheck((await (await direct.fetch('/api/v1/openapi.json')).json()) as Json);
    const token = await v1Token(direct, 'admin');
    // Some requests as a user whose rules refuse much of v1: their 403s must fit the document too.
    const limited = await v1Token(direct, 'limited');
    const backup = await someBackup(direct, token);
    const jobs = await getJson(direct, '/api/v1/jobs?limit=2', token);
    const segment = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('default', 'pg', 'DEFAULT', '%', '\u00e9', ' ', backup, 'latest', jobs.body.items[0]?.id ?? 'x')).filter((s) => s !== '.' && s !== '..');
    const valid: Record<string, fc.Arbitrary<string>> = {
      limit: fc.integer({ min: 1, max: 1000 }).map(String),
      status: fc.constantFrom('any', 'queued', 'running', 'done', 'failed', 'lost', 'cancelled'),
      month: fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.integer({ min: 1, max: 12 })).map(([y, m]) => `${y}${String(m).padStart(2, '0')}`),
      host: segment,
      server: segment,
      command: fc.constantFrom('backup', 'check', 'cron'),
      user: fc.constantFrom('admin', 'limited', 'nobody'),
      cursor: fc.constantFrom(jobs.body.next_cursor ?? 'am9iOjE', 'am9iOjE'),
      receiver: fc.constantFrom('0a1b2c3d4e5f', 'ffffffffffff'),
    };
    const junk = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('-1', '0', '1e3', '99999', 'true', '\u0000', 'a'.repeat(300)));
    const templates = Object.entries((doc as unknown as { doc: Json }).doc.paths as Json)
      .filter(([p, ops]) => p.startsWith('/api/v1/') && ops.get)
      .map(([p, ops]) => {
        const params = ((ops.get.parameters ?? []) as Json[]).filter((q) => q.in === 'query');
        // A parameter the document gives a list of values for takes those (status differs by route).
        const choices = Object.fromEntries(params.filter((q) => Array.isArray(q.schema?.enum)).map((q) => [q.name as string, fc.constantFrom(...(q.schema.enum as string[]))]));
        return { template: p, query: params.map((q) => q.name as string), choices };
      });
    expect(templates.length).toBeGreaterThanOrEqual(13);
    const wrong: string[] = [];
    let sent = 0;
    // The seed is in the failure message: BARMANAPI_FC_SEED=<seed> replays the same requests.
    const seed = Number(process.env.BARMANAPI_FC_SEED ?? Date.now() % 2 ** 31);
    for (const { template, query, choices } of templates) {
      const names = template.match(/\{(\w+)\}/g) ?? [];
      const validOf = (n: string) => choices[n] ?? valid[n]!;
      for (const n of query) expect(choices[n] ?? valid[n], `no generator of valid values for ${n} of ${template}`).toBeDefined();
      const request = fc.record({
        who: fc.constantFrom(token, token, limited),
        path: fc.tuple(...names.map(() => segment), fc.constant('')),
        good: fc.subarray(query).chain((picked) => fc.tuple(...picked.map((n) => validOf(n).map((v) => [n, v] as const)), fc.constant(['', ''] as const))),
        bad: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...query, 'token', 'fresh'), fc.string({ minLength: 1, maxLength: 10 })), junk), { minLength: 1, maxLength: 3 }),
      });
      await fc.assert(
        fc.asyncProperty(request, async ({ who, path, good, bad }) => {
          let i = 0;
          const url = template.replace(/\{\w+\}/g, () => encodeURIComponent(path[i++]!));
          const goodQuery = new URLSearchParams(good.filter(([n]) => n !== '') as Array<[string, string]>).toString();
          // Well-formed: through the proxy, which checks request and answer.
          const viaProxy = await checked.fetch(`${url}${goodQuery ? `?${goodQuery}` : ''}`, { headers: bearer(who) });
          sent += 1;
          if (viaProxy.status >= 500) wrong.push(`${url}?${goodQuery} via the proxy: ${viaProxy.status} ${(await viaProxy.text()).slice(0, 300)}`);
          else await viaProxy.body?.cancel();
          // Anything: directly, the answer checked against the document here.
          const badQuery = new URLSearchParams(bad as Array<[string, string]>).toString();
          const res = await direct.fetch(`${url}?${badQuery}`, { headers: bearer(who) });
          sent += 1;
          if (res.status >= 500) wrong.push(`${url}?${badQuery}: ${res.status}`);
          const why = await doc.mismatch(template, 'GET', res);
          if (why) wrong.push(`${url}?${badQuery}: ${why}`);
        }),
        { numRuns: 25, seed },
      );
    }
    console.info(`property pass: ${sent} generated requests to ${templates.length} v1 GET routes (seed ${seed}), ${wrong.length} outside the document`);
    expect(wrong, `fast-check seed ${seed}`).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(templates.length * 50);
    expect(proxy.mismatches()).toEqual([]);
  }, 300_000);

  it('v1 property pass over the actions: generated refused requests change nothing, get no 500 and fit the document; dry runs go through the proxy', async () => {
    const { direct, checked, proxy } = ctx();
    const doc = new DocumentCheck((await (await direct.fetch('/api/v1/openapi.json')).json()) as Json);
    const token = await v1Token(direct, 'admin');
    const before = { users: (await getJson(direct, '/api/v1/users', token)).body, config: (await getJson(direct, '/api/v1/hosts/default/config', token)).body, backups: (await getJson(direct, '/api/v1/hosts/default/servers/pg/backups', token)).body };
    // Path values that name nothing that exists, so no generated request can act on a real thing.
    const nothing = fc.string({ minLength: 1, maxLength: 20 }).map((x) => `zz${x}`).filter((x) => !x.includes('/'));
    const value = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.constant({ nested: 1 }), fc.constant('a\nb'), fc.constant('x'.repeat(5000)));
    // Always at least one key the routes do not take: every body is refused before anything runs.
    const body = fc.oneof(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).map((k) => `zz_${k}`), value, { minKeys: 1, maxKeys: 4 }).map((o) => JSON.stringify(o)),
      fc.constantFrom('[]', '"text"', '{', 'null', '{"set": 5}', '{"backup": 1, "zz": 2}'),
    );
    const ops = Object.entries((doc as unknown as { doc: Json }).doc.paths as Json).flatMap(([p, o]) =>
      p.startsWith('/api/v1/') && !p.includes('auth/token') ? ['post', 'patch', 'delete'].filter((m) => o[m]).map((m) => ({ template: p, method: m.toUpperCase() })) : [],
    );
    expect(ops.length).toBeGreaterThanOrEqual(10);
    const wrong: string[] = [];
    let sent = 0;
    const seed = Number(process.env.BARMANAPI_FC_SEED ?? Date.now() % 2 ** 31);
    for (const { template, method } of ops) {
      const names = template.match(/\{(\w+)\}/g) ?? [];
      const request = fc.record({ path: fc.tuple(...names.map((n) => (n === '{host}' ? fc.constantFrom('default', 'zznowhere') : n === '{server}' ? fc.constantFrom('pg', 'zzserver') : nothing)), fc.constant('')), body });
      await fc.assert(
        fc.asyncProperty(request, async ({ path, body: text }) => {
          let i = 0;
          const url = template.replace(/\{\w+\}/g, () => encodeURIComponent(path[i++]!));
          const res = await direct.fetch(url, { method, headers: { ...bearer(token), 'content-type': 'application/json' }, body: method === 'DELETE' ? undefined : text });
          sent += 1;
          if (res.status >= 500 && res.status !== 502) wrong.push(`${method} ${url} ${text.slice(0, 80)}: ${res.status}`);
          if (res.status < 400) wrong.push(`${method} ${url} ${text.slice(0, 80)}: ${res.status}, not refused`);
          const why = await doc.mismatch(template, method, res);
          if (why) wrong.push(`${method} ${url}: ${why}`);
        }),
        { numRuns: 15, seed },
      );
    }
    // Well-formed dry runs, through the proxy: answered with the diff, nothing written.
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 60 }).filter((v) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(v) && v.trim() === v && v !== ''), async (description) => {
        const res = await checked.fetch('/api/v1/hosts/default/config', { method: 'PATCH', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ set: { 'pg.description': description }, dry_run: true }) });
        sent += 1;
        const answer = (await res.json()) as Json;
        if (res.status !== 200 && res.status !== 400) wrong.push(`dry run ${JSON.stringify(description)}: ${res.status} ${JSON.stringify(answer).slice(0, 200)}`);
        if (res.status === 200 && answer.written !== false) wrong.push(`dry run ${JSON.stringify(description)} wrote`);
      }),
      { numRuns: 20, seed },
    );
    const after = { users: (await getJson(direct, '/api/v1/users', token)).body, config: (await getJson(direct, '/api/v1/hosts/default/config', token)).body, backups: (await getJson(direct, '/api/v1/hosts/default/servers/pg/backups', token)).body };
    console.info(`action property pass: ${sent} generated requests to ${ops.length} v1 actions (seed ${seed}), ${wrong.length} wrong`);
    expect(wrong, `fast-check seed ${seed}`).toEqual([]);
    expect(after).toEqual(before);
    expect(proxy.mismatches()).toEqual([]);
  }, 300_000);
}

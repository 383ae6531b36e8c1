import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { clientConfUser, loginToken, testApp } from '../support/app.js';
import { createInProcessJobRunner, createMemoryTextFile } from '../../adapters/memory/index.js';
import { loadSettings } from '../../src/settings/load.js';
import { WebhookOutbox } from '../../src/webhooks/outbox.js';
import type { AppDeps } from '../../src/context.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const HOME = '/var/lib/barman';
const SECRET = 'a-webhook-signing-secret-0123456789';
const RECEIVER = 'https://hooks.example.com/services/T000/B000/XXXXSECRETPATH?key=query-credential';

interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver that answers with `answer()` (a status, or a thrown error) and keeps every request. */
function receiver() {
  const received: Received[] = [];
  let answer: () => number = () => 204;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    received.push({ url: String(input), headers, body: String(init?.body) });
    const status = answer();
    return new Response(status === 204 ? null : 'no', { status });
  }) as typeof fetch;
  return { received, fetch: fetchFn, answer: (fn: () => number) => (answer = fn) };
}

/** barman 3.4 from the fixtures; list-backup from the backup.info files of its file map, check from `checkFails`. */
function barmanHost() {
  const state = { checkFails: false, down: false };
  const host = fixtureBarmanHost('3.4', (argv) => {
    if (state.down) return { exitCode: 255, stderr: 'ssh: connect to host backup port 22: Connection refused' };
    if (argv.includes('check')) {
      const doc = JSON.parse(readFileSync(join(OUTPUT, 'check.json'), 'utf8')) as { pg: Record<string, { status: string }> };
      if (state.checkFails) doc.pg.archiver_errors!.status = 'FAILED';
      return { exitCode: state.checkFails ? 1 : 0, stdout: JSON.stringify(doc) };
    }
    for (const name of ['list-server', 'show-server', 'status', 'show-backup']) if (argv.includes(name)) return { stdout: readFileSync(join(OUTPUT, `${name}.json`), 'utf8') };
    if (argv.includes('list-backup')) {
      const backups = [...host.files.entries()]
        .filter(([k]) => k.startsWith(`${HOME}/pg/base/`) && k.endsWith('/backup.info'))
        .map(([k, v]) => ({ backup_id: k.split('/').at(-2), status: v.trim(), end_time_timestamp: '1795822549', size_bytes: 1, wal_size_bytes: 0, retention_status: '-' }));
      return { stdout: JSON.stringify({ pg: backups }) };
    }
    if (argv.includes('backup')) return { stdout: 'Backup completed\n' };
    return { exitCode: 1, stderr: 'unexpected' };
  });
  host.files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = lab\n');
  host.files.set(`${HOME}/pg/base/20261201T000000/backup.info`, 'DONE');
  return { host, state };
}

const CLIENT_CONF = `[memin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = []\n\n${clientConfUser('watcher', ['webhooks/list'])}${clientConfUser('operator', ['barman/backup', 'history/**', 'webhooks/list'])}${clientConfUser('nobody', ['barman/list-server'])}`;

function setup(extra = '', secret = SECRET) {
  const r = receiver();
  const { host, state } = barmanHost();
  const settings = loadSettings({
    text: `[barman]\nconfigfile=/etc/barman.conf\nasynccommand=['backup']\n[cache]\nrefresh_interval=0\n[metrics]\ncheck_interval=600\n[authtoken]\nsecret=test-secret-of-enough-length\n[webhooks]\nurls=${RECEIVER}\nsecret=${secret}\n${extra}`,
    path: '/etc/barmanapi.conf',
  });
  const holder: { deps?: AppDeps } = {};
  const runner = createInProcessJobRunner({
    get storage() {
      return holder.deps!.storage;
    },
    host,
    clock: { now: () => new Date() },
    maxOutputBytes: 1 << 20,
  } as never);
  const t = testApp({ host, settings, clientConf: CLIENT_CONF, jobs: runner, fetch: r.fetch });
  holder.deps = t.deps;
  return { ...t, ...r, host, state, runner, outbox: t.api.webhooks };
}

/** Every due delivery attempted (four at a time, as the loop does). */
async function drain(outbox: WebhookOutbox, clock: { now(): Date }): Promise<void> {
  const due = () => outbox.all().some((d) => d.status === 'pending' && Date.parse(d.next_attempt_at!) <= clock.now().getTime());
  for (let i = 0; i < 100 && due(); i++) await outbox.deliverDue();
}


describe('webhooks', () => {
  it('signs each delivery as Standard Webhooks does, verified by its library, and names the URL nowhere', async () => {
    const t = setup();
    t.clock.set(new Date()); // the library checks the timestamp against the real clock
    const token = await loginToken(t.app);
    const ping = await t.app.request('/api/v1/webhooks/ping', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(ping.status).toBe(202);
    const { event_id, deliveries } = (await ping.json()) as { event_id: string; deliveries: string[] };
    expect(deliveries).toHaveLength(1);
    await t.outbox.deliverDue();
    expect(t.received).toHaveLength(1);
    const [got] = t.received;
    expect(got!.url).toBe(RECEIVER);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['webhook-id']).toBe(event_id);
    expect(Number(got!.headers['webhook-timestamp'])).toBe(Math.floor(t.clock.now().getTime() / 1000));
    const verified = new Webhook(SECRET, { format: 'raw' }).verify(got!.body, got!.headers);
    expect(verified).toMatchObject({ id: event_id, type: 'ping', data: { by: 'memin' } });
    // A tampered body or another secret fails.
    expect(() => new Webhook(SECRET, { format: 'raw' }).verify(got!.body.replace('memin', 'other'), got!.headers)).toThrow();
    expect(() => new Webhook('another-secret-of-enough-length', { format: 'raw' }).verify(got!.body, got!.headers)).toThrow();

    const status = await (await t.app.request('/api/v1/webhooks', { headers: { authorization: `Bearer ${token}` } })).text();
    expect(JSON.parse(status)).toMatchObject({ receivers: [{ origin: 'https://hooks.example.com', sent: 1, pending: 0, failed: 0, last_attempt: { http_status: 204 } }] });
    const settingsView = await (await t.app.request('/api/v1/settings', { headers: { authorization: `Bearer ${token}` } })).text();
    for (const text of [status, settingsView, JSON.stringify(t.logger.records)]) {
      expect(text).not.toContain('XXXXSECRETPATH');
      expect(text).not.toContain('query-credential');
      expect(text).not.toContain(SECRET);
    }
  });

  it('takes a whsec_ secret as Standard Webhooks libraries do', async () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const t = setup('', secret);
    t.clock.set(new Date());
    expect(t.api.settings.current().webhooks.secret).toBe(secret);
    await t.outbox.publish({ id: 'evt_0123456789abcdef0123456789abcdef', type: 'ping', at: t.clock.now().toISOString(), data: {} });
    await t.outbox.deliverDue();
    const [got] = t.received;
    expect(new Webhook(secret).verify(got!.body, got!.headers)).toMatchObject({ type: 'ping' });
  });

  it("tells a job's end once, with who ran what and how it ended, never its output", async () => {
    const t = setup();
    const token = await loginToken(t.app);
    const res = await t.app.request('/api/v1/hosts/default/servers/pg/backups', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await t.runner.settled();
    await t.api.jobs.pump(); // the look at the files sees the end the runner's exit told
    await t.outbox.idle();
    await t.outbox.deliverDue();
    const ends = t.received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> }).filter((e) => e.type === 'job.ended');
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ type: 'job.ended', host: 'default', data: { job: id, command: 'backup', servers: ['pg'], user: 'memin', status: 'done', exit_code: 0 } });
    expect(t.received[0]!.body).not.toContain('Backup completed');
  });

  it('tells what the state rounds notice: a backup barman cron made and one that failed, a check failing and passing again, the host down and up', async () => {
    const t = setup();
    const seen: string[] = [];
    t.api.refresher.on((c) => seen.push(c.event.type));
    await t.api.refresher.tick();
    await t.api.refresher.checkUnderWay; // the first check is only noted
    t.host.files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED'); // made outside the API
    t.state.checkFails = true;
    t.clock.advance(601_000);
    await t.api.refresher.tick();
    await t.api.refresher.checkUnderWay;
    t.state.down = true;
    t.api.reads.invalidate();
    await t.api.refresher.tick();
    t.state.down = false;
    t.state.checkFails = false;
    t.clock.advance(601_000);
    await t.api.refresher.tick();
    await t.api.refresher.checkUnderWay;
    await t.outbox.idle();
    expect(seen).toHaveLength(6);
    await drain(t.outbox, t.clock);
    const events = t.received.map((r) => JSON.parse(r.body) as { type: string; host: string; data: Record<string, unknown> });
    expect(events.map((e) => e.type).sort()).toEqual(['backup.failed', 'backup.new', 'check.failing', 'check.ok', 'host.down', 'host.up']);
    expect(events.find((e) => e.type === 'backup.failed')).toMatchObject({ host: 'default', data: { server: 'pg', backup: { id: '20261202T000000', status: 'FAILED' } } });
    expect(events.find((e) => e.type === 'check.failing')).toMatchObject({ data: { server: 'pg', failing: ['archiver_errors'] } });
    expect((events.find((e) => e.type === 'host.down')!.data.reason as string)).toContain('Connection refused');
  });

  it('sends only the events [webhooks] events names (a ping always)', async () => {
    const t = setup("events=['backup.*', 'host.down']\n");
    await t.api.refresher.tick();
    t.host.files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED');
    await t.api.refresher.tick();
    await t.outbox.idle();
    expect(t.outbox.all().map((d) => d.type).sort()).toEqual(['backup.failed', 'backup.new']);
    expect(await t.outbox.publish({ id: 'evt_00000000000000000000000000000009', type: 'ping', at: t.clock.now().toISOString(), data: {} })).toHaveLength(1);
  });

  it('retries with backoff under the same webhook-id, survives a restart mid-retry, stores an event told twice once, and gives up after retry_hours', async () => {
    const t = setup('retry_hours=1\n');
    let status = 503;
    t.answer(() => status);
    const event = { id: 'evt_00000000000000000000000000000001', type: 'backup.failed' as const, at: t.clock.now().toISOString(), host: 'default', data: { server: 'pg' } };
    expect(await t.outbox.publish(event)).toHaveLength(1);
    expect(await t.outbox.publish(event)).toEqual([]); // the same occurrence: stored once
    await t.outbox.deliverDue();
    let [d] = t.outbox.all();
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_attempt: { http_status: 503, error: 'answered 503' } });
    const wait = Date.parse(d!.next_attempt_at!) - t.clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(8000);
    expect(wait).toBeLessThanOrEqual(12000);
    await t.outbox.deliverDue(); // not due yet
    expect(t.received).toHaveLength(1);

    // A restart: a new outbox over the same store.
    const again = new WebhookOutbox({ storage: t.deps.storage, clock: t.clock, logger: t.logger, settings: () => t.api.settings.current().webhooks, fetch: t.fetch });
    expect(await again.publish(event)).toEqual([]); // still known after the restart
    t.clock.advance(wait);
    status = 200;
    await again.deliverDue();
    expect(t.received).toHaveLength(2);
    expect(new Set(t.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([event.id]));
    [d] = again.all();
    expect(d).toMatchObject({ status: 'sent', attempts: 2 });
    expect(JSON.parse(new TextDecoder().decode((t.deps.storage as unknown as { files: Map<string, Uint8Array> }).files.get(`webhooks/${d!.id}.json`)))).toMatchObject({ status: 'sent' });

    // Given up once retry_hours have passed, and sent again on request.
    status = 500;
    const other = { ...event, id: 'evt_00000000000000000000000000000002' };
    await again.publish(other);
    await again.deliverDue();
    t.clock.advance(3601_000);
    await again.deliverDue();
    const failed = again.get(`${other.id}.${d!.receiver}`)!;
    expect(failed).toMatchObject({ status: 'failed', attempts: 2 });
    expect(t.logger.records.some((r) => r.level === 'error' && r.message.includes('given up'))).toBe(true);
    status = 200;
    expect(await again.redeliver(failed.id)).toBe('too soon'); // attempted just now
    t.clock.advance(10_000);
    expect(await again.redeliver(failed.id)).toBeNull();
    await again.deliverDue();
    expect(again.get(failed.id)).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('keeps a failing receiver from naming its URL: errors and logs carry <url>', async () => {
    const t = setup();
    t.answer(() => {
      throw new TypeError(`fetch failed: could not reach ${RECEIVER}`);
    });
    await t.outbox.publish({ id: 'evt_00000000000000000000000000000003', type: 'host.down', at: t.clock.now().toISOString(), host: 'default', data: {} });
    await t.outbox.deliverDue();
    const [d] = t.outbox.all();
    expect(d!.last_attempt!.error).toBe('fetch failed: could not reach <url>');
    expect(JSON.stringify(t.logger.records)).not.toContain('XXXXSECRETPATH');
  });

  it('sends from memory what the store cannot take (a full disk), and says so', async () => {
    const t = setup();
    t.deps.storage.createExclusive = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    t.deps.storage.writeAtomic = t.deps.storage.createExclusive as never;
    await t.api.refresher.tick();
    t.host.files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED');
    await t.api.refresher.tick();
    await t.outbox.idle();
    await drain(t.outbox, t.clock);
    expect(t.received.map((r) => (JSON.parse(r.body) as { type: string }).type).sort()).toEqual(['backup.failed', 'backup.new']);
    expect(t.outbox.all().map((d) => d.status)).toEqual(['sent', 'sent']);
    expect(t.logger.records.filter((r) => r.message.includes('could not be written down')).length).toBeGreaterThanOrEqual(2);
  });

  it("tells the end of a job whose runner exited before starting it, failed", async () => {
    const t = setup();
    const token = await loginToken(t.app);
    // A runner that exits at once without claiming its job (a missing binary, bad settings).
    (t.runner as { start: unknown }).start = async () => ({ pid: 999_999, exited: Promise.resolve() });
    (t.runner as { isAlive: unknown }).isAlive = async () => false;
    const res = await t.app.request('/api/v1/hosts/default/servers/pg/backups', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 50));
    await t.api.jobs.pump();
    await t.outbox.idle();
    const ends = t.outbox.all().filter((d) => d.type === 'job.ended').map((d) => JSON.parse(d.body) as { data: { status: string } });
    expect(ends.map((e) => e.data.status)).toEqual(['failed']);
  });

  it('leaves a record it cannot read alone, and a stop mid-attempt leaves the delivery pending', async () => {
    const t = setup();
    const files = (t.deps.storage as unknown as { files: Map<string, Uint8Array> }).files;
    files.set('webhooks/evt_00000000000000000000000000000010.000000000000.json', new TextEncoder().encode('{"id":"evt_00000000000000000000000000000010.000000000000","status":"pending","body":"{}"}'));
    let calls = 0;
    const hanging = (async (_url: string | URL | Request, init?: RequestInit) => {
      calls += 1;
      return new Promise<Response>((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
    }) as typeof fetch;
    const outbox = new WebhookOutbox({ storage: t.deps.storage, clock: t.clock, logger: t.logger, settings: () => t.api.settings.current().webhooks, fetch: hanging });
    await outbox.load();
    expect(outbox.all()).toEqual([]);
    expect(t.logger.records.some((r) => r.message.includes('is not a delivery record'))).toBe(true);
    await outbox.publish({ id: 'evt_00000000000000000000000000000011', type: 'host.down', at: t.clock.now().toISOString(), host: 'default', data: {} });
    outbox.start();
    for (let i = 0; i < 50 && calls === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(1);
    await outbox.stop();
    const [d] = outbox.all();
    expect(d).toMatchObject({ status: 'pending', attempts: 0, last_attempt: null });
    expect(JSON.parse(new TextDecoder().decode(files.get(`webhooks/${d!.id}.json`)))).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('takes one waiting ping per receiver, and a redelivery at most every 10 seconds', async () => {
    const t = setup();
    const post = async (path: string) => t.app.request(path, { method: 'POST', headers: { authorization: `Bearer ${await loginToken(t.app)}` } });
    t.answer(() => 503);
    expect((await post('/api/v1/webhooks/ping')).status).toBe(202);
    const again = await post('/api/v1/webhooks/ping');
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('waits still');
    await t.outbox.deliverDue();
    t.clock.advance(3601_000 * 24);
    await t.outbox.deliverDue(); // given up
    const [d] = t.outbox.all();
    expect(d!.status).toBe('failed');
    t.answer(() => 204);
    const redo = () => post(`/api/v1/webhooks/deliveries/${d!.id}/redeliver`);
    expect((await redo()).status).toBe(409); // given up just now
    t.clock.advance(10_000);
    expect((await redo()).status).toBe(202);
    await t.outbox.deliverDue();
    expect(t.outbox.get(d!.id)!.status).toBe('sent');
    expect((await redo()).status).toBe(409); // attempted just now
    t.clock.advance(10_000);
    expect((await redo()).status).toBe(202);
  });

  it('counts deliveries and attempts in /metrics, for who sees every host', async () => {
    const t = setup();
    t.answer(() => 503);
    await t.outbox.publish({ id: 'evt_00000000000000000000000000000030', type: 'host.down', at: t.clock.now().toISOString(), host: 'default', data: {} });
    await t.outbox.deliverDue();
    const [d] = t.outbox.all();
    const text = await (await t.app.request('/metrics', { headers: { authorization: `Bearer ${await loginToken(t.app)}` } })).text();
    expect(text).toContain(`barmanapi_webhook_deliveries{receiver="${d!.receiver}",status="pending"} 1`);
    expect(text).toContain(`barmanapi_webhook_attempts_total{receiver="${d!.receiver}",outcome="retry"} 1`);
  });

  it("names receivers by a keyed id: the same after a restart, not the URL's plain hash", async () => {
    const t = setup();
    const id = (await t.outbox.receivers())[0]!.id;
    const { createHash } = await import('node:crypto');
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(id).not.toBe(createHash('sha256').update(RECEIVER).digest('hex').slice(0, 12));
    const again = new WebhookOutbox({ storage: t.deps.storage, clock: t.clock, logger: t.logger, settings: () => t.api.settings.current().webhooks, fetch: t.fetch });
    expect((await again.receivers())[0]!.id).toBe(id);
    const other = setup(); // another store, another key
    expect((await other.outbox.receivers())[0]!.id).not.toBe(id);
  });

  it('keeps a dead receiver from holding back the others', async () => {
    const t = setup();
    const other = 'https://other.example.com/hook';
    t.api.settings.update(loadSettings({ text: `[webhooks]\nurls=${RECEIVER}, ${other}\nsecret=${SECRET}\n`, path: '/etc/barmanapi.conf' }), ['webhooks.urls']);
    const hung: string[] = [];
    const outbox = new WebhookOutbox({
      storage: t.deps.storage, clock: t.clock, logger: t.logger, settings: () => t.api.settings.current().webhooks,
      fetch: (async (url: string | URL | Request, init?: RequestInit) => {
        if (String(url) === RECEIVER) {
          hung.push(String(url));
          return new Promise<Response>((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
        }
        return new Response(null, { status: 204 });
      }) as typeof fetch,
    });
    for (let i = 0; i < 4; i++) await outbox.publish({ id: `evt_0000000000000000000000000000002${i}`, type: 'host.down', at: t.clock.now().toISOString(), host: 'default', data: {} });
    void outbox.deliverDue();
    await new Promise((r) => setTimeout(r, 20));
    expect(hung).toHaveLength(2); // two at a time to the dead one
    await outbox.deliverDue();
    await new Promise((r) => setTimeout(r, 20));
    expect(outbox.all().filter((d) => d.status === 'sent')).toHaveLength(4); // the live one got all four
    outbox.start();
    await outbox.stop();
  });

  it('shows deliveries only where their event is: hosts one reaches, a job end to its owner or history/all; acting needs its own rule', async () => {
    const t = setup();
    const memin = await loginToken(t.app);
    const operator = await loginToken(t.app, 'operator');
    const watcher = await loginToken(t.app, 'watcher');
    const nobody = await loginToken(t.app, 'nobody');
    const get = (token: string, path: string, method = 'GET') => t.app.request(path, { method, headers: { authorization: `Bearer ${token}` } });
    expect((await get(memin, '/api/v1/hosts/default/servers/pg/backups', 'POST')).status).toBe(202);
    await t.runner.settled();
    await t.api.jobs.pump();
    await t.outbox.idle();
    await t.outbox.publish({ id: 'evt_00000000000000000000000000000004', type: 'backup.failed', at: t.clock.now().toISOString(), host: 'default', data: {} });
    const list = async (token: string) => ((await (await get(token, '/api/v1/webhooks/deliveries')).json()) as { items: Array<{ type: string; id: string }> }).items.map((i) => i.type).sort();
    expect(await list(memin)).toEqual(['backup.failed', 'job.ended']);
    expect(await list(watcher)).toEqual(['backup.failed']); // memin's job is not theirs to know of
    expect(await list(operator)).toEqual(['backup.failed']);
    expect((await get(nobody, '/api/v1/webhooks')).status).toBe(403);
    const job = t.outbox.all().find((d) => d.type === 'job.ended')!;
    expect((await get(watcher, `/api/v1/webhooks/deliveries/${job.id}`)).status).toBe(404);
    expect((await get(memin, `/api/v1/webhooks/deliveries/${job.id}`)).status).toBe(200);
    expect((await get(watcher, '/api/v1/webhooks/ping', 'POST')).status).toBe(403);
    expect((await get(memin, `/api/v1/webhooks/deliveries/${job.id}/redeliver`, 'POST')).status).toBe(409); // pending
    await t.outbox.deliverDue();
    t.clock.advance(10_000);
    const redo = await get(memin, `/api/v1/webhooks/deliveries/${job.id}/redeliver`, 'POST');
    expect(redo.status).toBe(202);
    expect(await redo.json()).toMatchObject({ status: 'pending', event: { type: 'job.ended' } });
    expect((await get(memin, '/api/v1/webhooks/deliveries?status=bogus')).status).toBe(400);
  });
});

describe('[webhooks] settings', () => {
  const load = (body: string) => () => loadSettings({ text: `[webhooks]\n${body}`, path: '/etc/barmanapi.conf' });
  it('refuses what would lose events or leak a credential, naming the URL by position only', () => {
    expect(load(`urls=ftp://example.com/x\nsecret=${SECRET}`)).toThrow(/URL 1 must start with https:\/\/ or http:\/\//);
    expect(load('urls=https://hooks.example.com/TOKEN123, not a url\nsecret=x'.replace('secret=x', `secret=${SECRET}`))).toThrow(/URL 2 is not a URL/);
    const message = (body: string) => {
      try {
        load(body)();
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${body}: loaded`);
    };
    for (const body of [`urls=https://hooks.example.com/TOKEN123, nope\nsecret=${SECRET}`, "urls=['https://hooks.example.com/TOKEN123', unclosed", 'urls=https://u:TOKEN123@hooks.example.com/x\nsecret=' + SECRET]) {
      expect(message(body)).toMatch(/\[webhooks\] urls/);
      expect(message(body)).not.toContain('TOKEN123');
    }
    expect(message('urls=https://u:p@hooks.example.com/x\nsecret=' + SECRET)).toMatch(/must not hold user:password@/);
    expect(message(`urls=https://a.example.com/x\nsecret=whsec_${Buffer.from('fifteen-bytes!!').toString('base64')}`)).toMatch(/whsec_ secret needs 16 bytes/);
    expect(load('urls=https://a.example.com/x, https://a.example.com/x\nsecret=' + SECRET)).toThrow(/listed twice/);
    expect(load('urls=https://a.example.com/x\nsecret=short')).toThrow(/24 characters or more/);
    expect(load(`urls=https://a.example.com/x\nsecret=${SECRET}\nevents=backup.faild`)).toThrow(/"backup.faild" names no event/);
    expect(load(`urls=https://a.example.com/x\nsecret=${SECRET}\nevents=backup.*, check.failing`)().webhooks.events).toEqual(['backup.*', 'check.failing']);
  });

  it('are privileged: changing them needs config/barmanapi/exec', async () => {
    const text = '[authtoken]\nsecret=test-secret-of-enough-length\n';
    const t = testApp({ clientConf: clientConfUser('editor', ['config/barmanapi']), settingsText: text, settingsFile: createMemoryTextFile('/etc/barmanapi.conf', text) });
    const editor = await loginToken(t.app, 'editor');
    for (const [key, value] of [['webhooks.urls', 'https://elsewhere.example.com/'], ['webhooks.events', 'ping'], ['webhooks.retry_hours', '0']]) {
      const res = await t.app.request('/config/barmanapi/change', { method: 'POST', headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json' }, body: JSON.stringify({ [key!]: value }) });
      expect(res.status, key).toBe(403);
    }
  });
});

/**
 * Webhooks from a real server over the real barman to a receiver in this process: the receiver
 * verifies each request with the README's snippet and with the Standard Webhooks library, answers
 * the first attempt of every event 503, and the server is stopped and started again while the
 * retries wait. After de-duplication by webhook-id the receiver has each event once. On the Node
 * server and on the single binary (Bun's fetch).
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { itEnv } from '../support/it-env.js';
import { REPO, freePort, serverDir, startServerProcess, type ServerDir, type ServerProcess } from '../support/server-process.js';

const env = itEnv();
const SECRET = 'integration-webhook-secret-0123456789';

interface Arrival {
  id: string;
  verified: boolean;
  byLibrary: boolean;
  type: string;
  answered: number;
}

/** The README's receiver snippet, as a module. */
async function readmeVerifier(): Promise<(secret: string, headers: Record<string, string | string[] | undefined>, body: string) => { id: string; type: string } | null> {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const code = /<!-- webhook-receiver -->\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!code) throw new Error('README.md has no webhook receiver snippet');
  const dir = mkdtempSync(join(tmpdir(), 'barmanapi-receiver-'));
  const file = join(dir, 'verify.mjs');
  writeFileSync(file, code);
  const mod = (await import(pathToFileURL(file).href)) as { verifyWebhook: never };
  rmSync(dir, { recursive: true, force: true });
  return mod.verifyWebhook;
}

const runtimes: Array<[string, string[] | undefined]> = [
  ['Node server', undefined],
  ['single binary', [join(REPO, 'dist', 'barmanapi')]],
];

describe.each(runtimes)('webhooks from the %s', (_runtime, command) => {
  let receiver: Server;
  let receiverUrl: string;
  let dir: ServerDir;
  let server: ServerProcess;
  const arrivals: Arrival[] = [];
  /** Every attempt is refused until the server has been restarted. */
  let restarted = false;

  beforeAll(async () => {
    const verify = await readmeVerifier();
    const library = new Webhook(SECRET, { format: 'raw' });
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const event = verify(SECRET, req.headers, body);
        let byLibrary = true;
        try {
          library.verify(body, req.headers as Record<string, string>);
        } catch {
          byLibrary = false;
        }
        const id = String(req.headers['webhook-id']);
        // Refused until the restart: the server must keep the deliveries and try again.
        const answered = restarted ? 200 : 503;
        arrivals.push({ id, verified: event !== null && event.id === id, byLibrary, type: event?.type ?? '?', answered });
        res.writeHead(answered).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${port}/hooks/barman?key=receiver-credential`;
    dir = serverDir(
      `configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false\nasynccommand=['backup', 'cron']`,
      `[webhooks]\nurls=${receiverUrl}\nsecret=${SECRET}\nevents=job.ended\n`,
    );
    server = await startServerProcess(dir.config, { command });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
    if (dir) rmSync(dir.dir, { recursive: true, force: true });
  });

  const api = async (path: string, init: RequestInit = {}) => {
    const login = await fetch(`${server.baseUrl}/auth/token`, { headers: { authorization: `Basic ${Buffer.from('memin:1258').toString('base64')}` } });
    const { token } = (await login.json()) as { token: string };
    return fetch(`${server.baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  };

  const waitFor = async (what: string, done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; arrivals ${JSON.stringify(arrivals)}\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('delivers a job end and a ping, signed, once each after de-duplication, across a restart mid-retry', async () => {
    const cron = await api('/barman/cron');
    expect(cron.status).toBe(202); // an async command: a ticket
    const ping = await api('/api/v1/webhooks/ping', { method: 'POST' });
    expect(ping.status).toBe(202);
    // The first attempts arrive and are refused.
    await waitFor('first attempts', () => new Set(arrivals.map((a) => a.id)).size === 2, 30_000);
    expect(arrivals.map((a) => a.type).sort()).toEqual(['job.ended', 'ping']);
    const records = () => readdirSync(join(dir.store, 'webhooks')).filter((f) => f.startsWith('evt_')).map((f) => JSON.parse(readFileSync(join(dir.store, 'webhooks', f), 'utf8')) as { attempts: number });
    await waitFor('the refusals written down', () => records().length === 2 && records().every((r) => r.attempts >= 1), 5_000);

    // Stopped while the retries wait (about 10 s): the store holds them as pending.
    expect(await server.stop()).toBe(0);
    const files = readdirSync(join(dir.store, 'webhooks')).filter((f) => f.startsWith('evt_'));
    expect(files).toHaveLength(2);
    for (const f of files) expect(JSON.parse(readFileSync(join(dir.store, 'webhooks', f), 'utf8'))).toMatchObject({ status: 'pending', last_attempt: { http_status: 503 } });
    const refused = arrivals.length;
    for (const f of files) expect(readFileSync(join(dir.store, 'webhooks', f), 'utf8')).not.toContain('receiver-credential');

    restarted = true;
    server = await startServerProcess(dir.config, { command });
    await waitFor('the retries after the restart', () => arrivals.filter((a) => a.answered === 200).length === 2, 30_000);

    expect(arrivals).toHaveLength(refused + 2);
    expect(arrivals.every((a) => a.verified && a.byLibrary)).toBe(true);
    const unique = new Map(arrivals.map((a) => [a.id, a.type]));
    expect([...unique.values()].sort()).toEqual(['job.ended', 'ping']);

    const deliveries = (await (await api('/api/v1/webhooks/deliveries')).json()) as { items: Array<{ status: string; attempts: number }> };
    expect(deliveries.items.map((d) => d.status)).toEqual(['sent', 'sent']);
    // Each refusal written down (one cut off by the stop may not be) and each success.
    const attempts = deliveries.items.reduce((n, d) => n + d.attempts, 0);
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(refused + 2);
    const receivers = await (await api('/api/v1/webhooks')).text();
    expect(JSON.parse(receivers)).toMatchObject({ receivers: [{ origin: new URL(receiverUrl).origin, sent: 2, pending: 0, failed: 0 }] });
    expect(receivers).not.toContain('receiver-credential');
    expect(server.output()).not.toContain('receiver-credential');
    expect(server.output()).not.toContain(SECRET);
  }, 90_000);
});

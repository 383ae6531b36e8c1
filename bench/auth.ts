/**
 * Issue 2: requests/s of `GET /auth/user?token=…` (token check + access rules, the real Node
 * adapters, request logging to the store) against a bare Hono route served by the same server
 * library in the same process. The load comes from another process (wrk when installed, else
 * bench/loadgen.ts), so it never competes for the server's event loop.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createNodeDeps } from '../adapters/node/deps.js';
import { startServer } from '../adapters/node/serve.js';
import { readSettings } from '../adapters/node/settings-file.js';
import { BENCH_DIR, HOST, fetchJson, log, loginToken, onPath, round, runCommand, tempDir, writeConfig, type BenchOutcome } from './lib.js';
import type { LoadResult } from './loadgen.js';

const CONNECTIONS = 32;
const WARMUP_SECONDS = 2;
const ROUND_SECONDS = 5;
const TARGET_RATIO = 0.6;

export async function benchAuth(): Promise<BenchOutcome> {
  const dir = tempDir('auth');
  const stops: Array<() => Promise<void>> = [];
  try {
    const config = writeConfig(dir.path, {});
    const deps = createNodeDeps(readSettings({ config }), { logToStderr: false });
    const api = await startServer(deps, { host: HOST, port: 0 });
    stops.push(() => closeServer(api.server, api.close));
    const bare = await serveBare();
    stops.push(() => closeServer(bare.server, async () => undefined));

    const token = await loginToken(`http://${HOST}:${api.port}`);
    const apiUrl = `http://${HOST}:${api.port}/auth/user?token=${token}`;
    const bareUrl = `http://${HOST}:${bare.port}/bare`;
    const check = await fetchJson(apiUrl);
    if (check.status !== 200) throw new Error(`/auth/user answered ${check.status}: ${JSON.stringify(check.body).slice(0, 300)}`);
    // Measure the steady state: the server discovers barman's commands at start (a burst of
    // barman --help processes); let that finish first. Any answer will do, barman or not.
    await fetchJson(`http://${HOST}:${api.port}/barman/help?token=${token}`);

    const load = withCpu(await loadGenerator());
    log(`auth: load from ${load.name}, ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up, 2 × ${ROUND_SECONDS} s per route`);
    await load.run(bareUrl, WARMUP_SECONDS);
    await load.run(apiUrl, WARMUP_SECONDS);
    // bare, api, api, bare: a drift in machine speed during the run weighs on both sides alike.
    const bareRuns: Array<LoadResult & { cpuUs: number }> = [];
    const apiRuns: Array<LoadResult & { cpuUs: number }> = [];
    bareRuns.push(await load.run(bareUrl, ROUND_SECONDS));
    apiRuns.push(await load.run(apiUrl, ROUND_SECONDS));
    apiRuns.push(await load.run(apiUrl, ROUND_SECONDS));
    bareRuns.push(await load.run(bareUrl, ROUND_SECONDS));
    for (const r of [...bareRuns, ...apiRuns]) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`load run had ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    }
    const bareRps = mean(bareRuns.map((r) => r.rps));
    const apiRps = mean(apiRuns.map((r) => r.rps));
    const ratio = apiRps / bareRps;
    const bareCpu = mean(bareRuns.map((r) => r.cpuUs));
    const apiCpu = mean(apiRuns.map((r) => r.cpuUs));
    const note = `${load.name}, ${CONNECTIONS} connections, 2 × ${ROUND_SECONDS} s each`;
    return {
      figures: [
        { bench: 'auth', name: 'bare Hono route', value: round(bareRps, 0), unit: 'req/s', note },
        { bench: 'auth', name: 'GET /auth/user?token=…', value: round(apiRps, 0), unit: 'req/s', note },
        { bench: 'auth', name: '/auth/user ÷ bare', value: round(ratio, 3), unit: 'ratio', target: `≥ ${TARGET_RATIO}`, met: ratio >= TARGET_RATIO },
        { bench: 'auth', name: 'server CPU per request, bare', value: round(bareCpu, 1), unit: 'µs', note: 'process.cpuUsage() ÷ requests' },
        { bench: 'auth', name: 'server CPU per request, /auth/user', value: round(apiCpu, 1), unit: 'µs', note: `bare ÷ /auth/user = ${round(bareCpu / apiCpu, 3)}` },
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    dir.remove();
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The reference: a one-route Hono app on @hono/node-server, as the API itself is served. */
function serveBare(): Promise<{ server: ServerType; port: number }> {
  const app = new Hono().get('/bare', (c) => c.json({ ok: true }));
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: HOST, port: 0 }, (info) => resolve({ server, port: info.port }));
    server.once('error', reject);
  });
}

async function closeServer(server: ServerType, close: () => Promise<void>): Promise<void> {
  const s = server as ServerType & { closeAllConnections?: () => void };
  s.closeAllConnections?.();
  await close();
  if (s.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
}

interface LoadGenerator {
  name: string;
  run(url: string, seconds: number): Promise<LoadResult>;
}

/**
 * Also the server's CPU time per request: this process only serves while the load runs, so
 * process.cpuUsage() over a run divided by its requests is a figure that other load on the
 * machine disturbs much less than requests/s.
 */
function withCpu(load: LoadGenerator): { name: string; run(url: string, seconds: number): Promise<LoadResult & { cpuUs: number }> } {
  return {
    name: load.name,
    async run(url, seconds) {
      const before = process.cpuUsage();
      const r = await load.run(url, seconds);
      const used = process.cpuUsage(before);
      return { ...r, cpuUs: (used.user + used.system) / Math.max(1, r.requests) };
    },
  };
}

/** wrk when it is installed (BENCH_LOADGEN=node forces the Node generator). */
async function loadGenerator(): Promise<LoadGenerator> {
  const wrk = process.env.BENCH_LOADGEN === 'node' ? null : await onPath('wrk');
  if (wrk) {
    return {
      name: 'wrk -t1',
      async run(url, seconds) {
        const r = await runCommand(wrk, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '5s', url], { timeoutMs: (seconds + 30) * 1000 });
        if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr || r.stdout}`);
        return parseWrk(r.stdout, seconds);
      },
    };
  }
  return {
    name: 'Node load generator (bench/loadgen.ts)',
    async run(url, seconds) {
      const r = await runCommand(process.execPath, [`${BENCH_DIR}/loadgen.js`, url, String(CONNECTIONS), String(seconds)], { timeoutMs: (seconds + 30) * 1000 });
      if (r.code !== 0) throw new Error(`load generator failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as LoadResult;
    },
  };
}

export function parseWrk(out: string, seconds: number): LoadResult {
  const rps = Number(/Requests\/sec:\s*([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!Number.isFinite(rps) || !Number.isFinite(requests)) throw new Error(`cannot read wrk's output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  // wrk counts the read error of each connection it closes at the end; only the others matter.
  const errors = socket ? Number(socket[1]) + Number(socket[3]) + Number(socket[4]) : 0;
  return { requests, non2xx, errors, seconds, rps };
}

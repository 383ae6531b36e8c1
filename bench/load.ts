/**
 * Bounded barman runs under load: many clients at once on `/barman/list-server` for a while,
 * against a server process with the default cap (2 × cores). Counts the barman processes the
 * server has at once (sampled from /proc), answers by status, latency percentiles, the server's
 * peak RSS, and its open fds and children before and after. Needs the integration environment.
 * BENCH_LOAD_SECONDS sets the length of each phase (default 60).
 */
import { spawn } from 'node:child_process';
import { Agent, get } from 'node:http';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { HOST, freePort, log, loginToken, percentile, REPO_ROOT, round, tempDir, writeConfig, type BenchOutcome, type Figure } from './lib.js';

interface ItEnv {
  barman: { config: string; command: string[] };
}

interface Phase {
  clients: number;
  ok: number;
  busy: number;
  other: number;
  latencies: number[];
  seconds: number;
  peakBarmans: number;
}

export async function benchLoad(): Promise<BenchOutcome> {
  const envFile = join(process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it', 'env.json');
  if (!existsSync(envFile)) {
    return { figures: [], skipped: `${envFile} is missing; bring the environment up first (as root): bash test/integration/env/up.sh` };
  }
  const env = JSON.parse(readFileSync(envFile, 'utf8')) as ItEnv;
  const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
  const cap = 2 * availableParallelism();
  const dir = tempDir('load');
  const port = await freePort();
  const config = writeConfig(dir.path, {
    application: { port: String(port) },
    barman: { configfile: env.barman.config, command: env.barman.command.join(' '), remote: 'false', asynccommand: '[]', timeout: '120' },
  });
  const server = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'barmanapi.js'), 'runserver', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const base = `http://${HOST}:${port}`;
  try {
    await waitForServer(base, () => stderr);
    const token = await loginToken(base);
    // The catalogue is built once, in the background; let it finish before measuring.
    await fetch(`${base}/barman/help?token=${token}`);
    const before = { fds: fdCount(server.pid!), children: descendants(server.pid!).length };
    let peakRss = 0;
    const few = await phase(base, token, 4, seconds, server.pid!, (rss) => (peakRss = Math.max(peakRss, rss)));
    const many = await phase(base, token, 200, seconds, server.pid!, (rss) => (peakRss = Math.max(peakRss, rss)));
    await new Promise((r) => setTimeout(r, 2000));
    const after = { fds: fdCount(server.pid!), children: descendants(server.pid!).length };
    const rate = (p: Phase) => p.ok / p.seconds;
    const figures: Figure[] = [];
    for (const p of [few, many]) {
      const name = `${p.clients} clients`;
      figures.push(
        { bench: 'load', name: `${name}: 200 answers per second`, value: round(rate(p), 2), unit: '/s', note: `${p.seconds} s of GET /barman/list-server` },
        { bench: 'load', name: `${name}: answers 200 / 503 / other`, value: `${p.ok} / ${p.busy} / ${p.other}`, unit: '', target: 'other = 0', met: p.other === 0 },
        { bench: 'load', name: `${name}: latency p50 / p99`, value: `${round(percentile(p.latencies, 50), 0)} / ${round(percentile(p.latencies, 99), 0)}`, unit: 'ms' },
        { bench: 'load', name: `${name}: peak barman processes`, value: p.peakBarmans, unit: '', target: `≤ ${cap} (the cap)`, met: p.peakBarmans <= cap },
      );
    }
    figures.push(
      { bench: 'load', name: '200 ÷ 4 clients: 200 answers per second', value: round(rate(many) / rate(few), 2), unit: 'ratio', target: '≥ 1 (the cap costs no throughput)', met: rate(many) >= rate(few) * 0.95, note: 'within 5 %: both phases are bound by barman on 2 cores' },
      { bench: 'load', name: 'server peak RSS', value: round(peakRss / 1024, 1), unit: 'MiB' },
      { bench: 'load', name: 'server fds / children, before → after', value: `${before.fds} / ${before.children} → ${after.fds} / ${after.children}`, unit: '', target: 'none left', met: after.children === 0 && after.fds <= before.fds + 2 },
    );
    return { figures };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    dir.remove();
  }
}

/** GET over keep-alive connections of `agent`: status and Retry-After. */
function request(agent: Agent, url: string): Promise<{ status: number; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function phase(base: string, token: string, clients: number, seconds: number, pid: number, onRss: (kib: number) => void): Promise<Phase> {
  log(`load: ${clients} clients for ${seconds} s`);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const p: Phase = { clients, ok: 0, busy: 0, other: 0, latencies: [], seconds, peakBarmans: 0 };
  const end = Date.now() + seconds * 1000;
  const sampler = setInterval(() => {
    p.peakBarmans = Math.max(p.peakBarmans, descendants(pid).filter(isBarman).length);
    onRss(rssKib(pid));
  }, 50);
  const client = async () => {
    while (Date.now() < end) {
      const started = performance.now();
      try {
        const res = await request(agent, `${base}/barman/list-server?token=${token}`);
        p.latencies.push(performance.now() - started);
        if (res.status === 200) p.ok += 1;
        else if (res.status === 503) {
          p.busy += 1;
          // A well-behaved client waits as Retry-After says, give or take a little (no herd).
          await new Promise((r) => setTimeout(r, res.retryAfter * 1000 * (0.75 + Math.random() / 2)));
        } else p.other += 1;
      } catch {
        p.other += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  clearInterval(sampler);
  agent.destroy(); // the clients hang up, as they would when done
  return p;
}

async function waitForServer(base: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(`${base}/auth/user`);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`server did not start: ${output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** barman itself (python running /usr/bin/barman), not the runuser in front of it. */
function isBarman(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /python/.test(argv[0] ?? '') && argv.some((a) => a.endsWith('/barman'));
  } catch {
    return false;
  }
}

function rssKib(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      readlinkSync(`/proc/${pid}/fd/${fd}`);
      return true;
    } catch {
      return false;
    }
  }).length;
}

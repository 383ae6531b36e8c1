/**
 * Reads at scale: 100 identical concurrent `/barman/list-backup` requests (barman processes
 * spawned, p99), cached `/barman/list-backup` against a direct local `barman -f json list-backup`
 * with the local and the SSH host, and a repeated `/barman/diagnose` against a direct
 * `barman diagnose`. Needs the integration environment of test/integration/env.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeDeps } from '../adapters/node/deps.js';
import { startServer, type RunningServer } from '../adapters/node/serve.js';
import { readSettings } from '../adapters/node/settings-file.js';
import type { BarmanHost } from '../src/ports.js';
import { HOST, fetchJson, log, loginToken, median, percentile, round, runCommand, tempDir, timed, writeConfig, type BenchOutcome, type Figure } from './lib.js';

const DIRECT_RUNS = 7;
const CACHED_RUNS = 300;
const CONCURRENT = 100;

interface ItEnv {
  barman: { config: string; command: string[]; server: string };
  ssh: { remotessh: string; knownHosts: string };
}

interface Served {
  base: string;
  token: string;
  /** barman processes the API started whose argv holds `word`. */
  spawned(word: string): number;
  close(): Promise<void>;
}

async function serve(name: string, barman: Record<string, string>): Promise<Served> {
  const dir = tempDir(`reads-${name}`);
  const config = writeConfig(dir.path, { barman: { ...barman, timeout: '120', max_concurrent: '4', max_queued: '200' } });
  const deps = createNodeDeps(readSettings({ config }), { logToStderr: false });
  const runs: string[][] = [];
  const host = deps.host;
  // Count what the API asks the host to run, as the host sees it.
  deps.host = Object.assign(Object.create(host) as BarmanHost, {
    run: (argv: string[], options?: Parameters<BarmanHost['run']>[1]) => {
      runs.push(argv);
      return host.run(argv, options);
    },
  });
  const server: RunningServer = await startServer(deps, { host: HOST, port: 0 });
  const base = `http://${HOST}:${server.port}`;
  const token = await loginToken(base);
  const help = await fetchJson(`${base}/barman/help?token=${token}`);
  if (help.status !== 200) throw new Error(`${name}: /barman/help answered ${help.status}`);
  return {
    base,
    token,
    spawned: (word) => runs.filter((argv) => argv.some((w) => w.startsWith(word))).length,
    async close() {
      await server.close().catch(() => undefined);
      await host.close().catch(() => undefined);
      dir.remove();
    },
  };
}

async function get(s: Served, path: string): Promise<{ hit: boolean }> {
  const r = await fetchJson(`${s.base}${path}&token=${s.token}`);
  const body = r.body as { data?: unknown; cache?: { hit: boolean } };
  if (r.status !== 200 || typeof body.data !== 'object') throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return { hit: body.cache?.hit === true };
}

export async function benchReads(): Promise<BenchOutcome> {
  const envFile = join(process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it', 'env.json');
  if (!existsSync(envFile)) {
    return { figures: [], skipped: `${envFile} is missing; bring the environment up first (as root): bash test/integration/env/up.sh` };
  }
  const env = JSON.parse(readFileSync(envFile, 'utf8')) as ItEnv;
  const server = env.barman.server;
  const [file, ...prefix] = env.barman.command;
  const direct = async (...args: string[]) => {
    const r = await runCommand(file!, [...prefix, '-c', env.barman.config, ...args], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`barman ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).slice(0, 300)}`);
  };
  const directMs: number[] = [];
  for (let i = 0; i < DIRECT_RUNS; i++) directMs.push((await timed(() => direct('-f', 'json', 'list-backup', server))).ms);
  const directList = median(directMs);
  const figures: Figure[] = [
    { bench: 'reads', name: 'direct `barman -f json list-backup` (local)', value: round(directList, 1), unit: 'ms (median)', note: `${DIRECT_RUNS} runs` },
  ];

  const local = await serve('local', { configfile: env.barman.config, command: env.barman.command.join(' '), remote: 'false' });
  try {
    // 100 identical requests at once, the cache cold: one barman run answers them all.
    const path = `/barman/list-backup?server_name=${server}&fresh=1`;
    const before = local.spawned('list-backup');
    const started = Date.now();
    const ends = await Promise.all(Array.from({ length: CONCURRENT }, async () => {
      await get(local, path);
      return Date.now() - started;
    }));
    const spawned = local.spawned('list-backup') - before;
    const p99 = percentile(ends, 99);
    figures.push(
      { bench: 'reads', name: `${CONCURRENT} identical concurrent list-backup: barman processes`, value: spawned, unit: 'processes', target: '≤ 2', met: spawned <= 2 },
      { bench: 'reads', name: `${CONCURRENT} identical concurrent list-backup: p99 ÷ direct`, value: round(p99 / directList, 2), unit: 'ratio', target: '≤ 2', met: p99 / directList <= 2, note: `p99 ${round(p99, 0)} ms` },
    );
    figures.push(await cached('local', local, server, directList, 0.02));

    // diagnose: asked again while its answer is younger than live_max_age.
    const diagnoseMs: number[] = [];
    for (let i = 0; i < 3; i++) diagnoseMs.push((await timed(() => direct('diagnose'))).ms);
    await get(local, '/barman/diagnose?fresh=1');
    const repeat: number[] = [];
    for (let i = 0; i < 20; i++) repeat.push((await timed(() => get(local, '/barman/diagnose?format=json'))).ms);
    const ratio = median(repeat) / median(diagnoseMs);
    figures.push({ bench: 'reads', name: 'repeat /barman/diagnose ÷ direct `barman diagnose`', value: round(ratio, 4), unit: 'ratio', target: '≤ 0.1', met: ratio <= 0.1, note: `${round(median(repeat), 2)} ms vs ${round(median(diagnoseMs), 0)} ms` });
  } finally {
    await local.close();
  }

  const ssh = await serve('ssh', { configfile: env.barman.config, command: '/usr/bin/barman', remote: 'true', remotessh: env.ssh.remotessh, known_hosts: env.ssh.knownHosts });
  try {
    figures.push(await cached('ssh', ssh, server, directList, 0.05));
  } finally {
    await ssh.close();
  }
  return { figures };
}

/** p50 of cached list-backup answers (a fingerprint each) ÷ the direct local run. */
async function cached(name: string, s: Served, server: string, directMs: number, target: number): Promise<Figure> {
  await get(s, `/barman/list-backup?server_name=${server}&fresh=1`);
  // Past the racy window of the last change, so the answer is kept.
  await new Promise((r) => setTimeout(r, 2_100));
  await get(s, `/barman/list-backup?server_name=${server}`);
  const ms: number[] = [];
  let hits = 0;
  for (let i = 0; i < CACHED_RUNS; i++) {
    const { ms: took, value } = await timed(() => get(s, `/barman/list-backup?server_name=${server}`));
    ms.push(took);
    if (value.hit) hits += 1;
  }
  log(`reads ${name}: cached p50 ${round(median(ms), 2)} ms, ${hits}/${CACHED_RUNS} hits`);
  const ratio = median(ms) / directMs;
  return { bench: 'reads', name: `${name}: cached list-backup p50 ÷ direct local`, value: round(ratio, 4), unit: 'ratio', target: `≤ ${target}`, met: ratio <= target && hits === CACHED_RUNS, note: `${round(median(ms), 2)} ms, ${hits}/${CACHED_RUNS} hits` };
}

/**
 * Issue 3: median time of `/barman/list-server` through the API against running barman
 * directly, locally (same argv through child_process) and over SSH (the API's pooled ssh2
 * connection against an `ssh` client started fresh for every call). Needs the integration
 * environment of test/integration/env (PostgreSQL, barman config, sshd on 127.0.0.1).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeDeps } from '../adapters/node/deps.js';
import { startServer, type RunningServer } from '../adapters/node/serve.js';
import { readSettings } from '../adapters/node/settings-file.js';
import { HOST, fetchJson, log, loginToken, median, round, runCommand, tempDir, timed, writeConfig, type BenchOutcome, type Figure } from './lib.js';

const WARMUP = 3;
const ITERATIONS = 15;
const TARGET_LOCAL = 1.05;
const TARGET_SSH = 0.7;

interface ItEnv {
  barman: { config: string; command: string[]; server: string };
  ssh: { remotessh: string; knownHosts: string; pidFile: string };
}

export async function benchBarman(): Promise<BenchOutcome> {
  const envFile = join(process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it', 'env.json');
  if (!existsSync(envFile)) {
    return { figures: [], skipped: `${envFile} is missing; bring the environment up first (as root): bash test/integration/env/up.sh` };
  }
  const env = JSON.parse(readFileSync(envFile, 'utf8')) as ItEnv;
  const barmanArgs = ['-c', env.barman.config, '-f', 'json', 'list-server'];
  const figures: Figure[] = [];

  // Local: the API runs the same argv the direct call runs.
  const [localFile, ...localPrefix] = env.barman.command;
  const local = await compare({
    name: 'local',
    barman: { configfile: env.barman.config, command: env.barman.command.join(' '), remote: 'false' },
    direct: () => runCommand(localFile!, [...localPrefix, ...barmanArgs], { timeoutMs: 60_000 }),
  });
  const localRatio = local.api / local.direct;
  figures.push(
    { bench: 'barman', name: 'local: barman list-server directly', value: round(local.direct, 1), unit: 'ms (median)', note: `${ITERATIONS} runs after ${WARMUP} warm-up, interleaved` },
    { bench: 'barman', name: 'local: GET /barman/list-server', value: round(local.api, 1), unit: 'ms (median)' },
    { bench: 'barman', name: 'local: API ÷ direct', value: round(localRatio, 3), unit: 'ratio', target: `≤ ${TARGET_LOCAL}`, met: localRatio <= TARGET_LOCAL },
    { bench: 'barman', name: 'local: API − direct, paired', value: round(local.overhead, 1), unit: 'ms (median)', note: 'median of per-iteration differences' },
  );

  // SSH: one pooled ssh2 connection in the API against a new ssh process per call.
  const [sshFile, ...sshArgs] = env.ssh.remotessh.split(/\s+/).filter(Boolean);
  const remote = await compare({
    name: 'ssh',
    barman: { configfile: env.barman.config, command: '/usr/bin/barman', remote: 'true', remotessh: env.ssh.remotessh, known_hosts: env.ssh.knownHosts },
    direct: () => runCommand(sshFile!, [...sshArgs, '/usr/bin/barman', ...barmanArgs], { timeoutMs: 60_000 }),
  });
  const sshRatio = remote.api / remote.direct;
  figures.push(
    { bench: 'barman', name: 'ssh: fresh `ssh … barman list-server`', value: round(remote.direct, 1), unit: 'ms (median)', note: `${ITERATIONS} runs after ${WARMUP} warm-up, interleaved` },
    { bench: 'barman', name: 'ssh: GET /barman/list-server (pooled)', value: round(remote.api, 1), unit: 'ms (median)' },
    { bench: 'barman', name: 'ssh: API ÷ fresh ssh', value: round(sshRatio, 3), unit: 'ratio', target: `≤ ${TARGET_SSH}`, met: sshRatio <= TARGET_SSH },
    { bench: 'barman', name: 'ssh: API − fresh ssh, paired', value: round(remote.overhead, 1), unit: 'ms (median)', note: 'median of per-iteration differences' },
  );
  return { figures };
}

interface Comparison {
  name: string;
  barman: Record<string, string>;
  direct: () => Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Medians (ms) of the API call and of the direct call, measured alternately. */
async function compare(c: Comparison): Promise<{ api: number; direct: number; overhead: number }> {
  const dir = tempDir(`barman-${c.name}`);
  let server: RunningServer | undefined;
  try {
    const config = writeConfig(dir.path, { barman: { ...c.barman, timeout: '120' } });
    const deps = createNodeDeps(readSettings({ config }), { logToStderr: false });
    server = await startServer(deps, { host: HOST, port: 0 });
    const base = `http://${HOST}:${server.port}`;
    // fresh=1: barman runs every time (cached reads are the reads bench).
    const url = `${base}/barman/list-server?fresh=1&token=${await loginToken(base)}`;
    const viaApi = async () => {
      const r = await fetchJson(url);
      const data = (r.body as { data?: unknown }).data;
      if (r.status !== 200 || typeof data !== 'object' || data === null) {
        throw new Error(`${c.name}: /barman/list-server answered ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
      }
    };
    const direct = async () => {
      const r = await c.direct();
      if (r.code !== 0) throw new Error(`${c.name}: direct barman call exited ${r.code}: ${(r.stderr || r.stdout).slice(0, 400)}`);
      JSON.parse(r.stdout);
    };
    // The first API call discovers barman's command catalogue (and, over SSH, connects).
    const first = await timed(viaApi);
    log(`barman ${c.name}: first API call (catalogue discovery) ${round(first.ms, 0)} ms`);
    for (let i = 0; i < WARMUP; i++) {
      await viaApi();
      await direct();
    }
    const apiMs: number[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      // Alternate which goes first so neither always follows the other.
      if (i % 2 === 0) {
        apiMs.push((await timed(viaApi)).ms);
        directMs.push((await timed(direct)).ms);
      } else {
        directMs.push((await timed(direct)).ms);
        apiMs.push((await timed(viaApi)).ms);
      }
    }
    // Each API call next to its direct call: the pair's difference cancels slow drifts of the machine.
    const result = { api: median(apiMs), direct: median(directMs), overhead: median(apiMs.map((m, i) => m - directMs[i]!)) };
    log(`barman ${c.name}: api ${apiMs.map((m) => round(m, 0)).join(' ')}`);
    log(`barman ${c.name}: direct ${directMs.map((m) => round(m, 0)).join(' ')}`);
    return result;
  } finally {
    await server?.close().catch(() => undefined);
    dir.remove();
  }
}

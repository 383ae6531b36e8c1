/**
 * What starting work costs beyond barman itself: an async `cron` job from POST to its final
 * status (followed as a client does), minus barman's own run time recorded in the job's result;
 * and the first `/barman/<command>` call on a fresh store (no command catalogue yet) against a
 * direct run of that command. Needs the integration environment of test/integration/env.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, REPO_ROOT, fetchJson, freePort, log, loginToken, median, round, runCommand, tempDir, timed, withServedConfig, writeConfig, type BenchOutcome, type Figure } from './lib.js';

const JOB_RUNS = 7;
const FIRST_CALL_RUNS = 3;

interface ItEnv {
  barman: { config: string; command: string[]; server: string };
}

async function withServer<T>(name: string, barman: Record<string, string>, fn: (base: string, token: string) => Promise<T>): Promise<T> {
  const dir = tempDir(`jobs-${name}`);
  try {
    return await withServedConfig(writeConfig(dir.path, { barman: { ...barman, timeout: '120' } }), fn);
  } finally {
    dir.remove();
  }
}

const BINARY = join(REPO_ROOT, 'dist', 'barmanapi');

/** The single binary serving, as the Debian package runs it: its jobs' runner is the binary itself. */
async function withBinaryServer<T>(barman: Record<string, string>, fn: (base: string, token: string) => Promise<T>): Promise<T> {
  const dir = tempDir('jobs-binary');
  const port = await freePort();
  const config = writeConfig(dir.path, { barman: { ...barman, timeout: '120' }, application: { port: String(port) } });
  const child = spawn(BINARY, ['runserver', '--config', config], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    const base = `http://${HOST}:${port}`;
    for (let i = 0; ; i++) {
      if (await fetch(`${base}/auth/token`).then(() => true, () => false)) break;
      if (i > 200) throw new Error('the binary did not start serving in 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    return await fn(base, await loginToken(base));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    dir.remove();
  }
}

/** Overheads (ms) of a few cron jobs, after one to warm up. */
async function overheads(name: string, base: string, token: string): Promise<number[]> {
  await cronJob(base, token);
  const out: number[] = [];
  for (let i = 0; i < JOB_RUNS; i++) {
    const { wallMs, barmanMs } = await cronJob(base, token);
    out.push(wallMs - barmanMs);
    log(`jobs ${name}: cron ${round(wallMs, 0)} ms wall, ${round(barmanMs, 0)} ms barman`);
  }
  return out;
}

/** POST → the `result` event of the job's followed log; returns the wall time and barman's own. */
async function cronJob(base: string, token: string): Promise<{ wallMs: number; barmanMs: number }> {
  const started = performance.now();
  const post = await fetchJson(`${base}/barman/cron?token=${token}`, { method: 'POST' });
  const ticket = (post.body as { ticket?: string }).ticket;
  if (post.status !== 202 || !ticket) throw new Error(`cron answered ${post.status}: ${JSON.stringify(post.body).slice(0, 300)}`);
  const res = await fetch(`${base}/history/result?ticket=${encodeURIComponent(ticket)}&follow=1&token=${token}`);
  const text = await res.text();
  const wallMs = performance.now() - started;
  const last = [...text.matchAll(/event: result\ndata: (.*)/g)].at(-1)?.[1];
  if (!last) throw new Error(`no result event for the cron job: ${text.slice(-300)}`);
  const body = JSON.parse(last) as { status: string; duration_ms?: number | null };
  if (body.status !== 'done') throw new Error(`the cron job ended ${body.status}`);
  if (typeof body.duration_ms !== 'number') throw new Error('the cron job recorded no run time');
  return { wallMs, barmanMs: body.duration_ms };
}

export async function benchJobs(): Promise<BenchOutcome> {
  const envFile = join(process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it', 'env.json');
  if (!existsSync(envFile)) {
    return { figures: [], skipped: `${envFile} is missing; bring the environment up first (as root): bash test/integration/env/up.sh` };
  }
  const env = JSON.parse(readFileSync(envFile, 'utf8')) as ItEnv;
  const barman = { configfile: env.barman.config, command: env.barman.command.join(' '), remote: 'false', asynccommand: "['cron']" };
  const figures: Figure[] = [];

  const node = median(await withServer('cron', barman, (base, token) => overheads('node', base, token)));
  figures.push({ bench: 'jobs', name: 'Node server: async cron, POST → final status − barman run time', value: round(node, 0), unit: 'ms (median)', target: '≤ 150', met: node <= 150, note: `paired, ${JOB_RUNS} jobs, followed with follow=1; the runner is node bin/barmanapi.js, started ahead ([jobs] warm_runner)` });
  if (existsSync(BINARY)) {
    const binary = median(await withBinaryServer(barman, (base, token) => overheads('binary', base, token)));
    figures.push({ bench: 'jobs', name: 'single binary: async cron, POST → final status − barman run time', value: round(binary, 0), unit: 'ms (median)', target: '≤ 150', met: binary <= 150, note: 'the runner is the binary itself (as the Debian package installs it)' });
  } else {
    figures.push({ bench: 'jobs', name: 'single binary: async cron overhead', value: 'not built', unit: '', note: 'npm run build:bin first' });
  }

  const [file, ...prefix] = env.barman.command;
  const directMs: number[] = [];
  for (let i = 0; i < FIRST_CALL_RUNS; i++) {
    directMs.push((await timed(() => runCommand(file!, [...prefix, '-c', env.barman.config, '-f', 'json', 'list-backup', env.barman.server], { timeoutMs: 120_000 }))).ms);
  }
  const firstMs: number[] = [];
  for (let i = 0; i < FIRST_CALL_RUNS; i++) {
    firstMs.push(await withServer(`first-${i}`, barman, async (base, token) => {
      const { ms, value } = await timed(() => fetchJson(`${base}/barman/list-backup?server_name=${env.barman.server}&token=${token}`));
      if (value.status !== 200) throw new Error(`first list-backup answered ${value.status}`);
      return ms;
    }));
  }
  const ratio = median(firstMs) / median(directMs);
  figures.push({ bench: 'jobs', name: 'first /barman/list-backup on a fresh store ÷ direct', value: round(ratio, 2), unit: 'ratio', target: '≤ 3', met: ratio <= 3, note: `${round(median(firstMs), 0)} ms vs ${round(median(directMs), 0)} ms` });
  return { figures };
}

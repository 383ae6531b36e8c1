/**
 * Issue 6: the single-file Bun binary against the Node package. For each runtime: cold start
 * (spawn `runserver` on a fresh store) to the first answer and to the first successful
 * `/auth/token`, and the resident memory of the idle server afterwards; plus the binary's size.
 *
 * The users file holds a password hash made by `barmanapi user add` (PBKDF2-SHA256, 600 000
 * iterations), as in production, so the first token includes one full password check; that check
 * is also timed on its own, on a server that is already up.
 *
 *   node dist/bench/startup.js            (after npm run build and npm run build:bin)
 */
import { freePort, median, type Figure } from './lib.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';


const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = HERE.split('/').at(-2) === 'dist' ? resolve(HERE, '../..') : resolve(HERE, '..');
const BINARY = join(ROOT, 'dist', 'barmanapi');
const NODE_CLI = [process.execPath, join(ROOT, 'bin', 'barmanapi.js')];
const RUNS = 7;
const IDLE_MS = 3000;
const PASSWORD = 'bench-password-1';
const TARGET_FIRST_TOKEN_MS = { bun: 150, node: 500 };
const TARGET_NODE_RSS_MB = 80;

interface RunOutcome {
  /** spawn → first HTTP answer of any kind (here the 401 of /auth/token without credentials). */
  firstAnswerMs: number;
  /** CPU time (user + system, all threads) the server had used by then: less sensitive to a busy machine. */
  firstAnswerCpuMs: number;
  /** spawn → first 200 from /auth/token with Basic credentials. */
  firstTokenMs: number;
  firstTokenCpuMs: number;
  /** One more /auth/token on the running server: the password check alone. */
  warmTokenMs: number;
  /** VmRSS after IDLE_MS without requests. */
  idleRssMb: number;
}

/** The figures of issue 6; the Bun ones are skipped (with a note) when dist/barmanapi is missing. */
export async function benchStartup(): Promise<{ figures: Figure[]; skipped?: string }> {
  if (!existsSync(join(ROOT, 'dist', 'adapters', 'node', 'cli.js'))) {
    return { figures: [], skipped: 'dist/ is missing: run `npm run build` first' };
  }
  const figures: Figure[] = [];
  const runtimes: Array<{ name: 'bun' | 'node'; cli: string[] }> = [{ name: 'node', cli: NODE_CLI }];
  let skipped: string | undefined;
  if (existsSync(BINARY)) {
    runtimes.unshift({ name: 'bun', cli: [BINARY] });
    figures.push({ bench: 'startup', name: 'bun binary size', value: round(statSync(BINARY).size / 1024 / 1024, 1), unit: 'MiB', note: 'dist/barmanapi' });
  } else {
    skipped = 'dist/barmanapi is missing: run `npm run build:bin` for the Bun figures';
  }
  for (const { name, cli } of runtimes) {
    const runs: RunOutcome[] = [];
    await measure(cli); // warm the page cache; not counted
    for (let i = 0; i < RUNS; i++) runs.push(await measure(cli));
    const first = median(runs.map((r) => r.firstTokenMs));
    const rss = median(runs.map((r) => r.idleRssMb));
    const note = `median of ${RUNS} cold starts`;
    figures.push(
      { bench: 'startup', name: `${name}: spawn → first answer`, value: round(median(runs.map((r) => r.firstAnswerMs)), 1), unit: 'ms', note },
      { bench: 'startup', name: `${name}: CPU time to first answer`, value: round(median(runs.map((r) => r.firstAnswerCpuMs)), 1), unit: 'ms', note: 'user + system, all threads, 10 ms ticks' },
      {
        bench: 'startup',
        name: `${name}: spawn → first /auth/token 200`,
        value: round(first, 1),
        unit: 'ms',
        target: `≤ ${TARGET_FIRST_TOKEN_MS[name]}`,
        met: first <= TARGET_FIRST_TOKEN_MS[name],
        note: `${note}; includes one PBKDF2 check`,
      },
      { bench: 'startup', name: `${name}: CPU time to first token`, value: round(median(runs.map((r) => r.firstTokenCpuMs)), 1), unit: 'ms', note: 'user + system, all threads, 10 ms ticks' },
      { bench: 'startup', name: `${name}: /auth/token on a running server`, value: round(median(runs.map((r) => r.warmTokenMs)), 1), unit: 'ms', note: 'the password check (PBKDF2-SHA256, 600 000 iterations)' },
      name === 'node'
        ? { bench: 'startup', name: 'node: idle RSS', value: round(rss, 1), unit: 'MB', target: `≤ ${TARGET_NODE_RSS_MB}`, met: rss <= TARGET_NODE_RSS_MB, note: `${IDLE_MS / 1000} s after the first token` }
        : { bench: 'startup', name: `${name}: idle RSS`, value: round(rss, 1), unit: 'MB', note: `${IDLE_MS / 1000} s after the first token` },
    );
  }
  return { figures, skipped };
}

/** The same figures as one flat record, for bench/run.ts. */
export async function runStartupBench(): Promise<Record<string, string | number>> {
  const { figures, skipped } = await benchStartup();
  const out: Record<string, string | number> = {};
  for (const f of figures) out[`${f.name} (${f.unit})`] = f.value;
  if (skipped) out.skipped = skipped;
  return out;
}

/** One cold start on a fresh store. */
async function measure(cli: string[]): Promise<RunOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'barmanapi-bench-startup-'));
  try {
    const config = join(dir, 'barmanapi.conf');
    writeFileSync(
      config,
      `[user]\nconfigfile=client.conf\n[application]\nstore_directory=store\nhost=127.0.0.1\n` +
        `[barman]\nconfigfile=/etc/barman.conf\ncommand=/usr/bin/barman\n[authtoken]\nsecret=\n[log]\nbackupcount=1\n`,
    );
    writeFileSync(join(dir, 'client.conf'), await usersFile());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const auth = { Authorization: `Basic ${Buffer.from(`bench:${PASSWORD}`).toString('base64')}` };
    const started = performance.now();
    const child = spawn(cli[0]!, [...cli.slice(1), 'runserver', '--config', config, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    try {
      const firstAnswerMs = (await poll(`${base}/auth/token`, {}, (s) => s === 401, started, () => stderr)) - started;
      const firstAnswerCpuMs = cpuMs(child.pid!);
      const firstTokenMs = (await poll(`${base}/auth/token`, auth, (s) => s === 200, started, () => stderr)) - started;
      const firstTokenCpuMs = cpuMs(child.pid!);
      const t = performance.now();
      const res = await fetch(`${base}/auth/token`, { headers: auth });
      if (res.status !== 200) throw new Error(`/auth/token answered ${res.status}`);
      await res.arrayBuffer();
      const warmTokenMs = performance.now() - t;
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const idleRssMb = rssMb(child.pid!);
      return { firstAnswerMs, firstAnswerCpuMs, firstTokenMs, firstTokenCpuMs, warmTokenMs, idleRssMb };
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Ask until `ok(status)`; connection refusals before the server listens are expected. */
async function poll(url: string, headers: Record<string, string>, ok: (status: number) => boolean, started: number, log: () => string): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (ok(res.status)) return performance.now();
      throw new Error(`${url} answered ${res.status}`);
    } catch (e) {
      if (!String((e as { cause?: { code?: string } }).cause?.code).startsWith('ECONNREFUSED')) throw e;
    }
    if (performance.now() - started > 20_000) throw new Error(`no answer from ${url} within 20 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let cachedUsers: string | undefined;
/** client.conf with user `bench`, made once by `barmanapi user add` (the production hash). */
async function usersFile(): Promise<string> {
  if (cachedUsers) return cachedUsers;
  const dir = mkdtempSync(join(tmpdir(), 'barmanapi-bench-users-'));
  try {
    const config = join(dir, 'barmanapi.conf');
    writeFileSync(config, `[user]\nconfigfile=client.conf\n[application]\nstore_directory=store\n`);
    await new Promise<void>((resolvePromise, reject) => {
      const child = spawn(NODE_CLI[0]!, [...NODE_CLI.slice(1), 'user', 'add', 'bench', '--config', config], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`user add failed: ${err}`))));
      child.stdin.end(`${PASSWORD}\n`);
    });
    cachedUsers = readFileSync(join(dir, 'client.conf'), 'utf8');
    return cachedUsers;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** utime + stime of a process from /proc (clock ticks of 10 ms on Linux). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { figures, skipped } = await benchStartup();
  for (const f of figures) {
    const target = f.target ? `  target ${f.target}: ${f.met ? 'met' : 'MISSED'}` : '';
    process.stdout.write(`${f.name.padEnd(40)} ${String(f.value).padStart(8)} ${f.unit}${target}${f.note ? `  (${f.note})` : ''}\n`);
  }
  if (skipped) process.stdout.write(`skipped: ${skipped}\n`);
}

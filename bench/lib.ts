import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeDeps } from '../adapters/node/deps.js';
import { startServer } from '../adapters/node/serve.js';
import { readSettings } from '../adapters/node/settings-file.js';

/** One printed figure; `target` and `met` only where the issue sets a target for it. */
export interface Figure {
  bench: string;
  name: string;
  /** A number, or a few numbers as text ("12 / 0 / 0"). */
  value: number | string;
  unit: string;
  target?: string;
  met?: boolean;
  note?: string;
}

/** What a bench reports: its figures, or why it could not run. */
export interface BenchOutcome {
  figures: Figure[];
  skipped?: string;
}

/** The repository root, from dist/bench/*.js or from bench/*.ts alike. */
export const REPO_ROOT = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.split('/').at(-2) === 'dist' ? resolve(here, '../..') : resolve(here, '..');
})();

/** This file's folder, i.e. where the compiled bench scripts are (for child processes). */
export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export const HOST = '127.0.0.1';

/**
 * A temporary folder under BENCH_TMPDIR when set, else the OS's. `inMemory` prefers /dev/shm
 * (tmpfs) for benches that write tens of thousands of files, so that a disk shared with other
 * work neither stretches their set-up to minutes nor shows in their figures.
 */
export function tempDir(prefix: string, opts: { inMemory?: boolean } = {}): { path: string; remove(): void } {
  const base = process.env.BENCH_TMPDIR || (opts.inMemory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const path = mkdtempSync(join(base, `barmanapi-bench-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The password hash the seed ships for memin / 1258 (plain MD5, upgraded on first login). */
export const SEED_CLIENT_CONF = '[memin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = []\n';

/** A barmanapi.conf in `dir` whose store and users file live beside it. */
export function writeConfig(dir: string, sections: Record<string, Record<string, string>>): string {
  const base: Record<string, Record<string, string>> = {
    user: { configfile: join(dir, 'client.conf') },
    application: { store_directory: join(dir, 'store'), host: HOST },
    authtoken: { secret: 'bench-secret-0123456789abcdef-0123456789' },
    log: { backupcount: '1', maxbytes: '20000000' },
  };
  for (const [section, keys] of Object.entries(sections)) base[section] = { ...base[section], ...keys };
  const text = Object.entries(base)
    .map(([section, keys]) => `[${section}]\n${Object.entries(keys).map(([k, v]) => `${k}=${v}`).join('\n')}\n`)
    .join('\n');
  const file = join(dir, 'barmanapi.conf');
  writeFileSync(file, text);
  writeFileSync(join(dir, 'client.conf'), SEED_CLIENT_CONF, { mode: 0o600 });
  return file;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Milliseconds taken by `fn`, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

export function log(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

export interface CommandOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to its end (no shell), collecting its output. */
export function runCommand(file: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CommandOutput> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd ?? '/', stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', reject);
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolveRun({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

export async function fetchJson(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body };
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A login token for memin from a running API. */
export async function loginToken(base: string): Promise<string> {
  const { status, body } = await fetchJson(`${base}/auth/token`, { headers: basicAuth('memin', '1258') });
  const token = (body as { token?: unknown }).token;
  if (status !== 200 || typeof token !== 'string') throw new Error(`login failed: HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
  return token;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, ${process.platform}`;
}

/** Whether an executable is on PATH. */
export async function onPath(name: string): Promise<string | null> {
  const r = await runCommand('/bin/sh', ['-c', 'command -v "$0"', name]).catch(() => null);
  const found = r?.code === 0 ? r.stdout.trim() : '';
  return found || null;
}

/** The API served in this process from the settings file `config` while `fn` runs, with a token of the seed's user; then closed (its hosts too). */
export async function withServedConfig<T>(config: string, fn: (base: string, token: string) => Promise<T>): Promise<T> {
  const deps = createNodeDeps(readSettings({ config }), { logToStderr: false });
  const server = await startServer(deps, { host: HOST, port: 0 });
  try {
    const base = `http://${HOST}:${server.port}`;
    return await fn(base, await loginToken(base));
  } finally {
    await server.close().catch(() => undefined);
  }
}

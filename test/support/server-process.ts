import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_CLIENT_CONF } from './app.js';

export const REPO = join(import.meta.dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'barmanapi.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ServerDir {
  dir: string;
  config: string;
  store: string;
  clientConf: string;
}

/** A temp folder with a barmanapi.conf (seed INI format), the seed's client.conf and a store. */
export function serverDir(barmanSection: string, extra = ''): ServerDir {
  const dir = mkdtempSync(join(tmpdir(), 'barmanapi-srv-'));
  chmodSync(dir, 0o755);
  const config = join(dir, 'barmanapi.conf');
  const clientConf = join(dir, 'client.conf');
  writeFileSync(clientConf, SEED_CLIENT_CONF);
  writeFileSync(
    config,
    `[user]\nconfigfile=client.conf\n[application]\nstore_directory=store\nhost=\nport=1935\n[barman]\n${barmanSection}\n[authtoken]\nsecret=\ntokenlife=600\n[log]\nbackupcount=2\nmaxbytes=100000\n${extra}`,
  );
  return { dir, config, store: join(dir, 'store'), clientConf };
}

export interface ServerProcess {
  baseUrl: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `barmanapi runserver` as a child process; resolves when it answers HTTP. */
export async function startServerProcess(config: string, opts: { port?: number; command?: string[]; scheme?: 'http' | 'https' } = {}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const command = opts.command ?? [process.execPath, BIN];
  const child = spawn(command[0]!, [...command.slice(1), 'runserver', '--config', config, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `${opts.scheme ?? 'http'}://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${out}`);
    try {
      // An HTTPS listener (whose certificate fetch would not trust) is ready once it logs so.
      if (opts.scheme === 'https') {
        if (!out.includes(`listening on https://`)) throw new Error('not yet');
      } else await fetch(`${baseUrl}/auth/user`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`server did not answer in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    baseUrl,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function basicHeader(user = 'memin', password = '1258'): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export async function token(baseUrl: string, user = 'memin', password = '1258'): Promise<string> {
  const res = await fetch(`${baseUrl}/auth/token`, { headers: basicHeader(user, password) });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Run the CLI to completion. */
export async function runCli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input ?? '');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

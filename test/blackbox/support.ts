import { freePort } from '../support/server-process.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const NODE_CLI = [process.execPath, join(ROOT, 'bin', 'barmanapi.js')];
export const BUN_BINARY = join(ROOT, 'dist', 'barmanapi');

/** The parts of /tmp/barmanapi-it/env.json (test/integration/env/up.sh) this suite uses. */
export interface BlackboxEnv {
  barman: { config: string; command: string[]; server: string };
  ssh: { host: string; port: number; user: string; identity: string; knownHosts: string };
}

export function readEnv(): BlackboxEnv {
  const file = process.env.BARMANAPI_IT_ENV ?? `${process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it'}/env.json`;
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run "bash .ci/install.sh && bash test/integration/env/up.sh" as root first`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as BlackboxEnv;
}

/** Commands that return a ticket in these configs; list-backups is read-only, so runs may overlap. */
const ASYNC = "['backup','cron','recover','restore','check','list-backups']";

export interface Workspace {
  dir: string;
  /** barman on this machine (env.barman.command). */
  localConfig: string;
  localStore: string;
  /** barman over SSH through the test sshd. */
  sshConfig: string;
  sshStore: string;
  usersFile: string;
  remove(): void;
}

/**
 * A folder with two barmanapi configs sharing one client.conf: one runs barman locally, one over
 * SSH. The remotessh line is built from env.json's parts with only the options barmanapi honours.
 */
export function createWorkspace(env: BlackboxEnv, name: string): Workspace {
  const dir = mkdtempSync(join(tmpdir(), `barmanapi-bb-${name}-`));
  const common = (store: string) =>
    `[user]\nconfigfile=client.conf\n\n[application]\nstore_directory=${store}\nhost=127.0.0.1\nport=1935\n\n[authtoken]\nsecret=\ntokenlife=600\n\n[log]\nbackupcount=1\n`;
  const local =
    common('store-local') +
    `\n[barman]\nconfigfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false\nasynccommand=${ASYNC}\ntimeout=120\n`;
  const remotessh =
    `ssh -p ${env.ssh.port} -i ${env.ssh.identity} -o BatchMode=yes -o StrictHostKeyChecking=yes ` +
    `-o UserKnownHostsFile=${env.ssh.knownHosts} ${env.ssh.user}@${env.ssh.host}`;
  const ssh =
    common('store-ssh') +
    `\n[barman]\nconfigfile=${env.barman.config}\ncommand=/usr/bin/barman\nremote=true\nremotessh=${remotessh}\n` +
    `known_hosts=${env.ssh.knownHosts}\nasynccommand=${ASYNC}\ntimeout=120\n`;
  writeFileSync(join(dir, 'local.conf'), local);
  writeFileSync(join(dir, 'ssh.conf'), ssh);
  mkdirSync(join(dir, 'store-local'), { mode: 0o700 });
  mkdirSync(join(dir, 'store-ssh'), { mode: 0o700 });
  return {
    dir,
    localConfig: join(dir, 'local.conf'),
    localStore: join(dir, 'store-local'),
    sshConfig: join(dir, 'ssh.conf'),
    sshStore: join(dir, 'store-ssh'),
    usersFile: join(dir, 'client.conf'),
    remove: () => {
      if (!process.env.BARMANAPI_BB_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI (`node bin/barmanapi.js` or the binary) to completion, `input` on its stdin. */
export function runCli(cli: string[], args: string[], input = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli[0]!, [...cli.slice(1), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

export const USERS = {
  admin: { password: 'admin-password-1', access: '', deny: '' },
  /** May use /auth and /barman, except barman/check; nothing under /history. */
  limited: { password: 'limited-password-1', access: 'auth,barman', deny: 'barman/check' },
} as const;

/** Create the suite's users with `user add`, which also checks that command on this runtime. */
export async function addUsers(cli: string[], config: string): Promise<void> {
  for (const [name, u] of Object.entries(USERS)) {
    const args = ['user', 'add', name, '--config', config];
    if (u.access) args.push('--access', u.access);
    if (u.deny) args.push('--deny', u.deny);
    const r = await runCli(cli, args, `${u.password}\n`);
    if (r.code !== 0) throw new Error(`${cli.join(' ')} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  }
}

export { freePort };

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Everything written to stderr so far (the log). */
  log(): string;
  /** SIGTERM; resolves with how it ended and when. */
  terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** `<cli> runserver --config FILE --port PORT`, resolved once it logs that it listens. */
export async function startServerProcess(cli: string[], config: string): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(cli[0]!, [...cli.slice(1), 'runserver', '--config', config, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cli.join(' ')} runserver did not listen within 20 s:\n${log}`)), 20_000);
    const onData = (d: Buffer) => {
      log += d;
      if (/listening on http:\/\//.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${cli.join(' ')} runserver exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
  return {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    log: () => log,
    async terminate() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The claims of a JWT-shaped token or ticket (for the job id inside a ticket). */
export function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestSshd {
  port: number;
  /** Login name (the user running the tests; root here). */
  user: string;
  /** Private key file the server accepts. */
  identity: string;
  /** A known_hosts file holding the server's key under `[127.0.0.1]:port`. */
  knownHosts: string;
  /** The server's public host key line (`ssh-ed25519 AAAA… comment`). */
  hostKeyPub: string;
  /** Scratch directory of this server; removed by stop(). */
  dir: string;
  /** Connections that completed authentication, counted from the server's own log. */
  acceptedLogins(): number;
  /** The server's log so far (sshd -e writes it to stderr). */
  log(): string;
  /** Kill the per-connection sshd processes: every client sees its connection drop. */
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/** A new key pair without passphrase; returns the private key path (public key at path + '.pub'). */
export async function generateKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): Promise<string> {
  const path = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', path]);
  return path;
}

async function freePort(): Promise<number> {
  // sshd cannot listen on port 0, so borrow a free port from the kernel and hand it over.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startSshd(opts: { hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa' } = {}): Promise<TestSshd> {
  // sshd's privilege-separation directory; absent on machines where sshd never ran.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'barmanapi-sshd-'));
  // sshd reads authorized_keys as the user logging in, who need not be root.
  await chmod(dir, 0o755);
  const hostKey = await generateKey(dir, 'host_key', opts.hostKeyType ?? 'ed25519');
  const identity = await generateKey(dir, 'id_client');
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${identity}.pub`), { mode: 0o644 });
  const hostKeyPub = (await readFile(`${hostKey}.pub`, 'utf8')).trim();
  const port = await freePort();
  const user = userInfo().username;

  const [type, blob] = hostKeyPub.split(' ');
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${type} ${blob}\n`);

  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );

  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    log += chunk;
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start on port ${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    port,
    user,
    identity,
    knownHosts,
    hostKeyPub,
    dir,
    acceptedLogins: () => (log.match(/Accepted publickey for /g) ?? []).length,
    log: () => log,
    async dropConnections() {
      for (const pid of await childrenOf(child.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone: the connection ended on its own.
        }
      }
    },
    async stop() {
      if (!exited) {
        // Per-connection processes outlive the listener; end them first.
        for (const pid of await childrenOf(child.pid!)) process.kill(pid, 'SIGKILL');
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Direct children of a process, from /proc (the per-connection sshd processes). */
async function childrenOf(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

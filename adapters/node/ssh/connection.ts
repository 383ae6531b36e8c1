/**
 * One SSH connection to the barman host: the ssh-like settings of the target, the keys to log in
 * with (auth.ts) and the host key check (host-keys.ts).
 */
import { userInfo } from 'node:os';
import ssh2 from 'ssh2';
import type { ConnectConfig, KexAlgorithm, ServerHostKeyAlgorithm, SFTPWrapper } from 'ssh2';
import { describeRemoteSsh } from '../../../src/barman/remote-ssh.js';
import type { RemoteSsh } from '../../../src/barman/remote-ssh.js';
import { knownHostName, knownKeyTypes, readKnownHosts } from '../known-hosts.js';
import { authMethods, describeMethod, type AuthSettings } from './auth.js';
import { SshHostError } from './errors.js';
import { hostKeyPolicy } from './host-keys.js';

const { Client } = ssh2;

/** curve25519 and ed25519 first; the rest as ssh2 offers them, for servers that lack those. */
const KEX: KexAlgorithm[] = [
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group-exchange-sha256',
  'diffie-hellman-group14-sha256',
  'diffie-hellman-group15-sha512',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group17-sha512',
  'diffie-hellman-group18-sha512',
];
const HOST_KEY_PREFERENCE: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
/** Signature algorithms that prove possession of a key of the given known_hosts type. */
const ALGORITHMS_FOR_KEY_TYPE: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};
const DEFAULT_READY_TIMEOUT_MS = 20_000;
const DEFAULT_KEEPALIVE_MS = 30_000;

export interface Session {
  client: InstanceType<typeof Client>;
  closed: boolean;
  sftp: Promise<SFTPWrapper> | null;
}

/** How to reach and trust the barman host. */
export interface ConnectionSettings {
  target: RemoteSsh;
  /** known_hosts to check and (on trust on first use) append to. Default: the target's UserKnownHostsFile, else ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Read-only system-wide known_hosts, as ssh reads it; null to skip. Default /etc/ssh/ssh_known_hosts. */
  globalKnownHostsFile?: string | null;
  /** Record an unknown host's key instead of refusing it. Default: the target's StrictHostKeyChecking is accept-new or no. */
  trustOnFirstUse?: boolean;
  /** Private key file tried before the target's identity files. */
  identity?: string;
  /** Passphrase for encrypted identity files. */
  passphrase?: string;
  /** ssh-agent socket; default SSH_AUTH_SOCK; '' for none. */
  agent?: string;
  /** Time allowed to connect and authenticate. Default: the target's ConnectTimeout, else 20 s. */
  readyTimeoutMs?: number;
}

export interface Connector {
  readonly user: string;
  readonly description: string;
  /** Connections that completed authentication so far. */
  readonly opened: number;
  connect(onGone: () => void): Promise<Session>;
}

export function createConnector(opts: ConnectionSettings): Connector {
  const { target } = opts;
  const user = target.user ?? localUserName();
  const description = describeRemoteSsh(target, user);
  const hostKeys = hostKeyPolicy(target, opts, description);
  const auth: AuthSettings = {
    user,
    identityFiles: [...(opts.identity !== undefined ? [opts.identity] : []), ...target.identityFiles],
    passphrase: opts.passphrase,
    agent: opts.agent ?? process.env.SSH_AUTH_SOCK ?? '',
    identitiesOnly: target.options.IdentitiesOnly === 'yes',
  };
  const connectTimeout = target.options.ConnectTimeout;
  const aliveInterval = target.options.ServerAliveInterval;
  const family = target.options.AddressFamily;
  const base: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: user,
    readyTimeout: opts.readyTimeoutMs ?? (connectTimeout !== undefined && connectTimeout !== '0' ? Number(connectTimeout) * 1000 : DEFAULT_READY_TIMEOUT_MS),
    keepaliveInterval: aliveInterval !== undefined ? Number(aliveInterval) * 1000 : DEFAULT_KEEPALIVE_MS,
    keepaliveCountMax: Number(target.options.ServerAliveCountMax ?? 3),
    ...(family === 'inet' ? { forceIPv4: true } : family === 'inet6' ? { forceIPv6: true } : {}),
  };
  let opened = 0;

  async function connect(onGone: () => void): Promise<Session> {
    const entries = await readKnownHosts(hostKeys.files);
    const { methods, notes } = await authMethods(auth);
    if (methods.length === 0) {
      throw new SshHostError('auth', `no SSH key to log in to ${description}: ${notes.join('; ')}`);
    }
    // Ask for a key type we already know first, as ssh does, so a known host is not mistaken for a new one.
    const known = knownKeyTypes(entries, target.host, target.port).flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []);
    const config: ConnectConfig = { ...base, algorithms: { kex: KEX, serverHostKey: [...new Set([...known, ...HOST_KEY_PREFERENCE])] }, authHandler: methods };
    const session = await openSession(config, {
      verify: (key) => hostKeys.verify(entries, key),
      hostName: knownHostName(target.host, target.port),
      authFailed: () =>
        `SSH authentication as ${user} to ${description} failed (tried ${methods.map(describeMethod).join(', ')})` + (notes.length > 0 ? `; ${notes.join('; ')}` : ''),
      description,
      onGone,
    });
    opened++;
    return session;
  }

  return {
    user,
    description,
    get opened() {
      return opened;
    },
    connect,
  };
}

interface SessionHooks {
  verify(key: Buffer): Promise<void>;
  hostName: string;
  authFailed(): string;
  description: string;
  onGone(): void;
}

/** Connect and authenticate; the session is marked closed (and onGone called) once, when it ends. */
function openSession(config: ConnectConfig, hooks: SessionHooks): Promise<Session> {
  const client = new Client();
  const session: Session = { client, closed: false, sftp: null };
  return new Promise<Session>((resolve, reject) => {
    let ready = false;
    let hostKeyError: SshHostError | null = null;
    const gone = (): void => {
      if (session.closed) return;
      session.closed = true;
      hooks.onGone();
    };
    client.on('ready', () => {
      ready = true;
      resolve(session);
    });
    client.on('error', (err: Error & { level?: string }) => {
      gone();
      if (ready) return; // commands on the connection see their channels close
      if (hostKeyError) return reject(hostKeyError);
      if (err.level === 'client-authentication') return reject(new SshHostError('auth', hooks.authFailed()));
      reject(new SshHostError('connect', `cannot connect to ${hooks.description}: ${err.message}`));
    });
    client.on('close', () => {
      gone();
      if (!ready) reject(hostKeyError ?? new SshHostError('connect', `connection to ${hooks.description} closed during setup`));
    });
    client.connect({
      ...config,
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        hooks.verify(key).then(
          () => verify(true),
          (err: unknown) => {
            hostKeyError = err instanceof SshHostError ? err : new SshHostError('config', `cannot record the host key of ${hooks.hostName}: ${String(err)}`);
            verify(false);
          },
        );
      },
    });
  });
}

/** The name ssh would log in with when none is given; userInfo() throws for a uid without a passwd entry. */
function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    const fromEnv = process.env.USER ?? process.env.LOGNAME;
    if (fromEnv) return fromEnv;
    throw new SshHostError('config', 'remotessh names no user and the local user name is unknown; write it as user@host');
  }
}

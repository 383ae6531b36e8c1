/**
 * One SSH connection to the barman host: who to log in as and with which keys, and the host key
 * check against known_hosts (unknown: refused with the ssh-keyscan line, unless trusted on first
 * use; changed: always refused).
 */
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { posix } from 'node:path';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, ConnectConfig, KexAlgorithm, ServerHostKeyAlgorithm, SFTPWrapper } from 'ssh2';
import { describeRemoteSsh } from '../../../src/barman/remote-ssh.js';
import type { RemoteSsh } from '../../../src/barman/remote-ssh.js';
import { KeyedMutex } from '../../../src/util/mutex.js';
import { appendKnownHost, checkHostKey, fingerprint, keyTypeOf, knownHostName, knownKeyTypes, readKnownHosts } from '../known-hosts.js';
import type { KnownHostEntry } from '../known-hosts.js';
import { SshHostError } from './errors.js';

const { Client, utils } = ssh2;

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
const DEFAULT_IDENTITIES = ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'];
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
  const hostName = knownHostName(target.host, target.port);
  const userFiles = (
    opts.knownHostsFile !== undefined
      ? [opts.knownHostsFile]
      : (target.options.UserKnownHostsFile?.split(' ') ?? ['~/.ssh/known_hosts'])
  )
    .filter((f) => f !== 'none')
    .map(expandHome);
  const globalFile = opts.globalKnownHostsFile === undefined ? '/etc/ssh/ssh_known_hosts' : opts.globalKnownHostsFile;
  const knownHostsFiles = globalFile === null ? userFiles : [...userFiles, globalFile];
  const appendTo = userFiles[0] ?? null;
  const policy = target.options.StrictHostKeyChecking;
  const trustOnFirstUse = opts.trustOnFirstUse ?? (policy === 'accept-new' || policy === 'no');
  if (trustOnFirstUse && (appendTo === null || appendTo === '/dev/null')) {
    // Nothing would be remembered, so every key would be "first use": no verification at all.
    throw new SshHostError(
      'config',
      `trusting host keys on first use needs a known_hosts file to remember them; ${appendTo ?? 'none'} would accept any key for ${description}`,
    );
  }
  const identityFiles = [...(opts.identity !== undefined ? [opts.identity] : []), ...target.identityFiles];
  const agent = opts.agent ?? process.env.SSH_AUTH_SOCK ?? '';
  const connectTimeout = target.options.ConnectTimeout;
  const readyTimeout =
    opts.readyTimeoutMs ?? (connectTimeout !== undefined && connectTimeout !== '0' ? Number(connectTimeout) * 1000 : DEFAULT_READY_TIMEOUT_MS);
  const aliveInterval = target.options.ServerAliveInterval;
  const keepaliveInterval = aliveInterval !== undefined ? Number(aliveInterval) * 1000 : DEFAULT_KEEPALIVE_MS;
  const keepaliveCountMax = Number(target.options.ServerAliveCountMax ?? 3);
  const family = target.options.AddressFamily;
  const appendLock = new KeyedMutex();
  let opened = 0;

  /** Keys to offer, in order; notes say why a configured key was not usable (never its content). */
  async function authMethods(): Promise<{ methods: AnyAuthMethod[]; notes: string[] }> {
    const methods: AnyAuthMethod[] = [];
    const notes: string[] = [];
    const explicit = identityFiles.length > 0;
    for (const file of explicit ? identityFiles : DEFAULT_IDENTITIES) {
      const path = expandHome(file);
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (err) {
        if (explicit) notes.push(`identity ${path} not readable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        continue;
      }
      const parsed = utils.parseKey(data, opts.passphrase);
      if (parsed instanceof Error) {
        notes.push(
          /encrypted|passphrase/i.test(parsed.message)
            ? `identity ${path} is encrypted and no passphrase was given`
            : `identity ${path} is not a usable private key`,
        );
        continue;
      }
      methods.push({ type: 'publickey', username: user, key: data, ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}) });
    }
    if (target.options.IdentitiesOnly === 'yes' && explicit) return { methods, notes };
    if (agent !== '') methods.push({ type: 'agent', username: user, agent });
    else notes.push('no ssh-agent socket (SSH_AUTH_SOCK)');
    return { methods, notes };
  }

  async function verifyHostKey(entries: KnownHostEntry[], key: Buffer): Promise<void> {
    const verdict = checkHostKey(entries, target.host, target.port, key);
    const type = keyTypeOf(key) ?? 'unknown-type';
    const offered = `${type} ${fingerprint(key)}`;
    const keyscan = `ssh-keyscan -p ${target.port} -t ${type} ${target.host} >> ${appendTo ?? '~/.ssh/known_hosts'}`;
    switch (verdict.status) {
      case 'known':
        return;
      case 'revoked':
        throw new SshHostError(
          'host-key-revoked',
          `the SSH host key of ${hostName} (${offered}) is marked @revoked in ${verdict.entry.file} line ${verdict.entry.line}; refusing to connect`,
        );
      case 'changed': {
        const where = verdict.entries.map((e) => `${e.file} line ${e.line}`).join(', ');
        throw new SshHostError(
          'host-key-changed',
          `WARNING: THE SSH HOST KEY OF ${hostName} HAS CHANGED. The server offered ${offered}, but ${where} records a different ${type} key. ` +
            'Someone may be intercepting the connection (man-in-the-middle), or the server was reinstalled. Refusing to connect. ' +
            `If the change is expected, verify the new fingerprint out of band, remove the old key with ssh-keygen -R "${hostName}" -f <file>, then add the new one: ${keyscan}`,
        );
      }
      case 'other-type': {
        const types = [...new Set(verdict.entries.map((e) => e.keyType))].join(', ');
        throw new SshHostError(
          'host-key-other-type',
          `the SSH server ${hostName} offered ${offered}, but only keys of other types (${types}) are recorded for it; refusing to connect. ` +
            `If the server really has this key, verify the fingerprint and add it: ${keyscan}`,
        );
      }
      case 'unknown':
        if (trustOnFirstUse && appendTo !== null) {
          await appendLock.run(appendTo, () => appendKnownHost(appendTo, target.host, target.port, key));
          return;
        }
        throw new SshHostError(
          'host-key-unknown',
          `the SSH host key of ${hostName} is not known (${knownHostsFiles.join(', ')}); the server offered ${offered}. ` +
            `Verify the fingerprint, then add it with: ${keyscan} (or allow trust on first use with -o StrictHostKeyChecking=accept-new)`,
        );
    }
  }

  async function connect(onGone: () => void): Promise<Session> {
    const entries = await readKnownHosts(knownHostsFiles);
    const { methods, notes } = await authMethods();
    if (methods.length === 0) {
      throw new SshHostError('auth', `no SSH key to log in to ${description}: ${notes.join('; ')}`);
    }
    // Ask for a key type we already know first, as ssh does, so a known host is not mistaken for a new one.
    const known = knownKeyTypes(entries, target.host, target.port).flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []);
    const serverHostKey = [...new Set([...known, ...HOST_KEY_PREFERENCE])];

    const client = new Client();
    const session: Session = { client, closed: false, sftp: null };
    return new Promise<Session>((resolve, reject) => {
      let ready = false;
      let hostKeyError: SshHostError | null = null;
      const gone = (): void => {
        if (session.closed) return;
        session.closed = true;
        onGone();
      };
      client.on('ready', () => {
        ready = true;
        opened++;
        resolve(session);
      });
      client.on('error', (err: Error & { level?: string }) => {
        gone();
        if (ready) return; // commands on the connection see their channels close
        if (hostKeyError) return reject(hostKeyError);
        if (err.level === 'client-authentication') {
          return reject(
            new SshHostError(
              'auth',
              `SSH authentication as ${user} to ${description} failed (tried ${methods.map(describeMethod).join(', ')})` +
                (notes.length > 0 ? `; ${notes.join('; ')}` : ''),
            ),
          );
        }
        reject(new SshHostError('connect', `cannot connect to ${description}: ${err.message}`));
      });
      client.on('close', () => {
        gone();
        if (!ready) reject(hostKeyError ?? new SshHostError('connect', `connection to ${description} closed during setup`));
      });
      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: user,
        readyTimeout,
        keepaliveInterval,
        keepaliveCountMax,
        algorithms: { kex: KEX, serverHostKey },
        hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
          verifyHostKey(entries, key).then(
            () => verify(true),
            (err: unknown) => {
              hostKeyError =
                err instanceof SshHostError ? err : new SshHostError('config', `cannot record the host key of ${hostName}: ${String(err)}`);
              verify(false);
            },
          );
        },
        authHandler: methods,
        ...(family === 'inet' ? { forceIPv4: true } : family === 'inet6' ? { forceIPv6: true } : {}),
      };
      client.connect(config);
    });
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

function describeMethod(method: AnyAuthMethod): string {
  return method.type === 'agent' ? 'ssh-agent' : method.type === 'publickey' ? 'an identity file' : method.type;
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

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return posix.join(homedir(), path.slice(2));
  return path;
}

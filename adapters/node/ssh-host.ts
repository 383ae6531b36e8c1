import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { posix } from 'node:path';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, ClientChannel, ConnectConfig, KexAlgorithm, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from 'ssh2';
import { describeRemoteSsh } from '../../src/barman/remote-ssh.js';
import type { RemoteSsh } from '../../src/barman/remote-ssh.js';
import { KeyedMutex } from '../../src/util/mutex.js';
import { HostError } from '../../src/ports.js';
import type { BarmanHost, HostErrorKind, HostFileInfo, HostWriteResult, RunOptions, RunResult } from '../../src/ports.js';
import { shellJoin, shellQuote } from '../../src/util/shell-quote.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostName,
  knownKeyTypes,
  readKnownHosts,
} from './known-hosts.js';
import type { KnownHostEntry } from './known-hosts.js';
import {
  assertArgv,
  assertNoPrivateEnv,
  createOutputBuffer,
  createOutputTap,
  DEFAULT_MAX_OUTPUT_BYTES,
  NEW_FILE_MODE,
} from './local-host.js';

const { Client, utils } = ssh2;

export interface SshHostOptions {
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
  defaultTimeoutMs?: number;
  defaultMaxOutputBytes?: number;
  /** Time between the TERM and the KILL signal when a command is stopped. */
  killGraceMs?: number;
  /** How long to keep reading after the remote command exits (a background child may hold its output). */
  exitDrainMs?: number;
  /** Commands running at once on the one connection; sshd allows 10 sessions by default, SFTP takes one. */
  maxChannels?: number;
}

/** A BarmanHost over one pooled SSH connection. */
export interface SshHost extends BarmanHost {
  readonly kind: 'ssh';
  /** Connections that completed authentication so far (pooling and reconnects are observable). */
  readonly connectionsOpened: number;
}

export type SshHostErrorCode =
  | 'config'
  | 'connect'
  | 'auth'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-other-type'
  | 'host-key-revoked'
  | 'connection-lost'
  | 'closed';

const KIND: Record<SshHostErrorCode, HostErrorKind> = {
  config: 'config',
  connect: 'unreachable',
  auth: 'auth',
  'host-key-unknown': 'host-key',
  'host-key-changed': 'host-key',
  'host-key-other-type': 'host-key',
  'host-key-revoked': 'host-key',
  'connection-lost': 'connection-lost',
  closed: 'closed',
};

export class SshHostError extends HostError {
  constructor(
    readonly code: SshHostErrorCode,
    message: string,
  ) {
    super(KIND[code], message);
    this.name = 'SshHostError';
  }
}

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
const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_EXIT_DRAIN_MS = 2_000;
const DEFAULT_MAX_CHANNELS = 8;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that mean something here. */
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

interface ChannelExit {
  code: number | null;
  signal: string | null;
  stopped: boolean;
}

interface Session {
  client: InstanceType<typeof Client>;
  closed: boolean;
  sftp: Promise<SFTPWrapper> | null;
}

export function createSshHost(opts: SshHostOptions): SshHost {
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
  const killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const exitDrainMs = opts.exitDrainMs ?? DEFAULT_EXIT_DRAIN_MS;
  const slots = createSlots(opts.maxChannels ?? DEFAULT_MAX_CHANNELS);
  const writeLock = new KeyedMutex();
  const appendLock = new KeyedMutex();

  let current: Promise<Session> | null = null;
  let opened = 0;
  let closedByOwner = false;

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

  /** The pooled connection: opened on first use, shared, replaced after it closes or fails. */
  function session(): Promise<Session> {
    if (closedByOwner) return Promise.reject(new SshHostError('closed', `the SSH host ${description} was closed`));
    if (current) return current;
    const attempt: Promise<Session> = connect(() => {
      if (current === attempt) current = null;
    });
    current = attempt;
    attempt.catch(() => {
      if (current === attempt) current = null;
    });
    return attempt;
  }

  async function openChannel(command: string): Promise<ClientChannel> {
    // One retry: a connection that died while idle is noticed only when used, and the command has not started.
    for (let attempt = 1; ; attempt++) {
      const s = await session();
      try {
        return await new Promise<ClientChannel>((resolve, reject) => {
          s.client.exec(command, (err, channel) => (err ? reject(err) : resolve(channel)));
        });
      } catch (err) {
        if (attempt === 1 && s.closed) continue;
        throw err;
      }
    }
  }

  /**
   * Runs an SFTP operation on the pooled connection's one SFTP session. As with exec, a session
   * that turns out to be dead is replaced once; the operation is repeated only when `repeatable`.
   */
  async function withSftp<T>(op: (w: SFTPWrapper) => Promise<T>, repeatable: boolean): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const s = await session();
      let w: SFTPWrapper;
      try {
        w = await sftpOf(s);
      } catch (err) {
        if (attempt === 1 && s.closed) continue;
        throw err;
      }
      try {
        return await op(w);
      } catch (err) {
        if (repeatable && attempt === 1 && s.closed) continue;
        throw err;
      }
    }
  }

  function sftpOf(s: Session): Promise<SFTPWrapper> {
    if (!s.sftp) {
      const opening = new Promise<SFTPWrapper>((resolve, reject) => {
        s.client.sftp((err, wrapper) => (err ? reject(err) : resolve(wrapper)));
      });
      s.sftp = opening;
      const forget = (): void => {
        if (s.sftp === opening) s.sftp = null;
      };
      opening.then((wrapper) => {
        wrapper.on('close', forget);
        wrapper.on('error', forget);
      }, forget);
    }
    return s.sftp;
  }

  async function runRemote(argv: string[], options: RunOptions): Promise<RunResult> {
    assertArgv(argv);
    // Only these are sent; nothing of this process's environment (BARMANAPI_* settings) goes along.
    const env = options.env ?? {};
    for (const name of Object.keys(env)) {
      if (!ENV_NAME.test(name)) throw new TypeError(`run: "${name}" is not a valid environment variable name`);
    }
    assertNoPrivateEnv(env, 'run');
    // exec: the command itself leads the session's process group, so a signal request reaches it
    // and its children rather than only the login shell. stdin is /dev/null, as for a local run.
    const assignments = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`);
    const exported = assignments.length > 0 ? `export ${assignments.join(' ')}; ` : '';
    const command = `${exported}exec ${shellJoin(argv)} </dev/null`;

    // An explicit 0 (async jobs) means no limit; only an absent timeout takes the default.
    const timeoutMs = options.timeoutMs ?? opts.defaultTimeoutMs ?? 0;
    const maxOutputBytes = options.maxOutputBytes ?? opts.defaultMaxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const started = Date.now();
    const stdout = createOutputBuffer(maxOutputBytes);
    const stderr = createOutputBuffer(maxOutputBytes);
    let reason: 'timeout' | 'abort' | null = null;
    /** `stopped`: the stop reached the command (one that had already exited was not stopped). */
    const result = (exitCode: number | null, signal: string | null, stopped: boolean): RunResult => ({
      exitCode,
      signal,
      stdout: stdout.text(),
      stderr: stderr.text(),
      truncated: stdout.truncated || stderr.truncated,
      timedOut: stopped && reason === 'timeout',
      aborted: stopped && reason === 'abort',
      durationMs: Date.now() - started,
    });
    if (options.signal?.aborted) {
      reason = 'abort';
      return result(null, null, true);
    }

    const stopper = new AbortController();
    const requestStop = (why: 'timeout' | 'abort'): void => {
      if (reason !== null) return;
      reason = why;
      stopper.abort();
    };
    const onAbort = (): void => requestStop('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeoutMs > 0 ? setTimeout(() => requestStop('timeout'), timeoutMs) : undefined;
    let release: (() => void) | null = null;
    try {
      try {
        release = await slots.acquire(stopper.signal);
      } catch (err) {
        if (stopper.signal.aborted) return result(null, null, true);
        throw err;
      }
      const channel = await openChannel(command);
      const tap = createOutputTap(options.onOutput);
      const exit = await collect(
        channel,
        (chunk) => {
          stdout.push(chunk);
          tap.emit('stdout', chunk);
        },
        (chunk) => {
          stderr.push(chunk);
          tap.emit('stderr', chunk);
        },
        stopper.signal,
      );
      if (tap.failure) throw tap.failure;
      return result(exit.code, exit.signal, exit.stopped);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      release?.();
    }
  }

  function collect(
    channel: ClientChannel,
    onStdout: (chunk: Buffer) => void,
    onStderr: (chunk: Buffer) => void,
    stop: AbortSignal,
  ): Promise<ChannelExit> {
    return new Promise((resolve, reject) => {
      let exit: ChannelExit | null = null;
      let stopped = false;
      let settled = false;
      const timers: ReturnType<typeof setTimeout>[] = [];
      const finish = (value: ChannelExit | Error): void => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        stop.removeEventListener('abort', onStop);
        if (value instanceof Error) reject(value);
        else resolve({ ...value, stopped });
      };
      const onStop = (): void => {
        if (exit) return;
        stopped = true;
        // sshd delivers a "signal" request with killpg, so the remote command's whole group gets it.
        sendSignal(channel, 'TERM');
        timers.push(
          setTimeout(() => {
            sendSignal(channel, 'KILL');
            channel.close();
            timers.push(setTimeout(() => finish(exit ?? { code: null, signal: null, stopped }), exitDrainMs));
          }, killGraceMs),
        );
      };

      channel.on('data', onStdout);
      channel.stderr.on('data', onStderr);
      channel.on('exit', (code: number | null, signal?: string) => {
        exit =
          typeof code === 'number'
            ? { code, signal: null, stopped }
            : { code: null, signal: signal ? (signal.startsWith('SIG') ? signal : `SIG${signal}`) : null, stopped };
        timers.push(
          setTimeout(() => {
            finish(exit!);
            channel.close();
          }, exitDrainMs),
        );
      });
      channel.on('close', () => {
        if (exit) return finish(exit);
        if (stopped) return finish({ code: null, signal: null, stopped });
        finish(new SshHostError('connection-lost', `the connection to ${description} ended before the command reported its exit status`));
      });
      if (stop.aborted) onStop();
      else stop.addEventListener('abort', onStop, { once: true });
    });
  }

  async function statOrNull(w: SFTPWrapper, path: string): Promise<Stats | null> {
    try {
      return await call<Stats>((cb) => w.stat(path, cb));
    } catch (err) {
      if (sftpCode(err) === SFTP_NO_SUCH_FILE) return null;
      throw err;
    }
  }

  async function replaceRemote(w: SFTPWrapper, target: string, data: Buffer): Promise<HostWriteResult> {
    const existing = await statOrNull(w, target);
    if (existing?.isDirectory()) throw new Error(`writeFile: ${target} on ${description} is a directory`);
    const tmp = posix.join(posix.dirname(target), `.${posix.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
    let handle: Buffer;
    try {
      handle = await call<Buffer>((cb) => w.open(tmp, 'wx', { mode: 0o600 }, cb));
    } catch (err) {
      if (existing && sftpCode(err) === SFTP_PERMISSION_DENIED) return rewriteRemoteInPlace(w, target, data);
      throw err;
    }

    let fallBack = false;
    try {
      await call<void>((cb) => w.write(handle, data, 0, data.length, 0, cb));
      if (existing) {
        const mine = await call<Stats>((cb) => w.fstat(handle, cb));
        if (mine.uid !== existing.uid || mine.gid !== existing.gid) {
          try {
            await call<void>((cb) => w.fchown(handle, existing.uid, existing.gid, cb));
          } catch (err) {
            // Renaming ours over theirs would change the owner; write through their inode instead.
            if (sftpCode(err) !== SFTP_PERMISSION_DENIED) throw err;
            fallBack = true;
          }
        }
      }
      if (!fallBack) {
        await call<void>((cb) => w.fchmod(handle, existing ? existing.mode & 0o7777 : NEW_FILE_MODE, cb));
        await fsyncIfSupported(w, handle);
      }
    } catch (err) {
      await call<void>((cb) => w.close(handle, cb)).catch(() => undefined);
      await removeQuietly(w, tmp);
      throw err;
    }
    await call<void>((cb) => w.close(handle, cb));

    // Over an existing file only posix-rename@openssh.com replaces atomically: plain SFTP rename
    // refuses to overwrite, and unlink + rename would leave a moment with no file at all.
    const renaming = fallBack
      ? null
      : existing
        ? tryExtension((cb) => w.ext_openssh_rename(tmp, target, cb))
        : call<void>((cb) => w.rename(tmp, target, cb));
    if (renaming === null) {
      await removeQuietly(w, tmp);
      return rewriteRemoteInPlace(w, target, data);
    }
    try {
      await renaming;
    } catch (err) {
      await removeQuietly(w, tmp);
      throw err;
    }
    return { mode: 'replaced' };
  }

  /**
   * Rewrites the file through its own handle, in the order of the local host's rewriteInPlace:
   * new content from offset 0, fsync, cut to the new length, fsync. A connection lost at any
   * step leaves the old content, or the whole new content followed by the rest of the old.
   */
  async function rewriteRemoteInPlace(w: SFTPWrapper, target: string, data: Buffer): Promise<HostWriteResult> {
    const handle = await call<Buffer>((cb) => w.open(target, 'r+', cb));
    try {
      await call<void>((cb) => w.write(handle, data, 0, data.length, 0, cb));
      await fsyncIfSupported(w, handle);
      await call<void>((cb) => w.fsetstat(handle, { size: data.length }, cb));
      await fsyncIfSupported(w, handle);
    } finally {
      await call<void>((cb) => w.close(handle, cb));
    }
    return { mode: 'in-place' };
  }

  async function removeQuietly(w: SFTPWrapper, path: string): Promise<void> {
    try {
      await call<void>((cb) => w.unlink(path, cb));
    } catch (err) {
      if (sftpCode(err) !== SFTP_NO_SUCH_FILE) throw err;
    }
  }

  return {
    kind: 'ssh',
    description,
    get connectionsOpened() {
      return opened;
    },

    run(argv, options = {}) {
      return runRemote(argv, options);
    },

    readFile(path) {
      return withSftp(async (w) => {
        try {
          return (await call<Buffer>((cb) => w.readFile(path, cb))).toString('utf8');
        } catch (err) {
          if (sftpCode(err) === SFTP_NO_SUCH_FILE) return null;
          throw err;
        }
      }, true);
    },

    async writeFile(path, content) {
      // Lock the file the write really lands on; realpath fails only when it does not exist yet.
      const target = await withSftp(async (w) => {
        try {
          return await call<string>((cb) => w.realpath(path, cb));
        } catch (err) {
          if (sftpCode(err) !== SFTP_NO_SUCH_FILE) throw err;
          return path;
        }
      }, true);
      const data = Buffer.from(content, 'utf8');
      return writeLock.run(target, () => withSftp((w) => replaceRemote(w, target, data), false));
    },

    async stat(path) {
      const s = await withSftp((w) => statOrNull(w, path), true);
      if (s === null) return null;
      const info: HostFileInfo = {
        size: s.size,
        mtimeMs: s.mtime * 1000, // SFTP v3 carries whole seconds
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        isDirectory: s.isDirectory(),
      };
      return info;
    },

    listDir(path) {
      return withSftp(async (w) => {
        try {
          const entries = await call<{ filename: string }[]>((cb) => w.readdir(path, cb));
          return entries
            .map((e) => e.filename)
            .filter((name) => name !== '.' && name !== '..')
            .sort();
        } catch (err) {
          if (sftpCode(err) === SFTP_NO_SUCH_FILE) return [];
          throw err;
        }
      }, true);
    },

    async close() {
      closedByOwner = true;
      const pending = current;
      current = null;
      if (!pending) return;
      const s = await pending.catch(() => null);
      if (s && !s.closed) {
        const ended = new Promise<void>((resolve) => s.client.once('close', () => resolve()));
        s.client.end();
        await ended;
      }
    },
  };
}

/** Adapts a node-style callback API to a promise. */
function call<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value)));
  });
}

function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * An OpenSSH SFTP extension request, or null when the server did not announce the extension
 * (ssh2 throws synchronously then, before anything is sent).
 */
function tryExtension(start: (cb: (err: Error | undefined | null) => void) => void): Promise<void> | null {
  let settle: (err: Error | undefined | null) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  try {
    start(settle);
  } catch {
    return null;
  }
  return done;
}

async function fsyncIfSupported(w: SFTPWrapper, handle: Buffer): Promise<void> {
  // Without fsync@openssh.com the server decides when data reaches its disk; a rename stays atomic and
  // the in-place steps still arrive in order, so a dropped connection cannot leave an empty file.
  await tryExtension((cb) => w.ext_openssh_fsync(handle, cb));
}

function sendSignal(channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  try {
    channel.signal(name);
  } catch {
    // The channel is already closing; closing it is all that is left to do.
  }
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

/** A counting semaphore whose waiters can give up (a command stopped before it got a channel). */
function createSlots(size: number): { acquire(signal: AbortSignal): Promise<() => void> } {
  let free = Math.max(1, size);
  const waiting: (() => void)[] = [];
  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) next();
      else free++;
    };
  };
  return {
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (free > 0) {
        free--;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const grant = (): void => {
          signal.removeEventListener('abort', giveUp);
          resolve(releaser());
        };
        const giveUp = (): void => {
          const i = waiting.indexOf(grant);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal.reason);
        };
        waiting.push(grant);
        signal.addEventListener('abort', giveUp, { once: true });
      });
    },
  };
}

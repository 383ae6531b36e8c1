/**
 * Which host keys the barman host may present: known_hosts files as ssh reads them, and what to
 * do with a key they do not hold (refuse with the ssh-keyscan line, or trust on first use).
 * A changed or revoked key is always refused.
 */
import { homedir } from 'node:os';
import { posix } from 'node:path';
import type { RemoteSsh } from '../../../src/barman/remote-ssh.js';
import { KeyedMutex } from '../../../src/util/mutex.js';
import { appendKnownHost, checkHostKey, fingerprint, keyTypeOf, knownHostName, type KnownHostEntry } from '../known-hosts.js';
import { SshHostError } from './errors.js';

export interface HostKeyOptions {
  knownHostsFile?: string;
  globalKnownHostsFile?: string | null;
  trustOnFirstUse?: boolean;
}

export interface HostKeyPolicy {
  /** Every known_hosts file read, user files first. */
  files: string[];
  /** Resolves when the key may be trusted (recording it on first use); rejects with SshHostError. */
  verify(entries: KnownHostEntry[], key: Buffer): Promise<void>;
}

export function hostKeyPolicy(target: RemoteSsh, opts: HostKeyOptions, description: string): HostKeyPolicy {
  const userFiles = (opts.knownHostsFile !== undefined ? [opts.knownHostsFile] : (target.options.UserKnownHostsFile?.split(' ') ?? ['~/.ssh/known_hosts']))
    .filter((f) => f !== 'none')
    .map(expandHome);
  const globalFile = opts.globalKnownHostsFile === undefined ? '/etc/ssh/ssh_known_hosts' : opts.globalKnownHostsFile;
  const files = globalFile === null ? userFiles : [...userFiles, globalFile];
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
  const appendLock = new KeyedMutex();
  const context = { target, files, appendTo, trustOnFirstUse, appendLock, hostName: knownHostName(target.host, target.port) };
  return { files, verify: (entries, key) => verifyHostKey(context, entries, key) };
}

interface VerifyContext {
  target: RemoteSsh;
  files: string[];
  appendTo: string | null;
  trustOnFirstUse: boolean;
  appendLock: KeyedMutex;
  hostName: string;
}

async function verifyHostKey(ctx: VerifyContext, entries: KnownHostEntry[], key: Buffer): Promise<void> {
  const { target, appendTo, trustOnFirstUse, appendLock, hostName } = ctx;
  const knownHostsFiles = ctx.files;
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

export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return posix.join(homedir(), path.slice(2));
  return path;
}

/**
 * `remotessh = ssh backup` where `backup` is a name from the API user's ~/.ssh/config (Host,
 * HostName, Port, User, IdentityFile): ssh2 reads no ssh_config, so the names are resolved here
 * the way ssh itself does, by asking `ssh -G` with the very words of the setting (command-line
 * options still win over the file, Include and Match work as in ssh). Only where barman is and
 * who logs in are taken: host key checking stays the API's own ([barman] known_hosts,
 * trust_on_first_use), so a `StrictHostKeyChecking no` in a config file never weakens it.
 * Without an ssh program, a setting that names a host of ~/.ssh/config is refused at start.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RemoteSshError, splitShellWords, type RemoteSsh } from '../../../src/barman/remote-ssh.js';

/** The keys ssh tries when no IdentityFile is configured (`ssh -G` lists them then). */
const OPENSSH_DEFAULT_KEYS = new Set(['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ecdsa_sk', '~/.ssh/id_ed25519', '~/.ssh/id_ed25519_sk', '~/.ssh/id_xmss', '~/.ssh/id_dsa']);

export interface SshConfigOptions {
  /** The ssh program; default: the setting's own first word when it is a path, else `ssh` on PATH. */
  program?: string;
  /** The file checked when there is no ssh program. */
  configFile?: string;
}

/** The target with what ~/.ssh/config says of its host name, port, user and keys. */
export function withSshConfig(setting: string, target: RemoteSsh, opts: SshConfigOptions = {}): RemoteSsh {
  const words = splitShellWords(setting);
  const uri = words[0]?.startsWith('ssh://') === true;
  const program = opts.program ?? (!uri && words[0]?.includes('/') ? words[0] : 'ssh');
  const args = ['-G', ...(uri ? words : words.slice(1))];
  const run = spawnSync(program!, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    const file = opts.configFile ?? join(homedir(), '.ssh', 'config');
    if (namesHost(readQuietly(file), target.host)) {
      throw new RemoteSshError(
        `remotessh: ${target.host} is a Host of ${file}, and this machine has no ssh program to read that file the way ssh does; install openssh-client, or write the host name, port (-p), user and key (-i) in remotessh`,
      );
    }
    return target;
  }
  if (run.status !== 0 || typeof run.stdout !== 'string') {
    throw new RemoteSshError(`remotessh: ssh -G could not read the ssh configuration for ${target.host}: ${(run.stderr || String(run.error ?? '')).trim().slice(0, 300)}`);
  }
  const values = new Map<string, string[]>();
  for (const line of run.stdout.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line);
    if (m) values.set(m[1]!, [...(values.get(m[1]!) ?? []), m[2]!]);
  }
  const hostname = values.get('hostname')?.[0];
  const port = Number(values.get('port')?.[0]);
  const user = values.get('user')?.[0];
  const keys = (values.get('identityfile') ?? []).filter((k) => !OPENSSH_DEFAULT_KEYS.has(k));
  return {
    ...target,
    host: hostname || target.host,
    port: Number.isInteger(port) && port > 0 && port < 65536 ? port : target.port,
    user: target.user ?? user ?? null,
    identityFiles: target.identityFiles.length > 0 ? target.identityFiles : keys,
  };
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Whether a `Host` line of an ssh_config text matches `host` (patterns with * and ?, ! negates). */
export function namesHost(text: string, host: string): boolean {
  for (const line of text.split('\n')) {
    const m = /^\s*Host\s+(.+)$/i.exec(line);
    if (!m) continue;
    const patterns = m[1]!.trim().split(/\s+/);
    const negated = patterns.some((p) => p.startsWith('!') && glob(p.slice(1), host));
    if (!negated && patterns.some((p) => !p.startsWith('!') && p !== '*' && glob(p, host))) return true;
  }
  return false;
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(value);
}

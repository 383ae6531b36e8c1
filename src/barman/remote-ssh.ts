/**
 * The seed's `remotessh = ssh barman@backup` setting, read into connection parameters for the
 * ssh2 adapter. We do not run the ssh binary, so every word of the setting either maps to
 * something the adapter honours or is rejected by name: an ignored option (a jump host, a
 * config file, a forwarded port) would connect somewhere or somehow other than the admin wrote.
 */
import { ShellWordsError, splitLikeShell } from './shell-words.js';

/** What the adapter needs to reach the barman host. */
export interface RemoteSsh {
  /** Login name; null when the setting names none (ssh would use the local user name). */
  user: string | null;
  host: string;
  port: number;
  /** Private key files in the order ssh would try them; `~` is left for the adapter to expand. */
  identityFiles: string[];
  /**
   * The remaining honoured `-o` options under their canonical names, values normalised:
   * StrictHostKeyChecking (yes | accept-new | no), UserKnownHostsFile (space-separated paths),
   * ConnectTimeout, ServerAliveInterval, ServerAliveCountMax (seconds / count as digits),
   * BatchMode (yes | no), IdentitiesOnly (yes | no: offer only the named keys, never the agent's),
   * AddressFamily (any | inet | inet6).
   */
  options: Record<string, string>;
}

export class RemoteSshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteSshError';
  }
}

const DEFAULT_PORT = 22;

/** splitShellWords of the shell-words module, failing as a RemoteSshError. */
export function splitShellWords(line: string): string[] {
  try {
    return splitLikeShell(line);
  } catch (err) {
    if (err instanceof ShellWordsError) throw new RemoteSshError(`remotessh: ${err.message}`);
    throw err;
  }
}

/** ssh flags that change nothing for a non-interactive exec without forwarding: accepted, no effect. */
const HARMLESS_FLAGS: Record<string, string> = {
  q: 'quiet mode',
  T: 'no pseudo-terminal (never allocated here)',
  n: 'stdin from /dev/null (always so here)',
  x: 'no X11 forwarding (never done here)',
  a: 'no agent forwarding (never done here)',
  k: 'no GSSAPI delegation (never done here)',
  v: 'verbose diagnostics',
  C: 'compression (a transport detail)',
};

/** Canonical spelling of each honoured `-o` keyword, by lower-case name. */
const OPTION_NAMES: Record<string, string> = {
  port: 'Port',
  user: 'User',
  identityfile: 'IdentityFile',
  stricthostkeychecking: 'StrictHostKeyChecking',
  userknownhostsfile: 'UserKnownHostsFile',
  connecttimeout: 'ConnectTimeout',
  serveraliveinterval: 'ServerAliveInterval',
  serveralivecountmax: 'ServerAliveCountMax',
  batchmode: 'BatchMode',
  identitiesonly: 'IdentitiesOnly',
  addressfamily: 'AddressFamily',
};

interface Draft {
  user: string | null;
  host: string | null;
  port: number | null;
  identityFiles: string[];
  options: Record<string, string>;
}

/** Parse `ssh [options] [user@]host` or `ssh://[user@]host[:port]` (with or without a leading `ssh`). */
export function parseRemoteSsh(setting: string): RemoteSsh {
  const words = splitShellWords(setting);
  if (words.length === 0) throw new RemoteSshError('remotessh is empty; expected e.g. "ssh barman@backup"');

  const draft: Draft = { user: null, host: null, port: null, identityFiles: [], options: {} };
  const program = words[0]!;
  // A bare URI may stand alone; otherwise the setting is an ssh command line.
  const bareUri = words.length === 1 && program.startsWith('ssh://');
  if (!bareUri && program !== 'ssh' && !program.endsWith('/ssh')) {
    throw new RemoteSshError(`remotessh must start with "ssh", got "${program}"`);
  }
  const rest = bareUri ? words : words.slice(1);

  let i = 0;
  let optionsEnded = false;
  while (i < rest.length) {
    const word = rest[i]!;
    i++;
    if (!optionsEnded && word === '--') {
      optionsEnded = true;
      continue;
    }
    if (!optionsEnded && word.startsWith('-') && word.length > 1) {
      // getopt-style cluster: "-qT", "-p2222", "-p 2222", "-oPort=2222".
      for (let j = 1; j < word.length; j++) {
        const flag = word[j]!;
        if (flag === 'p' || flag === 'i' || flag === 'l' || flag === 'o') {
          let arg = word.slice(j + 1);
          if (arg === '') {
            if (i >= rest.length) throw new RemoteSshError(`remotessh: ssh option -${flag} needs a value`);
            arg = rest[i]!;
            i++;
          }
          applyFlag(draft, flag, arg);
          break;
        }
        if (flag === '4' || flag === '6') {
          setOption(draft, 'AddressFamily', flag === '4' ? 'inet' : 'inet6', `-${flag}`);
          continue;
        }
        if (flag in HARMLESS_FLAGS) continue;
        throw new RemoteSshError(
          `remotessh: ssh option -${flag} (in "${word}") is not supported; barmanapi connects with its own SSH client and would not honour it`,
        );
      }
      continue;
    }
    if (draft.host !== null) {
      throw new RemoteSshError(
        `remotessh: unexpected word "${word}" after the destination; a remote command is not allowed here`,
      );
    }
    applyDestination(draft, word);
  }

  if (draft.host === null) throw new RemoteSshError(`remotessh: no destination host in ${JSON.stringify(setting)}`);
  return {
    user: draft.user,
    host: draft.host,
    port: draft.port ?? DEFAULT_PORT,
    identityFiles: draft.identityFiles,
    options: draft.options,
  };
}

/** `user@host:port` for messages and BarmanHost.description (IPv6 addresses in brackets). */
export function describeRemoteSsh(target: RemoteSsh, fallbackUser: string): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.user ?? fallbackUser}@${host}:${target.port}`;
}

function applyFlag(draft: Draft, flag: 'p' | 'i' | 'l' | 'o', arg: string): void {
  switch (flag) {
    case 'p':
      setPort(draft, arg, '-p');
      return;
    case 'i':
      addIdentity(draft, arg, '-i');
      return;
    case 'l':
      setUser(draft, arg, '-l');
      return;
    case 'o':
      applyOption(draft, arg);
      return;
  }
}

/** One `-o` argument: `Key=Value`, `Key Value` or `Key = Value`, keyword case-insensitive. */
function applyOption(draft: Draft, arg: string): void {
  const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(arg);
  if (!match) throw new RemoteSshError(`remotessh: cannot read ssh option "-o ${arg}"; expected Key=Value`);
  const keyword = match[1]!;
  let value = match[2]!;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  const name = OPTION_NAMES[keyword.toLowerCase()];
  if (name === undefined) {
    throw new RemoteSshError(
      `remotessh: ssh option "-o ${arg}" is not supported (${keyword}); barmanapi honours only ${Object.values(OPTION_NAMES).join(', ')}`,
    );
  }
  const source = `-o ${keyword}`;
  if (value === '') throw new RemoteSshError(`remotessh: ssh option "${source}" has no value`);
  switch (name) {
    case 'Port':
      setPort(draft, value, source);
      return;
    case 'User':
      setUser(draft, value, source);
      return;
    case 'IdentityFile':
      addIdentity(draft, value, source);
      return;
    case 'StrictHostKeyChecking': {
      const v = value.toLowerCase();
      // "ask" cannot ask anyone here; it refuses unknown hosts, like "yes".
      const normalised = v === 'yes' || v === 'ask' ? 'yes' : v === 'accept-new' ? 'accept-new' : v === 'no' || v === 'off' ? 'no' : null;
      if (normalised === null) {
        throw new RemoteSshError(`remotessh: ${source} must be yes, ask, accept-new, no or off, got "${value}"`);
      }
      setOption(draft, name, normalised, source);
      return;
    }
    case 'UserKnownHostsFile': {
      if (value.includes('%')) {
        throw new RemoteSshError(`remotessh: ${source} with % tokens ("${value}") is not supported; write the path out`);
      }
      setOption(draft, name, value.split(/\s+/).join(' '), source);
      return;
    }
    case 'ConnectTimeout':
    case 'ServerAliveInterval':
    case 'ServerAliveCountMax': {
      if (!/^\d{1,6}$/.test(value)) throw new RemoteSshError(`remotessh: ${source} must be a whole number, got "${value}"`);
      setOption(draft, name, String(Number(value)), source);
      return;
    }
    case 'BatchMode':
    case 'IdentitiesOnly': {
      const v = value.toLowerCase();
      if (v !== 'yes' && v !== 'no') throw new RemoteSshError(`remotessh: ${source} must be yes or no, got "${value}"`);
      setOption(draft, name, v, source);
      return;
    }
    case 'AddressFamily': {
      const v = value.toLowerCase();
      if (v !== 'any' && v !== 'inet' && v !== 'inet6') {
        throw new RemoteSshError(`remotessh: ${source} must be any, inet or inet6, got "${value}"`);
      }
      setOption(draft, name, v, source);
      return;
    }
  }
}

/** `[user@]host` or `ssh://[user@]host[:port]`. */
function applyDestination(draft: Draft, word: string): void {
  if (word.startsWith('ssh://')) {
    const match = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]/]+\]|[^:/@[\]]+)(?::(\d+))?\/?$/.exec(word);
    if (!match) throw new RemoteSshError(`remotessh: cannot read destination "${word}"; expected ssh://[user@]host[:port]`);
    if (match[1] !== undefined) setUser(draft, decodeURIComponent(match[1]), 'the destination');
    const host = match[2]!.startsWith('[') ? match[2]!.slice(1, -1) : match[2]!;
    setHost(draft, host, word);
    if (match[3] !== undefined) setPort(draft, match[3], 'the destination');
    return;
  }
  // ssh splits at the last '@', so a login name may itself contain one.
  const at = word.lastIndexOf('@');
  if (at >= 0) setUser(draft, word.slice(0, at), 'the destination');
  setHost(draft, word.slice(at + 1), word);
}

function setHost(draft: Draft, host: string, word: string): void {
  if (host === '' || host.startsWith('-') || !/^[A-Za-z0-9._:%-]+$/.test(host)) {
    throw new RemoteSshError(`remotessh: "${word}" is not a valid destination host`);
  }
  draft.host = host;
}

function setUser(draft: Draft, user: string, source: string): void {
  if (user === '' || /[\s/]/.test(user) || user.startsWith('-')) {
    throw new RemoteSshError(`remotessh: "${user}" (from ${source}) is not a valid user name`);
  }
  if (draft.user !== null && draft.user !== user) {
    throw new RemoteSshError(`remotessh: conflicting user names "${draft.user}" and "${user}" (from ${source})`);
  }
  draft.user = user;
}

function setPort(draft: Draft, value: string, source: string): void {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new RemoteSshError(`remotessh: port "${value}" (from ${source}) is not 1-65535`);
  if (draft.port !== null && draft.port !== port) {
    throw new RemoteSshError(`remotessh: conflicting ports ${draft.port} and ${port} (from ${source})`);
  }
  draft.port = port;
}

function addIdentity(draft: Draft, path: string, source: string): void {
  if (path.includes('%')) {
    throw new RemoteSshError(`remotessh: identity file "${path}" (from ${source}) uses % tokens, which are not supported`);
  }
  if (!draft.identityFiles.includes(path)) draft.identityFiles.push(path);
}

function setOption(draft: Draft, name: string, value: string, source: string): void {
  const previous = draft.options[name];
  if (previous !== undefined && previous !== value) {
    throw new RemoteSshError(`remotessh: conflicting values for ${name}: "${previous}" and "${value}" (from ${source})`);
  }
  draft.options[name] = value;
}

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * OpenSSH known_hosts files, read the way ssh reads them: plain and hashed (`|1|salt|hash`)
 * host patterns, `[host]:port` names for ports other than 22, `!negated` and wildcard patterns,
 * `@revoked` keys (never accepted, for any host) and `@cert-authority` lines (certificates are
 * not supported, so those lines vouch for nothing here).
 */

export interface KnownHostEntry {
  file: string;
  /** 1-based line number, for messages that tell the admin what to edit. */
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  /** The host field as written: comma-separated patterns, or one `|1|salt|hash`. */
  hosts: string;
  /** Key type named inside the key blob (e.g. ssh-ed25519), which is what the server presents. */
  keyType: string;
  key: Buffer;
}

/** How a presented host key compares with what the known_hosts files say about the host. */
export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  /** Same key type on record with a different key: possibly an attack, never accepted. */
  | { status: 'changed'; entries: KnownHostEntry[] }
  /** Only other key types are on record; not a first use, so not trusted on first use either. */
  | { status: 'other-type'; entries: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Lines that cannot be read are skipped, as ssh skips them. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0]!.startsWith('@')) {
      const name = fields.shift()!;
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [hosts, declaredType, base64] = fields;
    if (hosts === undefined || declaredType === undefined || base64 === undefined) continue;
    const key = Buffer.from(base64, 'base64');
    const keyType = keyTypeOf(key);
    if (keyType === null) continue;
    entries.push({ file, line: i + 1, marker, hosts, keyType, key });
  }
  return entries;
}

/** The key type string at the start of an SSH public key blob, or null when it is not one. */
export function keyTypeOf(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return null;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  return /^[a-z0-9@.-]+$/i.test(type) ? type : null;
}

/** `SHA256:…` as ssh-keygen -l prints it, for messages an admin can compare. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Whether the host field of an entry names `name` (already in knownHostName form). */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt64, hash64] = hosts.split('|');
    if (salt64 === undefined || hash64 === undefined) return false;
    const expected = Buffer.from(hash64, 'base64');
    const actual = createHmac('sha1', Buffer.from(salt64, 'base64')).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  let matched = false;
  for (const pattern of hosts.toLowerCase().split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatches(pattern.slice(1), name)) return false; // a negated match vetoes the line
    } else if (globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${re}$`).test(name);
}

export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };

  const name = knownHostName(host, port);
  const forHost = entries.filter((e) => e.marker === null && hostFieldMatches(e.hosts, name));
  const same = forHost.find((e) => e.key.equals(key));
  if (same) return { status: 'known', entry: same };

  const type = keyTypeOf(key);
  const sameType = forHost.filter((e) => e.keyType === type);
  if (sameType.length > 0) return { status: 'changed', entries: sameType };
  if (forHost.length > 0) return { status: 'other-type', entries: forHost };
  return { status: 'unknown' };
}

/** Key types on record for the host, so the connection can ask the server for one of those first. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const types = entries.filter((e) => e.marker === null && hostFieldMatches(e.hosts, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

/** Every entry of the files that exist; a missing file is an empty one. */
export async function readKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw err;
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

export function formatKnownHostLine(host: string, port: number, key: Buffer): string {
  const type = keyTypeOf(key);
  if (type === null) throw new Error('not an SSH public key blob');
  return `${knownHostName(host, port)} ${type} ${key.toString('base64')}\n`;
}

/**
 * Record a host key the way ssh does on first use: one O_APPEND write of a whole line, so
 * concurrent appenders (ssh itself, ssh-keyscan >>) never interleave and nothing is rewritten.
 */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a+', 0o600);
  try {
    const { size } = await handle.stat();
    let line = formatKnownHostLine(host, port, key);
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) line = `\n${line}`;
    }
    await handle.write(line);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

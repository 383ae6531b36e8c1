/**
 * Who is calling: the socket's peer, or, when that peer is a reverse proxy listed in
 * `[application] trusted_proxies`, the client the proxies name in the header of
 * `forwarded_header` (`X-Forwarded-For` with `X-Forwarded-Proto`, or RFC 7239's `Forwarded`).
 * Headers from any other peer are ignored, so a client cannot pick the address its failed logins
 * are counted against.
 */
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';
import { formatIp, inRange, parseIp, type Ip } from './ip.js';

type Range = [Ip, number];

/** The connection as the runtime sees it. */
export interface Peer {
  address: string | undefined;
  /** The connection itself is TLS. */
  secure: boolean;
}

export interface ClientInfo {
  /** The client's address: the peer's, or the one trusted proxies forwarded. */
  address: string | undefined;
  /** HTTPS as far as the client is concerned: our own TLS, or https forwarded by a trusted proxy. */
  secure: boolean;
  /** The peer, when the address came from a trusted proxy's header. */
  via?: string;
}

/** Whether `text` is an IPv4/IPv6 address or CIDR range (`trusted_proxies` entries). */
export function isAddressRange(text: string): boolean {
  return parseRange(text) !== null;
}

function parseRange(text: string): Range | null {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = parseIp(slash < 0 ? t : t.slice(0, slash));
  if (!addr) return null;
  const max = addr.length * 8;
  if (slash < 0) return [addr, max];
  if (!/^\d{1,3}$/.test(t.slice(slash + 1))) return null;
  let bits = Number(t.slice(slash + 1));
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8; a mapped range wider than the mapped space is refused.
  if (addr.length === 4 && t.includes(':')) {
    if (bits < 96 || bits > 128) return null;
    bits -= 96;
  }
  return bits <= max ? [addr, bits] : null;
}

/**
 * The key login failures are counted under: the address, or for IPv6 its /64, since one client
 * usually holds a whole /64 and could take a new address for every try.
 */
export function throttleKey(address: string): string {
  const addr = parseIp(address);
  if (!addr) return address;
  if (addr.length === 4) return formatIp(addr);
  return `${formatIp(Uint8Array.from([...addr.slice(0, 8), 0, 0, 0, 0, 0, 0, 0, 0]))}/64`;
}

export interface ProxySettings {
  trustedProxies: readonly string[];
  /** The one header the trusted proxies write; the other may come from the client. */
  forwardedHeader: 'x-forwarded-for' | 'forwarded';
}

/** The ranges of `trusted_proxies`, parsed once per list (the settings are replaced whole). */
export class TrustedProxies {
  private seen: readonly string[] | null = null;
  private ranges: Range[] = [];

  constructor(private readonly settings: () => ProxySettings) {}

  private current(): Range[] {
    const list = this.settings().trustedProxies;
    if (list !== this.seen) {
      this.seen = list;
      this.ranges = list.map(parseRange).filter((r): r is Range => r !== null);
    }
    return this.ranges;
  }

  get empty(): boolean {
    return this.current().length === 0;
  }

  trusts(addr: Ip): boolean {
    return this.current().some(([range, bits]) => inRange(addr, range, bits));
  }

  /**
   * The client behind `peer`. The hops a header names are walked from the nearest one back: each
   * address is believed only while the hop that reported it is trusted, so the answer is the
   * first untrusted address (a client may write anything in front of what its proxies append).
   * Only the header of `forwarded_header` is read: proxies pass the other one on as the client
   * sent it. A hop that is not a plain address (`unknown`, an obfuscated name, garbage) ends the
   * walk at the last trusted hop.
   */
  resolve(peer: Peer, header: (name: string) => string | undefined): ClientInfo {
    const own = { address: peer.address, secure: peer.secure };
    const from = peer.address === undefined ? null : parseIp(peer.address);
    if (!from || this.empty || !this.trusts(from)) return own;
    const hops = forwardedHops(header, this.settings().forwardedHeader);
    if (hops.length === 0) return own;
    let client: { address: string; proto: string | undefined } = { address: formatIp(from), proto: undefined };
    for (let i = hops.length - 1; i >= 0; i--) {
      const addr = parseIp(hops[i]!.for);
      if (!addr) break;
      client = { address: formatIp(addr), proto: hops[i]!.proto };
      if (!this.trusts(addr)) break;
    }
    if (client.address === formatIp(from)) return own; // the walk ended at the peer itself
    const proto = client.proto?.toLowerCase();
    return { address: client.address, secure: proto === undefined ? peer.secure : proto === 'https', via: peer.address };
  }
}

/** Deps.client: who calls, worked out once per request from the adapter's socket and the proxies' headers. */
export function clientOf(proxies: TrustedProxies, adapter: Pick<AppDeps, 'clientAddress' | 'connectionSecure'>): (c: Context<AppEnv>) => ClientInfo {
  return (c) => {
    let found = c.get('client');
    if (!found) {
      // The socket says whether it is TLS: a request line may name https:// over plain HTTP.
      found = proxies.resolve({ address: adapter.clientAddress?.(c), secure: adapter.connectionSecure?.(c) ?? false }, (name) => c.req.header(name));
      c.set('client', found);
    }
    return found;
  };
}

interface Hop {
  for: string;
  proto: string | undefined;
}

/** The hops of the header the proxies write, nearest last; with X-Forwarded-For, X-Forwarded-Proto gives the scheme. */
function forwardedHops(header: (name: string) => string | undefined, which: ProxySettings['forwardedHeader']): Hop[] {
  if (which === 'forwarded') {
    const forwarded = header('forwarded');
    return forwarded === undefined ? [] : parseForwarded(forwarded);
  }
  const xff = header('x-forwarded-for');
  if (xff === undefined) return [];
  const hosts = xff.split(',').map((s) => stripPort(s.trim()));
  const protos = (header('x-forwarded-proto') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // One proto per hop when the proxies appended theirs; otherwise the nearest proxy's word is
  // the one it saw the connection come in with, which is what the last entry says.
  return hosts.map((h, i) => ({ for: h, proto: protos.length === hosts.length ? protos[i] : protos[protos.length - 1] }));
}

const PAIR = /^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)=(?:([!#$%&'*+\-.^_`|~0-9A-Za-z:[\]]+)|"((?:[^"\\\x00-\x1f\x7f]|\\[\t\x20-\x7e])*)")\s*$/;

/**
 * RFC 7239 elements (`for=…;proto=…, for=…`), nearest last. Each element is read on its own: a
 * malformed one (which a client may send, the proxy appending its own after it) is a hop with no
 * address, where the walk stops, and does not spoil the elements the proxies added.
 */
export function parseForwarded(value: string): Hop[] {
  return splitOutsideQuotes(value, ',').map((element) => {
    const pairs: Record<string, string> = {};
    for (const part of splitOutsideQuotes(element, ';')) {
      const m = PAIR.exec(part);
      if (!m) return { for: '', proto: undefined };
      pairs[m[1]!.toLowerCase()] = m[2] ?? m[3]!.replace(/\\(.)/g, '$1');
    }
    return { for: stripPort(pairs['for'] ?? ''), proto: pairs['proto'] };
  });
}

/** `text` split at `sep` where it is not inside a quoted string. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && quoted) i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === sep && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  // An unclosed quote (a client's, in front of what the proxies appended) would swallow their
  // elements: then the separators are taken where they stand.
  return quoted ? text.split(sep) : parts;
}

/** `[2001:db8::1]:4711` → `2001:db8::1`; `192.0.2.1:80` → `192.0.2.1`; anything else as given. */
function stripPort(host: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracket) return bracket[1]!;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(host);
  return v4 ? v4[1]! : host;
}

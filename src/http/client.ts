/**
 * Who is calling: the socket's peer, or, when that peer is a reverse proxy listed in
 * `[application] trusted_proxies`, the client the proxies name in `Forwarded` (RFC 7239) or
 * `X-Forwarded-For` / `X-Forwarded-Proto`. Headers from any other peer are ignored, so a client
 * cannot pick the address its failed logins are counted against.
 */
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

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
  try {
    if (t.includes('/')) {
      if (!ipaddr.isValidCIDR(t)) return null;
      const [addr, bits] = ipaddr.parseCIDR(t);
      return [unmapped(addr), addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? bits - 96 : bits];
    }
    if (!ipaddr.isValid(t)) return null;
    const addr = unmapped(ipaddr.parse(t));
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return null;
  }
}

/** ::ffff:10.0.0.1 (how a dual-stack socket names an IPv4 peer) is 10.0.0.1. */
function unmapped(addr: Address): Address {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

function parseAddress(text: string): Address | null {
  try {
    return ipaddr.isValid(text) ? unmapped(ipaddr.parse(text)) : null;
  } catch {
    return null;
  }
}

/** The ranges of `trusted_proxies`, parsed once per list (the settings are replaced whole). */
export class TrustedProxies {
  private seen: readonly string[] | null = null;
  private ranges: Range[] = [];

  constructor(private readonly list: () => readonly string[]) {}

  private current(): Range[] {
    const list = this.list();
    if (list !== this.seen) {
      this.seen = list;
      this.ranges = list.map(parseRange).filter((r): r is Range => r !== null);
    }
    return this.ranges;
  }

  get empty(): boolean {
    return this.current().length === 0;
  }

  trusts(addr: Address): boolean {
    return this.current().some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
  }

  /**
   * The client behind `peer`. The hops a header names are walked from the nearest one back: each
   * address is believed only while the hop that reported it is trusted, so the answer is the
   * first untrusted address (a client may write anything in front of what its proxies append).
   * `Forwarded` wins over `X-Forwarded-For` when both are sent. A hop that is not a plain address
   * (`unknown`, an obfuscated name, garbage) ends the walk at the last trusted hop.
   */
  resolve(peer: Peer, header: (name: string) => string | undefined): ClientInfo {
    const own = { address: peer.address, secure: peer.secure };
    const from = peer.address === undefined ? null : parseAddress(peer.address);
    if (!from || this.empty || !this.trusts(from)) return own;
    const hops = forwardedHops(header);
    if (hops.length === 0) return own;
    let client: { address: string; proto: string | undefined } = { address: peer.address!, proto: undefined };
    for (let i = hops.length - 1; i >= 0; i--) {
      const addr = parseAddress(hops[i]!.for);
      if (!addr) break;
      client = { address: addr.toString(), proto: hops[i]!.proto };
      if (!this.trusts(addr)) break;
    }
    if (client.address === peer.address) return own;
    const proto = client.proto?.toLowerCase();
    return { address: client.address, secure: proto === undefined ? peer.secure : proto === 'https', via: peer.address };
  }
}

interface Hop {
  for: string;
  proto: string | undefined;
}

/** The hops of `Forwarded`, else of `X-Forwarded-For` (with `X-Forwarded-Proto`), nearest last. */
function forwardedHops(header: (name: string) => string | undefined): Hop[] {
  const forwarded = header('forwarded');
  if (forwarded !== undefined) return parseForwarded(forwarded);
  const xff = header('x-forwarded-for');
  if (xff === undefined) return [];
  const hosts = xff.split(',').map((s) => stripPort(s.trim()));
  const protos = (header('x-forwarded-proto') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // One proto per hop when the proxies appended theirs; otherwise the nearest proxy's word is
  // the one it saw the connection come in with, which is what the last entry says.
  return hosts.map((h, i) => ({ for: h, proto: protos.length === hosts.length ? protos[i] : protos[protos.length - 1] }));
}

/**
 * RFC 7239 elements (`for=…;proto=…, for=…`), nearest last. A malformed header is no hops at all:
 * what a broken proxy chain says is not believed.
 */
export function parseForwarded(value: string): Hop[] {
  const hops: Hop[] = [];
  const pair = /\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)=(?:([!#$%&'*+\-.^_`|~0-9A-Za-z:[\]]+)|"((?:[^"\\\x00-\x1f\x7f]|\\[\t\x20-\x7e])*)")\s*/y;
  let pos = 0;
  let current: Record<string, string> = {};
  while (pos < value.length) {
    pair.lastIndex = pos;
    const m = pair.exec(value);
    if (!m) return [];
    current[m[1]!.toLowerCase()] = m[2] ?? m[3]!.replace(/\\(.)/g, '$1');
    pos = pair.lastIndex;
    const sep = value[pos];
    if (sep === undefined || sep === ',') {
      hops.push({ for: stripPort(current['for'] ?? ''), proto: current['proto'] });
      current = {};
    } else if (sep !== ';') return [];
    pos += 1;
    if (sep !== undefined && pos >= value.length) return []; // a trailing separator
  }
  return hops;
}

/** `[2001:db8::1]:4711` → `2001:db8::1`; `192.0.2.1:80` → `192.0.2.1`; anything else as given. */
function stripPort(host: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracket) return bracket[1]!;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(host);
  return v4 ? v4[1]! : host;
}

/**
 * IP addresses as bytes: IPv4 in four decimal parts (the only form proxies write; `10.1` or
 * `0x0a.0.0.1` are refused) and IPv6 in RFC 4291's text forms, `::ffff:a.b.c.d` (how a
 * dual-stack socket names an IPv4 peer) taken as the IPv4 address. Our own few lines: the
 * libraries that do this load as CommonJS, which cost every start of the CLI, the server and
 * each job runner about 25 ms.
 */

/** 4 bytes (IPv4) or 16 (IPv6). */
export type Ip = Uint8Array;

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const GROUP = /^[0-9a-fA-F]{1,4}$/;

export function parseIp(text: string): Ip | null {
  const v4 = V4.exec(text);
  if (v4) return Uint8Array.from(v4.slice(1, 5).map(Number));
  return text.includes(':') ? parseV6(text) : null;
}

function parseV6(text: string): Ip | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  // A dotted IPv4 may only end the address: the last piece of the part after ::, or of the whole.
  const groups = (part: string, last: boolean): number[] | null => {
    if (part === '') return [];
    const words: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const v4 = last && i === pieces.length - 1 ? V4.exec(piece) : null;
      if (v4) words.push(Number(v4[1]) * 256 + Number(v4[2]), Number(v4[3]) * 256 + Number(v4[4]));
      else if (GROUP.test(piece)) words.push(parseInt(piece, 16));
      else return null;
    }
    return words;
  };
  const head = groups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1]!, true) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const words = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = Uint8Array.from(words.flatMap((w) => [w >> 8, w & 255]));
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  return mapped ? bytes.slice(12) : bytes;
}

/** Whether `ip` lies in `range`/`bits` (both of one family). */
export function inRange(ip: Ip, range: Ip, bits: number): boolean {
  if (ip.length !== range.length) return false;
  for (let i = 0; i < ip.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 255 : (0xff << (8 - bits)) & 255;
    if ((ip[i]! & mask) !== (range[i]! & mask)) return false;
  }
  return true;
}

/** Dotted IPv4, or IPv6 as RFC 5952 writes it (lower case, the longest run of zero groups as ::). */
export function formatIp(ip: Ip): string {
  if (ip.length === 4) return ip.join('.');
  const words = Array.from({ length: 8 }, (_, i) => ip[2 * i]! * 256 + ip[2 * i + 1]!);
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best.len < 2) return hex(words);
  return `${hex(words.slice(0, best.at))}::${hex(words.slice(best.at + best.len))}`;
}

import { describe, expect, it } from 'vitest';
import type { Context } from 'hono';
import { TrustedProxies, parseForwarded, throttleKey } from '../../src/http/client.js';
import { formatIp, inRange, parseIp } from '../../src/http/ip.js';
import { loadSettings } from '../../src/settings/load.js';
import { basic, clientConfUser, loginToken, testApp, twoHostApp } from '../support/app.js';
import { createMemoryTextFile, createScriptedHost } from '../../adapters/memory/index.js';
import { SEED_CLIENT_CONF } from '../support/app.js';
import { HostError } from '../../src/ports.js';

const headersOf = (h: Record<string, string>) => (name: string) => h[name];
const peer = (address: string, secure = false) => ({ address, secure });

describe('trusted proxies: the client behind a reverse proxy', () => {
  const proxies = (...list: string[]) => new TrustedProxies(() => ({ trustedProxies: list, forwardedHeader: 'x-forwarded-for' }));
  const rfc7239Proxies = (...list: string[]) => new TrustedProxies(() => ({ trustedProxies: list, forwardedHeader: 'forwarded' }));

  it('ignores forwarded headers from a peer that is not a trusted proxy', () => {
    const got = proxies('10.0.0.0/8').resolve(peer('192.0.2.7'), headersOf({ 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', forwarded: 'for=198.51.100.2;proto=https' }));
    expect(got).toEqual({ address: '192.0.2.7', secure: false });
  });

  it('ignores them all when no proxy is trusted', () => {
    expect(proxies().resolve(peer('127.0.0.1'), headersOf({ 'x-forwarded-for': '198.51.100.1' }))).toEqual({ address: '127.0.0.1', secure: false });
  });

  it('believes X-Forwarded-For and X-Forwarded-Proto from a trusted proxy, naming the proxy', () => {
    const got = proxies('127.0.0.1/32').resolve(peer('127.0.0.1'), headersOf({ 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' }));
    expect(got).toEqual({ address: '198.51.100.1', secure: true, via: '127.0.0.1' });
  });

  it('stops at the first untrusted hop: what a client writes in front of its proxies is not believed', () => {
    // The client sent "X-Forwarded-For: 203.0.113.9"; the edge proxy appended the address it saw.
    const got = proxies('10.0.0.0/8').resolve(peer('10.0.0.2'), headersOf({ 'x-forwarded-for': '203.0.113.9, 198.51.100.1, 10.0.0.1' }));
    expect(got.address).toBe('198.51.100.1');
  });

  it('walks a chain of trusted proxies to the client', () => {
    const got = proxies('10.0.0.0/8', '192.168.0.0/16').resolve(peer('10.0.0.2'), headersOf({ 'x-forwarded-for': '198.51.100.1, 192.168.1.1, 10.0.0.1' }));
    expect(got).toMatchObject({ address: '198.51.100.1', via: '10.0.0.2' });
  });

  it('takes the nearest proxy as the answer when a hop is not an address', () => {
    for (const xff of ['unknown', '198.51.100.1, evil"', '', '999.1.1.1', '198.51.100.1\nX: y']) {
      const got = proxies('127.0.0.1').resolve(peer('127.0.0.1'), headersOf({ 'x-forwarded-for': xff }));
      expect(got.address, xff).toBe('127.0.0.1');
    }
  });

  it('reads RFC 7239 Forwarded (quoted IPv6 with a port, proto) when the proxies write it, and then not X-Forwarded-For', () => {
    const got = rfc7239Proxies('::1/128').resolve(peer('::1'), headersOf({ forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711";proto=https', 'x-forwarded-for': '203.0.113.1' }));
    expect(got).toEqual({ address: '2001:db8:cafe::17', secure: true, via: '::1' });
    expect(parseForwarded('for=192.0.2.43, for="[2001:db8:cafe::17]";by=203.0.113.43')).toEqual([
      { for: '192.0.2.43', proto: undefined },
      { for: '2001:db8:cafe::17', proto: undefined },
    ]);
  });

  it('ignores a Forwarded header the client sent through a proxy that writes X-Forwarded-For', () => {
    // nginx appends to X-Forwarded-For and passes the client's own Forwarded on unchanged.
    const got = proxies('127.0.0.1').resolve(peer('127.0.0.1'), headersOf({ forwarded: 'for=203.0.113.66;proto=https', 'x-forwarded-for': '198.51.100.9' }));
    expect(got).toEqual({ address: '198.51.100.9', secure: false, via: '127.0.0.1' });
  });

  it('reads the elements a proxy appended after a malformed one the client sent', () => {
    for (const bad of ['x', 'for="1.2.3.4', 'for=1.2.3.4 garbage', '=1.2.3.4', 'for=;proto=https']) {
      const got = rfc7239Proxies('127.0.0.1').resolve(peer('127.0.0.1'), headersOf({ forwarded: `${bad}, for=198.51.100.9;proto=https` }));
      expect(got, bad).toMatchObject({ address: '198.51.100.9', secure: true });
    }
  });

  it('believes nothing of a malformed element the proxy itself is named after', () => {
    for (const bad of ['for=', 'for=1.2.3.4;', 'for=1.2.3.4,', 'for="1.2.3.4', 'for=1.2.3.4 garbage', '=1.2.3.4', 'for=unknown', 'for=_hidden']) {
      expect(rfc7239Proxies('127.0.0.1').resolve(peer('127.0.0.1'), headersOf({ forwarded: bad })).address, bad).toBe('127.0.0.1');
    }
  });

  it('takes IPv4 in four decimal parts only, in headers and in the setting', () => {
    for (const odd of ['127.1', '0x7f.0.0.1', '0177.0.0.1', '2130706433']) {
      expect(proxies('127.0.0.1').resolve(peer('127.0.0.1'), headersOf({ 'x-forwarded-for': odd })).address, odd).toBe('127.0.0.1');
    }
  });

  it('counts an IPv6 client by its /64, an IPv4 one by its address', () => {
    expect(throttleKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(throttleKey('2001:db8:1:2::1')).toBe(throttleKey('2001:db8:1:2:ffff::9'));
    expect(throttleKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(throttleKey('198.51.100.7')).toBe('198.51.100.7');
  });

  it('treats an IPv4-mapped IPv6 peer (a dual-stack socket) as its IPv4 address', () => {
    const got = proxies('127.0.0.0/8').resolve(peer('::ffff:127.0.0.1'), headersOf({ 'x-forwarded-for': '198.51.100.1' }));
    expect(got.address).toBe('198.51.100.1');
  });

  it('keeps the connection scheme when the proxy says nothing of it', () => {
    expect(proxies('127.0.0.1').resolve(peer('127.0.0.1', true), headersOf({ 'x-forwarded-for': '198.51.100.1' })).secure).toBe(true);
    expect(proxies('127.0.0.1').resolve(peer('127.0.0.1', true), headersOf({ 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'http' })).secure).toBe(false);
  });

  it('refuses a setting that is not an address or CIDR range, naming it', () => {
    for (const bad of ['10.0.0.0/33', 'proxy.example.com', '10.0.0.1/8x', '*', '10.1', '0x0a.0.0.1/8', '::ffff:0:0/90', '::/129']) {
      expect(() => loadSettings({ text: `[application]\ntrusted_proxies=${bad}\n`, path: '/etc/barmanapi.conf' }), bad).toThrow(/trusted_proxies.*not an address or CIDR range/);
    }
    const ok = loadSettings({ text: "[application]\ntrusted_proxies=['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:10.0.0.0/104']\n", path: '/etc/barmanapi.conf' });
    expect(ok.application.trustedProxies).toEqual(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:10.0.0.0/104']);
    expect(new TrustedProxies(() => ok.application).resolve(peer('10.9.9.9'), headersOf({ 'x-forwarded-for': '198.51.100.1' })).address).toBe('198.51.100.1');
  });
});

describe('login throttling and the request log behind a proxy', () => {
  const settingsText = (trusted: string) => `[application]\ntrusted_proxies=${trusted}\n[authtoken]\nsecret=test-secret-of-enough-length\n`;
  const fromProxy = (address: string) => ({ clientAddress: (_c: Context) => address });

  it('counts failed logins against the forwarded client, so one bad client does not lock out the others behind the proxy', async () => {
    const { app } = testApp({ settingsText: settingsText('127.0.0.1'), clientConf: `${SEED_CLIENT_CONF}${clientConfUser('alice', ['history'])}`, ...fromProxy('127.0.0.1') });
    // Wrong passwords for several users from one client: its address is slowed down...
    for (let i = 0; i < 12; i++) await app.request('/auth/token', { headers: { ...basic(`user${i}`, 'bad'), 'X-Forwarded-For': '198.51.100.1' } });
    const slowed = await app.request('/auth/token', { headers: { ...basic('memin', '1258'), 'X-Forwarded-For': '198.51.100.1' } });
    expect(slowed.status).toBe(429);
    // ...another client behind the same proxy is not.
    expect((await app.request('/auth/token', { headers: { ...basic('memin', '1258'), 'X-Forwarded-For': '198.51.100.2' } })).status).toBe(200);
  });

  it('counts them against the peer when it is not trusted, whatever X-Forwarded-For says', async () => {
    const { app } = testApp({ settingsText: settingsText('10.0.0.0/8'), ...fromProxy('127.0.0.1') });
    for (let i = 0; i < 12; i++) await app.request('/auth/token', { headers: { ...basic(`user${i}`, 'bad'), 'X-Forwarded-For': `198.51.100.${i}` } });
    const res = await app.request('/auth/token', { headers: { ...basic('memin', '1258'), 'X-Forwarded-For': '198.51.100.200' } });
    expect(res.status).toBe(429);
  });

  it('logs the client and the proxy that named it; a spoofed header from elsewhere is not logged as the client', async () => {
    const trusted = testApp({ settingsText: settingsText('127.0.0.1'), ...fromProxy('127.0.0.1') });
    await trusted.app.request('/auth/token', { headers: { ...basic('memin', '1258'), 'X-Forwarded-For': '198.51.100.1' } });
    expect(trusted.logger.records.find((l) => l.message.startsWith('GET /auth/token'))?.fields).toMatchObject({ client: '198.51.100.1', via: '127.0.0.1' });
    const untrusted = testApp({ settingsText: settingsText(''), ...fromProxy('192.0.2.9') });
    await untrusted.app.request('/auth/token', { headers: { ...basic('memin', '1258'), 'X-Forwarded-For': '198.51.100.1' } });
    const line = untrusted.logger.records.find((l) => l.message.startsWith('GET /auth/token'))!;
    expect(line.fields).toMatchObject({ client: '192.0.2.9' });
    expect(line.fields).not.toHaveProperty('via');
  });

  it('takes a changed proxy list at once, without a restart (a privileged setting)', async () => {
    const text = settingsText('');
    const { app } = testApp({ settingsText: text, settingsFile: createMemoryTextFile('/etc/barmanapi.conf', text), ...fromProxy('127.0.0.1') });
    const memin = await loginToken(app);
    const res = await app.request('/config/barmanapi/change', {
      method: 'POST',
      headers: { Authorization: `Bearer ${memin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ 'application.trusted_proxies': "['127.0.0.1']" }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    for (let i = 0; i < 12; i++) await app.request('/auth/token', { headers: { ...basic(`user${i}`, 'bad'), 'X-Forwarded-For': '198.51.100.1' } });
    expect((await app.request('/auth/token', { headers: { ...basic('memin', '1258'), 'X-Forwarded-For': '198.51.100.2' } })).status).toBe(200);
  });
});

describe('/healthz and /readyz', () => {
  it('answer without a token, run no barman and say no more than the verdict', async () => {
    const host = createScriptedHost();
    const { app, logger } = testApp({ host });
    for (const path of ['/healthz', '/readyz']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort(), path).toEqual(path === '/healthz' ? ['status'] : ['checks', 'status']);
      expect((await app.request(path, { method: 'HEAD' })).status).toBe(200);
    }
    expect(host.calls).toEqual([]);
    expect(logger.records.filter((l) => l.message.includes('healthz') || l.message.includes('readyz'))).toEqual([]);
  });

  it('answer other methods with 405 and Allow', async () => {
    const { app } = testApp();
    for (const path of ['/healthz', '/readyz']) {
      const res = await app.request(path, { method: 'POST' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
  });

  it('is not ready while the store takes no writes (a full disk), and ready again once it does', async () => {
    const t = testApp();
    const write = t.deps.storage.writeAtomic.bind(t.deps.storage);
    let full = true;
    t.deps.storage.writeAtomic = async (path, data) => {
      if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return write(path, data);
    };
    const res = await t.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', checks: { store: 'failing', serving: 'ok' } });
    expect(t.logger.records.some((l) => l.level === 'warn' && l.message === 'not ready')).toBe(true);
    // The verdict is kept a second: a probe storm writes once.
    full = false;
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.app.request('/readyz')).status).toBe(200);
    expect(t.logger.records.some((l) => l.message === 'ready again')).toBe(true);
  });

  it('answers a hung store (a dead mount) as failing, with one write at a time however many probes come', async () => {
    const t = testApp();
    let writes = 0;
    t.deps.storage.writeAtomic = () => {
      writes += 1;
      return new Promise<void>(() => undefined); // never ends
    };
    const first = await Promise.all(Array.from({ length: 20 }, () => t.app.request('/readyz')));
    expect(first.map((r) => r.status)).toEqual(Array(20).fill(503));
    await new Promise((r) => setTimeout(r, 1100));
    const later = await t.app.request('/readyz');
    expect(later.status).toBe(503);
    expect(writes).toBe(1);
    const memin = await loginToken(t.app);
    const detail = (await (await t.app.request('/readyz', { headers: { Authorization: `Bearer ${memin}` } })).json()) as { store_error: string };
    expect(detail.store_error).toMatch(/more than 2 s|has not finished/);
  });

  it('recovers once a hung write ends, and answers a storage that throws at once like one that fails', async () => {
    const t = testApp();
    let release: () => void = () => undefined;
    let mode: 'hang' | 'throw' | 'ok' = 'hang';
    let writes = 0;
    t.deps.storage.writeAtomic = (() => {
      writes += 1;
      if (mode === 'throw') throw new Error('EIO: i/o error');
      if (mode === 'hang') return new Promise<void>((resolve) => (release = resolve));
      return Promise.resolve();
    }) as typeof t.deps.storage.writeAtomic;
    expect((await t.app.request('/readyz')).status).toBe(503);
    release(); // the mount came back
    mode = 'throw';
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.app.request('/readyz')).status).toBe(503);
    mode = 'ok';
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.app.request('/readyz')).status).toBe(200);
    expect(writes).toBe(3);
  });

  it('is not ready while the server drains for a stop', async () => {
    let phase: 'serving' | 'draining' = 'serving';
    const { app } = testApp({ serving: () => phase });
    expect((await app.request('/readyz')).status).toBe(200);
    phase = 'draining';
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ checks: { serving: 'draining' } });
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('stays ready with a barman host down, and tells a token holder which one, only among the hosts they reach', async () => {
    const down = createScriptedHost();
    const dc2 = createScriptedHost();
    dc2.run = async () => {
      throw new HostError('unreachable', 'connect ECONNREFUSED 127.0.0.1:22');
    };
    const conf = `${SEED_CLIENT_CONF}${clientConfUser('ops', ['fleet'], { hosts: ['default'] })}${clientConfUser('nofleet', ['history'], { hosts: ['*'] })}`;
    const { app, api } = twoHostApp(down, dc2, conf);
    // A request that meets the dead host marks it down.
    await api.hosts.find('dc2')!.deps.host.run(['list-server'], {}).catch(() => undefined);
    const memin = await loginToken(app);
    const bare = await app.request('/readyz');
    expect(bare.status).toBe(200);
    expect(await bare.json()).not.toHaveProperty('hosts');
    const detailed = (await (await app.request('/readyz', { headers: { Authorization: `Bearer ${memin}` } })).json()) as { status: string; hosts: Array<{ name: string; reachable: boolean | null; reason: string | null; catalogue: { state: string } }> };
    expect(detailed.status).toBe('ready');
    expect(detailed.hosts.map((h) => h.name)).toEqual(['default', 'dc2']);
    expect(detailed.hosts[1]).toMatchObject({ name: 'dc2', reachable: false, catalogue: { state: 'none' } });
    expect(detailed.hosts[1]!.reason).toContain('ECONNREFUSED');
    // A user limited to the default host sees only it; one without /fleet gets 403; a bad token 401.
    const ops = (await (await app.request(`/readyz?token=${await loginToken(app, 'ops')}`)).json()) as { hosts: Array<{ name: string }> };
    expect(ops.hosts.map((h) => h.name)).toEqual(['default']);
    expect((await app.request('/readyz', { headers: { Authorization: `Bearer ${await loginToken(app, 'nofleet')}` } })).status).toBe(403);
    expect((await app.request('/readyz', { headers: { Authorization: 'Bearer not-a-token' } })).status).toBe(401);
  });

  it('gives host detail only to those /fleet would answer: a deny of a barman command it shows refuses it', async () => {
    const conf = `${SEED_CLIENT_CONF}${clientConfUser('fleetonly', ['fleet'], { deny: ['barman'], hosts: ['*'] })}`;
    const { app } = testApp({ clientConf: conf });
    const token = await loginToken(app, 'fleetonly');
    expect((await app.request('/fleet', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);
    const res = await app.request('/readyz', { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('catalogue');
  });
});

describe('[tls] settings', () => {
  it('need cert_file and key_file together, and client_ca_file only with them', () => {
    const load = (tls: string) => loadSettings({ text: `[tls]\n${tls}\n`, path: '/etc/barmanapi.conf' });
    expect(() => load('cert_file=/etc/ssl/api.pem')).toThrow(/cert_file and key_file go together/);
    expect(() => load('key_file=/etc/ssl/api.key')).toThrow(/cert_file and key_file go together/);
    expect(() => load('client_ca_file=/etc/ssl/ca.pem')).toThrow(/need the HTTPS listener/);
    expect(() => load('min_version=TLSv1.1')).toThrow(/must be one of TLSv1.2, TLSv1.3/);
    expect(load('cert_file=api.pem\nkey_file=/k/api.key').tls).toEqual({ certFile: '/etc/api.pem', keyFile: '/k/api.key', clientCaFile: '', minVersion: 'TLSv1.2' });
  });

  it('are privileged: changing them needs config/barmanapi/exec', async () => {
    const conf = `${SEED_CLIENT_CONF}${clientConfUser('editor', ['config/barmanapi'])}`;
    const text = '[authtoken]\nsecret=test-secret-of-enough-length\n';
    const { app } = testApp({ clientConf: conf, settingsText: text, settingsFile: createMemoryTextFile('/etc/barmanapi.conf', text) });
    const editor = await loginToken(app, 'editor');
    for (const [key, value] of [['tls.cert_file', '/tmp/x.pem'], ['application.trusted_proxies', "['0.0.0.0/0']"]]) {
      const res = await app.request('/config/barmanapi/change', {
        method: 'POST',
        headers: { Authorization: `Bearer ${editor}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ [key!]: value }),
      });
      expect(res.status, key).toBe(403);
    }
  });
});

describe('IP addresses', () => {
  it('reads IPv4 in four decimal parts and IPv6 in every RFC 4291 text form, a mapped IPv4 as IPv4', () => {
    const cases: Array<[string, string | null]> = [
      ['192.0.2.1', '192.0.2.1'],
      ['2001:DB8::1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['::ffff:192.0.2.7', '192.0.2.7'],
      ['64:ff9b::192.0.2.7', '64:ff9b::c000:207'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
      ['256.1.1.1', null],
      ['01.1.1.1', null],
      ['1.2.3', null],
      ['1:2:3:4:5:6:7:8:9', null],
      ['1::2::3', null],
      ['1:2:3:4:5:6:7::8', null],
      ['fe80::1%eth0', null],
      ['::1.2.3.4', '::102:304'],
      ['1.2.3.4::1', null],
      ['1.2.3.4::', null],
      ['1:2:1.2.3.4::5', null],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
      ['12345::', null],
      ['', null],
    ];
    for (const [text, want] of cases) {
      const ip = parseIp(text);
      expect(ip === null ? null : formatIp(ip), text).toBe(want);
    }
  });

  it('matches ranges bit by bit, never across families', () => {
    expect(inRange(parseIp('10.200.3.4')!, parseIp('10.0.0.0')!, 8)).toBe(true);
    expect(inRange(parseIp('11.0.0.1')!, parseIp('10.0.0.0')!, 8)).toBe(false);
    expect(inRange(parseIp('192.168.1.130')!, parseIp('192.168.1.128')!, 25)).toBe(true);
    expect(inRange(parseIp('192.168.1.127')!, parseIp('192.168.1.128')!, 25)).toBe(false);
    expect(inRange(parseIp('2001:db8::5')!, parseIp('2001:db8::')!, 32)).toBe(true);
    expect(inRange(parseIp('10.0.0.1')!, parseIp('::')!, 0)).toBe(false);
    expect(inRange(parseIp('10.0.0.1')!, parseIp('0.0.0.0')!, 0)).toBe(true);
  });
});

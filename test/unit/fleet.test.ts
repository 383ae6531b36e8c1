/**
 * The fleet view (/fleet) and a host that is down: every server of every host the user reaches in
 * one call; a host that is down or stalled is marked so, within the bound, and fails fast after.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { caller, clientConfUser, loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';
import { HostError, type BarmanHost } from '../../src/ports.js';
import { HostBreaker } from '../../src/hosts/breaker.js';
import { createMemoryLogger } from '../../adapters/memory/index.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const json = (name: string) => readFileSync(join(OUTPUT, `${name}.json`), 'utf8');

/** A barman host answering the state commands from barman 3.4's real output, or not at all. */
function barman(mode: { value: 'up' | 'stalled' | 'unreachable' }) {
  let runs = 0;
  const host = fixtureBarmanHost('3.4', async (argv, options) => {
    runs += 1;
    if (mode.value === 'unreachable') throw new HostError('unreachable', 'cannot connect to barman@dc2:22: connect ECONNREFUSED');
    if (mode.value === 'stalled') {
      await new Promise((resolve) => options.signal?.addEventListener('abort', resolve, { once: true }));
      return { exitCode: null, aborted: true };
    }
    for (const command of ['list-server', 'show-server', 'status', 'list-backup']) if (argv.some((a) => a.startsWith(command))) return { stdout: json(command) };
    return { exitCode: 1, stderr: 'unexpected' };
  });
  return Object.assign(host, { runs: () => runs });
}

function setup() {
  const dc2Mode = { value: 'up' as 'up' | 'stalled' | 'unreachable' };
  const main = barman({ value: 'up' });
  const dc2 = barman(dc2Mode);
  const settings = loadSettings({
    text: '[barman]\nconfigfile=/etc/barman.conf\n[host:dc2]\nconfigfile=/etc/barman.conf\n[application]\nfleet_timeout=1\n[authtoken]\nsecret=test-secret-of-enough-length\n',
    path: '/etc/barmanapi.conf',
  });
  const users = clientConfUser('memin', []) + clientConfUser('dc2ops', ['fleet', 'barman'], { hosts: ['dc2'] });
  const t = testApp({ host: main, hosts: { dc2 }, settings, clientConf: users });
  return { ...t, as: caller(t.app), dc2Mode, main, dc2 };
}

describe('the fleet view', () => {
  it('lists every server of every host the user reaches, with its state', async () => {
    const { as } = setup();
    const { res, body } = await as('memin', '/fleet');
    expect(res.status).toBe(200);
    expect(body.list.map((s: { host: string; name: string }) => `${s.host}/${s.name}`)).toEqual(['default/pg', 'dc2/pg']);
    expect(body.list[0]).toMatchObject({ host: 'default', name: 'pg', stale: false, last_backup: { status: 'DONE' }, failed_backups: expect.any(Number), wal: expect.any(Object) });
    expect(body.hosts.map((h: { name: string; reachable: boolean }) => [h.name, h.reachable])).toEqual([['default', true], ['dc2', true]]);
    const limited = await as('dc2ops', '/fleet');
    expect(limited.body.list.map((s: { host: string }) => s.host)).toEqual(['dc2']);
    expect(limited.body.hosts.map((h: { name: string }) => h.name)).toEqual(['dc2']);
  });

  it('keeps out a user denied any barman command whose answers it shows: no one is widened by it', async () => {
    for (const deny of [['barman'], ['barman/list-backup'], ['barman/status'], ['barman/show']]) {
      const t = testApp({
        host: barman({ value: 'up' }),
        hosts: { dc2: barman({ value: 'up' }) },
        settings: loadSettings({ text: '[host:dc2]\nremote=false\n[authtoken]\nsecret=test-secret-of-enough-length\n', path: '/etc/barmanapi.conf' }),
        clientConf: clientConfUser('memin', []) + clientConfUser('admin', [], { deny }),
      });
      const token = await loginToken(t.app, 'admin');
      const res = await t.app.request(`/fleet?token=${token}`);
      expect(res.status, deny.join()).toBe(403);
    }
  });

  it('answers within [application] fleet_timeout when a host stalls, marking it unknown with the reason', async () => {
    const { as, dc2Mode } = setup();
    dc2Mode.value = 'stalled';
    const started = Date.now();
    const { res, body } = await as('memin', '/fleet');
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(body.hosts[1]).toMatchObject({ name: 'dc2', reachable: null, reason: expect.stringMatching(/no answer within 1 s/) });
    expect(body.list.map((s: { host: string }) => s.host)).toEqual(['default']);
  });

  it('marks a host that is down as unreachable, and its requests then fail at once without touching it', async () => {
    const { as, dc2Mode, dc2, main } = setup();
    dc2Mode.value = 'unreachable';
    const { body } = await as('memin', '/fleet');
    expect(body.hosts[1]).toMatchObject({ name: 'dc2', reachable: false, reason: expect.stringMatching(/ECONNREFUSED/) });
    const again = await as('memin', '/fleet');
    expect(again.body.hosts[1]).toMatchObject({ name: 'dc2', reachable: false, reason: expect.stringMatching(/is down since/), down_since: expect.any(String), next_try: expect.any(String) });
    const runs = dc2.runs();
    const fast = await as('memin', '/barman/list-server?host=dc2&fresh=1');
    expect(fast.res.status).toBe(503);
    expect(fast.body.type).toBe('BarmanHostDown');
    expect(fast.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(dc2.runs()).toBe(runs);
    // The other host is not slowed nor failed by it.
    const mainRuns = main.runs();
    expect((await as('memin', '/barman/list-server?fresh=1')).res.status).toBe(200);
    expect(main.runs()).toBeGreaterThan(mainRuns);
  });
});

describe('a host known down', () => {
  function flaky() {
    let down = true;
    let calls = 0;
    const inner = {
      kind: 'ssh',
      description: 'barman@dc2:22',
      run: async () => {
        calls += 1;
        if (down) throw new HostError('unreachable', 'connect ECONNREFUSED');
        return { exitCode: 0, stdout: 'ok', stderr: '', timedOut: false, truncated: false };
      },
      readFile: async () => null,
      writeFile: async () => ({ mode: 0o644 }),
      stat: async () => {
        calls += 1;
        if (down) throw new HostError('unreachable', 'connect ECONNREFUSED');
        return null;
      },
      listDir: async () => [],
      close: async () => undefined,
    } as unknown as BarmanHost;
    return { inner, setDown: (v: boolean) => (down = v), calls: () => calls };
  }

  it('is probed in the background and is up again by itself once it answers', async () => {
    const h = flaky();
    const logger = createMemoryLogger();
    const breaker = new HostBreaker({ name: 'dc2', clock: { now: () => new Date() }, logger, probe: (x) => x.stat('/etc/barman.conf'), firstRetryMs: 30 });
    const host = breaker.wrap(h.inner);
    await expect(host.run(['barman'])).rejects.toBeInstanceOf(HostError);
    expect(breaker.health()).toMatchObject({ up: false, reason: 'connect ECONNREFUSED' });
    await expect(host.run(['barman'])).rejects.toMatchObject({ status: 503, type: 'BarmanHostDown' });
    h.setDown(false);
    await expect.poll(() => breaker.health().up, { timeout: 2000 }).toBe(true);
    await expect(host.run(['barman'])).resolves.toMatchObject({ exitCode: 0 });
    expect(logger.records.map((l) => l.message).join('\n')).toMatch(/dc2 is down[\s\S]*dc2 is up again/);
    breaker.stop();
  });
});

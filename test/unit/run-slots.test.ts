import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/settings/load.js';
import { RunSlots } from '../../src/barman/run-slots.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { loginToken, testApp } from '../support/app.js';

describe('bounded barman runs', () => {
  it('runs at most max_concurrent barmans, queues max_queued, and answers 503 with Retry-After beyond', async () => {
    let running = 0;
    let peak = 0;
    const host = fixtureBarmanHost('3.4', async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 40));
      running -= 1;
      return { exitCode: 0, stdout: '{"pg":{}}' };
    });
    const settings = loadSettings({ text: '[barman]\nmax_concurrent=2\nmax_queued=3\n[authtoken]\nsecret=test-secret-of-enough-length\n', path: '/etc/barmanapi.conf' });
    const { app, api } = testApp({ host, settings });
    const token = await loginToken(app);
    await app.request(`/barman/help?token=${token}`);
    // Ten different commands: identical read-only ones would share one process (single flight).
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => app.request(`/barman/list-backup?server_name=pg${i}&token=${token}`)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 503, 503, 503, 503, 503]);
    expect(peak).toBe(2);
    const busy = answers.find((r) => r.status === 503)!;
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await busy.json()).toMatchObject({ status_code: 503, type: 'BarmanBusy', retry_after: expect.any(Number) });
    expect(api.slots.stats()).toMatchObject({ active: 0, queued: 0, peak: 2, rejected: 5, limit: 2 });
  });

  it('defaults to twice the cores of the API machine', () => {
    const settings = loadSettings({ text: '', path: '/etc/barmanapi.conf' });
    const { api } = testApp({ settings, cpuCount: 3 });
    expect(api.slots.stats().limit).toBe(6);
  });

  it('gives waiting requests the next free slot before background work, which holds at most half of the slots', async () => {
    const slots = new RunSlots({ limit: () => 2, queueLimit: () => 10, description: 'test' });
    const order: string[] = [];
    const bg = await Promise.all([slots.acquire(true), slots.acquire(false)]);
    expect(slots.stats().active).toBe(2);
    const laterBackground = slots.acquire(true).then((r) => (order.push('background'), r));
    const user = slots.acquire(false).then((r) => (order.push('user'), r));
    bg[0]!();
    (await user)!();
    await new Promise((r) => setTimeout(r, 0));
    expect(order).toEqual(['user', 'background']);
    bg[1]!();
    expect(slots.stats().active).toBe(1);
    // A second background run waits while one holds its quarter, even with a slot free.
    const busyBackground = slots.acquire(true);
    let started = false;
    void busyBackground.then(() => (started = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(false);
    (await laterBackground)!();
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toBe(true);
  });

  it('drops a waiter whose client went away, without running barman', async () => {
    const slots = new RunSlots({ limit: () => 1, queueLimit: () => 10, description: 'test' });
    const release = await slots.acquire(false);
    const ctl = new AbortController();
    const waiting = slots.acquire(false, ctl.signal);
    expect(slots.stats().queued).toBe(1);
    ctl.abort();
    expect(await waiting).toBeNull();
    expect(slots.stats().queued).toBe(0);
    release!();
    expect(slots.stats().active).toBe(0);
  });
});

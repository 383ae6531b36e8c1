import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/barman/single-flight.js';
import type { RunResult } from '../../src/ports.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';

const done = (stdout: string): RunResult => ({ exitCode: 0, signal: null, stdout, stderr: '', truncated: false, timedOut: false, aborted: false, durationMs: 1 });

/** A run that ends when told to, or aborted when its signal fires. */
function controllable() {
  const runs: Array<{ signal: AbortSignal; finish: (r: RunResult) => void; fail: (e: Error) => void }> = [];
  const start = (signal: AbortSignal) =>
    new Promise<RunResult>((resolve, reject) => {
      signal.addEventListener('abort', () => resolve({ ...done(''), exitCode: null, aborted: true }));
      runs.push({ signal, finish: resolve, fail: reject });
    });
  return { runs, start };
}

describe('single flight', () => {
  it('shares one run among identical concurrent callers, and starts a new one after it ends', async () => {
    const flights = new SingleFlight();
    const { runs, start } = controllable();
    const waiting = Array.from({ length: 50 }, () => flights.run('k', start));
    await Promise.resolve();
    expect(runs).toHaveLength(1);
    runs[0]!.finish(done('one'));
    const answers = await Promise.all(waiting);
    expect(answers.map((a) => a.result.stdout)).toEqual(Array(50).fill('one'));
    expect(answers.filter((a) => !a.shared)).toHaveLength(1);
    expect(flights.stats).toEqual({ started: 1, joined: 49, running: 0 });

    const later = flights.run('k', start);
    await Promise.resolve();
    expect(runs).toHaveLength(2); // never answered from a finished run
    runs[1]!.finish(done('two'));
    expect((await later).result.stdout).toBe('two');
  });

  it('keeps different keys apart', async () => {
    const flights = new SingleFlight();
    const { runs, start } = controllable();
    const a = flights.run('a', start);
    const b = flights.run('b', start);
    await Promise.resolve();
    expect(runs).toHaveLength(2);
    runs[0]!.finish(done('a'));
    runs[1]!.finish(done('b'));
    expect([(await a).result.stdout, (await b).result.stdout]).toEqual(['a', 'b']);
  });

  it('stops the shared run only when every caller has gone', async () => {
    const flights = new SingleFlight();
    const { runs, start } = controllable();
    const callers = [new AbortController(), new AbortController(), new AbortController()];
    const waiting = callers.map((c) => flights.run('k', start, c.signal));
    await Promise.resolve();
    callers[0]!.abort();
    callers[1]!.abort();
    expect((await waiting[0]!).result.aborted).toBe(true);
    expect(runs[0]!.signal.aborted).toBe(false); // one caller still waits
    callers[2]!.abort();
    expect(runs[0]!.signal.aborted).toBe(true);
    expect((await waiting[2]!).result.aborted).toBe(true);

    // A caller arriving after the abandoned run starts a fresh one.
    const fresh = flights.run('k', start);
    await Promise.resolve();
    expect(runs).toHaveLength(2);
    runs[1]!.finish(done('fresh'));
    expect((await fresh).result.stdout).toBe('fresh');
  });

  it('gives the remaining callers the result when one leaves, and an error to every caller', async () => {
    const flights = new SingleFlight();
    const { runs, start } = controllable();
    const leaving = new AbortController();
    const a = flights.run('k', start, leaving.signal);
    const b = flights.run('k', start);
    await Promise.resolve();
    leaving.abort();
    runs[0]!.finish(done('kept'));
    expect((await a).result.aborted).toBe(true);
    expect((await b).result.stdout).toBe('kept');

    const c = flights.run('e', start);
    const d = flights.run('e', start, new AbortController().signal);
    await Promise.resolve();
    runs[1]!.fail(new Error('host unreachable'));
    await expect(c).rejects.toThrow('host unreachable');
    await expect(d).rejects.toThrow('host unreachable');
    expect(flights.stats.running).toBe(0);
  });
});

describe('single flight on /barman', () => {
  async function setup() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const host = fixtureBarmanHost('3.4', async (args) => {
      await gate;
      return { exitCode: 0, stdout: JSON.stringify({ pg: { args } }) };
    });
    const settings = loadSettings({ text: `[barman]\nmax_concurrent=64\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
    const t = testApp({ host, settings });
    const token = await loginToken(t.app);
    await t.app.request(`/barman/help?token=${token}`); // the catalogue, built before counting
    const commandCalls = () => host.calls.filter((argv) => !argv.includes('--help') && !argv.includes('--version'));
    return { ...t, token, release, commandCalls };
  }

  it('answers 30 identical list-backup requests from one barman process, each with the whole answer', async () => {
    const { app, token, release, commandCalls } = await setup();
    const before = commandCalls().length;
    const pending = Array.from({ length: 30 }, () => app.request(`/barman/list-backup?server_name=pg&token=${token}`));
    await new Promise((r) => setTimeout(r, 50));
    release();
    const bodies = await Promise.all(pending.map(async (p) => (await p).json() as Promise<{ status_code: number; list: unknown }>));
    expect(commandCalls().length - before).toBe(1);
    expect(new Set(bodies.map((b) => JSON.stringify(b)))).toHaveProperty('size', 1);
    expect(bodies[0]!.status_code).toBe(200);
  });

  it('runs commands that change something once per request, and different arguments apart', async () => {
    const { app, token, release, commandCalls } = await setup();
    const before = commandCalls().length;
    const pending = [
      ...Array.from({ length: 3 }, () => app.request(`/barman/switch-wal?server_name=pg&token=${token}`)),
      app.request(`/barman/list-backup?server_name=pg&token=${token}`),
      app.request(`/barman/list-backup?server_name=other&token=${token}`),
    ];
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all(pending);
    const calls = commandCalls().slice(before);
    expect(calls.filter((argv) => argv.includes('switch-wal'))).toHaveLength(3);
    expect(calls.filter((argv) => argv.some((w) => w.startsWith('list-backup')))).toHaveLength(2);
  });
});

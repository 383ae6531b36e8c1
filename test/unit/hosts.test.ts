/**
 * Several barman hosts from one API: `host=` picks one, each has its own catalogue, files, cache
 * and jobs, and a user reaches only the hosts their `hosts` list names, by every route.
 */
import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { basic, caller, clientConfUser, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';
import { createInProcessJobRunner } from '../../adapters/memory/index.js';
import type { AppDeps } from '../../src/context.js';

const user = (name: string, access: string[], hosts?: string[]) => clientConfUser(name, access, { hosts });

const SETTINGS = `[barman]
configfile=/etc/barman.conf
asynccommand=['backup']
[host:dc2]
configfile=/etc/barman-dc2.conf
asynccommand=['backup']
[authtoken]
secret=test-secret-of-enough-length
`;

const USERS =
  user('memin', []) +
  user('admin2', [], ['default', 'dc2']) +
  user('ops', ['barman', 'history', 'history/all', 'config/barman']) +
  user('dc2ops', ['barman', 'history', 'history/all', 'config/barman'], ['dc2']) +
  user('everywhere', ['barman', 'history'], ['*']);

async function setup() {
  // Two barman hosts that say who they are: each answers list-server with its own server name.
  const ran: Array<{ host: string; args: string[] }> = [];
  const release: Array<() => void> = [];
  const barman = (name: string, server: string) => {
    const h = fixtureBarmanHost('3.4', async (args, options) => {
      ran.push({ host: name, args });
      if (args.some((a) => a.startsWith('list-server'))) return { exitCode: 0, stdout: JSON.stringify({ [server]: { description: `${server} on ${name}` } }) };
      if (args.includes('backup')) await new Promise<void>((r) => { release.push(r); options.signal?.addEventListener('abort', () => r()); });
      return { exitCode: 0, stdout: '{}' };
    });
    h.files.set('/etc/barman-dc2.conf', '[barman]\nbarman_home = /srv/dc2\n\n[pg]\ndescription = "pg in dc2"\n');
    return h;
  };
  const main = barman('default', 'pg');
  const dc2 = barman('dc2', 'pg');
  const settings = loadSettings({ text: SETTINGS, path: '/etc/barmanapi.conf' });
  const holder: { deps?: AppDeps } = {};
  const runner = createInProcessJobRunner({
    get storage() {
      return holder.deps!.storage;
    },
    host: main,
    clock: { now: () => new Date() },
    maxOutputBytes: 1 << 20,
    hostFor: (name: string) => (name === 'dc2' ? { host: dc2, maxOutputBytes: 1 << 20 } : null),
  } as never);
  const t = testApp({ host: main, hosts: { dc2 }, settings, runner, clientConf: USERS });
  holder.deps = t.deps;
  return { ...t, ran, as: caller(t.app), runner, release, main, dc2 };
}

describe('several barman hosts', () => {
  it('runs a command on the host named by host=, the default host without it; answers keep the seed shape there', async () => {
    const { as, ran } = await setup();
    const here = await as('memin', '/barman/list-server');
    expect(here.res.status).toBe(200);
    expect(here.body.host).toBeUndefined();
    const there = await as('memin', '/barman/list-server?host=dc2');
    expect(there.res.status).toBe(200);
    expect(there.body.host).toBe('dc2');
    expect(ran.filter((r) => r.args.some((a) => a.startsWith('list-server'))).map((r) => r.host)).toEqual(['default', 'dc2']);
    // host is the API's: barman never sees it.
    expect(ran.flatMap((r) => r.args)).not.toContain('dc2');
  });

  it('keeps a cache per host: an answer of one host is never served for the other', async () => {
    const { as } = await setup();
    await as('memin', '/barman/list-server');
    const second = await as('memin', '/barman/list-server?host=dc2');
    expect(second.body.cache).toMatchObject({ hit: false });
    const again = await as('memin', '/barman/list-server?host=dc2');
    expect(again.body.cache).toMatchObject({ hit: true });
  });

  it('reads each host\'s own barman configuration with /config/barman?host=', async () => {
    const { as } = await setup();
    const dc2 = await as('memin', '/config/barman?host=dc2');
    expect(dc2.res.status).toBe(200);
    expect(dc2.body.main_file).toBe('/etc/barman-dc2.conf');
    expect(dc2.body.host).toBe('dc2');
    expect((await as('memin', '/config/barman')).body.main_file).toBe('/etc/barman.conf');
  });

  it('keeps a user to the hosts of their list, by every route and spelling, answering as if the others did not exist', async () => {
    const { as } = await setup();
    for (const path of ['/barman/list-server?host=dc2', '/barman/list-server?HOST=dc2', '/barman/help?host=dc2', '/barman/list-server/help?host=dc2', '/config/barman?host=dc2', '/config/barman/help?host=dc2']) {
      const r = await as('ops', path);
      expect(r.res.status, path).toBe(404);
      expect(r.body.message, path).toMatch(/no barman host "dc2" that you may reach; yours: default$/);
    }
    // Not even the name of an existing host is told apart from a made-up one.
    expect((await as('ops', '/barman/list-server?host=nowhere')).body.message).toMatch(/no barman host "nowhere" that you may reach; yours: default$/);
    for (const path of ['/barman/list-server', '/barman/list-server?host=default', '/config/barman']) {
      expect((await as('dc2ops', path)).res.status, path).toBe(404);
    }
    expect((await as('dc2ops', '/barman/list-server?host=dc2')).res.status).toBe(200);
    expect((await as('everywhere', '/barman/list-server?host=dc2')).res.status).toBe(200);
    expect((await as('admin2', '/barman/list-server?host=dc2')).res.status).toBe(200);
    // Two spellings at once, or a list: refused, not one of them picked.
    expect((await as('memin', '/barman/list-server?host=dc2&HOST=default')).res.status).toBe(400);
    expect((await as('memin', '/barman/list-server?host=dc2&host=default')).res.status).toBe(400);
  });

  it('runs a job on its own host, lets one backup per host and server run, and shows jobs only to those who reach their host', async () => {
    const { as, ran, release } = await setup();
    const onDefault = await as('memin', '/barman/backup?server_name=pg');
    expect(onDefault.res.status).toBe(202);
    // The same server name on another host is another server.
    const onDc2 = await as('memin', '/barman/backup?server_name=pg&host=dc2');
    expect(onDc2.res.status).toBe(202);
    expect(onDc2.body.host).toBe('dc2');
    expect((await as('memin', '/barman/backup?server_name=pg&host=dc2')).res.status).toBe(409);
    await expect.poll(() => ran.filter((r) => r.args.includes('backup')).map((r) => r.host).sort()).toEqual(['dc2', 'default']);
    const dc2Ticket = onDc2.body.ticket!;
    const dc2Result = await as('dc2ops', `/history/result?ticket=${encodeURIComponent(dc2Ticket)}`);
    expect(dc2Result.res.status).toBe(200);
    expect(dc2Result.body).toMatchObject({ host: 'dc2', server: 'pg' });
    // history/all covers the hosts one reaches, not the others.
    expect((await as('ops', `/history/result?ticket=${encodeURIComponent(dc2Ticket)}`)).res.status).toBe(404);
    expect((await as('ops', `/history/cancel?ticket=${encodeURIComponent(dc2Ticket)}`)).res.status).toBe(404);
    const opsList = await as('ops', '/history/list');
    expect(opsList.body.list.map((j: { host?: string }) => j.host ?? 'default')).toEqual(['default']);
    const dc2List = await as('dc2ops', '/history/list');
    expect(dc2List.body.list.map((j: { host?: string }) => j.host)).toEqual(['dc2']);
    expect((await as('memin', '/history/list')).body.list).toHaveLength(2);
    release.forEach((r) => r());
  });

  it('refuses to start when the settings name a host no adapter was given for', () => {
    const settings = loadSettings({ text: SETTINGS, path: '/etc/barmanapi.conf' });
    expect(() => testApp({ settings })).toThrow(/barman host dc2, and no adapter was given/);
  });

  it('logs in the same whatever the hosts', async () => {
    const { app } = await setup();
    expect((await app.request('/auth/token', { headers: basic('dc2ops', '1258') })).status).toBe(200);
  });
});

import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/settings/load.js';
import { loginToken, testApp } from '../support/app.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { FingerprintSource } from '../../src/state/fingerprint.js';
import { barmanFiles } from '../../src/state/barman-files.js';
import { readBarmanConfig } from '../../src/barman-config/reader.js';
import type { BarmanHost, StampOptions } from '../../src/ports.js';

const HOME = '/var/lib/barman';

/** barman's files in memory: two servers, a backup each; list-backup answers from these files, as barman does. */
function barmanMachine(extraGlobal = '') {
  const runs: string[][] = [];
  // The host's own file map, filled below: what barman "reads" here and what the stamps see are the same files.
  let files = new Map<string, string>();
  const host = fixtureBarmanHost('3.4', async (argv) => {
    runs.push(argv);
    const verb = argv.find((w) => /^(list-backups?|list-servers?|status|show-server|check)$/.test(w));
    const server = argv[argv.length - 1]!;
    if (verb?.startsWith('list-backup')) {
      if (files.get(`${HOME}/${server}/base/x`) === 'fail') return { exitCode: 1, stderr: 'failed' };
      const prefix = `${HOME}/${server}/base/`;
      const backups = [...files.keys()].filter((k) => k.startsWith(prefix) && k.endsWith('/backup.info')).map((k) => `${k.slice(prefix.length).split('/')[0]} ${files.get(k)!.trim()}`);
      return { exitCode: 0, stdout: JSON.stringify({ [server]: backups.sort() }) };
    }
    if (verb?.startsWith('list-server')) {
      const descriptions = [...files.entries()].filter(([k]) => k.startsWith('/etc/barman.d/')).map(([, v]) => v.trim());
      return { exitCode: 0, stdout: JSON.stringify({ servers: descriptions.sort() }) };
    }
    return { exitCode: 0, stdout: JSON.stringify({ [server]: { at: runs.length } }) };
  });
  files = host.files;
  files.clear();
  for (const [k, v] of [
    ['/etc/barman.conf', `[barman]\nbarman_home = ${HOME}\nconfiguration_files_directory = /etc/barman.d\n${extraGlobal}`],
    ['/etc/barman.d/pg.conf', '[pg]\ndescription = Main\n'],
    ['/etc/barman.d/other.conf', '[other]\ndescription = Other\n'],
    [`${HOME}/pg/base/20261201T000000/backup.info`, 'status=DONE\n'],
    [`${HOME}/pg/wals/xlog.db`, ''],
    [`${HOME}/other/base/20261201T000000/backup.info`, 'status=DONE\n'],
    [`${HOME}/other/wals/xlog.db`, ''],
  ] as const) files.set(k, v);
  return { host, files, runs };
}

async function setup(options: { extraGlobal?: string; settings?: string } = {}) {
  const machine = barmanMachine(options.extraGlobal);
  const settings = loadSettings({
    text: `[barman]\nconfigfile=/etc/barman.conf\n${options.settings ?? ''}[authtoken]\nsecret=test-secret-of-enough-length\n`,
    path: '/etc/barmanapi.conf',
  });
  const t = testApp({ host: machine.host, settings });
  const token = await loginToken(t.app);
  await t.app.request(`/barman/help?token=${token}`);
  const get = async (path: string) => {
    const res = await t.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`);
    return (await res.json()) as { status_code: number; data: any; cache?: { hit: boolean; age_ms: number } };
  };
  return { ...t, ...machine, token, get };
}

describe('read cache', () => {
  it('answers a repeated read from memory, saying so, until a file barman reads changes', async () => {
    const { get, runs, files } = await setup();
    const first = await get('/barman/list-backup?server_name=pg');
    expect(first.cache).toEqual({ hit: false, age_ms: 0 });
    const second = await get('/barman/list-backup?server_name=pg');
    expect(second.cache?.hit).toBe(true);
    expect(second.data).toEqual(first.data);
    expect(runs).toHaveLength(1);

    files.set(`${HOME}/pg/base/20261201T000000/backup.info`, 'status=FAILED\n'); // a rewrite by barman
    expect((await get('/barman/list-backup?server_name=pg')).data).toEqual({ pg: ['20261201T000000 status=FAILED'] });
    files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'status=STARTED\n'); // a new backup
    expect((await get('/barman/list-backup?server_name=pg')).data.pg).toHaveLength(2);
    files.delete(`${HOME}/pg/base/20261201T000000/backup.info`); // a deleted one
    expect((await get('/barman/list-backup?server_name=pg')).data.pg).toEqual(['20261202T000000 status=STARTED']);
    files.set(`${HOME}/pg/base/20261202T000000/annotations/keep`, 'full'); // barman keep
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(false);
    files.set(`${HOME}/pg/wals/xlog.db`, '000000010000000000000002\t16777216\t1\tNone\n'); // archive-wal
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(false);
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(true);
  });

  it("keeps one server's answers when another server's files change, but not answers about every server", async () => {
    const { get, files } = await setup();
    await get('/barman/list-backup?server_name=pg');
    await get('/barman/list-backup?server_name=all');
    files.set(`${HOME}/other/base/20261203T000000/backup.info`, 'status=DONE\n');
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(true);
    expect((await get('/barman/list-backup?server_name=all')).cache?.hit).toBe(false);
  });

  it('sees a configuration change by hand and one through the API', async () => {
    const { get, files, app, token } = await setup();
    await get('/barman/list-server');
    files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = Renamed\n');
    expect((await get('/barman/list-server')).data.servers).toContain('[pg]\ndescription = Renamed');
    expect((await get('/barman/list-server')).cache?.hit).toBe(true);
    // Through the API: the scripted files show the edit too, and our own change drops the cache at once.
    const changed = await app.request(`/config/barman/change?pg.description=ViaApi&token=${token}`);
    expect(changed.status).toBe(200);
    expect((await get('/barman/list-server')).cache?.hit).toBe(false);
  });

  it('runs barman again for fresh=1, and keeps what it answered', async () => {
    const { get, runs } = await setup();
    await get('/barman/list-backup?server_name=pg');
    expect((await get('/barman/list-backup?server_name=pg&fresh=1')).cache?.hit).toBe(false);
    expect(runs).toHaveLength(2);
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(true);
    expect((await get('/barman/list-backup?server_name=pg&fresh=maybe')).status_code).toBe(400);
  });

  it('serves live answers (status, check) only up to live_max_age, and never with 0', async () => {
    const five = await setup();
    await five.get('/barman/status?server_name=pg');
    const again = await five.get('/barman/status?server_name=pg');
    expect(again.cache?.hit).toBe(true);
    expect(again.cache!.age_ms).toBeLessThan(5_000);
    const zero = await setup({ settings: '[cache]\nlive_max_age=0\n' });
    await zero.get('/barman/status?server_name=pg');
    expect((await zero.get('/barman/status?server_name=pg')).cache?.hit).toBe(false);
    expect(zero.runs).toHaveLength(2);
    // list-backup under a recovery window is live too: its retention status moves with the clock.
    const window = await setup({ extraGlobal: 'retention_policy = RECOVERY WINDOW OF 7 DAYS\n', settings: '[cache]\nlive_max_age=0\n' });
    await window.get('/barman/list-backup?server_name=pg');
    expect((await window.get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(false);
  });

  it('never keeps a failed answer, never caches servers whose folders it cannot work out, and is off when disabled', async () => {
    const failing = await setup();
    failing.files.set(`${HOME}/pg/base/x`, 'fail');
    await failing.get('/barman/list-backup?server_name=pg');
    await failing.get('/barman/list-backup?server_name=pg');
    expect(failing.runs).toHaveLength(2);

    const odd = await setup();
    odd.files.set('/etc/barman.d/pg.conf', '[pg]\nbackup_directory = %(somewhere)s/pg\n');
    await odd.get('/barman/list-backup?server_name=pg');
    expect((await odd.get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(false);
    expect((await odd.get('/barman/list-backup?server_name=other')).cache?.hit).toBe(false);
    expect((await odd.get('/barman/list-backup?server_name=other')).cache?.hit).toBe(true);

    const off = await setup({ settings: '[cache]\nenabled=false\n' });
    await off.get('/barman/list-backup?server_name=pg');
    const second = await off.get('/barman/list-backup?server_name=pg');
    expect(second.cache).toBeUndefined();
    expect(off.runs).toHaveLength(2);
  });

  it('does not keep an answer whose files changed within the racy window (a coarse clock could hide the next change)', async () => {
    const machine = barmanMachine();
    const stamp = machine.host.stampTrees!.bind(machine.host);
    // The same files, stamped as changed a moment ago.
    const host: BarmanHost = Object.assign(Object.create(machine.host) as BarmanHost, {
      stampTrees: async (roots: readonly string[], o: StampOptions) => {
        const s = await stamp(roots, o);
        for (const [path, e] of s.entries) s.entries.set(path, { ...e, changedMs: s.takenMs - 100 });
        return s;
      },
    });
    const settings = loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
    const t = testApp({ host, settings });
    const token = await loginToken(t.app);
    await t.app.request(`/barman/help?token=${token}`);
    for (let i = 0; i < 2; i++) await t.app.request(`/barman/list-backup?server_name=pg&token=${token}`);
    expect(machine.runs).toHaveLength(2);
  });
});

describe('read cache bounds and our own changes', () => {
  it('a command that may change something drops what was cached before it', async () => {
    const { get } = await setup();
    await get('/barman/list-backup?server_name=pg');
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(true);
    await get('/barman/switch-wal?server_name=pg');
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(false);
  });

  it('counts the key (the argv) in the memory bound, however small the answers', async () => {
    const { get, api } = await setup({ settings: '[cache]\nmax_bytes=200000\n' });
    const long = 'x'.repeat(20_000);
    for (let i = 0; i < 30; i++) await get(`/barman/list-backup?server_name=pg&server_name=${long}${i}`);
    expect(api.reads.stats.bytes).toBeLessThanOrEqual(200_000);
    expect(api.reads.stats.entries).toBeLessThan(30);
  });
});

describe('read cache against our own changes in flight, and files it cannot follow', () => {
  it('a run begun before our own change never answers a request made after it', async () => {
    const { host, files } = barmanMachine();
    const original = host.run.bind(host);
    let gate: (() => void) | null = null;
    let statusRuns = 0;
    host.run = async (argv, options) => {
      if (argv.includes('status') && !argv.includes('--help')) {
        statusRuns += 1;
        if (statusRuns === 1) await new Promise<void>((r) => (gate = r));
      }
      return original(argv, options);
    };
    void files;
    const settings = loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
    const t = testApp({ host, settings });
    const token = await loginToken(t.app);
    await t.app.request(`/barman/help?token=${token}`);
    const first = t.app.request(`/barman/status?server_name=pg&token=${token}`); // stays in flight
    await new Promise((r) => setTimeout(r, 20));
    expect((await t.app.request(`/barman/switch-wal?server_name=pg&token=${token}`)).status).toBe(200); // our own change
    const second = t.app.request(`/barman/status?server_name=pg&token=${token}`);
    await new Promise((r) => setTimeout(r, 20));
    expect(statusRuns).toBe(2); // the second did not join the first
    gate!();
    await Promise.all([first, second]);
  });

  it("caches nothing while barman's .barman.auto.conf exists (its servers and options are barman's alone)", async () => {
    const { get, files, runs } = await setup();
    await get('/barman/list-backup?server_name=pg');
    expect((await get('/barman/list-backup?server_name=pg')).cache?.hit).toBe(true);
    files.set(`${HOME}/.barman.auto.conf`, '[pg2]\nconninfo = x\n');
    await get('/barman/list-backup?server_name=pg');
    await get('/barman/list-backup?server_name=pg');
    expect(runs.filter((a) => a.some((w) => w.startsWith('list-backup')))).toHaveLength(3);
  });

  it('a take that never ends times out: the read runs barman instead, and the next take starts afresh', async () => {
    const { host } = barmanMachine();
    const original = host.stampTrees!.bind(host);
    let hang = false;
    host.stampTrees = (roots, o) => (hang ? new Promise(() => undefined) : original(roots, o));
    const source = new FingerprintSource({ host, configFile: () => '/etc/barman.conf', readConfig: readBarmanConfig, takeTimeoutMs: 50 });
    await source.take();
    hang = true;
    await expect(source.take()).rejects.toThrow(/took over 0.05 s/);
    hang = false;
    expect((await source.take()).files.servers.size).toBe(2);
  });
});

describe('fingerprints', () => {
  it('never gives a caller a take that started before it asked; callers arriving meanwhile share the next one', async () => {
    const { host, files } = barmanMachine();
    const original = host.stampTrees!.bind(host);
    const gates: Array<() => void> = [];
    let gated = false;
    host.stampTrees = async (roots, o) => {
      const stamps = await original(roots, o);
      if (gated) await new Promise<void>((r) => gates.push(r));
      return stamps;
    };
    const source = new FingerprintSource({ host, configFile: () => '/etc/barman.conf', readConfig: readBarmanConfig });
    expect((await source.take()).files.servers.size).toBe(2); // configuration read, stamps taken

    gated = true;
    const early = source.take(); // stamps now, then waits at the gate
    await new Promise((r) => setTimeout(r, 0));
    expect(gates).toHaveLength(1);
    files.set(`${HOME}/pg/base/20261209T000000/backup.info`, 'status=DONE\n'); // a change after those stamps
    const later = Array.from({ length: 20 }, () => source.take()); // asked after it started
    gates.shift()!();
    const a = await early;
    await new Promise((r) => setTimeout(r, 0));
    expect(gates).toHaveLength(1); // one more take for all twenty, started after the first ended
    gates.shift()!();
    const rest = await Promise.all(later);
    for (const r of rest) expect(r).toBe(rest[0]);
    expect(rest[0]).not.toBe(a);
    expect(rest[0]!.signature(`${HOME}/pg`)).not.toBe(a.signature(`${HOME}/pg`)); // the change is seen
  });

  it('one spelling of every folder: trailing slashes and doubled ones in the configuration still see changes', async () => {
    const { host, files } = barmanMachine();
    files.set('/etc/barman.conf', `[barman]\nbarman_home = ${HOME}/\nconfiguration_files_directory = /etc/barman.d/\n`);
    files.set('/etc/barman.d/pg.conf', `[pg]\nbackup_directory = ${HOME}//pg/\n`);
    const source = new FingerprintSource({ host, configFile: () => '/etc/barman.conf', readConfig: readBarmanConfig });
    const one = await source.take();
    expect(one.files.configRoots).toEqual(['/etc/barman.conf', '/etc/barman.d', `${HOME}/.barman.auto.conf`]);
    expect(one.files.servers.get('pg')!.roots[0]).toBe(`${HOME}/pg`);
    files.set('/etc/barman.d/pg.conf', `[pg]\nbackup_directory = ${HOME}//pg/\ndescription = x\n`);
    files.set(`${HOME}/pg/base/20261201T000000/backup.info`, 'status=FAILED\n');
    const two = await source.take();
    expect(two.signature('/etc/barman.d')).not.toBe(one.signature('/etc/barman.d'));
    expect(two.signature(`${HOME}/pg`)).not.toBe(one.signature(`${HOME}/pg`));
    // ".." is not cleaned (a link before it decides where it leads): that server is never cached.
    files.set('/etc/barman.d/pg.conf', `[pg]\nbackup_directory = ${HOME}/x/../pg\n`);
    expect((await source.take()).files.unresolved.has('pg')).toBe(true);
  });

  it('works out the folders barman uses, as barman does', async () => {
    const { host } = barmanMachine('retention_policy = REDUNDANCY 2\n');
    const files = barmanFiles(await readBarmanConfig(host, '/etc/barman.conf'));
    expect(files.configRoots).toEqual(['/etc/barman.conf', '/etc/barman.d', `${HOME}/.barman.auto.conf`]);
    expect(files.servers.get('pg')).toEqual({ name: 'pg', roots: [`${HOME}/pg`, `${HOME}/pg/wals/xlog.db`, `${HOME}/pg/wals/pg-xlog.db`], recoveryWindow: false });
    host.files.set('/etc/barman.d/pg.conf', '[pg]\nbackup_directory = /srv/%(name)s\nbasebackups_directory = /backups/pg\nwals_directory = %(backup_directory)s/w\nretention_policy = recovery window of 1 day\n');
    const custom = barmanFiles(await readBarmanConfig(host, '/etc/barman.conf'));
    expect(custom.servers.get('pg')).toEqual({ name: 'pg', roots: ['/srv/pg', '/backups/pg', '/srv/pg/w/xlog.db', '/srv/pg/w/pg-xlog.db'], recoveryWindow: true });
    host.files.set('/etc/barman.d/pg.conf', '[pg]\nxlogdb_directory = /var/lib/barman/xlogdb\n');
    expect(barmanFiles(await readBarmanConfig(host, '/etc/barman.conf')).servers.get('pg')!.roots).toContain('/var/lib/barman/xlogdb/pg-xlog.db');
    host.files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = a\n[window]\nmodel = true\ncluster = pg\nretention_policy = RECOVERY WINDOW OF 2 DAYS\n');
    expect(barmanFiles(await readBarmanConfig(host, '/etc/barman.conf')).servers.get('pg')!.recoveryWindow).toBe(true);
    host.files.set('/etc/barman.d/pg.conf', '[pg]\nbackup_directory = relative/pg\n');
    expect(barmanFiles(await readBarmanConfig(host, '/etc/barman.conf')).unresolved).toEqual(new Set(['pg']));
  });
});

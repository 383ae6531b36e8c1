import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';
import type { StateChange } from '../../src/state/refresher.js';
import type { Storage } from '../../src/ports.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const HOME = '/var/lib/barman';

/** A barman host whose list-backup answers from the backup.info files in its file map. */
function setup(storage?: Storage, checkFails?: () => boolean) {
  const runs: string[][] = [];
  let down = false;
  let files = new Map<string, string>();
  const host = fixtureBarmanHost('3.4', (argv) => {
    runs.push(argv);
    if (down) return { exitCode: 255, stderr: 'ssh: connect to host backup port 22: Connection refused' };
    if (argv.includes('check')) {
      const doc = JSON.parse(readFileSync(join(OUTPUT, 'check.json'), 'utf8')) as { pg: Record<string, { status: string }> };
      if (checkFails?.()) doc.pg.archiver_errors!.status = 'FAILED';
      return { stdout: JSON.stringify(doc) };
    }
    if (argv.includes('list-server')) return { stdout: readFileSync(join(OUTPUT, 'list-server.json'), 'utf8') };
    if (argv.includes('show-server')) return { stdout: readFileSync(join(OUTPUT, 'show-server.json'), 'utf8') };
    if (argv.includes('status')) return { stdout: readFileSync(join(OUTPUT, 'status.json'), 'utf8') };
    if (argv.includes('list-backup')) {
      const backups = [...files.entries()]
        .filter(([k]) => k.startsWith(`${HOME}/pg/base/`) && k.endsWith('/backup.info'))
        .map(([k, v]) => ({ backup_id: k.split('/').at(-2), status: v.trim(), end_time_timestamp: '1795822549', size_bytes: 1, wal_size_bytes: 0, retention_status: '-' }))
        .sort((a, b) => b.backup_id!.localeCompare(a.backup_id!));
      return { stdout: JSON.stringify({ pg: backups }) };
    }
    return { exitCode: 1, stderr: 'unexpected' };
  });
  files = host.files;
  files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = lab\n');
  files.set(`${HOME}/pg/base/20261201T000000/backup.info`, 'DONE');
  const settings = loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\n[cache]\nrefresh_interval=0\n[metrics]\ncheck_interval=${checkFails ? 600 : 0}\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
  const { api, deps, clock } = testApp({ host, settings, ...(storage ? { storage } : {}) });
  const events: StateChange[] = [];
  api.refresher.on((c) => events.push(c));
  return { api, files, runs, events, storage: deps.storage, clock, setDown: (v: boolean) => (down = v) };
}

describe('the state refresher', () => {
  it('compares the first round after a restart with what the last run saw: what changed meanwhile is told, a check failing before and after is not', async () => {
    let failing = true;
    const first = setup(undefined, () => failing);
    await first.api.refresher.tick();
    await first.api.refresher.checkUnderWay;
    expect(JSON.parse(await first.storage.readText('state/default.json') ?? 'null')).toMatchObject({ down: null, servers: { pg: [{ id: '20261201T000000', status: 'DONE' }] }, checks: { pg: { items: ['archiver_errors'] } } });
    await first.api.refresher.stop();

    // While no server runs: barman cron makes a backup that fails; the check still fails.
    const second = setup(first.storage, () => failing);
    second.files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED');
    second.clock.set(first.clock.now());
    await second.api.refresher.tick();
    await second.api.refresher.checkUnderWay; // failing before and after: nothing to tell
    expect(second.events.map((e) => e.event.type)).toEqual(['backup-new', 'backup-failed']);
    expect(JSON.parse((await second.storage.readText('state/default.json'))!)).toMatchObject({ checks: { pg: { items: ['archiver_errors'] } } });
    await second.api.refresher.stop();

    // Mended while no server runs: the first check after the start tells so.
    failing = false;
    const mended = setup(second.storage, () => failing);
    mended.files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED');
    mended.clock.set(second.clock.now());
    mended.clock.advance(60_000);
    await mended.api.refresher.tick();
    await mended.api.refresher.checkUnderWay;
    expect(mended.events.map((e) => e.event.type)).toEqual(['check-ok']);

    // Down when the server stops, up after the restart.
    mended.setDown(true);
    mended.api.reads.invalidate();
    await mended.api.refresher.tick();
    const third = setup(mended.storage);
    third.files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED');
    await third.api.refresher.tick();
    expect(third.events.map((e) => e.event.type)).toEqual(['host-up']);
  });

  it('takes no baseline that cannot be read, or that is over a week old', async () => {
    const first = setup();
    await first.api.refresher.tick();
    const stored = JSON.parse((await first.storage.readText('state/default.json'))!) as { at: string };
    await first.storage.writeAtomic('state/default.json', JSON.stringify({ ...stored, at: new Date(Date.parse(stored.at) - 8 * 86400_000).toISOString(), servers: {} }));
    const second = setup(first.storage);
    await second.api.refresher.tick();
    expect(second.events).toEqual([]); // not every server "added"
    await second.storage.writeAtomic('state/default.json', JSON.stringify({ ...stored, servers: { pg: [null] } })); // damaged: a round would throw on it
    const damaged = setup(second.storage);
    await damaged.api.refresher.tick();
    expect(damaged.events).toEqual([]);
    expect(damaged.api.refresher.current?.servers.map((s) => s.name)).toEqual(['pg']);
    await second.storage.writeAtomic('state/default.json', '{not json');
    const third = setup(second.storage);
    await third.api.refresher.tick();
    expect(third.events).toEqual([]);
  });

  it('notices backups made, failed and deleted outside the API, and says nothing when nothing changed', async () => {
    const { api, files, events } = setup();
    await api.refresher.tick();
    expect(events).toEqual([]); // the first round is the baseline
    expect(api.refresher.current?.servers.map((s) => s.name)).toEqual(['pg']);

    files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'STARTED'); // barman cron started one
    await api.refresher.tick();
    expect(events.map((e) => [e.event.type, 'server' in e.event ? e.event.server : null])).toEqual([['backup-new', 'pg']]);
    expect(events[0]!.host).toBe('memory');

    files.set(`${HOME}/pg/base/20261202T000000/backup.info`, 'FAILED');
    files.delete(`${HOME}/pg/base/20261201T000000/backup.info`);
    await api.refresher.tick();
    expect(events.slice(1).map((e) => e.event.type).sort()).toEqual(['backup-failed', 'backup-gone']);

    const before = events.length;
    await api.refresher.tick();
    expect(events).toHaveLength(before);
  });

  it('runs no barman for a round when nothing changed and live answers are young enough', async () => {
    const { api, runs } = setup();
    await api.refresher.tick();
    const count = runs.length;
    await api.refresher.tick();
    await api.refresher.tick();
    expect(runs.length).toBe(count);
  });

  it('says when the host goes down and when it is back, once each', async () => {
    const { api, events, setDown, files } = setup();
    await api.refresher.tick();
    setDown(true);
    files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = changed\n'); // so barman is asked again
    await api.refresher.tick();
    await api.refresher.tick();
    expect(events.map((e) => e.event.type)).toEqual(['host-down']);
    expect(api.refresher.current?.down).toMatch(/exited 255/);
    setDown(false);
    await api.refresher.tick();
    expect(events.map((e) => e.event.type)).toEqual(['host-down', 'host-up']);
    expect(api.refresher.current?.down).toBeNull();
  });

  it('a listener that throws does not stop the others', async () => {
    const { api, files, events } = setup();
    api.refresher.on(() => {
      throw new Error('a broken listener');
    });
    await api.refresher.tick();
    files.set(`${HOME}/pg/base/20261203T000000/backup.info`, 'DONE');
    await api.refresher.tick();
    expect(events.map((e) => e.event.type)).toEqual(['backup-new']);
  });

  it('runs rounds every refresh_interval once started, and none after stop', async () => {
    const { api, files, events } = setup();
    const now = api.settings.current();
    api.settings.update({ ...now, cache: { ...now.cache, refreshIntervalSeconds: 1 } }, ['cache.refresh_interval']);
    api.refresher.start();
    await new Promise((r) => setTimeout(r, 300)); // the first round: the baseline
    files.set(`${HOME}/pg/base/20261204T000000/backup.info`, 'DONE');
    await new Promise((r) => setTimeout(r, 1_300));
    expect(events.map((e) => e.event.type)).toEqual(['backup-new']);
    await api.refresher.stop();
    files.set(`${HOME}/pg/base/20261205T000000/backup.info`, 'DONE');
    await new Promise((r) => setTimeout(r, 1_300));
    expect(events).toHaveLength(1);
  });
});

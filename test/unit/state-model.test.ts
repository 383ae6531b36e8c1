import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupFrom, checkFrom, errorsOf, serverFrom, serverNames } from '../../src/state/model.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output');
const doc = (path: string): unknown => JSON.parse(readFileSync(join(OUTPUT, path), 'utf8'));
/** 2026-11-28T00:35:49Z: one hour after the newest fixture backup ended. */
const AT = new Date('2026-11-28T00:35:49Z');

describe('the state model from barman 3.4', () => {
  const outputs = { listServer: doc('3.4/list-server.json'), showServer: doc('3.4/show-server.json'), status: doc('3.4/status.json'), listBackup: doc('3.4/list-backup.json') };

  it('builds a server with its backups, last backup and its age', () => {
    const pg = serverFrom('pg', outputs, AT);
    expect(pg).toMatchObject({
      name: 'pg',
      description: 'barman lab: PostgreSQL 15 cluster lab on 127.0.0.1:5433',
      active: true,
      disabled: false,
      backupMethod: 'postgres',
      pgVersion: '15.18',
      currentWal: '000000010000000000000007',
      streamingArchiver: true,
      archiver: { enabled: false, lastArchivedWal: null, lastArchivedTime: null, failedCount: null, lastFailedWal: null },
      retentionPolicy: null,
      failedBackups: 0,
      errors: [],
    });
    expect(pg.backups).toHaveLength(2);
    expect(pg.backups![0]).toEqual({
      id: '20261127T233548',
      status: 'DONE',
      beginTime: null, // list-backup does not give it
      endTime: '2026-11-27T23:35:49.000Z',
      sizeBytes: 63354237,
      walSizeBytes: 0,
      retentionStatus: null,
    });
    expect(pg.lastBackup?.id).toBe('20261127T233548');
    expect(pg.lastBackupAgeSeconds).toBe(3600);
  });

  it('reads one backup from show-backup, begin time included', () => {
    const b = backupFrom((doc('3.4/show-backup.json') as Record<string, unknown>).pg);
    expect(b).toEqual({
      id: '20261127T233548',
      status: 'DONE',
      beginTime: '2026-11-27T23:35:48.000Z',
      endTime: '2026-11-27T23:35:49.000Z',
      sizeBytes: 46577021,
      walSizeBytes: 0,
      retentionStatus: null,
    });
  });

  it('a server before its first backup: an empty list, no last backup, no age', () => {
    const pg = serverFrom('pg', { ...outputs, listBackup: doc('3.4/no-backups/list-backup.json'), status: doc('3.4/no-backups/status.json') }, AT);
    expect(pg.backups).toEqual([]);
    expect(pg.lastBackup).toBeNull();
    expect(pg.lastBackupAgeSeconds).toBeNull();
    expect(pg.failedBackups).toBe(0);
  });

  it("keeps barman's errors and names no server it did not list", () => {
    expect(errorsOf(doc('3.4/errors/unknown-server.json'))).toEqual(["Unknown server 'nosuch'"]);
    expect(serverNames(doc('3.4/list-server.json'))).toEqual(['pg']);
    expect(serverNames(doc('3.4/errors/unknown-server.json'))).toEqual([]);
  });

  it('counts FAILED backups, and the last backup is the newest DONE one', () => {
    const list = doc('3.4/list-backup.json') as { pg: Array<Record<string, unknown>> };
    const failedFirst = { pg: [{ ...list.pg[0]!, backup_id: '20261128T000000', status: 'FAILED' }, ...list.pg] };
    const pg = serverFrom('pg', { ...outputs, listBackup: failedFirst }, AT);
    expect(pg.failedBackups).toBe(1);
    expect(pg.lastBackup?.id).toBe('20261127T233548');
  });
});

describe('the state model from barman 2.19', () => {
  // barman 2.19 cannot read backup.info files written by 3.x: its list-backup is an _EXCEPTION.
  const outputs = { listServer: doc('2.19/list-server.json'), showServer: doc('2.19/show-server.json'), status: doc('2.19/status.json'), listBackup: doc('2.19/list-backup.json') };

  it('builds the server from what 2.19 gives, backups unknown (null) where it failed, and says why', () => {
    const pg = serverFrom('pg', outputs, AT);
    expect(pg).toMatchObject({
      name: 'pg',
      description: 'barman lab: PostgreSQL 15 cluster lab on 127.0.0.1:5433',
      active: true,
      backupMethod: 'postgres',
      pgVersion: '15.18',
      streamingArchiver: true,
      backups: null,
      lastBackup: null,
      lastBackupAgeSeconds: null,
      failedBackups: null,
    });
    expect(pg.errors).toEqual(["'LocalBackupInfo' object has no attribute 'compression'\nSee log file for more details."]);
  });

  it('fields 2.19 does not give are null, not invented', () => {
    expect(backupFrom({ backup_id: 'x' })).toEqual({ id: 'x', status: null, beginTime: null, endTime: null, sizeBytes: null, walSizeBytes: null, retentionStatus: null });
    expect(backupFrom({ status: 'DONE' })).toBeNull();
    expect(serverFrom('pg', {}, AT)).toMatchObject({ description: null, active: null, backups: null, pgVersion: null, archiver: { enabled: null } });
  });
});

describe('the state service', () => {
  const files: Record<string, string> = {
    'list-server': '3.4/list-server.json',
    'show-server': '3.4/show-server.json',
    status: '3.4/status.json',
    'list-backup': '3.4/list-backup.json',
  };

  it('builds every server from the host, running each command once while nothing changes', async () => {
    const runs: string[][] = [];
    const host = fixtureBarmanHost('3.4', (argv) => {
      runs.push(argv);
      const verb = Object.keys(files).find((k) => argv.includes(k));
      return verb ? { exitCode: 0, stdout: readFileSync(join(OUTPUT, files[verb]!), 'utf8') } : { exitCode: 1, stderr: 'unexpected' };
    });
    host.files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = lab\n');
    const settings = loadSettings({ text: '[barman]\nconfigfile=/etc/barman.conf\n[authtoken]\nsecret=test-secret-of-enough-length\n', path: '/etc/barmanapi.conf' });
    const { app, api, clock } = testApp({ host, settings });
    await app.request(`/barman/help?token=${await loginToken(app)}`);
    clock.set(AT);
    const all = await api.state.servers();
    expect(all.reason).toBeUndefined();
    expect(all.model!.map((s) => s.name)).toEqual(['pg']);
    expect(all.model![0]!.backups).toHaveLength(2);
    const count = runs.length;
    expect(count).toBe(4);
    const again = await api.state.server('pg');
    expect(again.model?.lastBackup?.id).toBe('20261127T233548');
    expect(runs.length).toBe(count); // list-server, list-backup from the cache; status and show-server within live_max_age
    expect((await api.state.server('nosuch')).reason).toMatch(/no server "nosuch"/);
  });

  it('has no model for a barman without -f json, and says so', async () => {
    const host = fixtureBarmanHost('3.4');
    const { api } = testApp({ host });
    const cat = await api.catalogue.get();
    cat.supportsJson = false;
    const answer = await api.state.servers();
    expect(answer.model).toBeNull();
    expect(answer.reason).toMatch(/no -f json output/);
  });
});

describe('a server check', () => {
  it('lists each check with status and hint, and passes only when all do (3.4 and 2.19)', () => {
    const ok = checkFrom('pg', doc('3.4/check.json'));
    expect(ok.ok).toBe(true);
    expect(ok.checks.find((c) => c.name === 'failed_backups')).toEqual({ name: 'failed_backups', ok: true, status: 'OK', hint: 'there are 0 failed backups' });
    const failing = checkFrom('pg', doc('3.4/errors/check-failing.json'));
    expect(failing.ok).toBe(false);
    expect(failing.checks.filter((c) => !c.ok).map((c) => c.name).length).toBeGreaterThan(0);
    const old = checkFrom('pg', doc('2.19/check.json'));
    expect(old.checks.length).toBeGreaterThan(3);
    expect(old.errors[0]).toMatch(/LocalBackupInfo/);
    expect(checkFrom('nosuch', doc('3.4/errors/unknown-server.json'))).toEqual({ name: 'nosuch', ok: null, checks: [], errors: ["Unknown server 'nosuch'"] });
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { SEED_CLIENT_CONF, clientConfUser, loginToken, testApp, twoHostApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const SCRAPE = 'a-scrape-credential-0123456789';

/** barman 3.4 answering from the fixtures, with one FAILED backup added to list-backup. */
function fixtureHost(runs: string[][]) {
  const host = fixtureBarmanHost('3.4', (argv) => {
    runs.push(argv);
    if (argv.includes('check')) {
      // One item failing: barman_up says 0 for it.
      const doc = JSON.parse(readFileSync(join(OUTPUT, 'check.json'), 'utf8')) as { pg: Record<string, { status: string }> };
      doc.pg.archiver_errors!.status = 'FAILED';
      return { exitCode: 1, stdout: JSON.stringify(doc) };
    }
    for (const name of ['list-server', 'show-server', 'status', 'show-backup']) if (argv.includes(name)) return { stdout: readFileSync(join(OUTPUT, `${name}.json`), 'utf8') };
    if (argv.includes('list-backup')) {
      const doc = JSON.parse(readFileSync(join(OUTPUT, 'list-backup.json'), 'utf8')) as { pg: unknown[] };
      doc.pg.unshift({ backup_id: '20261128T010000', status: 'FAILED', end_time_timestamp: null, size_bytes: 0, wal_size_bytes: 0, retention_status: '-' });
      return { stdout: JSON.stringify(doc) };
    }
    return { exitCode: 1, stderr: 'unexpected' };
  });
  host.files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = lab\n');
  return host;
}

function setup(clientConf = SEED_CLIENT_CONF, checkInterval = 600, extra = '') {
  const runs: string[][] = [];
  const host = fixtureHost(runs);
  const further = extra ? { hosts: { dc2: fixtureHost(runs) } } : {};
  const settings = loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\n[cache]\nrefresh_interval=0\n[metrics]\ntoken=${SCRAPE}\ncheck_interval=${checkInterval}\n[authtoken]\nsecret=test-secret-of-enough-length\n${extra}`, path: '/etc/barmanapi.conf' });
  const t = testApp({ host, settings, clientConf, ...further });
  return { ...t, runs };
}

const scrape = (app: ReturnType<typeof setup>['app'], auth = `Bearer ${SCRAPE}`) => app.request('/metrics', { headers: { Authorization: auth } });

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  it("keeps prometheus-barman-exporter's names and meanings, with a host label, from the background round's state", async () => {
    const t = setup();
    await t.api.refresher.tick();
    t.clock.advance(20 * 86400_000); // after the fixtures' backups ended
    const res = await scrape(t.app);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const s = (series: string) => sample(text, series);
    expect(text).toContain('# TYPE barman_backups_total gauge');
    expect(s('barman_backups_total{host="default",server="pg"}')).toBe(3); // DONE and FAILED
    expect(s('barman_backups_failed{host="default",server="pg"}')).toBe(1);
    // barman 3.4's list-backup gives the end time only: that is the time used.
    expect(s('barman_last_backup{host="default",server="pg"}')).toBe(1795822549);
    expect(s('barman_first_backup{host="default",server="pg"}')).toBe(1795822545);
    expect(s('barman_backup_size{host="default",server="pg",number="1"}')).toBe(63354237);
    expect(s('barman_backup_wal_size{host="default",server="pg",number="2"}')).toBe(33554432);
    expect(s('barman_backup_size{host="default",server="pg",number="3"}')).toBeUndefined(); // the FAILED one is not numbered
    expect(s('barman_metrics_update{host="default",server="pg"}')).toBe(Date.parse(t.api.refresher.current!.at) / 1000);
    const age = s('barmanapi_last_backup_age_seconds{host="default",server="pg"}')!;
    expect(age).toBe(t.clock.now().getTime() / 1000 - 1795822549);
    expect(s('barmanapi_host_up{host="default"}')).toBe(1);
    expect(s('barmanapi_server_active{host="default",server="pg"}')).toBe(1);
    expect(s('barmanapi_barman_processes{host="default",state="running"}')).toBe(0);
  });

  it("shows the last barman check's items as barman_up, with the check's age; the background round runs it every check_interval", async () => {
    const t = setup();
    await t.api.refresher.tick();
    await t.api.refresher.checkUnderWay; // beside the round, not in it
    expect(t.runs.filter((a) => a.includes('check')).length).toBe(1);
    t.clock.advance(120_000);
    const text = await (await scrape(t.app)).text();
    expect(sample(text, 'barman_up{host="default",server="pg",check="archiver_errors"}')).toBe(0);
    expect(sample(text, 'barman_up{host="default",server="pg",check="postgresql"}')).toBe(1);
    expect(text.match(/^barman_up\{/gm)!.length).toBeGreaterThan(10);
    expect(sample(text, 'barmanapi_check_age_seconds{host="default",server="pg"}')).toBe(120);
    await t.api.refresher.tick(); // two minutes later: not due yet
    expect(t.runs.filter((a) => a.includes('check')).length).toBe(1);
    t.clock.advance(600_000);
    await t.api.refresher.tick();
    await t.api.refresher.checkUnderWay;
    expect(t.runs.filter((a) => a.includes('check')).length).toBe(2);
  });

  it("forgets the check results of servers barman no longer names", async () => {
    const { CheckResults } = await import('../../src/state/checks.js');
    const results = new CheckResults();
    results.record({ pg: { postgresql: { status: 'OK' } }, old: { postgresql: { status: 'FAILED' } } }, '2026-12-03T10:00:00Z', true);
    results.record({ old: { postgresql: { status: 'OK' } } }, '2026-12-03T10:01:00Z'); // a user's check of one server: merged
    expect([...results.current().keys()].sort()).toEqual(['old', 'pg']);
    results.record({ pg: { postgresql: { status: 'OK' } } }, '2026-12-03T10:10:00Z', true); // check all: the whole list
    expect([...results.current().keys()]).toEqual(['pg']);
  });

  it("takes a user's check as the newest result, and runs none in the background with check_interval = 0", async () => {
    const t = setup(SEED_CLIENT_CONF, 0);
    await t.api.refresher.tick();
    expect(t.runs.filter((a) => a.includes('check'))).toEqual([]);
    expect(await (await scrape(t.app)).text()).not.toContain('barman_up{');
    const memin = await loginToken(t.app);
    // One item fails, so barman exits 1: its JSON answer is recorded all the same.
    expect(((await (await t.app.request(`/barman/check?server_name=pg&token=${memin}`)).json()) as { status_code: number }).status_code).toBe(1);
    const text = await (await scrape(t.app)).text();
    expect(sample(text, 'barman_up{host="default",server="pg",check="postgresql"}')).toBe(1);
    expect(sample(text, 'barmanapi_check_age_seconds{host="default",server="pg"}')).toBe(0);
  });

  it("gives the newest DONE backup's copy time, reading show-backup once per backup", async () => {
    const t = setup();
    await t.api.refresher.tick();
    await t.api.refresher.tick();
    const text = await (await scrape(t.app)).text();
    expect(sample(text, 'barman_last_backup_copy_time{host="default",server="pg"}')).toBe(0.399409);
    expect(t.runs.filter((a) => a.includes('show-backup'))).toEqual([expect.arrayContaining(['show-backup', 'pg', '20261127T233548'])]);
  });

  it("shows a user only the hosts they reach, and the server's own counts only to who sees every host", async () => {
    const conf = `${SEED_CLIENT_CONF}${clientConfUser('dc2watch', ['metrics', 'fleet'], { hosts: ['dc2'] })}${clientConfUser('nolist', ['metrics', 'fleet'], { deny: ['barman/list-backup'], hosts: ['*'] })}`;
    const t = setup(conf, 0, '[host:dc2]\nconfigfile=/etc/barman.conf\n');
    await Promise.all(t.api.hosts.list.map((h) => h.refresher.tick()));
    const all = await (await scrape(t.app)).text();
    expect(all).toContain('barman_backups_total{host="default",server="pg"}');
    expect(all).toContain('barman_backups_total{host="dc2",server="pg"}');
    expect(all).toContain('barmanapi_jobs{state="running"}');
    const mine = await (await scrape(t.app, `Bearer ${await loginToken(t.app, 'dc2watch')}`)).text();
    expect(mine).toContain('barman_backups_total{host="dc2",server="pg"}');
    expect(mine).not.toContain('host="default"');
    expect(mine).not.toContain('barmanapi_jobs');
    expect(mine).not.toContain('barmanapi_http_requests_total');
    // What /fleet refuses, /metrics refuses: a deny of a command it shows.
    expect((await scrape(t.app, `Bearer ${await loginToken(t.app, 'nolist')}`)).status).toBe(403);
    expect((await t.app.request(`/metrics?token=${await loginToken(t.app)}`)).status).toBe(200);
  });

  it('answers paths named like Object properties as any other unknown path, and counts them as other', async () => {
    const t = setup();
    for (const path of ['/constructor', '/__proto__', '/toString/x', '/hasOwnProperty']) {
      expect((await t.app.request(path)).status, path).toBe(401);
    }
    const text = await (await scrape(t.app)).text();
    expect(sample(text, 'barmanapi_http_requests_total{family="other",method="GET",code="401"}')).toBe(4);
  });

  it('runs no barman process, however many scrapes come while nothing changed', async () => {
    const t = setup();
    await t.api.refresher.tick();
    const before = t.runs.length;
    for (let i = 0; i < 40; i++) expect((await scrape(t.app)).status).toBe(200);
    expect(t.runs.length).toBe(before);
  });

  it("is fresh at each scrape: a backup barman made since the last round shows at once; unchanged files run nothing", async () => {
    const runs: string[][] = [];
    const home = '/var/lib/barman/pg/base';
    const host = fixtureBarmanHost('3.4', (argv) => {
      runs.push(argv);
      for (const name of ['list-server', 'show-server', 'status', 'show-backup']) if (argv.includes(name)) return { stdout: readFileSync(join(OUTPUT, `${name}.json`), 'utf8') };
      if (argv.includes('list-backup')) {
        const backups = [...host.files.entries()]
          .filter(([k]) => k.startsWith(`${home}/`) && k.endsWith('/backup.info'))
          .map(([k, v]) => ({ backup_id: k.split('/').at(-2), status: v.trim(), end_time_timestamp: '1795822549', size_bytes: 1, wal_size_bytes: 0, retention_status: '-' }));
        return { stdout: JSON.stringify({ pg: backups }) };
      }
      return { exitCode: 1, stderr: 'unexpected' };
    });
    host.files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = lab\n');
    host.files.set(`${home}/20261201T000000/backup.info`, 'DONE');
    const settings = loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\n[metrics]\ntoken=${SCRAPE}\ncheck_interval=0\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
    const t = testApp({ host, settings });
    t.api.refresher.start(); // as a server does; its first round comes at once
    try {
      for (let i = 0; i < 100 && !t.api.refresher.current; i++) await new Promise((r) => setTimeout(r, 10));
      expect(sample(await (await scrape(t.app)).text(), 'barman_backups_total{host="default",server="pg"}')).toBe(1);
      const before = runs.length;
      for (let i = 0; i < 40; i++) {
        t.clock.advance(6_000); // past the 5 s a round stays fresh enough: each scrape asks for one
        await scrape(t.app);
      }
      expect(runs.length).toBe(before);
      host.files.set(`${home}/20261202T000000/backup.info`, 'FAILED'); // barman cron, between two rounds
      t.clock.advance(6_000);
      const text = await (await scrape(t.app)).text();
      expect(sample(text, 'barman_backups_total{host="default",server="pg"}')).toBe(2);
      expect(sample(text, 'barman_backups_failed{host="default",server="pg"}')).toBe(1);
      // What the change touched is read again (the server's answers), once.
      expect(runs.slice(before).map((a) => a.find((w) => ['list-server', 'show-server', 'status', 'list-backup'].includes(w))).sort()).toEqual(['list-backup', 'list-server', 'show-server', 'status']);
    } finally {
      await t.api.refresher.stop();
    }
  });

  it('asks no round of a refresher that is not started (an embedding app without background work), nor twice within 5 s', async () => {
    const t = setup();
    t.api.settings.update(loadSettings({ text: '[cache]\nrefresh_interval=30\n', path: '/etc/barmanapi.conf' }), ['cache.refresh_interval']);
    await scrape(t.app);
    expect(t.runs).toEqual([]);
    t.api.refresher.start();
    try {
      for (let i = 0; i < 100 && !t.api.refresher.current; i++) await new Promise((r) => setTimeout(r, 10));
      const at = t.api.refresher.current!.at;
      await scrape(t.app);
      expect(t.api.refresher.current!.at).toBe(at); // fresh enough
      t.clock.advance(5_001);
      await scrape(t.app);
      expect(t.api.refresher.current!.at).not.toBe(at);
    } finally {
      await t.api.refresher.stop();
    }
  });

  it('counts HTTP requests by route family and status, with a latency histogram', async () => {
    const t = setup();
    await t.app.request('/healthz');
    await t.app.request('/barman/list-server'); // 401
    await t.app.request('/api/v1/hosts'); // 401
    await t.app.request('/no/such/route');
    const text = await (await scrape(t.app)).text();
    expect(sample(text, 'barmanapi_http_requests_total{family="health",method="GET",code="200"}')).toBe(1);
    expect(sample(text, 'barmanapi_http_requests_total{family="barman",method="GET",code="401"}')).toBe(1);
    expect(sample(text, 'barmanapi_http_requests_total{family="v1",method="GET",code="401"}')).toBe(1);
    expect(sample(text, 'barmanapi_http_requests_total{family="other",method="GET",code="401"}')).toBe(1);
    expect(sample(text, 'barmanapi_http_request_duration_seconds_count{family="health"}')).toBe(1);
    expect(sample(text, 'barmanapi_http_request_duration_seconds_bucket{family="health",le="+Inf"}')).toBe(1);
    // Cumulative: a health probe in memory answers within 60 s, so every bucket from there holds it.
    expect(sample(text, 'barmanapi_http_request_duration_seconds_bucket{family="health",le="60"}')).toBe(1);
    expect(sample(text, 'barmanapi_http_request_duration_seconds_sum{family="health"}')).toBeLessThan(60);
    expect(text).toContain('# TYPE barmanapi_http_request_duration_seconds histogram');
  });

  it('needs the scrape credential or a login token allowed metrics; a user sees only the hosts they reach', async () => {
    const conf = `${SEED_CLIENT_CONF}${clientConfUser('watcher', ['metrics', 'fleet'])}${clientConfUser('other', ['history'])}`;
    const t = setup(conf);
    await t.api.refresher.tick();
    expect((await t.app.request('/metrics')).status).toBe(401);
    expect((await scrape(t.app, `Bearer ${SCRAPE.slice(0, -1)}x`)).status).toBe(401);
    expect((await scrape(t.app, `Bearer ${await loginToken(t.app, 'other')}`)).status).toBe(403);
    const watcher = await scrape(t.app, `Bearer ${await loginToken(t.app, 'watcher')}`);
    expect(watcher.status).toBe(200);
    expect(await watcher.text()).toContain('barman_backups_total{host="default",server="pg"}');
    expect((await t.app.request('/metrics', { method: 'POST', headers: { Authorization: `Bearer ${SCRAPE}` } })).status).toBe(405);
  });

  it('escapes label values, so any server name leaves the format whole', async () => {
    const { Exposition } = await import('../../src/metrics/exposition.js');
    const text = new Exposition().family('x', 'gauge', 'a\nb \\ c', [{ labels: { server: 'a"b\\c\nd' }, value: 1 }]).text();
    expect(text).toBe('# HELP x a\\nb \\\\ c\n# TYPE x gauge\nx{server="a\\"b\\\\c\\nd"} 1\n');
    const special = new Exposition().family('y', 'gauge', 'y', [{ value: NaN }, { labels: { a: 'b' }, value: Infinity }, { labels: { a: 'c' }, value: -Infinity }]).text();
    expect(special).toBe('# HELP y y\n# TYPE y gauge\ny NaN\ny{a="b"} +Inf\ny{a="c"} -Inf\n');
  });

  it('refuses a scrape credential shorter than 16 characters', () => {
    expect(() => loadSettings({ text: '[metrics]\ntoken=short\n', path: '/etc/barmanapi.conf' })).toThrow(/16 characters or more/);
  });

  it('counts the jobs this server started that ended, by host, command and outcome, with their durations', async () => {
    // The default host's backup succeeds, dc2's fails.
    const handler = (backupExit: number) => async (argv: string[]) => {
      for (const name of ['list-server', 'show-server', 'status', 'list-backup']) if (argv.includes(name)) return { stdout: readFileSync(join(OUTPUT, `${name}.json`), 'utf8') };
      if (argv.includes('backup')) return backupExit === 0 ? { exitCode: 0, stdout: '' } : { exitCode: backupExit, stderr: 'ERROR: backup failed' };
      return { exitCode: 1, stderr: 'unexpected' };
    };
    const t = twoHostApp(fixtureBarmanHost('3.4', handler(0)), fixtureBarmanHost('3.4', handler(1)), SEED_CLIENT_CONF);
    const memin = await loginToken(t.app);
    for (const host of ['default', 'dc2']) {
      expect((await t.app.request(`/barman/backup?server_name=pg&host=${host}&token=${memin}`)).status).toBe(202);
      await t.runner.settled();
    }
    // The end is read from the job's files once the runner has ended.
    let text = '';
    for (let i = 0; i < 100 && sample(text, 'barmanapi_job_duration_seconds_count{host="dc2",command="backup"}') === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      text = await (await t.app.request('/metrics', { headers: { Authorization: `Bearer ${memin}` } })).text();
    }
    expect(sample(text, 'barmanapi_jobs_ended_total{host="default",command="backup",status="done"}')).toBe(1);
    expect(sample(text, 'barmanapi_jobs_ended_total{host="dc2",command="backup",status="failed"}')).toBe(1);
    expect(sample(text, 'barmanapi_job_duration_seconds_count{host="dc2",command="backup"}')).toBe(1);
    expect(sample(text, 'barmanapi_jobs{state="running"}')).toBe(0);
  });
});

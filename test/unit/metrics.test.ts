import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { SEED_CLIENT_CONF, clientConfUser, loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';

const OUTPUT = join(import.meta.dirname, '..', 'fixtures', 'barman-output', '3.4');
const SCRAPE = 'a-scrape-credential-0123456789';

/** barman 3.4 answering from the fixtures, with one FAILED backup added to list-backup. */
function setup(clientConf = SEED_CLIENT_CONF) {
  const runs: string[][] = [];
  const host = fixtureBarmanHost('3.4', (argv) => {
    runs.push(argv);
    for (const name of ['list-server', 'show-server', 'status']) if (argv.includes(name)) return { stdout: readFileSync(join(OUTPUT, `${name}.json`), 'utf8') };
    if (argv.includes('list-backup')) {
      const doc = JSON.parse(readFileSync(join(OUTPUT, 'list-backup.json'), 'utf8')) as { pg: unknown[] };
      doc.pg.unshift({ backup_id: '20261128T010000', status: 'FAILED', end_time_timestamp: null, size_bytes: 0, wal_size_bytes: 0, retention_status: '-' });
      return { stdout: JSON.stringify(doc) };
    }
    return { exitCode: 1, stderr: 'unexpected' };
  });
  host.files.set('/etc/barman.d/pg.conf', '[pg]\ndescription = lab\n');
  const settings = loadSettings({ text: `[barman]\nconfigfile=/etc/barman.conf\n[cache]\nrefresh_interval=0\n[metrics]\ntoken=${SCRAPE}\n[authtoken]\nsecret=test-secret-of-enough-length\n`, path: '/etc/barmanapi.conf' });
  const t = testApp({ host, settings, clientConf });
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

  it('runs no barman process, however many scrapes come while nothing changed', async () => {
    const t = setup();
    await t.api.refresher.tick();
    const before = t.runs.length;
    for (let i = 0; i < 40; i++) expect((await scrape(t.app)).status).toBe(200);
    expect(t.runs.length).toBe(before);
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
  });

  it('refuses a scrape credential shorter than 16 characters', () => {
    expect(() => loadSettings({ text: '[metrics]\ntoken=short\n', path: '/etc/barmanapi.conf' })).toThrow(/16 characters or more/);
  });
});

/**
 * The dashboard over the app in memory (barman answering from 3.4's real outputs): the actions of its pages, each only after what it asks first. The same
 * pages in a real browser over the real barman: test/integration/dashboard.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { browser, dashboardApp, field, signIn } from '../support/dashboard.js';

describe('the dashboard in memory: pages and actions', () => {
  it('asks before deleting a backup: the first request shows what will happen, only the confirmed form acts', async () => {
    const { outer } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    const id = '20261127T233548';
    const ask = await b.get(`/dashboard/hosts/default/servers/pg/backups/${id}/delete`);
    const html = await ask.text();
    expect(html).toContain('cannot be undone');
    expect(html).toContain('name="confirm" value="yes"');
  });

  it('recovers only from the confirmation page: the first form shows what will run, and nothing runs', async () => {
    const { outer, deps } = dashboardApp();
    const host = deps.host as unknown as { calls: string[][] };
    const b = browser(outer);
    await signIn(b, '');
    const id = '20261127T233548';
    const page = await (await b.get(`/dashboard/hosts/default/servers/pg/backups/${id}`)).text();
    const form = { _csrf: field(page, '_csrf')!, destination: '/srv/restore/pg', target_action: 'promote', target_immediate: 'true', remote_host: 'db2.example' };
    const ask = await b.post(`/dashboard/hosts/default/servers/pg/backups/${id}/recover`, form);
    const html = await ask.text();
    expect(ask.status).toBe(200);
    expect(html).toContain('/srv/restore/pg');
    expect(html).toContain('on db2.example');
    expect(html).toContain('name="confirm" value="yes"');
    const recovers = () => host.calls.filter((argv) => argv.includes('recover') && !argv.includes('--help'));
    expect(recovers()).toEqual([]);
    const go = await b.post(`/dashboard/hosts/default/servers/pg/backups/${id}/recover`, { ...form, confirm: 'yes' });
    // A background job: its page is next.
    expect(go.status, await go.clone().text()).toBe(303);
    expect(go.headers.get('location')).toMatch(/^\/dashboard\/jobs\/[^/]+_recover_/);
    for (let i = 0; i < 200 && recovers().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const recover = recovers()[0];
    expect(recover).toEqual(expect.arrayContaining(['recover', 'pg', id, '/srv/restore/pg', '--target-action=promote', '--target-immediate']));
  });

  it('changes barman\'s configuration only after showing the diff', async () => {
    const { outer, deps } = dashboardApp();
    const files = (deps.host as unknown as { files: Map<string, string> }).files;
    files.set('/etc/barman.conf', '[barman]\nbarman_home = /var/lib/barman\n\n[pg]\ndescription = "old"\nconninfo = host=pg\n');
    const b = browser(outer);
    await signIn(b, '');
    const page = await (await b.get('/dashboard/config/default')).text();
    expect(page).toContain('conninfo');
    const dry = await b.post('/dashboard/config/default/change', { _csrf: field(page, '_csrf')!, section: 'pg', key: 'description', value: 'new' });
    const html = await dry.text();
    expect(dry.status, html).toBe(200);
    expect(html).toContain('-description = &quot;old&quot;');
    expect(html).toContain('+description = new');
    expect(html).toContain('Apply this change');
    expect(files.get('/etc/barman.conf')).toContain('"old"');
    const apply = await b.post('/dashboard/config/default/change', { _csrf: field(page, '_csrf')!, section: 'pg', key: 'description', value: 'new', apply: 'yes' });
    expect(apply.status).toBe(200);
    expect(files.get('/etc/barman.conf')).toContain('description = new');
  });

  it('shows the last known state of a server whose barman host stops answering, and says so', async () => {
    const { outer, outage, api } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    expect((await b.get('/dashboard/hosts/default/servers/pg')).status).toBe(200);
    // A background round has seen the server; then the host goes, and nothing cached vouches for it.
    await api.hosts.default.refresher.tick();
    api.hosts.default.reads.invalidate();
    outage.down = true;
    const res = await b.get('/dashboard/hosts/default/servers/pg');
    const html = await res.text();
    expect(res.status, html).toBe(502);
    expect(html).toContain('did not answer');
    expect(html).toContain('last state known of pg');
    expect(html).toContain('PostgreSQL 15');
  });

  it('runs check on demand and shows what barman said', async () => {
    const { outer } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    const page = await (await b.get('/dashboard/hosts/default/servers/pg')).text();
    const res = await b.post('/dashboard/hosts/default/servers/pg/check', { _csrf: field(page, '_csrf')! });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('Check of pg');
    expect(html).toContain('postgresql');
  });

  it('answers HEAD of a job log without following it, a page with a trailing slash by its own address, and only its own notices', async () => {
    const { outer } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    const head = await outer.request('/dashboard/jobs/nope/log', { method: 'HEAD', headers: { cookie: `barmanapi_session=${b.jar.get('barmanapi_session')}` } });
    expect(head.status).toBe(200);
    const slash = await b.get('/dashboard/jobs/?status=failed');
    expect(slash.status).toBe(308);
    expect(slash.headers.get('location')).toBe('/dashboard/jobs?status=failed');
    // A notice is one of the page's own: no other text, nothing of Object's.
    for (const done of ['__proto__', 'constructor', 'toString']) {
      const page = await b.get(`/dashboard/users?done=${done}&user=x`);
      expect(page.status, done).toBe(200);
      expect(await page.text()).not.toContain('notice ok');
    }
  });
});

/**
 * The dashboard over the app in memory (barman answering from 3.4's real outputs): its session cookie and where it is taken, CSRF, rules, escaping, the headers of every page. The same
 * pages in a real browser over the real barman: test/integration/dashboard.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browser, dashboardApp, field, signIn } from '../support/dashboard.js';

describe('the dashboard in memory: sessions and safety', () => {
  it('signs in with a session cookie that is HttpOnly, SameSite=Strict, scoped to the dashboard, and shows the fleet', async () => {
    const { outer } = dashboardApp();
    const b = browser(outer);
    const first = await b.get('/dashboard/');
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/dashboard/sign-in?next=%2Fdashboard%2F');
    const res = await signIn(b, '');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('barmanapi_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/dashboard/);
    expect(cookie).toMatch(/Max-Age=6000/);
    expect(cookie).not.toMatch(/Secure/);
    const fleet = await b.get('/dashboard/');
    expect(fleet.status).toBe(200);
    const html = await fleet.text();
    expect(html).toContain('<!doctype html>');
    expect(html).toContain('href="/dashboard/hosts/default/servers/pg"');
    expect(fleet.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(fleet.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(fleet.headers.get('cache-control')).toBe('no-store');
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
    expect(html).not.toMatch(/ style=/);
  });

  it('never takes the session cookie on an API route, nor a token on a dashboard page', async () => {
    const { outer, api } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    expect((await b.get('/api/v1/servers')).status).toBe(401);
    expect((await b.get('/barman/list-server')).status).toBe(401);
    const token = ((await (await api.app.request('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'memin', password: '1258' }) })).json()) as { token: string }).token;
    const withToken = await api.app.request('/dashboard/', { headers: { authorization: `Bearer ${token}` } });
    expect(withToken.status).toBe(303);
    expect(withToken.headers.get('location')).toMatch(/sign-in/);
  });

  it('refuses a form without the CSRF token, or sent from another site, and changes nothing', async () => {
    const { outer, usersFile } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    const before = await usersFile.read();
    const none = await b.post('/dashboard/users/add', { username: 'mallory', password: 'a-long-password-1' });
    expect(none.status).toBe(403);
    expect(await none.text()).toContain('CSRF');
    const users = await (await b.get('/dashboard/users')).text();
    const token = field(users, '_csrf')!;
    const cross = await b.post('/dashboard/users/add', { _csrf: token, username: 'mallory', password: 'a-long-password-1' }, { 'sec-fetch-site': 'cross-site' });
    expect(cross.status).toBe(403);
    const wrong = await b.post('/dashboard/users/add', { _csrf: token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')), username: 'mallory', password: 'a-long-password-1' });
    expect(wrong.status).toBe(403);
    expect(await usersFile.read()).toBe(before);
    const ok = await b.post('/dashboard/users/add', { _csrf: token, username: 'mallory', password: 'a-long-password-1', access: 'fleet, barman/list-backup' });
    expect(ok.status).toBe(303);
    expect(await (await b.get(ok.headers.get('location')!)).text()).toContain('User mallory added');
    expect(await usersFile.read()).toMatch(/\[mallory\][^[]*access = \['fleet', 'barman\/list-backup'\]/);
  });

  it('signs in only from its own form (the sign-in form has a token of its own cookie)', async () => {
    const { outer } = dashboardApp();
    const b = browser(outer);
    const forged = await b.post('/dashboard/sign-in', { username: 'memin', password: '1258' });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('barmanapi_session='))).toBe(false);
    const wrong = await (async () => {
      const page = await (await b.get('/dashboard/sign-in')).text();
      return b.post('/dashboard/sign-in', { _csrf: field(page, '_csrf')!, username: 'memin', password: 'nope' });
    })();
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong username or password');
  });

  it('ends the session on sign-out, and when the password changes', async () => {
    const { outer, api } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    const cookie = b.jar.get('barmanapi_session')!;
    const page = await (await b.get('/dashboard/')).text();
    const out = await b.post('/dashboard/sign-out', { _csrf: field(page, '_csrf')! });
    expect(out.headers.get('location')).toBe('/dashboard/sign-in?reason=signed-out');
    // The old cookie, kept by someone, no longer works.
    const replay = await api.app.request('/dashboard/', { headers: { cookie: `barmanapi_session=${cookie}` } });
    expect(replay.status).toBe(303);

    await signIn(b, '');
    const users = await (await b.get('/dashboard/users')).text();
    const changed = await b.post('/dashboard/users/memin/password', { _csrf: field(users, '_csrf')!, password: 'another-password-2' });
    expect(changed.status).toBe(303);
    // The next page finds the session ended: one's own password changed.
    const after = await b.get(changed.headers.get('location')!);
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/dashboard/sign-in?reason=changed');
    expect((await b.get('/dashboard/')).status).toBe(303);
  });

  it('offers a restricted user no action their rules refuse, and the server refuses the forced request', async () => {
    const { outer } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '', 'viewer');
    const html = await (await b.get('/dashboard/hosts/default/servers/pg')).text();
    expect(html).toContain('Backups');
    expect(html).not.toContain('Start a backup');
    expect(html).not.toContain('Run check now');
    expect(html).not.toContain('>Users<');
    const forced = await b.post('/dashboard/hosts/default/servers/pg/backup', { _csrf: field(html, '_csrf')! });
    expect(forced.status).toBe(403);
    expect(await forced.text()).toContain('denied');
    const users = await b.get('/dashboard/users');
    expect(users.status).toBe(403);
  });

  it('escapes what barman and users say', async () => {
    const hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
    const { outer } = dashboardApp({ serverDescription: hostile });
    const b = browser(outer);
    await signIn(b, '');
    const html = await (await b.get('/dashboard/')).text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const page = await (await b.get('/dashboard/sign-in')).text();
    expect(page).not.toContain('<img');
    const jobs = await (await b.get(`/dashboard/jobs?server=${encodeURIComponent(hostile)}`)).text();
    expect(jobs).not.toContain('<img src=x');
  });

  it('acts on no GET: a link to remove a user only asks, and a form field in the URL is not taken', async () => {
    const { outer, usersFile } = dashboardApp();
    const b = browser(outer);
    await signIn(b, '');
    const asked = await b.get('/dashboard/users/viewer/remove?confirm=yes');
    expect(asked.status).toBe(200);
    expect(await asked.text()).toContain('Remove the user');
    expect(await usersFile.read()).toContain('[viewer]');
    const page = await (await b.get('/dashboard/users')).text();
    // The token and the confirmation in the query string, not in the form: refused, nothing removed.
    const viaUrl = await b.post(`/dashboard/users/viewer/remove?_csrf=${field(page, '_csrf')}&confirm=yes`, {});
    expect(viaUrl.status).toBe(403);
    expect(await usersFile.read()).toContain('[viewer]');
    const removed = await b.post('/dashboard/users/viewer/remove', { _csrf: field(page, '_csrf')!, confirm: 'yes' });
    expect(removed.status).toBe(303);
    expect(removed.headers.get('location')).toBe('/dashboard/users?done=removed&user=viewer');
    expect(await usersFile.read()).not.toContain('[viewer]');
    expect(await (await b.get(removed.headers.get('location')!)).text()).toContain('User viewer removed');
  });

  it('keeps a user\'s sessions bounded: beyond ten, signing in ends the oldest', async () => {
    const { outer, app, deps, clock } = dashboardApp();
    const cookies: string[] = [];
    for (let i = 0; i < 12; i++) {
      clock.advance(1000);
      const other = browser(outer);
      await signIn(other, '');
      cookies.push(other.jar.get('barmanapi_session')!);
    }
    const alive = await Promise.all(cookies.map(async (cookie) => (await app.request('/dashboard/', { headers: { cookie: `barmanapi_session=${cookie}` } })).status === 200));
    expect(alive).toEqual([false, false, ...Array(10).fill(true)]);
    const dirs = await deps.storage.list('dashboard/sessions');
    expect(dirs).toHaveLength(1);
    expect(await deps.storage.list(`dashboard/sessions/${dirs[0]}`)).toHaveLength(10);
  });

  it('under a mount prefix: links, assets and the cookie path follow it', async () => {
    const { outer } = dashboardApp({ mount: '/backups' });
    const b = browser(outer);
    const first = await b.get('/backups/dashboard/');
    expect(first.headers.get('location')).toMatch(/^\/backups\/dashboard\/sign-in/);
    const res = await signIn(b, '/backups');
    expect(res.headers.get('location')).toBe('/backups/dashboard/');
    expect(res.headers.getSetCookie().find((c) => c.startsWith('barmanapi_session='))).toMatch(/Path=\/backups\/dashboard/);
    const html = await (await b.get('/backups/dashboard/')).text();
    expect(html).toMatch(/href="\/backups\/dashboard\/assets\/app\.css\?v=[0-9a-f]{16}"/);
    expect(html).toContain('href="/backups/dashboard/hosts/default/servers/pg"');
    const css = await b.get(`/backups/dashboard/assets/app.css?v=${/app\.css\?v=([0-9a-f]+)/.exec(html)![1]}`);
    expect(css.status).toBe(200);
    expect(css.headers.get('cache-control')).toContain('immutable');
  });

  it('marks the cookie Secure when a trusted proxy says the client came over https', async () => {
    const { app } = dashboardApp({ settingsText: '[authtoken]\nsecret=test-secret-of-enough-length\n[application]\ntrusted_proxies=127.0.0.1\n' });
    const viaProxy = { request: (p: string, i?: RequestInit) => app.request(p, { ...i, headers: { ...(i?.headers as Record<string, string>), 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } }) };
    const b = browser(viaProxy);
    const res = await signIn(b, '');
    expect(res.headers.getSetCookie().find((c) => c.startsWith('barmanapi_session='))).toMatch(/Secure/);
  });
});

describe('the source the runtimes share', () => {
  it('imports nothing of node:* below src/ (the dashboard\'s files are modules), so Node, Bun and an embedding app serve the same bytes', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const root = join(import.meta.dirname, '..', '..', 'src');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(name) && /(from\s+|import\s*\(\s*)['"]node:/.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});

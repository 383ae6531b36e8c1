/**
 * The dashboard in Debian's Chromium over the real barman and PostgreSQL, on the Node server and
 * on the single binary: sign in, the fleet with the test server, a backup started from its page
 * whose log streams to the end, the new backup in the table, a job cancelled, a restricted user,
 * a form without its CSRF token, and (Node) the dashboard of an app mounted below a prefix.
 * axe-core checks every page for serious accessibility violations. With BARMANAPI_SCREENSHOTS=DIR
 * the main pages are saved there (docs/dashboard holds the README's).
 */
import { appendFileSync, existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBarmanApi } from '../../adapters/node/embed.js';
import { clientConfUser } from '../support/app.js';
import { SCREENSHOTS, launchBrowser, seriousViolations } from '../support/browser.js';
import { itEnv } from '../support/it-env.js';
import { REPO, freePort, serverDir, startServerProcess, type ServerDir, type ServerProcess } from '../support/server-process.js';
import { standInBarman } from '../support/stand-in-barman.js';

const env = itEnv();
const SERVER = env.barman.server;
const VIEWER = clientConfUser('viewer', ['fleet', 'barman/list-backup', 'barman/show-backup', 'history/list', 'history/result']);

/** barman itself, except that a backup waits a minute while the marker file exists (a job to cancel). */
function heldBackBarman(marker: string): string {
  return standInBarman(env.root, 'held-back-barman', `if [ -e ${marker} ]; then case " $* " in *" backup "*) echo "held back: $*" >&2; sleep 60; exit 0 ;; esac; fi\nexec ${env.barman.command.join(' ')} "$@"`);
}

async function signIn(page: Page, base: string, user: string, password = '1258'): Promise<void> {
  await page.goto(`${base}/dashboard/`);
  await page.waitForSelector('input[name=username]');
  await page.type('input[name=username]', user);
  await page.type('input[name=password]', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
}

async function accessible(page: Page, what: string): Promise<void> {
  const violations = await seriousViolations(page);
  expect(violations, `${what}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Submits a form the page never offered, with the session's CSRF token or without it: the answer's status. */
async function forcedPost(page: Page, action: string, withToken: boolean): Promise<number> {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate(
      (to, keep) => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = to;
        const token = document.querySelector<HTMLInputElement>('input[name=_csrf]');
        if (keep && token) form.appendChild(token.cloneNode());
        document.body.appendChild(form);
        form.submit();
      },
      action,
      withToken,
    ),
  ]);
  return response!.status();
}

const runtimes: Array<[string, string[] | undefined]> = [
  ['Node server', undefined],
  ['single binary', [join(REPO, 'dist', 'barmanapi')]],
];

describe.each(runtimes)('the dashboard in Chromium, %s', (runtime, command) => {
  let dir: ServerDir;
  let server: ServerProcess;
  let browser: Browser;
  let base: string;
  let marker: string;

  beforeAll(async () => {
    marker = join(env.root, `hold-backups-${process.pid}`);
    dir = serverDir(`configfile=${env.barman.config}\ncommand=${heldBackBarman(marker)}\nremote=false\nasynccommand=['backup']`);
    appendFileSync(dir.clientConf, `\n${VIEWER}`);
    server = await startServerProcess(dir.config, { command });
    base = server.baseUrl;
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    if (existsSync(marker)) unlinkSync(marker);
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir.dir, { recursive: true, force: true });
  });

  /** A page of its own browser context: its own cookies, as another person's browser. */
  const newPage = async (width = 1280) => {
    const page = await (await browser.createBrowserContext()).newPage();
    await page.setViewport({ width, height: 900 });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(m.text());
    });
    // Refusals the tests ask for are answered 403; nothing else may fail.
    page.on('response', (r) => {
      if (r.status() >= 400 && r.status() !== 403) problems.push(`${r.status()} ${r.url()}`);
    });
    return Object.assign(page, { problems });
  };

  it('signs in, shows the test server, starts a backup whose log streams to the end, and lists the new backup', async () => {
    const page = await newPage();
    await page.goto(`${base}/dashboard/`);
    expect(page.url()).toContain('/dashboard/sign-in');
    await accessible(page, 'sign-in');
    await shot(page, 'sign-in');
    await signIn(page, base, 'memin');
    expect(new URL(page.url()).pathname).toBe('/dashboard/');
    const link = await page.$(`a[href="/dashboard/hosts/default/servers/${SERVER}"]`);
    expect(link, `the test server in the fleet: ${await page.$eval('main', (m) => m.textContent)}`).not.toBeNull();
    await accessible(page, 'fleet');

    await Promise.all([page.waitForNavigation(), link!.click()]);
    await accessible(page, 'server');
    const before = await page.$$eval('table.backups tbody th', (ths) => ths.map((th) => th.textContent ?? ''));
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/backup"] button')]);
    expect(page.url()).toMatch(/\/dashboard\/jobs\/[^/]+$/);
    // The log streams in while barman runs; the page notes the end without a reload.
    await page.waitForSelector('body[data-job-ended]', { timeout: 90_000 });
    expect(await page.$eval('body', (b) => b.getAttribute('data-job-ended'))).toBe('done');
    const log = await page.$eval('#job-log', (p) => p.textContent ?? '');
    expect(log).toMatch(/Backup completed|Starting backup/);
    expect(await page.$eval('#job-status', (s) => s.textContent)).toBe('done');
    await accessible(page, 'job');
    await shot(page, 'job');

    await page.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
    const after = await page.$$eval('table.backups tbody th', (ths) => ths.map((th) => th.textContent ?? ''));
    const added = after.filter((id) => !before.includes(id));
    expect(added).toHaveLength(1);
    await shot(page, 'server');
    await Promise.all([page.waitForNavigation(), page.click(`a[href$="/backups/${added[0]}"]`)]);
    expect(await page.$eval('h1', (h) => h.textContent)).toContain(added[0]);
    expect(await page.$('form[action$="/recover"] input[name=destination]')).not.toBeNull();
    await accessible(page, 'backup');
    await shot(page, 'backup');

    await page.goto(`${base}/dashboard/`);
    const row = await page.$eval(`a[href="/dashboard/hosts/default/servers/${SERVER}"]`, (a) => a.closest('tr')!.textContent ?? '');
    expect(row).toMatch(/\((just now|\d+ (s|min|h|d) ago)\)/); // its last backup, with its age
    await shot(page, 'fleet');
    await page.setViewport({ width: 390, height: 844 });
    await shot(page, 'fleet-phone');
    await accessible(page, 'fleet at a phone width');
    expect(page.problems).toEqual([]);
  }, 180_000);

  it('cancels a running job from its page, and shows the jobs with their filters', async () => {
    const page = await newPage();
    await signIn(page, base, 'memin');
    writeFileSync(marker, '');
    try {
      await page.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
      await Promise.all([page.waitForNavigation(), page.click('form[action$="/backup"] button')]);
      await page.waitForFunction(() => document.getElementById('job-log')?.textContent?.includes('held back'), { timeout: 30_000 });
      await Promise.all([page.waitForNavigation(), page.click('form[action$="/cancel"] button')]);
      // Already cancelled when the page came, or told by its log stream a moment later.
      await page.waitForFunction(() => document.getElementById('job-status')?.textContent === 'cancelled', { timeout: 30_000 });
      expect(await page.$('form[action$="/cancel"]')).toBeNull();
    } finally {
      unlinkSync(marker);
    }
    await page.goto(`${base}/dashboard/jobs?status=cancelled`);
    const statuses = await page.$$eval('table.jobs td .status', (els) => els.map((e) => e.textContent));
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['cancelled']));
    await accessible(page, 'jobs');
    await page.goto(`${base}/dashboard/jobs`);
    await shot(page, 'jobs');
    await page.goto(`${base}/dashboard/config`);
    expect(await page.$eval('h1', (h) => h.textContent)).toBe('Barman configuration');
    await accessible(page, 'configuration');
    await shot(page, 'config');
    await page.goto(`${base}/dashboard/users`);
    await accessible(page, 'users');

    // barman check on demand: what barman said, on a page of its own.
    await page.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/check"] button')]);
    expect(await page.$eval('h1', (h) => h.textContent)).toBe(`Check of ${SERVER}`);
    expect(await page.$eval('main', (m) => m.textContent)).toMatch(/PostgreSQL: OK|postgresql/i);
    await accessible(page, 'check result');
    // The question before a deletion.
    await page.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
    await Promise.all([page.waitForNavigation(), page.click('table.backups tbody th a')]);
    await Promise.all([page.waitForNavigation(), page.click('a.button.danger')]);
    expect(await page.$eval('main', (m) => m.textContent)).toContain('cannot be undone');
    await accessible(page, 'confirmation');
    expect(page.problems).toEqual([]);
  }, 120_000);

  it('offers a restricted user no backup button, refuses the forced request, and refuses a form without its CSRF token', async () => {
    const page = await newPage();
    await signIn(page, base, 'viewer');
    await page.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
    expect(await page.$('table.backups')).not.toBeNull();
    expect(await page.$('form[action$="/backup"]')).toBeNull();
    expect(await page.$('a[href="/dashboard/users"]')).toBeNull();
    expect(await forcedPost(page, `/dashboard/hosts/default/servers/${SERVER}/backup`, true)).toBe(403);
    expect(await page.$eval('main', (m) => m.textContent)).toContain('denied');

    const admin = await newPage();
    await signIn(admin, base, 'memin');
    await admin.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
    const jobsBefore = await (await admin.goto(`${base}/dashboard/jobs`))!.text();
    await admin.goto(`${base}/dashboard/hosts/default/servers/${SERVER}`);
    expect(await forcedPost(admin, `/dashboard/hosts/default/servers/${SERVER}/backup`, false)).toBe(403);
    expect(await admin.$eval('main', (m) => m.textContent)).toContain('CSRF');
    const jobsAfter = await (await admin.goto(`${base}/dashboard/jobs`))!.text();
    expect(jobsAfter.match(/<tr>/g)?.length).toBe(jobsBefore.match(/<tr>/g)?.length);
  }, 90_000);

  it.runIf(runtime === 'Node server')('works below a mount prefix: its links, files and cookie follow the prefix', async () => {
    const host = new Hono();
    const stopping = new AbortController();
    host.route('/ops/backups', await createBarmanApi({ config: dir.config, signal: stopping.signal }));
    const port = await freePort();
    const listener = serve({ fetch: host.fetch, port, hostname: '127.0.0.1' });
    try {
      const page = await newPage();
      const mounted = `http://127.0.0.1:${port}/ops/backups`;
      const files: string[] = [];
      page.on('requestfinished', (r) => files.push(`${r.response()?.status()} ${new URL(r.url()).pathname}`));
      await signIn(page, mounted, 'memin');
      expect(new URL(page.url()).pathname).toBe('/ops/backups/dashboard/');
      expect(await page.$(`a[href="/ops/backups/dashboard/hosts/default/servers/${SERVER}"]`)).not.toBeNull();
      const cookies = await page.cookies();
      expect(cookies.find((c) => c.name === 'barmanapi_session')).toMatchObject({ path: '/ops/backups/dashboard', httpOnly: true, sameSite: 'Strict' });
      // The stylesheet and script came from below the prefix and applied (the header is dark).
      expect(files.filter((f) => f.includes('/assets/')).every((f) => f.startsWith('200 /ops/backups/dashboard/assets/'))).toBe(true);
      expect(await page.$eval('header.top', (h) => getComputedStyle(h).backgroundColor)).toBe('rgb(23, 50, 77)');
      expect(page.problems).toEqual([]);
    } finally {
      stopping.abort();
      await new Promise((r) => listener.close(r));
    }
  }, 60_000);
});

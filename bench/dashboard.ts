/**
 * The dashboard's fleet overview at 100 servers: 10 barman hosts (a stand-in script answering
 * from barman 3.4's real JSON outputs, renamed for 10 servers each), warm (the first page made
 * the state); the page requested over HTTP with a session cookie, as a browser does, timed from
 * request to the last byte of the HTML.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, log, median, percentile, round, tempDir, timed, withServedConfig, writeConfig, type BenchOutcome, type Figure } from './lib.js';

const HOSTS = 10;
const SERVERS_PER_HOST = 10;
const RUNS = 60;

const serverName = (i: number) => `pg${String(i).padStart(2, '0')}`;

/** The stand-in: list-server names 10 servers; the per-server commands answer for the one asked. */
function writeStandIn(dir: string): string {
  const out = join(dir, 'out');
  const help = join(dir, 'help');
  mkdirSync(out);
  mkdirSync(help);
  for (const f of ['_version.txt', '_main.txt']) copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-help', '3.4', f), join(help, f));
  const fixture = (name: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-output', '3.4', `${name}.json`), 'utf8')) as Record<string, unknown>;
  const listed = fixture('list-server');
  writeFileSync(join(out, 'list-server.json'), JSON.stringify(Object.fromEntries(Array.from({ length: SERVERS_PER_HOST }, (_, i) => [serverName(i + 1), listed.pg]))));
  for (const f of ['show-server', 'status', 'list-backup']) writeFileSync(join(out, `${f}.json`), JSON.stringify({ SERVER: fixture(f).pg }));
  const script = join(dir, 'barman');
  writeFileSync(
    script,
    `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -c|-f) shift 2 ;; -q) shift ;; *) break ;; esac; done
case "$1" in
  -v) cat ${help}/_version.txt; exit 0 ;;
  --help) cat ${help}/_main.txt; exit 0 ;;
  list-server) cat ${out}/list-server.json ;;
  show-server|status|list-backup) sed "s/\\"SERVER\\"/\\"$2\\"/" ${out}/$1.json ;;
  *) echo '{}' ;;
esac
`,
  );
  chmodSync(script, 0o755);
  return script;
}

/** Signs in through the sign-in form, as a browser does: the session cookie. */
async function signIn(base: string): Promise<string> {
  const form = await fetch(`${base}/dashboard/sign-in`);
  const pre = /barmanapi_signin=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')?.[1];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!pre || !csrf) throw new Error('the sign-in page gave no form token');
  const res = await fetch(`${base}/dashboard/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `barmanapi_signin=${pre}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username: 'memin', password: '1258', next: '' }).toString(),
  });
  const session = /barmanapi_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  if (res.status !== 303 || !session) throw new Error(`sign-in answered ${res.status}`);
  return `barmanapi_session=${session}`;
}

export async function benchDashboard(): Promise<BenchOutcome> {
  const dir = tempDir('dashboard');
  const figures: Figure[] = [];
  try {
    const script = writeStandIn(dir.path);
    const sections: Record<string, Record<string, string>> = { cache: { refresh_interval: '0' } };
    for (let h = 0; h < HOSTS; h++) {
      const conf = join(dir.path, `barman-h${h}.conf`);
      writeFileSync(conf, `[barman]\nbarman_home = ${join(dir.path, `home-h${h}`)}\n`);
      for (let i = 1; i <= SERVERS_PER_HOST; i++) mkdirSync(join(dir.path, `home-h${h}`, serverName(i), 'base'), { recursive: true });
      sections[h === 0 ? 'barman' : `host:h${h}`] = { configfile: conf, command: script, remote: 'false' };
    }
    const { first, runs, bytes } = await withServedConfig(writeConfig(dir.path, sections), async (base) => {
      const cookie = await signIn(base);
      const page = async () => {
        const res = await fetch(`${base}/dashboard/`, { headers: { cookie } });
        const html = await res.text();
        if (res.status !== 200) throw new Error(`the fleet page answered ${res.status}`);
        return html;
      };
      // Cold, 300 barman runs are asked at once and each host's cap refuses most: the page is asked
      // again until every server is on it (warm: the read cache answers).
      const started = Date.now();
      let html = '';
      for (;;) {
        html = await page();
        const servers = (html.match(/href="\/dashboard\/hosts\/[^/]+\/servers\//g) ?? []).length;
        if (servers === HOSTS * SERVERS_PER_HOST) break;
        if (Date.now() - started > 120_000) throw new Error(`the fleet page shows ${servers} servers, expected ${HOSTS * SERVERS_PER_HOST}: ${html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 600)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const cold = { ms: Date.now() - started, value: html };
      const ms: number[] = [];
      for (let i = 0; i < RUNS; i++) ms.push((await timed(page)).ms);
      return { first: cold.ms, runs: ms, bytes: cold.value.length };
    });
    const p50 = median(runs);
    log(`dashboard: fleet of ${HOSTS * SERVERS_PER_HOST} servers, first ${round(first, 0)} ms, warm p50 ${round(p50, 1)} ms`);
    figures.push({ bench: 'dashboard', name: `fleet overview page, ${HOSTS * SERVERS_PER_HOST} servers on ${HOSTS} hosts, warm`, value: round(p50, 1), unit: 'ms (p50)', target: '≤ 50', met: p50 <= 50, note: `p95 ${round(percentile(runs, 95), 1)} ms over ${RUNS} requests with a session cookie; ${Math.round(bytes / 1024)} KiB of HTML; every server on the page ${round(first / 1000, 1)} s after the first request (cold)` });
    return { figures };
  } finally {
    dir.remove();
  }
}

/**
 * /metrics at the scale of a fleet: 20 barman hosts (a stand-in script that answers from barman
 * 3.4's real JSON outputs and notes every run it makes in a file) plus the default one, warm (the
 * first background round done). A scrape over HTTP, timed (each asks every host for a state
 * round, which the read cache answers); and the barman runs during 40 scrapes while nothing
 * changes, counted from the stand-in's own notes.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, log, median, percentile, round, tempDir, timed, withServedConfig, writeConfig, type BenchOutcome, type Figure } from './lib.js';

const HOSTS = 20;
const SCRAPES = 40;
const FRESH_SCRAPES = 8;
const TOKEN = 'bench-scrape-credential-0123456789';

/** The stand-in barman: appends its arguments to `runs`, then answers from barman 3.4's real outputs. */
function writeStandIn(dir: string, runs: string): string {
  const out = join(dir, 'out');
  const help = join(dir, 'help');
  mkdirSync(out);
  mkdirSync(help);
  for (const f of ['_version.txt', '_main.txt']) copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-help', '3.4', f), join(help, f));
  for (const f of ['list-server', 'show-server', 'status', 'list-backup', 'show-backup', 'check']) copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-output', '3.4', `${f}.json`), join(out, `${f}.json`));
  const script = join(dir, 'barman');
  writeFileSync(
    script,
    `#!/bin/sh
echo "$*" >> ${runs}
while [ $# -gt 0 ]; do case "$1" in -c|-f) shift 2 ;; -q) shift ;; *) break ;; esac; done
case "$1" in
  -v) cat ${help}/_version.txt; exit 0 ;;
  --help) cat ${help}/_main.txt; exit 0 ;;
  list-server) cat ${out}/list-server.json ;;
  show-server) cat ${out}/show-server.json ;;
  status) cat ${out}/status.json ;;
  list-backup) cat ${out}/list-backup.json ;;
  show-backup) cat ${out}/show-backup.json ;;
  check) cat ${out}/check.json ;;
  *) echo '{}' ;;
esac
`,
  );
  chmodSync(script, 0o755);
  return script;
}

const runCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

export async function benchMetrics(): Promise<BenchOutcome> {
  const dir = tempDir('metrics');
  const figures: Figure[] = [];
  try {
    const runs = join(dir.path, 'runs.log');
    const script = writeStandIn(dir.path, runs);
    const sections: Record<string, Record<string, string>> = {};
    for (let i = 0; i <= HOSTS; i++) {
      const conf = join(dir.path, `barman-h${i}.conf`);
      writeFileSync(conf, `[barman]\nbarman_home = ${join(dir.path, `home-h${i}`)}\n\n[pg]\ndescription = "h${i}"\n`);
      mkdirSync(join(dir.path, `home-h${i}`, 'pg', 'base'), { recursive: true });
      sections[i === 0 ? 'barman' : `host:h${i}`] = { configfile: conf, command: script, remote: 'false' };
    }
    const own = join(dir.path, 'server');
    mkdirSync(own);
    const config = writeConfig(own, { ...sections, metrics: { token: TOKEN } });
    const written = Date.now();
    const { p50, p95, freshP50, freshP95, ran, series } = await withServedConfig(config, async (base) => {
      const scrape = () => fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
      // Warm: every host's first background round has read its state.
      const deadline = Date.now() + 120_000;
      let text = '';
      while ((text.match(/^barman_metrics_update\{/gm)?.length ?? 0) < HOSTS + 1) {
        if (Date.now() > deadline) throw new Error('the background rounds did not read every host within 120 s');
        await new Promise((r) => setTimeout(r, 250));
        text = await scrape();
      }
      // Files younger than the read cache's racy window (2 s) may still be changing: a round reads
      // them from barman. And the command catalogue is read a few seconds after the start (each
      // command's --help): warm is when barman has been quiet for a second. Nothing changes from here on.
      await new Promise((r) => setTimeout(r, Math.max(0, written + 2_500 - Date.now())));
      for (let quiet = -1; quiet !== runCount(runs); ) {
        if (Date.now() > deadline) throw new Error('barman was not quiet within 120 s');
        quiet = runCount(runs);
        await new Promise((r) => setTimeout(r, 1_000));
      }
      await scrape();
      const before = runCount(runs);
      // Back to back: a round at most every 5 s, so most scrapes read the last one.
      const ms: number[] = [];
      for (let i = 0; i < SCRAPES; i++) ms.push((await timed(scrape)).ms);
      // Spaced past those 5 s: each scrape asks every host for a round (a fingerprint each).
      const fresh: number[] = [];
      for (let i = 0; i < FRESH_SCRAPES; i++) {
        await new Promise((r) => setTimeout(r, 5_100));
        fresh.push((await timed(scrape)).ms);
      }
      const ran = runCount(runs) - before;
      const last = await scrape();
      return { p50: median(ms), p95: percentile(ms, 95), freshP50: median(fresh), freshP95: percentile(fresh, 95), ran, series: last.split('\n').filter((l) => l && !l.startsWith('#')).length };
    });
    log(`metrics: ${HOSTS + 1} hosts, scrape p50 ${round(p50, 1)} ms, p95 ${round(p95, 1)} ms, with rounds p50 ${round(freshP50, 1)} ms; ${series} series; barman runs during ${SCRAPES + FRESH_SCRAPES} scrapes: ${ran}`);
    figures.push({ bench: 'metrics', name: `warm /metrics over HTTP (${HOSTS} hosts + the default one)`, value: round(p50, 1), unit: 'ms (p50)', target: '≤ 50', met: p50 <= 50, note: `${SCRAPES} scrapes back to back; p95 ${round(p95, 1)} ms; ${series} series each` });
    figures.push({ bench: 'metrics', name: 'the same, each scrape asking every host for a state round', value: round(freshP50, 1), unit: 'ms (p50)', target: '≤ 50', met: freshP50 <= 50, note: `${FRESH_SCRAPES} scrapes 5.1 s apart; p95 ${round(freshP95, 1)} ms` });
    figures.push({ bench: 'metrics', name: `barman runs during those ${SCRAPES + FRESH_SCRAPES} scrapes, nothing changed`, value: ran, unit: 'runs', target: '0', met: ran === 0, note: 'counted by the stand-in barman itself' });
  } finally {
    dir.remove();
  }
  return { figures };
}

/**
 * Benchmark entry: `npm run bench` runs every bench and prints one table of figures;
 * `node dist/bench/run.js auth|barman|history|hosts|jobs|load|metrics|reads|startup …` runs only those named. `--markdown` prints
 * the table as Markdown (for bench/RESULTS.md). Progress goes to stderr, figures to stdout.
 */
import { benchAuth } from './auth.js';
import { benchBarman } from './barman.js';
import { benchDashboard } from './dashboard.js';
import { benchHistory } from './history.js';
import { benchHosts } from './hosts.js';
import { benchJobs } from './jobs.js';
import { benchLoad } from './load.js';
import { benchMetrics } from './metrics.js';
import { benchReads } from './reads.js';
import { benchStartup } from './startup.js';
import { loadavg } from 'node:os';
import { machine, type BenchOutcome, type Figure } from './lib.js';

const BENCHES: Record<string, () => Promise<BenchOutcome>> = {
  auth: benchAuth,
  barman: benchBarman,
  dashboard: benchDashboard,
  history: benchHistory,
  hosts: benchHosts,
  jobs: benchJobs,
  load: benchLoad,
  metrics: benchMetrics,
  reads: benchReads,
  startup: benchStartup,
};

async function main(argv: string[]): Promise<number> {
  const markdown = argv.includes('--markdown');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}\n`);
    return 2;
  }
  const selected = names.length > 0 ? names : Object.keys(BENCHES);
  const figures: Figure[] = [];
  const notes: string[] = [];
  let failed = false;
  for (const name of selected) {
    process.stderr.write(`bench ${name}…\n`);
    const started = Date.now();
    const loadBefore = loadavg()[0]!;
    try {
      const outcome = await BENCHES[name]!();
      figures.push(...outcome.figures);
      if (outcome.skipped) notes.push(`${name}: skipped — ${outcome.skipped}`);
    } catch (e) {
      failed = true;
      notes.push(`${name}: FAILED — ${(e as Error).message}`);
    }
    const took = ((Date.now() - started) / 1000).toFixed(1);
    // Other work on the machine moves wall-clock figures; say how busy it was.
    notes.push(`${name}: ${took} s; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
    process.stderr.write(`bench ${name} done in ${took} s\n`);
  }
  process.stdout.write(`\nbarmanapi benchmarks — ${new Date().toISOString()} — ${machine()}\n\n`);
  process.stdout.write(markdown ? markdownTable(figures) : textTable(figures));
  for (const n of notes) process.stdout.write(`\n${n}`);
  const missed = figures.filter((f) => f.met === false);
  process.stdout.write(`\n${missed.length === 0 ? 'every target met' : `targets missed: ${missed.map((f) => `${f.bench}/${f.name}`).join('; ')}`}\n`);
  return failed ? 1 : 0;
}

function rows(figures: Figure[]): string[][] {
  return figures.map((f) => [f.bench, f.name, `${f.value} ${f.unit}`, f.target ?? '', f.met === undefined ? '' : f.met ? 'met' : 'MISSED', f.note ?? '']);
}

const HEADER = ['bench', 'figure', 'value', 'target', '', 'how'];

function textTable(figures: Figure[]): string {
  const all = [HEADER, ...rows(figures)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function markdownTable(figures: Figure[]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows(figures).map(line)].join('\n') + '\n';
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);

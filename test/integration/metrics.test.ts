/**
 * /metrics on a real server over the real barman: the scrape passes `promtool check metrics`
 * (Prometheus' own linter), carries the test server's backups, and a real Prometheus (Debian's)
 * scrapes it and answers a PromQL query for the last backup's age. That a scrape runs no barman is
 * counted exactly in test/unit/metrics.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { REPO, freePort, serverDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const env = itEnv();
const SCRAPE = 'integration-scrape-credential-0123';

describe('/metrics on a real server', () => {
  let server: ServerProcess;
  const scrape = async () => {
    const res = await fetch(`${server.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${SCRAPE}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    // A DONE backup to report (another suite may have made one already).
    const barman = (...args: string[]) => spawnSync(env.barman.command[0]!, [...env.barman.command.slice(1), '-c', env.barman.config, ...args], { encoding: 'utf8' });
    const listed = JSON.parse(barman('-f', 'json', 'list-backup', env.barman.server).stdout) as Record<string, Array<{ status: string }>>;
    if (!listed[env.barman.server]!.some((b) => b.status === 'DONE')) expect(barman('backup', '--wait', env.barman.server).status).toBe(0);
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false`, `[metrics]\ntoken=${SCRAPE}\n`);
    server = await startServerProcess(d.config);
    // The first background round starts with the server: wait for its model.
    const deadline = Date.now() + 30_000;
    while (!(await scrape()).includes('barman_last_backup{')) {
      if (Date.now() > deadline) throw new Error(`no state round in 30 s:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('passes promtool check metrics, and shows the test server with its backups', async () => {
    const text = await scrape();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // One finding, on purpose: the exporter's barman_backups_total is a gauge (retention deletes
    // backups), and its name is kept so dashboards and alerts written for the exporter still work.
    const findings = `${check.stdout}${check.stderr}`.trim().split('\n').filter(Boolean);
    expect(findings).toEqual(['barman_backups_total non-counter metrics should not have "_total" suffix']);
    const ours = spawnSync('promtool', ['check', 'metrics'], { input: text.split('\n').filter((l) => !l.includes('barman_backups_total')).join('\n'), encoding: 'utf8' });
    expect(`${ours.stdout}${ours.stderr}`.trim()).toBe('');
    expect(ours.status).toBe(0);
    expect(text).toMatch(new RegExp(`^barman_backups_total\\{host="default",server="${env.barman.server}"\\} \\d+$`, 'm'));
    expect(text).toMatch(new RegExp(`^barmanapi_host_up\\{host="default"\\} 1$`, 'm'));
  });

  it('ships alert rules that promtool checks, whose tests fire each alert, on metrics this server exports', () => {
    const dir = join(REPO, 'config', 'prometheus');
    const check = spawnSync('promtool', ['check', 'rules', 'barmanapi-alerts.yml'], { cwd: dir, encoding: 'utf8' });
    expect(check.stdout).toContain('SUCCESS: 10 rules found');
    expect(check.status).toBe(0);
    const test = spawnSync('promtool', ['test', 'rules', 'barmanapi-alerts.test.yml'], { cwd: dir, encoding: 'utf8' });
    expect(`${test.stdout}${test.stderr}`).toContain('SUCCESS');
    expect(test.status).toBe(0);
    // Every alert of the file is tested.
    const rules = readFileSync(join(dir, 'barmanapi-alerts.yml'), 'utf8');
    const tests = readFileSync(join(dir, 'barmanapi-alerts.test.yml'), 'utf8');
    for (const [, name] of rules.matchAll(/alert: (\w+)/g)) expect(tests, name).toContain(`alertname: ${name}`);
    // The metrics the rules read are ones /metrics exports (`up` is Prometheus' own).
    const source = readFileSync(join(REPO, 'src', 'metrics', 'routes.ts'), 'utf8');
    const used = new Set([...rules.matchAll(/expr: (.*)/g)].flatMap(([, expr]) => [...expr!.matchAll(/\b(barman(?:api)?_[a-z_]+)\b/g)].map((m) => m[1]!)));
    for (const name of used) expect(source, name).toContain(`'${name}'`);
  });

  it('is scraped by a real Prometheus, which answers a PromQL query for the last backup age', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'barmanapi-prometheus-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: barmanapi\n    authorization:\n      credentials: ${SCRAPE}\n    static_configs:\n      - targets: ['${new URL(server.baseUrl).host}']\n`,
    );
    let prometheus: ChildProcess | null = null;
    let log = '';
    try {
      prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      prometheus.stdout!.on('data', (d) => (log += d));
      prometheus.stderr!.on('data', (d) => (log += d));
      const query = `barmanapi_last_backup_age_seconds{server="${env.barman.server}"}`;
      const deadline = Date.now() + 60_000;
      let result: Array<{ metric: Record<string, string>; value: [number, string] }> = [];
      while (result.length === 0) {
        if (Date.now() > deadline) throw new Error(`Prometheus gave no ${query} in 60 s:\n${log.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 500));
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`).catch(() => null);
        if (res?.ok) result = ((await res.json()) as { data: { result: typeof result } }).data.result;
      }
      expect(result[0]!.metric).toMatchObject({ job: 'barmanapi', host: 'default', server: env.barman.server });
      const age = Number(result[0]!.value[1]);
      const scraped = Number(/^barmanapi_last_backup_age_seconds\{host="default",server="[^"]+"\} (\S+)$/m.exec(await scrape())![1]);
      expect(age).toBeGreaterThan(0);
      expect(Math.abs(age - scraped)).toBeLessThan(30);

      // The shipped Grafana dashboard: every panel's query, with its variables as "All" and
      // Grafana's interval, is PromQL this Prometheus evaluates without error on these metrics.
      const dashboard = JSON.parse(readFileSync(join(REPO, 'config', 'grafana', 'barmanapi-dashboard.json'), 'utf8')) as { uid: string; panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }> };
      const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
      expect(queries.length).toBeGreaterThanOrEqual(15);
      const source = readFileSync(join(REPO, 'src', 'metrics', 'routes.ts'), 'utf8');
      const answers = new Map<string, number>();
      for (const { title, expr } of queries) {
        for (const [, name] of expr.matchAll(/\b(barman(?:api)?_[a-z_]+?)(?:_bucket)?\b/g)) expect(source, `${title}: ${name}`).toContain(`'${name}'`);
        const promql = expr.replaceAll('$host', '.*').replaceAll('$server', '.*').replaceAll('$__rate_interval', '1m');
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
        const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
        expect(body, `${title}: ${promql}`).toMatchObject({ status: 'success' });
        answers.set(title, body.data!.result.length);
      }
      // The test server's own panels have its series.
      for (const title of ['Last backup age', 'Backups', 'Newest backup size', 'barman hosts up', 'Jobs running and queued']) expect(answers.get(title), title).toBeGreaterThan(0);
    } finally {
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((r) => prometheus!.once('exit', r));
        prometheus.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

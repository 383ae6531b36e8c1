/**
 * /metrics on a real server over the real barman: the scrape passes `promtool check metrics`
 * (Prometheus' own linter), and carries the test server's backups. That a scrape runs no barman
 * is counted exactly in test/unit/metrics.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { serverDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

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
    const d = serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false`, `[metrics]\ntoken=${SCRAPE}\n`);
    server = await startServerProcess(d.config);
    // The first background round starts with the server: wait for its model.
    const deadline = Date.now() + 30_000;
    while (!(await scrape()).includes('barman_metrics_update{')) {
      if (Date.now() > deadline) throw new Error(`no state round in 30 s:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);

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
});

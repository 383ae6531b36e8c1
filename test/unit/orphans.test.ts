import { describe, expect, it } from 'vitest';
import { createScriptedHost } from '../../adapters/memory/index.js';
import { orphanedJobs } from '../../src/jobs/orphans.js';
import { loadSettings } from '../../src/settings/load.js';
import { holdSettings } from '../../src/settings/holder.js';
import type { JobRecord } from '../../src/jobs/model.js';

const settings = holdSettings(loadSettings({ text: '[barman]\nconfigfile=/etc/barman.conf\ncommand=/usr/bin/barman\n', path: '/etc/barmanapi.conf' }));
const job = (command: string, servers: string[]): JobRecord => ({
  id: '20261202101500_backup_abcd1234', command, argv: [], json: true, user: 'memin', servers, host: 'local', created_at: '2026-12-02T10:15:00Z',
});

describe("stopping barman's own process once its runner is gone", () => {
  it('asks barman terminate-process SERVER backup where this barman has the command', async () => {
    const host = createScriptedHost(() => ({ exitCode: 0 }));
    const orphans = orphanedJobs(host, settings, async (name) => name === 'terminate-process');
    expect(await orphans.terminate(job('backup', ['pg']))).toBe(true);
    expect(host.calls).toEqual([['/usr/bin/barman', '-c', '/etc/barman.conf', 'terminate-process', 'pg', 'backup']]);
  });

  it('says no, running nothing, on a barman without it (before 3.14), for global tasks and for several servers', async () => {
    const host = createScriptedHost(() => ({ exitCode: 0 }));
    const without = orphanedJobs(host, settings, async () => false);
    expect(await without.terminate(job('backup', ['pg']))).toBe(false);
    const withIt = orphanedJobs(host, settings, async () => true);
    expect(await withIt.terminate(job('cron', []))).toBe(false);
    expect(await withIt.terminate(job('backup', ['pg', 'other']))).toBe(false);
    expect(host.calls).toEqual([]);
  });

  it('reports a refusal of barman as not stopped', async () => {
    const host = createScriptedHost(() => ({ exitCode: 1, stderr: 'no such process' }));
    expect(await orphanedJobs(host, settings, async () => true).terminate(job('backup', ['pg']))).toBe(false);
  });
});

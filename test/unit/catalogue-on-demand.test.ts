import { describe, expect, it } from 'vitest';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { basic, loginToken, testApp } from '../support/app.js';
import { loadSettings } from '../../src/settings/load.js';

const settings = () => loadSettings({ text: '[barman]\nconfigfile=/etc/barman.conf\n[authtoken]\nsecret=test-secret-of-enough-length\n', path: '/etc/barmanapi.conf' });

function setup() {
  const host = fixtureBarmanHost('3.4', (argv) => ({ exitCode: 0, stdout: JSON.stringify({ ran: argv }) }));
  const t = testApp({ host, settings: settings() });
  const helpRuns = () => host.calls.filter((argv) => argv.includes('--help'));
  return { ...t, host, helpRuns };
}

describe('the command catalogue on demand', () => {
  it("runs a first command on a fresh store with barman's version, its main help and that command's help only", async () => {
    const { app, host, helpRuns, deps } = setup();
    const token = await loginToken(app);
    const res = await app.request(`/barman/show-server?server_name=pg&token=${token}`);
    expect(res.status).toBe(200);
    expect(helpRuns().map((argv) => argv.slice(3).join(' ')).sort()).toEqual(['--help', 'show-server --help']);
    expect(host.counts.version).toBe(1);
    expect(await deps.storage.readText('config/catalogue-3.4.0.json')).toBeNull(); // the whole catalogue is not built for it
    // The same command again, and another: one more --help for the new one only.
    await app.request(`/barman/show-server?server_name=pg&token=${token}`);
    await app.request(`/barman/check?server_name=pg&token=${token}`);
    expect(helpRuns()).toHaveLength(3);
    expect(host.counts.version).toBe(1);
  });

  it('answers 404 for an unknown command with the names from the main help, asking nothing more', async () => {
    const { app, helpRuns } = setup();
    const token = await loginToken(app);
    const res = await app.request(`/barman/frobnicate?token=${token}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { commands: string[] };
    expect(body.commands).toEqual(expect.arrayContaining(['backup', 'list-backups', 'list-backup', 'recover']));
    expect(helpRuns().map((argv) => argv.slice(3).join(' ')).sort()).toEqual(['--help', 'frobnicate --help']);
    // Once the main help is known, a word it does not list runs nothing at all.
    expect((await app.request(`/barman/another-word?token=${token}`)).status).toBe(404);
    expect(helpRuns()).toHaveLength(2);
  });

  it('applies a deny rule on any name of a command, the alias asked for included, before the catalogue exists', async () => {
    const { app } = setup();
    const admin = await loginToken(app);
    const add = await app.request(`/auth/user/add?username=ops&password=long-enough-pw&access=barman&deny=barman/list-backups&token=${admin}`);
    expect(add.status).toBe(200);
    const res = await app.request('/auth/token', { headers: basic('ops', 'long-enough-pw') });
    const { token } = (await res.json()) as { token: string };
    const denied = await app.request(`/barman/list-backup?server_name=pg&token=${token}`);
    expect(denied.status).toBe(403);
    const allowed = await app.request(`/barman/show-server?server_name=pg&token=${token}`);
    expect(allowed.status).toBe(200);
  });

  it.each(['2.19', '3.4'] as const)("describes a command asked for by its alias as the whole catalogue does (barman %s)", async (version) => {
    for (const name of ['list-backup', 'show-server', 'verify', 'backup']) {
      const onDemand = testApp({ host: fixtureBarmanHost(version), settings: settings() });
      const whole = testApp({ host: fixtureBarmanHost(version), settings: settings() });
      const [a, b] = [await loginToken(onDemand.app), await loginToken(whole.app)];
      await whole.app.request(`/barman/help?token=${b}`);
      const first = await (await onDemand.app.request(`/barman/${name}/help?token=${a}`)).json();
      const second = await (await whole.app.request(`/barman/${name}/help?token=${b}`)).json();
      expect(first, name).toEqual(second);
    }
  });

  it('serves /barman/help from the whole catalogue, built once', async () => {
    const { app, helpRuns } = setup();
    const token = await loginToken(app);
    await app.request(`/barman/check?server_name=pg&token=${token}`);
    const help = await app.request(`/barman/help?token=${token}`);
    expect(((await help.json()) as { list: unknown[] }).list.length).toBeGreaterThan(25);
    const after = helpRuns().length;
    await app.request(`/barman/status?server_name=pg&token=${token}`);
    expect(helpRuns()).toHaveLength(after);
  });
});

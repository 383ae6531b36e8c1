/**
 * Two real barman hosts from one server: the default one on this machine (barman's `pg`) and one
 * over SSH with its own configuration (`pg2`); beside them, hosts that are down (a closed port)
 * or whose host key has changed, which must slow or fail nothing of the others.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { freePort, serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const env = itEnv() as ReturnType<typeof itEnv> & { barman2: { config: string; server: string } };
const MD5_1258 = '26588e932c7ccfa1df309280702fe1b5';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = { status_code: number; message: string; list: any; hosts?: any; host?: string; type?: string; ticket?: string; data?: unknown; main_file?: string };

const FLEET_TIMEOUT = 8;
let server: ServerProcess;
let stalled: Server;
let memin: string;
let dc2ops: string;

beforeAll(async () => {
  const closed = await freePort(); // nothing listens there
  // A TCP peer that takes the connection and never says a word: a host that stalls.
  stalled = createServer(() => undefined).listen(0, '127.0.0.1');
  await once(stalled, 'listening');
  const stalledPort = (stalled.address() as AddressInfo).port;
  const d = serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false\nasynccommand=['backup']`);
  // One [application] section (serverDir's has the store): a second one would be refused.
  writeFileSync(d.config, readFileSync(d.config, 'utf8').replace('[application]\n', `[application]\nfleet_timeout=${FLEET_TIMEOUT}\n`));
  const wrongKey = join(d.dir, 'wrong_known_hosts');
  // A host key that is not the sshd's: as after a change of the host's key.
  writeFileSync(wrongKey, `[127.0.0.1]:${env.ssh.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHg5dMdUOM3fnJkhGhDhUwq06ynN0GkfJLr8vyWcSh5D\n`);
  const ssh = (known: string, port = env.ssh.port) =>
    `remote=true\nremotessh=ssh -p ${port} -i ${env.ssh.identity} -o IdentitiesOnly=yes -o BatchMode=yes ${env.ssh.user}@127.0.0.1\nknown_hosts=${known}\n`;
  writeFileSync(
    d.config,
    `${readFileSync(d.config, 'utf8')}
[host:dc2]
configfile=${env.barman2.config}
asynccommand=['cron']
${ssh(env.ssh.knownHosts)}
[host:dead]
configfile=${env.barman2.config}
timeout=5
${ssh(env.ssh.knownHosts, closed)}
[host:rekeyed]
configfile=${env.barman2.config}
${ssh(wrongKey)}
[host:stalled]
configfile=${env.barman2.config}
${ssh(env.ssh.knownHosts, stalledPort)}
`,
  );
  writeFileSync(d.clientConf, `[memin]\npassword = ${MD5_1258}\naccess = []\ndeny = []\n\n[dc2ops]\npassword = ${MD5_1258}\naccess = ['barman', 'fleet', 'history', 'config/barman']\ndeny = []\nhosts = ['dc2']\n`);
  server = await startServerProcess(d.config);
  memin = await token(server.baseUrl);
  dc2ops = await token(server.baseUrl, 'dc2ops');
}, 60_000);

afterAll(async () => {
  await server?.stop();
  stalled?.close();
});

async function call(path: string, t = memin): Promise<{ status: number; body: Body; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${server.baseUrl}${path}${path.includes('?') ? '&' : '?'}token=${t}`);
  return { status: res.status, body: (await res.json()) as Body, ms: performance.now() - started };
}

describe('two real barman hosts at once', () => {
  it('runs each request on its own host: barman here and barman over SSH, side by side', async () => {
    const [here, there] = await Promise.all([call('/barman/list-server?format=json'), call('/barman/list-server?format=json&host=dc2')]);
    expect(here.status).toBe(200);
    expect(Object.keys(here.body.data as object)).toEqual([env.barman.server]);
    expect(there.status).toBe(200);
    expect(there.body.host).toBe('dc2');
    expect(Object.keys(there.body.data as object)).toEqual([env.barman2.server]);
  });

  it('shows every server of every host in /fleet; hosts down, refused or stalled are marked so within the bound', async () => {
    // The first view reads every host cold (barman's help, then its state); what a host did not
    // answer in time is there for the next one.
    expect((await call('/fleet')).status).toBe(200);
    const fleet = await call('/fleet');
    expect(fleet.status).toBe(200);
    expect(fleet.ms).toBeLessThan(FLEET_TIMEOUT * 1000 + 3000);
    expect(fleet.body.list.map((s: { host: string; name: string }) => `${s.host}/${s.name}`)).toEqual([`default/${env.barman.server}`, `dc2/${env.barman2.server}`]);
    const byName = Object.fromEntries(fleet.body.hosts.map((h: { name: string }) => [h.name, h]));
    expect(byName.default).toMatchObject({ reachable: true });
    expect(byName.dc2).toMatchObject({ reachable: true });
    expect(byName.dead).toMatchObject({ reachable: false, reason: expect.stringMatching(/ECONNREFUSED|connect/i) });
    expect(byName.rekeyed).toMatchObject({ reachable: false, reason: expect.stringMatching(/host key/i) });
    expect(byName.stalled.reachable).not.toBe(true);
    expect(byName.stalled.reason).toBeTruthy();
  }, 60_000);

  it('fails requests for a host known down at once, while the others answer as before', async () => {
    await call('/barman/list-server?host=dead&fresh=1');
    const down = await call('/barman/list-server?host=dead&fresh=1');
    expect(down.status).toBe(503);
    expect(down.body.type).toBe('BarmanHostDown');
    expect(down.ms).toBeLessThan(1000);
    const rekeyed = await call('/barman/list-server?host=rekeyed&fresh=1');
    expect([502, 503]).toContain(rekeyed.status);
    expect(rekeyed.body.message).toMatch(/host key/i);
    expect((await call('/barman/list-server?fresh=1')).status).toBe(200);
    expect((await call('/barman/list-server?host=dc2&fresh=1')).status).toBe(200);
  });

  it('keeps a user limited to one host there, for barman, config, fleet and history', async () => {
    expect((await call('/barman/list-server', dc2ops)).status).toBe(404);
    expect((await call('/config/barman', dc2ops)).status).toBe(404);
    expect((await call('/config/barman?host=dc2', dc2ops)).body.main_file).toBe(env.barman2.config);
    const fleet = await call('/fleet', dc2ops);
    expect(fleet.body.hosts.map((h: { name: string }) => h.name)).toEqual(['dc2']);
  });

  it('runs an async job on its host through the detached runner, over SSH', async () => {
    const started = await call('/barman/cron?host=dc2', dc2ops);
    expect(started.status).toBe(202);
    const res = await fetch(`${server.baseUrl}/history/result?ticket=${encodeURIComponent(started.body.ticket!)}&follow=1&token=${dc2ops}`);
    const text = await res.text();
    const last = JSON.parse([...text.matchAll(/event: result\ndata: (.*)/g)].at(-1)![1]!) as { status: string; host: string };
    expect(last).toMatchObject({ status: 'done', host: 'dc2' });
    const mine = await call('/history/list', dc2ops);
    expect(mine.body.list.map((j: { host?: string }) => j.host)).toContain('dc2');
    // memin reaches every host and sees it too; the job's host is in its row.
    expect((await call('/history/list')).body.list.some((j: { host?: string; command: string }) => j.host === 'dc2' && j.command === 'cron')).toBe(true);
  }, 60_000);
});

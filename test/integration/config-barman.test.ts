import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedClock, createMemoryLogger, createMemoryStorage, createMemoryTextFile } from '../../adapters/memory/index.js';
import { createLocalHost } from '../../adapters/node/local-host.js';
import { createSshHost } from '../../adapters/node/ssh-host.js';
import { createApi } from '../../src/app.js';
import { parseRemoteSsh } from '../../src/barman/remote-ssh.js';
import type { AppDeps } from '../../src/context.js';
import type { BarmanHost } from '../../src/ports.js';
import { loadSettings } from '../../src/settings/load.js';
import { loginToken, SEED_CLIENT_CONF } from '../support/app.js';
import { itEnv, type ItEnv } from '../support/it-env.js';

type Body = { status_code: number; message: string; list: any; data?: any; [k: string]: any };

let env: ItEnv;
let original: string;
const hosts: BarmanHost[] = [];
/** One store per host kind, so barman's command catalogue is discovered once per kind, not per test. */
const stores = { local: createMemoryStorage(), ssh: createMemoryStorage() };

beforeAll(() => {
  // Fails (never skips) with the command that brings the environment up when env.json is missing.
  env = itEnv();
  original = readFileSync(env.barman.serverConfig, 'utf8');
});

afterAll(async () => {
  // Whatever happened above, barman's file is as it was.
  if (env && readFileSync(env.barman.serverConfig, 'utf8') !== original) writeFileSync(env.barman.serverConfig, original);
  for (const h of hosts) await h.close();
});

/** The app as the server builds it, on a real host, with the /config routes mounted. */
async function realApp(kind: 'local' | 'ssh', configFile = env.barman.config) {
  const settings = loadSettings({
    text: kind === 'local'
      ? `[barman]\nconfigfile=${configFile}\ncommand=${env.barman.command.join(' ')}\n[authtoken]\nsecret=integration-secret-of-enough-length\n`
      : `[barman]\nconfigfile=${configFile}\ncommand=/usr/bin/barman\nremote=true\nremotessh=${env.ssh.remotessh}\n[authtoken]\nsecret=integration-secret-of-enough-length\n`,
    path: '/etc/barmanapi.conf',
  });
  const host = kind === 'local'
    ? createLocalHost({ defaultTimeoutMs: 60_000 })
    : createSshHost({ target: parseRemoteSsh(env.ssh.remotessh), knownHostsFile: env.ssh.knownHosts });
  hosts.push(host);
  const clock = createFixedClock(new Date());
  const deps: AppDeps = {
    settings,
    storage: stores[kind],
    host,
    clock,
    logger: createMemoryLogger(),
    usersFile: createMemoryTextFile('/tmp/client.conf', SEED_CLIENT_CONF),
    passwordIterations: 1000,
  };
  const api = createApi(deps);
  const token = await loginToken(api.app);
  const call = async (path: string) => {
    const res = await api.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`);
    return { res, body: (await res.json()) as Body };
  };
  return { call, deps };
}

/** `diff -u` of two texts: the changed lines only, without headers. */
function changedLines(before: string, after: string): string[] {
  const dir = mkdtempSync('/tmp/barmanapi-config-diff-');
  try {
    writeFileSync(join(dir, 'before'), before);
    writeFileSync(join(dir, 'after'), after);
    let out = '';
    try {
      execFileSync('diff', ['-u', join(dir, 'before'), join(dir, 'after')], { encoding: 'utf8' });
    } catch (err) {
      out = (err as { stdout: string }).stdout;
    }
    return out.split('\n').filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+) /.test(l));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(['local', 'ssh'] as const)('barman configuration through a %s host', (kind) => {
  it('changes pg.description; barman show-server reports it; diff shows exactly that line; owner and mode kept', async () => {
    const { call } = await realApp(kind);
    const before = statSync(env.barman.serverConfig);
    const description = `Changed over ${kind} ${Date.now()}`;

    const change = await call(`/config/barman/change?pg.description=${encodeURIComponent(description)}`);
    expect(change.res.status, JSON.stringify(change.body)).toBe(200);
    expect(change.body).toMatchObject({ file: env.barman.serverConfig, written: true, write_mode: 'replaced' });

    const after = readFileSync(env.barman.serverConfig, 'utf8');
    expect(changedLines(original, after)).toEqual([
      `-${original.split('\n').find((l) => l.startsWith('description'))}`,
      `+description = ${description}`,
    ]);
    const st = statSync(env.barman.serverConfig);
    expect([st.uid, st.gid, st.mode]).toEqual([before.uid, before.gid, before.mode]);

    const show = await call('/barman/show-server?server_name=pg');
    expect(show.res.status, JSON.stringify(show.body).slice(0, 500)).toBe(200);
    expect(JSON.stringify(show.body.data ?? show.body.list)).toContain(description);

    // Restore through the API as well: the quotes are part of the original value.
    const restoreValue = original.split('\n').find((l) => l.startsWith('description'))!.replace(/^description\s*=\s*/, '');
    const restore = await call(`/config/barman/change?pg.description=${encodeURIComponent(restoreValue)}`);
    expect(restore.res.status).toBe(200);
    expect(readFileSync(env.barman.serverConfig, 'utf8')).toBe(original);
  });

  it('reads the whole configuration, main file and conf.d', async () => {
    const { call } = await realApp(kind);
    const { res, body } = await call('/config/barman');
    expect(res.status).toBe(200);
    expect(body.files.map((f: { path: string }) => f.path)).toEqual([env.barman.config, env.barman.serverConfig]);
    expect(body.sections.pg).toMatchObject({ kind: 'server', file: env.barman.serverConfig });
    expect(body.sections.barman.options.barman_home).toBe(env.barman.home);
  });

  it('lists the installed barman 3.4 options from its man page, with descriptions and scopes', async () => {
    const { call, deps } = await realApp(kind);
    const { res, body } = await call('/config/barman/help');
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ source: 'man', barman_version: env.barman.version });
    expect(body.man_page).toMatch(/barman\.5(\.gz)?$/);
    expect(body.list.length).toBeGreaterThan(75);
    const byName = new Map(body.list.map((o: { name: string }) => [o.name, o]));
    expect(byName.get('conninfo')).toMatchObject({ scopes: ['server'] });
    expect(byName.get('barman_home')).toMatchObject({ scopes: ['global'] });
    expect(byName.get('backup_method')).toMatchObject({ type: 'enum', scopes: ['global', 'server'] });
    for (const o of body.list) if ((o as { documented: boolean }).documented) expect((o as { description: string }).description.length).toBeGreaterThan(10);
    expect(await deps.storage.readText(`config/barman-options-${env.barman.version}.json`)).toContain('"source":"man"');
  });
});

describe('a config file the API cannot write', () => {
  let dir: string;
  beforeAll(() => {
    // Owned by root, in a folder owned by root: the SSH user (barman) may read but not write.
    dir = mkdtempSync('/tmp/barmanapi-readonly-');
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'barman.conf'), '[barman]\nbarman_home = /tmp/x\nlog_level = INFO\n', { mode: 0o644 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 500 naming the file and the permission, and leaves it whole', async () => {
    const { call } = await realApp('ssh', join(dir, 'barman.conf'));
    const { res, body } = await call('/config/barman/change?barman.log_level=DEBUG');
    expect(res.status).toBe(500);
    expect(body.type).toBe('ConfigNotWritable');
    expect(body.message).toContain(join(dir, 'barman.conf'));
    expect(body.message).toContain('permission denied');
    expect(readFileSync(join(dir, 'barman.conf'), 'utf8')).toBe('[barman]\nbarman_home = /tmp/x\nlog_level = INFO\n');
    expect(execFileSync('ls', ['-A', dir], { encoding: 'utf8' }).trim()).toBe('barman.conf');
  });
});

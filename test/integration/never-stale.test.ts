/**
 * The read cache is never stale: changes made outside the API (by hand, by barman itself:
 * backups, deletes, keep, cron), locally and over SSH, interleaved with reads through it, and
 * every read after a change reflects the change. Most changes are cheap edits of barman's
 * configuration; a few are real backups. Counted, and the count is asserted.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync, chownSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedClock, createMemoryLogger, createMemoryStorage, createMemoryTextFile } from '../../adapters/memory/index.js';
import { createLocalHost } from '../../adapters/node/local-host.js';
import { createSshHost } from '../../adapters/node/ssh-host.js';
import { createApi } from '../../src/app.js';
import { parseRemoteSsh } from '../../src/barman/remote-ssh.js';
import { readBarmanConfig } from '../../src/barman-config/reader.js';
import { barmanFiles } from '../../src/state/barman-files.js';
import type { BarmanHost } from '../../src/ports.js';
import { loadSettings } from '../../src/settings/load.js';
import { loginToken, SEED_CLIENT_CONF } from '../support/app.js';
import { itEnv } from '../support/it-env.js';

type Body = { status_code: number; data?: any; list?: string[]; cache?: { hit: boolean; age_ms: number } };

const env = itEnv();
const original = readFileSync(env.barman.serverConfig, 'utf8');
const owner = statSync(env.barman.serverConfig);
const hosts: BarmanHost[] = [];
/** Interleavings checked, over both hosts; the issue asks for at least 200. */
const tally = { interleavings: 0, stale: 0, hits: 0 };

/** barman run directly as its user, outside the API. */
function barman(...args: string[]): string {
  return execFileSync(env.barman.command[0]!, [...env.barman.command.slice(1), '-c', env.barman.config, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function directJson(...args: string[]): unknown {
  return JSON.parse(barman('-f', 'json', ...args));
}

/** pg.conf with a description (and optional extra lines), written in place or replaced, as editors do. */
function writeServerConfig(description: string, how: 'in-place' | 'rename', extra = ''): void {
  const text = original.replace(/^description = .*$/m, `description = "${description}"`) + extra;
  if (how === 'in-place') {
    writeFileSync(env.barman.serverConfig, text);
  } else {
    const temp = `${env.barman.serverConfig}.edit`;
    writeFileSync(temp, text);
    chownSync(temp, owner.uid, owner.gid);
    renameSync(temp, env.barman.serverConfig);
  }
}

/** Wait until no barman process of this kind runs (cron leaves them in the background). */
async function quiet(kind: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      execFileSync('pgrep', ['-f', `barman .*${kind}`], { stdio: 'ignore' });
    } catch {
      return; // pgrep exits 1: none
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`barman ${kind} still running after 30 s`);
}

/** The newest DONE backup: one still waiting for its WAL files (another suite's) cannot be kept. */
function latestBackupId(): string | null {
  const list = directJson('list-backup', 'pg') as { pg: Array<{ backup_id: string; status: string }> };
  return list.pg.find((b) => b.status === 'DONE')?.backup_id ?? null;
}

beforeAll(() => {
  // A backup to keep and release; more are made below.
  if (latestBackupId() === null) barman('backup', '--wait', 'pg');
}, 120_000);

afterAll(async () => {
  writeFileSync(env.barman.serverConfig, original);
  for (const h of hosts) await h.close();
  // The bar: at least 200 interleavings over both hosts, none stale.
  expect(tally.stale).toBe(0);
  expect(tally.interleavings).toBeGreaterThanOrEqual(200);
});

describe("the files the fingerprint stamps are barman's own", () => {
  it("match the folders barman's show-server reports for every server", async () => {
    const host = createLocalHost();
    hosts.push(host);
    const files = barmanFiles(await readBarmanConfig(host, env.barman.config));
    const shown = directJson('show-server', 'all') as Record<string, { backup_directory: string; basebackups_directory: string; wals_directory: string }>;
    const names = Object.keys(shown).filter((k) => !k.startsWith('_'));
    expect(names.length).toBeGreaterThan(0);
    expect([...files.servers.keys()].sort()).toEqual(names.sort());
    for (const name of names) {
      const { backup_directory: backup, basebackups_directory: base, wals_directory: wals } = shown[name]!;
      const roots = files.servers.get(name)!.roots;
      expect(roots[0]).toBe(backup);
      expect(base === `${backup}/base` ? roots.includes(base) === false : roots.includes(base)).toBe(true);
      expect(roots).toContain(`${wals}/xlog.db`);
    }
  });
});

describe.each(['local', 'ssh'] as const)('never stale: barman on the %s host', (kind) => {
  let read: (path: string) => Promise<Body>;
  let api: ReturnType<typeof createApi>;

  beforeAll(async () => {
    const settings = loadSettings({
      text: kind === 'local'
        ? `[barman]\nconfigfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\ntimeout=120\n[authtoken]\nsecret=integration-secret-of-enough-length\n`
        : `[barman]\nconfigfile=${env.barman.config}\ncommand=/usr/bin/barman\nremote=true\nremotessh=${env.ssh.remotessh}\ntimeout=120\n[authtoken]\nsecret=integration-secret-of-enough-length\n`,
      path: '/etc/barmanapi.conf',
    });
    const host = kind === 'local' ? createLocalHost({ defaultTimeoutMs: 120_000 }) : createSshHost({ target: parseRemoteSsh(env.ssh.remotessh), knownHostsFile: env.ssh.knownHosts });
    hosts.push(host);
    api = createApi({
      settings,
      storage: createMemoryStorage(),
      host,
      clock: createFixedClock(new Date()),
      logger: createMemoryLogger(),
      usersFile: createMemoryTextFile('/tmp/client.conf', SEED_CLIENT_CONF),
      passwordIterations: 1000,
    });
    const token = await loginToken(api.app);
    read = async (path) => {
      const res = await api.app.request(`${path}${path.includes('?') ? '&' : '?'}token=${token}`);
      const body = (await res.json()) as Body;
      if (body.cache?.hit) tally.hits += 1;
      return body;
    };
    await read('/barman/help');
  }, 120_000);

  /** One interleaving: a change outside the API, then a read through it that must show it. */
  const check = (fresh: boolean) => {
    tally.interleavings += 1;
    if (!fresh) tally.stale += 1;
    return fresh;
  };

  it('sees every edit of the configuration by hand, two of the same size within one second included', async () => {
    for (let i = 0; i < 80; i++) {
      const token = `edit-${kind}-${String(i).padStart(3, '0')}`; // every one the same length
      writeServerConfig(`first ${token}`, i % 2 === 0 ? 'in-place' : 'rename');
      if (i % 5 === 0) writeServerConfig(`again ${token}`, 'in-place'); // a second change in the same second, same size
      const want = i % 5 === 0 ? `again ${token}` : `first ${token}`;
      const body = await read('/barman/list-server');
      expect(check(body.data?.pg?.description === want), JSON.stringify(body)).toBe(true);
    }
  }, 240_000);

  it('serves unchanged reads from memory once the files have settled, and sees a same-size edit right after', async () => {
    for (let i = 0; i < 4; i++) {
      const settled = `settled-${kind}-${i}`;
      writeServerConfig(settled, 'in-place');
      await new Promise((r) => setTimeout(r, 2_200)); // past the racy window: the answer is kept
      expect((await read('/barman/list-server')).data?.pg?.description).toBe(settled);
      const hit = await read('/barman/list-server');
      expect(hit.cache?.hit).toBe(true);
      expect(hit.data?.pg?.description).toBe(settled);
      const next = `settlex-${kind}-${i}`; // same size, within the second of the kept answer's read
      writeServerConfig(next, 'in-place');
      const after = await read('/barman/list-server');
      expect(check(after.data?.pg?.description === next && after.cache?.hit === false), JSON.stringify(after)).toBe(true);
    }
  }, 120_000);

  it('sees keep and its release, cron, new backups and deletes made by barman itself', async () => {
    // With a retention policy, list-backup's console output shows each backup's keep status (barman 3.4's JSON does not).
    writeServerConfig('retention', 'rename', 'retention_policy = REDUNDANCY 100\n');
    const id = latestBackupId()!;
    const kept = (body: Body) => (body.list ?? []).some((line) => line.includes(id) && line.includes('KEEP:FULL'));
    for (let i = 0; i < 10; i++) {
      barman('keep', ...(i % 2 === 0 ? ['--target', 'full'] : ['--release']), 'pg', id);
      const body = await read('/barman/list-backup?server_name=pg&format=console');
      expect(check(kept(body) === (i % 2 === 0)), JSON.stringify(body)).toBe(true);
    }
    const sameAsBarman = async () => {
      const body = await read('/barman/list-backup?server_name=pg');
      return JSON.stringify(body.data) === JSON.stringify(directJson('list-backup', 'pg'));
    };
    for (let i = 0; i < 3; i++) {
      barman('switch-wal', '--force', 'pg');
      barman('cron');
      // cron starts archive-wal in the background: compare once it has changed what it changes.
      await quiet('archive-wal');
      expect(check(await sameAsBarman())).toBe(true);
    }
    for (let i = 0; i < 2; i++) {
      barman('backup', '--wait', 'pg');
      expect(check(await sameAsBarman())).toBe(true);
    }
    for (let i = 0; i < 2; i++) {
      const list = directJson('list-backup', 'pg') as { pg: Array<{ backup_id: string }> };
      barman('delete', 'pg', list.pg[list.pg.length - 1]!.backup_id);
      expect(check(await sameAsBarman())).toBe(true);
    }
  }, 300_000);

  it("builds the state model from the live barman: servers, backups as barman lists them, a live check", async () => {
    const all = await api.state.servers();
    expect(all.model?.map((s) => s.name)).toContain('pg');
    const pg = all.model!.find((s) => s.name === 'pg')!;
    const direct = (directJson('list-backup', 'pg') as { pg: Array<{ backup_id: string; status: string; size_bytes: number }> }).pg;
    expect(pg.backups?.map((b) => [b.id, b.status, b.sizeBytes])).toEqual(direct.map((b) => [b.backup_id, b.status, b.size_bytes]));
    expect(pg.lastBackup?.id).toBe(direct.find((b) => b.status === 'DONE')?.backup_id);
    expect(pg.lastBackupAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(pg.pgVersion).toMatch(/^15\./);
    expect(pg.backupMethod).toBe('postgres');
    expect(pg.streamingArchiver).toBe(true);
    expect(pg.errors).toEqual([]);
    const probe = await api.state.check('pg');
    expect(probe.model?.checks.length).toBeGreaterThan(5);
    expect(probe.model?.checks.find((c) => c.name === 'postgresql')?.ok).toBe(true);
  }, 120_000);
});

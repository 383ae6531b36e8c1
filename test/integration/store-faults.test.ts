import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFsStorage } from '../../adapters/node/fs-storage.js';
import { createInProcessJobRunner } from '../../adapters/memory/index.js';
import { loadSettings } from '../../src/settings/load.js';
import type { AppDeps } from '../../src/context.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { loginToken, testApp } from '../support/app.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A store whose `active/` folder refuses writes even to root: the immutable flag. */
function readOnlyActive(): string {
  const store = mkdtempSync(join(tmpdir(), 'barmanapi-store-'));
  for (const sub of ['active', 'archive', 'config', 'garbage', 'logs']) mkdirSync(join(store, sub));
  execFileSync('chattr', ['+i', join(store, 'active')]);
  cleanups.push(() => {
    execFileSync('chattr', ['-i', join(store, 'active')]);
    rmSync(store, { recursive: true, force: true });
  });
  return store;
}

describe('a store that cannot be written', () => {
  it('answers an async command with 503 naming the folder and the fix, and leaves nothing behind', async () => {
    const store = readOnlyActive();
    const host = fixtureBarmanHost('3.4');
    const settings = loadSettings({ text: "[barman]\nasynccommand=['backup']\n[authtoken]\nsecret=test-secret-of-enough-length\n", path: '/etc/barmanapi.conf' });
    const holder: { deps?: AppDeps } = {};
    const runner = createInProcessJobRunner({ get storage() { return holder.deps!.storage; }, host, clock: { now: () => new Date() }, maxOutputBytes: 1 << 20 } as never);
    const t = testApp({ host, settings, storage: createFsStorage(store), runner });
    holder.deps = t.deps;
    const token = await loginToken(t.app);
    const res = await t.app.request(`/barman/backup?server_name=pg&token=${token}`);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await res.json()) as { type: string; message: string; folder: string };
    expect(body.type).toBe('StoreNotWritable');
    expect(body.folder).toBe(join(store, 'active'));
    expect(body.message).toMatch(/not writable .*chattr -i/);
    expect(readdirSync(join(store, 'active'))).toEqual([]);
    // Reads keep working.
    expect((await t.app.request(`/history/list?token=${token}`)).status).toBe(200);
  });
});

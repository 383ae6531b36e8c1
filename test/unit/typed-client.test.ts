/**
 * A typed client made from the document (openapi-typescript's types, openapi-fetch's client), as
 * the README shows, used against the app; and docs/openapi.json and those types kept current.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import createClient from 'openapi-fetch';
import type { paths } from '../support/barmanapi-v1.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { testApp } from '../support/app.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUTPUT = join(ROOT, 'test', 'fixtures', 'barman-output', '3.4');

function app() {
  const host = fixtureBarmanHost('3.4', (argv) => {
    const command = ['list-server', 'show-server', 'status', 'list-backup', 'show-backup'].find((c) => argv.includes(c) || argv.includes(`${c}s`));
    return command ? { stdout: readFileSync(join(OUTPUT, `${command}.json`), 'utf8') } : { exitCode: 1, stderr: 'unexpected' };
  });
  return testApp({ host }).app;
}

describe('a typed client generated from the document', () => {
  it('logs in, lists the servers and reads a backup, with typed parameters and answers', async () => {
    const api = app();
    const client = createClient<paths>({ baseUrl: 'http://barmanapi.test', fetch: (req: Request) => Promise.resolve(api.request(req)) });
    const login = await client.POST('/api/v1/auth/token', { body: { username: 'memin', password: '1258' } });
    expect(login.response.status).toBe(200);
    const token: string = login.data!.token;
    const headers = { authorization: `Bearer ${token}` };
    const servers = await client.GET('/api/v1/servers', { headers });
    const names: string[] = servers.data!.items.map((s) => s.name);
    expect(names).toEqual(['pg']);
    const backups = await client.GET('/api/v1/hosts/{host}/servers/{server}/backups', { params: { path: { host: 'default', server: 'pg' } }, headers });
    const id = backups.data!.items[0]!.id;
    const backup = await client.GET('/api/v1/hosts/{host}/servers/{server}/backups/{backup}', { params: { path: { host: 'default', server: 'pg', backup: id } }, headers });
    const wal: string | null = backup.data!.begin_wal;
    expect(wal).toBe('000000010000000000000006');
    const jobs = await client.GET('/api/v1/jobs', { params: { query: { limit: 10, status: 'failed' } }, headers });
    expect(jobs.data).toEqual({ items: [], next_cursor: null });
    const missing = await client.GET('/api/v1/hosts/{host}', { params: { path: { host: 'elsewhere' } }, headers });
    expect(missing.error).toMatchObject({ status: 404, parameter: 'host' });
  });

  it('is made from docs/openapi.json, which is the document the API serves (npm run openapi writes both)', async () => {
    const served = await (await app().request('/api/v1/openapi.json')).json();
    expect(JSON.parse(readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8'))).toEqual(served);
    const dir = mkdtempSync(join(tmpdir(), 'barmanapi-types-'));
    try {
      writeFileSync(join(dir, 'openapi.json'), JSON.stringify(served));
      const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'openapi-typescript'), [join(dir, 'openapi.json'), '-o', join(dir, 'types.d.ts')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(dir, 'types.d.ts'), 'utf8')).toBe(readFileSync(join(ROOT, 'test', 'support', 'barmanapi-v1.d.ts'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

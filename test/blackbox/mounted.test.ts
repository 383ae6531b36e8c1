import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createBarmanApi, createFileLogger, loadSettings } from '../../adapters/node/embed.js';
import { createMemoryLogger, createMemoryStorage, createMemoryTextFile } from '../../adapters/memory/index.js';
import { fixtureBarmanHost } from '../support/fake-barman.js';
import { defineBlackboxSuite, endpoint, type BlackboxTarget } from './suite.js';
import { addUsers, createWorkspace, NODE_CLI, readEnv, ROOT } from './support.js';

const quietLogger = (store: string) =>
  createFileLogger({ dir: join(store, 'logs'), format: 'plain', maxBytes: 0, backupCount: 0, debug: false, stderr: false });

function listen(app: Hono): Promise<{ server: ServerType; baseUrl: string }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ server, baseUrl: `http://127.0.0.1:${info.port}` }),
    );
  });
}

/**
 * A host Hono service that mounts the API twice, as the README shows: barman local at /backups
 * and barman over SSH at /ssh/backups, both loaded from config files like `runserver`.
 */
async function startMounted(): Promise<BlackboxTarget> {
  const ws = createWorkspace(readEnv(), 'mounted');
  await addUsers(NODE_CLI, ws.localConfig);
  const stopping = new AbortController();
  const host = new Hono();
  host.get('/', (c) => c.text('the host service'));
  host.route('/backups', await createBarmanApi({ config: ws.localConfig, logger: quietLogger(ws.localStore), signal: stopping.signal }));
  host.route('/ssh/backups', await createBarmanApi({ config: ws.sshConfig, logger: quietLogger(ws.sshStore), signal: stopping.signal }));
  const { server, baseUrl } = await listen(host);
  return {
    local: endpoint(baseUrl, '/backups'),
    ssh: endpoint(baseUrl, '/ssh/backups'),
    cli: NODE_CLI,
    localConfig: ws.localConfig,
    localStore: ws.localStore,
    async stop() {
      stopping.abort();
      await new Promise((r) => server.close(r));
      ws.remove();
    },
  };
}

defineBlackboxSuite('Mounted: host Hono app, app.route("/backups", await createBarmanApi({ config }))', startMounted, { serverProcess: false });

describe('createBarmanApi options', () => {
  it('turns our auth off only when asked, and then takes the user from the host service', async () => {
    const host = fixtureBarmanHost('3.4', (args) => ({ stdout: args.includes('list-servers') ? '{"pg": {"description": "x"}}' : '{}' }));
    const settings = loadSettings({ text: '[barman]\ncommand=/usr/bin/barman\n', path: null });
    const app = new Hono();
    // The host's own middleware decides who the caller is.
    app.use('/ops/*', async (c, next) => {
      if (c.req.header('x-host-session') !== 'ok') return c.json({ error: 'host login required' }, 401);
      await next();
    });
    const common = { settings, storage: createMemoryStorage(), host, logger: createMemoryLogger(), usersFile: createMemoryTextFile('/client.conf', null), runner: null };
    app.route(
      '/ops',
      await createBarmanApi({
        ...common,
        auth: { external: (c) => (c.req.header('x-host-user') ? { username: c.req.header('x-host-user')!, access: ['barman/list-server'], deny: [] } : null) },
      }),
    );
    app.route('/builtin', await createBarmanApi(common));

    const asHost = { 'x-host-session': 'ok', 'x-host-user': 'alice' };
    const res = await app.request('/ops/barman/list-server', { headers: asHost });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status_code: 200, data: { pg: { description: 'x' } } });
    // The host's user rules still apply, relative to /ops.
    const denied = await app.request('/ops/barman/check', { headers: asHost });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ status_code: 403, type: 'Forbidden', message: 'access to barman/check is denied for user alice' });
    // No user from the host: 401 in our envelope.
    const anonymous = await app.request('/ops/barman/list-server', { headers: { 'x-host-session': 'ok' } });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ status_code: 401, type: 'Unauthorized' });
    // Without the option, our own token check stays on.
    const builtin = await app.request('/builtin/barman/list-server', { headers: asHost });
    expect(builtin.status).toBe(401);
  });

  it('refuses an auth option that is neither builtin nor external', async () => {
    const settings = loadSettings({ text: null, path: null });
    await expect(
      createBarmanApi({ settings, storage: createMemoryStorage(), host: fixtureBarmanHost('3.4'), logger: createMemoryLogger(), auth: { external: 'yes' } as never }),
    ).rejects.toThrow(/auth must be/);
  });

  it('is what the package root exports, next to ./core and ./memory', () => {
    // Resolved through package.json "exports" from the built dist/, as an installed package would be.
    const script = `
      const root = await import('barmanapi');
      const core = await import('barmanapi/core');
      const memory = await import('barmanapi/memory');
      console.log(JSON.stringify({
        root: ['createBarmanApi', 'createApp', 'createApi', 'loadSettings', 'readSettings', 'createNodeDeps'].filter((k) => typeof root[k] === 'function'),
        core: ['createApp', 'createApi', 'loadSettings'].filter((k) => typeof core[k] === 'function'),
        coreHasNoNodeAdapters: core.createBarmanApi === undefined,
        memory: typeof memory.createMemoryStorage,
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      root: ['createBarmanApi', 'createApp', 'createApi', 'loadSettings', 'readSettings', 'createNodeDeps'],
      core: ['createApp', 'createApi', 'loadSettings'],
      coreHasNoNodeAdapters: true,
      memory: 'function',
    });
  });
});

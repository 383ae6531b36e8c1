import { describe, expect, it } from 'vitest';
import { sign } from 'hono/jwt';
import { basic, loginToken, testApp } from '../support/app.js';

type Body = { status_code: number; message: string; list?: unknown; type?: string; token?: string };
const json = async (res: Response) => (await res.json()) as Body;

describe('/auth/token', () => {
  it('logs the seed user in with its MD5 password and upgrades the stored hash', async () => {
    const { app, usersFile } = testApp();
    const res = await app.request('/auth/token', { headers: basic('memin', '1258') });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.token).toMatch(/^eyJ/);
    expect(usersFile.text).toContain('password = pbkdf2-sha256$1000$');
    expect(usersFile.text).not.toContain('26588e932c7ccfa1df309280702fe1b5');
    // The upgraded hash still accepts the same password.
    expect((await app.request('/auth/token', { headers: basic('memin', '1258') })).status).toBe(200);
  });

  it('keeps comments and other users byte for byte when upgrading one hash', async () => {
    const conf = '# users\n[alice]\npassword = 0cc175b9c0f1b6a831c399e269772661\naccess = [\'history\']\ndeny = []\n\n; second\n[memin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = []\n';
    const { app, usersFile } = testApp({ clientConf: conf });
    expect((await app.request('/auth/token', { headers: basic('memin', '1258') })).status).toBe(200);
    const before = conf.split('\n');
    const after = usersFile.text!.split('\n');
    expect(after.length).toBe(before.length);
    const changed = after.map((l, i) => (l === before[i] ? null : i)).filter((i) => i !== null);
    expect(changed).toEqual([8]);
  });

  it.each([
    ['wrong password', basic('memin', 'nope')],
    ['unknown user', basic('nobody', '1258')],
    ['malformed Basic header', { Authorization: 'Basic %%%notbase64' }],
    ['Basic without a colon', { Authorization: `Basic ${Buffer.from('memin').toString('base64')}` }],
    ['no credentials', {} as Record<string, string>],
  ])('refuses %s with 401 in the legacy envelope', async (_name, headers) => {
    const { app, usersFile } = testApp();
    const before = usersFile.text;
    const res = await app.request('/auth/token', { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
    const body = await json(res);
    expect(body).toMatchObject({ status_code: 401, type: 'Unauthorized' });
    expect(body.message.length).toBeGreaterThan(5);
    expect(usersFile.text).toBe(before);
  });

  it('slows repeated failures for a user with 429 and Retry-After, then lets the right password in after the wait', async () => {
    const { app, clock } = testApp();
    for (let i = 0; i < 5; i++) expect((await app.request('/auth/token', { headers: basic('memin', `bad${i}`) })).status).toBe(401);
    const blocked = await app.request('/auth/token', { headers: basic('memin', '1258') });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    clock.advance(2000);
    expect((await app.request('/auth/token', { headers: basic('memin', '1258') })).status).toBe(200);
  });

  it('does not accept a token for issuing a new token (Basic only)', async () => {
    const { app } = testApp();
    const token = await loginToken(app);
    const res = await app.request('/auth/token', { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
  });
});

describe('tokens on other routes', () => {
  it('accepts ?token=, Bearer and the seed\'s "Barman" scheme', async () => {
    const { app } = testApp();
    const token = await loginToken(app);
    expect((await app.request(`/auth/user?token=${token}`)).status).toBe(200);
    expect((await app.request('/auth/user', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await app.request('/auth/user', { headers: { Authorization: `Barman ${token}` } })).status).toBe(200);
  });

  it('tells a missing token from an invalid and an expired one', async () => {
    const { app, clock } = testApp();
    const token = await loginToken(app);
    const missing = await json(await app.request('/history/list'));
    expect(missing.message).toMatch(/missing token/);
    const invalid = await json(await app.request('/history/list?token=abc.def.ghi'));
    expect(invalid.message).toMatch(/invalid token/);
    clock.advance(6001 * 1000);
    const expired = await app.request(`/auth/user?token=${token}`);
    expect(expired.status).toBe(401);
    expect((await json(expired)).message).toMatch(/expired/);
  });

  it('refuses a token signed with another secret, an alg:none token and one without the expected claims', async () => {
    const { app } = testApp();
    const now = Math.floor(new Date('2026-11-15T10:00:00Z').getTime() / 1000);
    const foreign = await sign({ pur: 'login', sub: 'memin', fpr: 'x', exp: now + 60 }, 'another-secret-entirely', 'HS256');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ pur: 'login', sub: 'memin', exp: now + 60 })}.`;
    const noneSigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ pur: 'login', sub: 'memin', exp: now + 60 })}.abc`;
    const noClaims = await sign({ exp: now + 60 }, 'test-secret-of-enough-length', 'HS256');
    const ticketLike = await sign({ pur: 'ticket', job: 'j1', exp: now + 60 }, 'test-secret-of-enough-length', 'HS256');
    for (const t of [foreign, none, noneSigned, noClaims, ticketLike]) {
      const res = await app.request(`/auth/user?token=${t}`);
      expect(res.status, t).toBe(401);
    }
  });

  it('revokes issued tokens when the password or the rules change', async () => {
    const { app } = testApp();
    const token = await loginToken(app);
    const add = await app.request(`/auth/user/add?token=${token}&username=bob&password=bob-password&access=['history']`);
    expect(add.status).toBe(200);
    const bobToken = await loginToken(app, 'bob', 'bob-password');
    expect((await app.request(`/auth/user?token=${bobToken}`)).status).toBe(200);
    expect((await app.request(`/auth/user/change?token=${token}&username=bob&deny=['history/list']`)).status).toBe(200);
    const res = await app.request(`/auth/user?token=${bobToken}`);
    expect(res.status).toBe(401);
    expect((await json(res)).message).toMatch(/revoked/);
  });
});

describe('/auth user administration', () => {
  it('shows the current user, lists users and never returns a password or hash', async () => {
    const { app } = testApp();
    const token = await loginToken(app);
    const me = await json(await app.request(`/auth/user?token=${token}`));
    expect(me).toEqual({ status_code: 200, message: '', list: { username: 'memin', access: [], deny: [] } });
    const list = await app.request('/auth/user/list', { headers: basic('memin', '1258') });
    const text = await list.text();
    expect(JSON.parse(text).list).toEqual([{ username: 'memin', access: [], deny: [] }]);
    expect(text).not.toMatch(/password|pbkdf2|26588e/);
  });

  it('adds a user from a JSON body with Python-list and comma-list rules, stored in the seed format', async () => {
    const { app, usersFile } = testApp();
    const res = await app.request('/auth/user/add', {
      method: 'POST',
      headers: { ...basic('memin', '1258'), 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ops', password: 'long-enough-pw', access: "['barman','auth/user/list']", deny: 'barman/delete, barman/recover' }),
    });
    expect(res.status).toBe(200);
    expect((await json(res)).list).toEqual({ username: 'ops', access: ['barman', 'auth/user/list'], deny: ['barman/delete', 'barman/recover'] });
    expect(usersFile.text).toContain("[ops]\npassword = pbkdf2-sha256$");
    expect(usersFile.text).toContain("access = ['barman', 'auth/user/list']\ndeny = ['barman/delete', 'barman/recover']\n");
    expect((await app.request('/auth/token', { headers: basic('ops', 'long-enough-pw') })).status).toBe(200);
  });

  it.each([
    ['a closing bracket', 'bad]name'],
    ['an opening bracket', '[bad'],
    ['a newline', 'bad\nname'],
    ['an equals sign', 'a=b'],
    ['a slash', 'a/b'],
    ['dot-dot', '..'],
    ['300 characters', 'a'.repeat(300)],
    ['the DEFAULT section name', 'DEFAULT'],
  ])('rejects a username with %s and changes nothing', async (_what, username) => {
    const { app, usersFile } = testApp();
    await loginToken(app); // the first login upgrades the seed hash; compare from here on
    const before = usersFile.text;
    const res = await app.request('/auth/user/add', {
      method: 'POST',
      headers: { ...basic('memin', '1258'), 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'long-enough-pw' }),
    });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.message).toMatch(/username/);
    expect(usersFile.text).toBe(before);
  });

  it('answers 409 for an existing user, 404 for changing an unknown one, 400 for a short password or unknown parameter', async () => {
    const { app, usersFile } = testApp();
    const h = basic('memin', '1258');
    await app.request('/auth/token', { headers: h }); // upgrade first, so later reads compare equal
    const before = usersFile.text;
    expect((await app.request('/auth/user/add?username=memin&password=long-enough-pw', { headers: h })).status).toBe(409);
    expect((await app.request('/auth/user/change?username=ghost&password=long-enough-pw', { headers: h })).status).toBe(404);
    const short = await app.request('/auth/user/add?username=x1&password=short', { headers: h });
    expect(short.status).toBe(400);
    expect((await json(short)).message).toMatch(/password is too short/);
    const unknown = await app.request('/auth/user/add?username=x1&password=long-enough-pw&role=admin', { headers: h });
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).message).toMatch(/unknown parameter role; allowed: username, password, access, deny/);
    expect((await app.request('/auth/user/add?username=x2', { headers: h })).status).toBe(400);
    expect(usersFile.text).toBe(before);
  });

  it('applies access and deny rules to /auth routes but always lets a user log in and read their own rules', async () => {
    const conf = `[memin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = []\n[hist]\npassword = 0cc175b9c0f1b6a831c399e269772661\naccess = ['history']\ndeny = []\n`;
    const { app } = testApp({ clientConf: conf });
    const token = await loginToken(app, 'hist', 'a');
    expect((await app.request(`/auth/user?token=${token}`)).status).toBe(200);
    const denied = await app.request(`/auth/user/list?token=${token}`);
    expect(denied.status).toBe(403);
    expect((await json(denied)).message).toMatch(/auth\/user\/list/);
    expect((await app.request('/auth/user/add?username=zz&password=long-enough-pw', { headers: basic('hist', 'a') })).status).toBe(403);
  });

  it('removes a user, whose tokens then stop working', async () => {
    const { app } = testApp();
    const h = basic('memin', '1258');
    await app.request('/auth/user/add?username=temp&password=long-enough-pw', { headers: h });
    const t = await loginToken(app, 'temp', 'long-enough-pw');
    expect((await app.request('/auth/user/remove?username=temp', { headers: h })).status).toBe(200);
    expect((await app.request(`/auth/user?token=${t}`)).status).toBe(401);
  });
});

describe('errors', () => {
  it('answers 404 in the envelope for an unknown route and never shows a stack trace', async () => {
    const { app } = testApp();
    const token = await loginToken(app);
    const res = await app.request(`/nothing/here?token=${token}`);
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body).toMatchObject({ status_code: 404, type: 'NotFound' });
  });

  it('keeps tokens out of the request log', async () => {
    const { app, logger } = testApp();
    const token = await loginToken(app);
    await app.request(`/auth/user?token=${token}`);
    const logged = JSON.stringify(logger.records);
    expect(logged).toContain('/auth/user?token=***');
    expect(logged).not.toContain(token);
  });
});

describe('login throttling under parallel guesses', () => {
  it('lets at most the free attempts through when many wrong passwords arrive at once', async () => {
    const { app } = testApp();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => app.request('/auth/token', { headers: basic('memin', `guess${i}`) })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(35);
  });

  it('does not count successful logins from one address against it', async () => {
    const { app } = testApp();
    for (let i = 0; i < 20; i++) expect((await app.request('/auth/token', { headers: basic('memin', '1258') })).status).toBe(200);
  });
});

describe('access rules when mounted', () => {
  it('match paths relative to a mount point, also one with a path parameter', async () => {
    const { Hono } = await import('hono');
    const conf = `[memin]\npassword = 26588e932c7ccfa1df309280702fe1b5\naccess = []\ndeny = ['auth/user/list', 'history']\n`;
    for (const mount of ['/backups', '/:tenant/backups', '/a/:b/c']) {
      const { app } = testApp({ clientConf: conf });
      const host = new Hono();
      host.route(mount, app);
      const prefix = mount.replace(/:[a-z]+/g, 't1');
      const res = await host.request(`${prefix}/auth/token`, { headers: basic('memin', '1258') });
      expect(res.status, mount).toBe(200);
      const { token } = (await res.json()) as { token: string };
      expect((await host.request(`${prefix}/auth/user?token=${token}`)).status, mount).toBe(200);
      expect((await host.request(`${prefix}/auth/user/list?token=${token}`)).status, mount).toBe(403);
      expect((await host.request(`${prefix}/history/list?token=${token}`)).status, mount).toBe(403);
      const missing = await host.request(`${prefix}/nothing?token=${token}`);
      expect(missing.status, mount).toBe(404);
      expect(((await missing.json()) as { type: string }).type).toBe('NotFound');
    }
  });
});

describe('secrets in the request log', () => {
  it('masks secret parameters however they are percent-encoded, and connection passwords in values', async () => {
    const { app, logger } = testApp();
    const token = await loginToken(app);
    await app.request(`/auth/user/add?token=${token}&username=enc1&passwor%64=hunter2hunter2`);
    await app.request(`/config/barman/change?token=${token}&pg.conninfo=${encodeURIComponent('host=db password=S3cretPW')}&pg.x=${encodeURIComponent('postgresql://u:pw123@h/db')}`);
    const logged = JSON.stringify(logger.records);
    for (const secret of ['hunter2hunter2', 'S3cretPW', 'pw123', token]) expect(logged).not.toContain(secret);
    expect(logged).toContain('username=enc1');
  });
});

describe('tokens and users already checked', () => {
  it('still refuses a token seen before once it has expired', async () => {
    const { app, clock } = testApp();
    const token = await loginToken(app);
    expect((await app.request(`/auth/user?token=${token}`)).status).toBe(200);
    clock.advance(6001 * 1000);
    const expired = await app.request(`/auth/user?token=${token}`);
    expect(expired.status).toBe(401);
    expect((await json(expired)).message).toMatch(/expired/);
  });

  it('reads a users file changed by someone else within a second, also for a token in steady use', async () => {
    const { app, clock, usersFile } = testApp();
    const token = await loginToken(app);
    for (let i = 0; i < 3; i++) expect((await app.request(`/auth/user?token=${token}`)).status).toBe(200);
    // Another process (the CLI, another server) changes memin's rules: the fingerprint changes.
    await usersFile.write(usersFile.text!.replace('deny = []', "deny = ['history']"));
    clock.advance(1000);
    const revoked = await app.request(`/auth/user?token=${token}`);
    expect(revoked.status).toBe(401);
    expect((await json(revoked)).message).toMatch(/revoked/);
    // And a user removed by hand no longer exists for their tokens.
    const fresh = await loginToken(app);
    expect((await app.request(`/auth/user?token=${fresh}`)).status).toBe(200);
    await usersFile.write('');
    clock.advance(1000);
    const gone = await app.request(`/auth/user?token=${fresh}`);
    expect(gone.status).toBe(401);
    expect((await json(gone)).message).toMatch(/no longer exists/);
  });
});

describe('the Authorization header on the Node server', () => {
  it('reads exactly what c.req.header reads, however the header is written', async () => {
    const { serve } = await import('@hono/node-server');
    const { Hono } = await import('hono');
    const { connect } = await import('node:net');
    const { requestHeader } = await import('../../src/http/authenticate.js');
    const app = new Hono().all('*', (c) => {
      const before = requestHeader(c, 'authorization') ?? null;
      const hono = c.req.header('authorization') ?? null;
      const after = requestHeader(c, 'authorization') ?? null; // the Headers are built by now
      return c.json({ before, hono, after });
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    const port = (server.address() as { port: number }).port;
    const ask = (headers: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => sock.end(`GET /x HTTP/1.1\r\nHost: h\r\n${headers}Connection: close\r\n\r\n`));
        let text = '';
        sock.on('data', (b: Buffer) => (text += b.toString('latin1')));
        sock.on('end', () => resolve(text.slice(text.indexOf('\r\n\r\n') + 4)));
        sock.on('error', reject);
      });
    try {
      for (const headers of [
        '',
        'Authorization: Bearer abc\r\n',
        'authorization:   Bearer  abc \t \r\n',
        'AUTHORIZATION:\tBasic Zm9vOmJhcg==\r\n',
        'Authorization: one\r\nX-Other: 1\r\nauthorization: two\r\n',
        'Authorization:\r\n',
        'X-Latin: caf\u00e9\r\nAuthorization: Bearer \u00e9t\u00e9\r\n',
      ]) {
        const got = JSON.parse(await ask(headers)) as { before: string | null; hono: string | null; after: string | null };
        expect(got.before, JSON.stringify(headers)).toBe(got.hono);
        expect(got.after, JSON.stringify(headers)).toBe(got.hono);
      }
    } finally {
      server.close();
    }
  });

  it('falls back to c.req.header for a request that is not the Node server\'s own', async () => {
    const { Hono } = await import('hono');
    const { requestHeader } = await import('../../src/http/authenticate.js');
    const app = new Hono().all('*', (c) => c.text(requestHeader(c, 'authorization') ?? '-'));
    // As an embedding service might do: a new Request, with the Node request's env passed along.
    const incoming = { rawHeaders: ['Authorization', 'Bearer from-the-socket'] };
    const res = await app.fetch(new Request('http://h/x', { headers: { Authorization: 'Bearer rewritten' } }), { incoming });
    expect(await res.text()).toBe('Bearer rewritten');
  });
});

describe('the request log query', () => {
  it('masks the same parameters and reads the same pairs as URLSearchParams does', async () => {
    const { redactQuery } = await import('../../src/util/redact.js');
    const reference = (query: string) =>
      [...new URLSearchParams(query)]
        .map(([n, v]) => `${encodeURIComponent(n)}=${/token|ticket|passw|secret|passphrase|key|conninfo/i.test(n) || /passw|secret|:\/\/[^/@\s]*:[^/@\s]*@/i.test(v) ? '***' : encodeURIComponent(v)}`)
        .join('&');
    for (const query of [
      '',
      '?',
      '??a=b',
      'token=eyJa.b.c',
      'a=1&&b=2&',
      'flag&x=&=y',
      'a=b=c',
      'server=pg&token=x&password=y',
      'passwor%64=x&name=a%20b',
      'q=a+b&token=%zz',
      "x=(it's)*!~",
      'conninfo=host%3Ddb',
      'v=postgresql://u:pw@h/db',
      'caf\u00e9=1',
      'a=%E2%82%AC&b=%FF',
    ]) {
      expect(redactQuery(query), JSON.stringify(query)).toBe(reference(query));
    }
  });
});

describe('routing', () => {
  it('answers from the routes as they are when asked, never from a stale cache', async () => {
    const { TrieRouter } = await import('hono/router/trie-router');
    const { CachingRouter } = await import('../../src/http/route-path.js');
    const router = new CachingRouter<string>(new TrieRouter<string>());
    router.add('ALL', '/*', 'log');
    router.add('GET', '/a/:id', 'a');
    expect(router.match('GET', '/b')[0].map(([h]) => h)).toEqual(['log']);
    expect(router.match('GET', '/a/1')[0].map(([h, p]) => [h, p])).toEqual([['log', {}], ['a', { id: '1' }]]);
    router.add('GET', '/b', 'b');
    expect(router.match('GET', '/b')[0].map(([h]) => h)).toEqual(['log', 'b']);
    expect(router.match('POST', '/b')[0].map(([h]) => h)).toEqual(['log']);
  });
});

import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';
import type { AuthService } from './service.js';
import { ok } from '../http/envelope.js';
import { readParams, rejectUnknown } from '../http/params.js';

/** /auth: Basic login → token, one's own rules, and user administration (subject to the rules). */
export function authRoutes(deps: AppDeps, auth: AuthService): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.all('/token', async (c) => {
    const user = c.get('user');
    const token = await (await auth.signer()).issueLogin(
      { sub: user.username, fpr: user.fingerprint },
      deps.clock.now().getTime(),
      deps.settings.authToken.tokenLife,
    );
    return c.json({ token, expires_in: deps.settings.authToken.tokenLife });
  });

  r.all('/user', (c) => {
    const { username, access, deny } = c.get('user');
    return c.json(ok({ username, access, deny }));
  });

  r.all('/user/list', async (c) => c.json(ok(await auth.users.list())));

  r.all('/user/add', async (c) => {
    const p = await readParams(c);
    rejectUnknown(p, ['username', 'password', 'access', 'deny']);
    const user = await auth.users.add(p);
    deps.logger.log('info', 'user added', { user: user.username, by: c.get('user').username });
    return c.json(ok(user));
  });

  r.all('/user/change', async (c) => {
    const p = await readParams(c);
    rejectUnknown(p, ['username', 'password', 'access', 'deny']);
    const user = await auth.users.change(p);
    deps.logger.log('info', 'user changed', { user: user.username, by: c.get('user').username, fields: Object.keys(p).filter((k) => k !== 'username') });
    return c.json(ok(user));
  });

  r.all('/user/remove', async (c) => {
    const p = await readParams(c);
    rejectUnknown(p, ['username']);
    await auth.users.remove(p.username);
    deps.logger.log('info', 'user removed', { user: String(p.username), by: c.get('user').username });
    return c.json(ok([]));
  });

  return r;
}

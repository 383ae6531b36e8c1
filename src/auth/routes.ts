import { Hono } from 'hono';
import type { Deps, AppEnv } from '../context.js';
import type { AuthService } from './service.js';
import { ok } from '../http/envelope.js';
import { readParams } from '../http/params.js';
import { lazySchema, parseParams, text, textOrList } from '../http/schema.js';
import { forbidden } from '../http/errors.js';
import { whyNotWithin } from './policy.js';
import type { EditGuard, PublicUser } from './users.js';
import type { Context } from 'hono';

/**
 * A user's fields as the user routes take them (their values are checked by the user directory,
 * which the CLI shares): access, deny and hosts as a list, or one text in the users file's list syntax.
 */
export const userFields = () => ({
  username: text('is required').optional(),
  password: text().optional(),
  access: textOrList().optional(),
  deny: textOrList().optional(),
  hosts: textOrList().optional(),
});
export const userAddParams = lazySchema((z) => z.strictObject(userFields()));
export const userChangeParams = lazySchema((z) => z.strictObject(userFields()));
export const userRemoveParams = lazySchema((z) => z.strictObject({ username: userFields().username }));

/** /auth: Basic login → token, one's own rules, and user administration (subject to the rules). */
export function authRoutes(deps: Deps, auth: AuthService): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.all('/token', async (c) => {
    const user = c.get('user');
    const token = await (await auth.signer()).issueLogin(
      { sub: user.username, fpr: user.fingerprint },
      deps.clock.now().getTime(),
      deps.settings.current().authToken.tokenLife,
    );
    return c.json({ token, expires_in: deps.settings.current().authToken.tokenLife });
  });

  r.all('/user', (c) => {
    const { username, access, deny, hosts } = c.get('user');
    return c.json(ok({ username, access, deny, ...(hosts ? { hosts } : {}) }));
  });

  r.all('/user/list', async (c) => c.json(ok(await auth.users.list())));

  r.all('/user/add', async (c) => {
    const p = await parseParams(userAddParams, await readParams(c));
    const user = await auth.users.add(p, managesUsers(deps, c, 'add'));
    deps.logger.log('info', 'user added', { user: user.username, by: c.get('user').username });
    return c.json(ok(user));
  });

  r.all('/user/change', async (c) => {
    const p = await parseParams(userChangeParams, await readParams(c));
    const user = await auth.users.change(p, managesUsers(deps, c, 'change'));
    deps.logger.log('info', 'user changed', { user: user.username, by: c.get('user').username, fields: Object.keys(p).filter((k) => k !== 'username') });
    return c.json(ok(user));
  });

  r.all('/user/remove', async (c) => {
    const p = await parseParams(userRemoveParams, await readParams(c));
    await auth.users.remove(p.username, managesUsers(deps, c, 'remove'));
    deps.logger.log('info', 'user removed', { user: String(p.username), by: c.get('user').username });
    return c.json(ok([]));
  });

  return r;
}

/**
 * Who may manage whom: the caller's rules as the users file holds them now (an embedding
 * service's user as it named them) must cover the user before and after the edit, so no one
 * can hand out, take over or grow into rights they lack. Their own rules only ever narrow.
 */
export function managesUsers(deps: Pick<Deps, 'externalAuth'>, c: Context<AppEnv>, verb: 'add' | 'change' | 'remove'): EditGuard {
  const caller = c.get('user');
  return (before, after, current) => {
    const manager: PublicUser | null = deps.externalAuth ? caller : current(caller.username);
    if (!manager) throw forbidden(`user ${caller.username} no longer exists`);
    for (const [which, target] of [['the user as it is', before], ['the user as it would be', after]] as const) {
      if (!target) continue;
      const why = whyNotWithin(target, manager);
      if (why) {
        throw forbidden(`${caller.username} may not ${verb} user ${target.username}: ${which} has rights beyond yours (${why}); users can only manage users whose rights fit inside their own`);
      }
    }
  };
}

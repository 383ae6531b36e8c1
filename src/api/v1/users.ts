/**
 * Users as a resource: list, one, add, change, remove. The same rules as the legacy /auth/user
 * routes (each maps to one of them), the same user directory, the same "who may manage whom"
 * guard; passwords only ever in a JSON body.
 */
import type { Deps } from '../../context.js';
import type { AuthService } from '../../auth/service.js';
import { managesUsers, userFields } from '../../auth/routes.js';
import { notFound } from '../../http/errors.js';
import { queryParams } from '../../http/params.js';
import { lazySchema, noParams, parseParams, text } from '../../http/schema.js';
import type { UserInput } from '../../auth/users.js';
import { paramsBody } from './body.js';
import { mountPrefix } from './problem.js';
import type { V1Route } from './route.js';

/** The legacy user routes' fields; here a new user must name itself and its password, and a change names neither user nor name. */
export const newUserBody = lazySchema((z) => z.strictObject({ ...userFields(), username: text('is required').min(1, { error: 'is required' }), password: text('is required') }));
export const userChangeBody = lazySchema((z) => {
  const { username: _name, ...fields } = userFields();
  return z.strictObject(fields);
});

const USER = { username: 'The user, as client.conf names them' };

export function userRoutes(deps: Deps, auth: AuthService): V1Route[] {
  const one = async (username: string) => {
    const user = (await auth.users.list()).find((u) => u.username === username);
    if (!user) throw notFound(`user ${JSON.stringify(username.slice(0, 64))} does not exist`, { parameter: 'username' });
    return user;
  };
  return [
    {
      method: 'GET', path: '/users', operationId: 'listUsers', tag: 'users', rule: 'auth/user/list', conditional: true,
      summary: 'Every user and their rules (never a password or hash)',
      responses: { 200: { description: 'The users', schema: 'UserList', headers: ['ETag'] } },
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        return { items: await auth.users.list() };
      },
    },
    {
      method: 'GET', path: '/users/{username}', operationId: 'getUser', tag: 'users', rule: 'auth/user/list', conditional: true, pathParams: USER,
      summary: 'One user and their rules',
      responses: { 200: { description: 'The user', schema: 'User', headers: ['ETag'] } },
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        return one(p.username!);
      },
    },
    {
      method: 'POST', path: '/users', operationId: 'addUser', tag: 'users', rule: 'auth/user/add',
      summary: 'Add a user, with rights within your own', body: { schema: 'NewUser', required: true },
      responses: { 201: { description: 'Added: the user, also at Location', schema: 'User', headers: ['Location'] } },
      errors: [409],
      handle: async (c) => {
        const body = await paramsBody(c, newUserBody, false);
        const user = await auth.users.add(body as UserInput, managesUsers(deps, c, 'add'));
        deps.logger.log('info', 'user added', { user: user.username, by: c.get('user').username });
        return c.json(user, 201, { Location: `${mountPrefix(c)}/api/v1/users/${encodeURIComponent(user.username)}` });
      },
    },
    {
      method: 'PATCH', path: '/users/{username}', operationId: 'changeUser', tag: 'users', rule: 'auth/user/change', pathParams: USER,
      summary: "Change a user's password, rules or hosts (within your own rights); their tokens end", body: { schema: 'UserChange', required: true },
      responses: { 200: { description: 'The user as changed', schema: 'User' } },
      errors: [409],
      handle: async (c, p) => {
        const body = await paramsBody(c, userChangeBody, false);
        const user = await auth.users.change({ ...(body as UserInput), username: p.username! }, managesUsers(deps, c, 'change'));
        deps.logger.log('info', 'user changed', { user: user.username, by: c.get('user').username, fields: Object.keys(body) });
        return user;
      },
    },
    {
      method: 'DELETE', path: '/users/{username}', operationId: 'removeUser', tag: 'users', rule: 'auth/user/remove', pathParams: USER,
      summary: 'Remove a user (within your own rights)',
      responses: { 204: { description: 'Removed' } },
      errors: [409],
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        await auth.users.remove(p.username!, managesUsers(deps, c, 'remove'));
        deps.logger.log('info', 'user removed', { user: p.username!.slice(0, 64), by: c.get('user').username });
        return c.body(null, 204);
      },
    },
  ];
}

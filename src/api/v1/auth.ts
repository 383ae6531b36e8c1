/**
 * Logging in (a token for a username and password, in a JSON body or as Basic) and the caller's
 * own account. Credentials are never taken from the URL.
 */
import type { Deps } from '../../context.js';
import type { AuthService } from '../../auth/service.js';
import { basicCredentials, logIn, requestHeader } from '../../http/authenticate.js';
import { ApiError, badRequest, notFound, unauthorized } from '../../http/errors.js';
import { queryParams, readParams } from '../../http/params.js';
import { lazySchema, noParams, parseParams, text } from '../../http/schema.js';
import type { HostSet } from '../../hosts/services.js';
import type { V1Route } from './route.js';

export const credentialsBody = lazySchema((z) =>
  z.strictObject({ username: text('is required').min(1, { error: 'is required' }), password: text('is required') }),
);

export function authRoutes(deps: Deps, auth: AuthService, hosts: HostSet): V1Route[] {
  return [
    {
      method: 'POST', path: '/auth/token', operationId: 'createToken', tag: 'auth', rule: 'auth/token', login: true,
      summary: 'A token for a username and password',
      description: 'Send `{"username": …, "password": …}` as JSON, or the header `Authorization: Basic …` and no body. Failed logins are throttled per user and per client address (429 with Retry-After). Use the token as `Authorization: Bearer …`.',
      body: { schema: 'Credentials', required: false, also: 'or Basic authentication and no body' },
      responses: { 200: { description: 'The token', schema: 'Token' } },
      handle: async (c) => {
        // Embedded with the host service's own authentication, this API checks no password.
        if (deps.externalAuth) throw notFound('no tokens here: the service this API is part of authenticates its users');
        await parseParams(noParams, queryParams(c));
        const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        const header = requestHeader(c, 'authorization') ?? '';
        const basic = /^basic\s/i.test(header);
        let creds: { username: string; password: string };
        if (type === 'application/json') {
          if (basic) throw badRequest('send the credentials once: in the JSON body or as Basic authentication, not both');
          creds = await parseParams(credentialsBody, await readParams(c));
        } else if (type !== '') {
          throw new ApiError(415, 'UnsupportedMediaType', `send the credentials as application/json (not ${type.slice(0, 64)}), or as Basic authentication with no body`, { parameter: 'Content-Type', allowed: ['application/json'] });
        } else if (basic) {
          creds = basicCredentials(header);
        } else {
          throw unauthorized('send {"username": …, "password": …} as application/json, or Basic authentication');
        }
        const user = await logIn(deps, auth, c, creds.username, creds.password);
        c.set('user', user);
        const life = deps.settings.current().authToken.tokenLife;
        const now = deps.clock.now().getTime();
        const token = await (await auth.signer()).issueLogin({ sub: user.username, fpr: user.fingerprint }, now, life);
        // A token is a credential: no cache keeps it (RFC 6749 §5.1).
        c.header('Cache-Control', 'no-store');
        return { token, token_type: 'Bearer', expires_in: life, expires_at: new Date((Math.floor(now / 1000) + life) * 1000).toISOString() };
      },
    },
    {
      method: 'GET', path: '/me', operationId: 'getMe', tag: 'auth', rule: 'auth/user', conditional: true,
      summary: 'Who you are: your rules and the barman hosts you reach',
      responses: { 200: { description: 'Your account', schema: 'Me', headers: ['ETag'] } },
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        const { username, access, deny } = c.get('user');
        return { username, access, deny, hosts: hosts.reachable(c.get('user')).map((h) => h.name) };
      },
    },
  ];
}

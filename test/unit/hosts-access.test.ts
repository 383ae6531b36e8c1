import { describe, expect, it } from 'vitest';
import { hostReach, reachesHost, whyNotWithin } from '../../src/auth/policy.js';
import { caller, clientConfUser, loginToken, testApp } from '../support/app.js';

const list = (items: string[]) => JSON.stringify(items).replace(/"/g, "'");
/** The lines of one user's section in client.conf. */
const section = (text: string, name: string) => text.split(/^(?=\[[^\]\n]+\]$)/m).find((s) => s.startsWith(`[${name}]`)) ?? '';
const user = (name: string, access: string[], hosts?: string[]) => clientConfUser(name, access, { hosts });

describe('which barman hosts a user reaches', () => {
  it('is the default host only without a hosts list, every host for an empty access list', () => {
    expect(reachesHost({ access: ['barman'], deny: [] }, 'default')).toBe(true);
    expect(reachesHost({ access: ['barman'], deny: [] }, 'dc2')).toBe(false);
    expect(hostReach({ access: [], deny: [] })).toBe('every');
    expect(reachesHost({ access: [], deny: [] }, 'dc2')).toBe(true);
  });

  it('is what a hosts list names, * being every host; a list limits an empty access list too', () => {
    expect(reachesHost({ access: ['barman'], deny: [], hosts: ['dc2'] }, 'dc2')).toBe(true);
    expect(reachesHost({ access: ['barman'], deny: [], hosts: ['dc2'] }, 'default')).toBe(false);
    expect(reachesHost({ access: [], deny: [], hosts: ['dc2'] }, 'dc3')).toBe(false);
    expect(reachesHost({ access: ['barman'], deny: [], hosts: ['*'] }, 'dc3')).toBe(true);
  });

  it('keeps a manager from handing out hosts it does not reach', () => {
    const dc2Admin = { access: [], deny: [], hosts: ['dc2'] };
    expect(whyNotWithin({ access: ['barman'], deny: [], hosts: ['dc2'] }, dc2Admin)).toBeNull();
    expect(whyNotWithin({ access: ['barman'], deny: [], hosts: ['dc3'] }, dc2Admin)).toMatch(/barman host "dc3", which you do not/);
    expect(whyNotWithin({ access: ['barman'], deny: [], hosts: ['*'] }, dc2Admin)).toMatch(/every barman host/);
    // No hosts list: the default host, which this manager does not reach either.
    expect(whyNotWithin({ access: ['barman'], deny: [] }, dc2Admin)).toMatch(/"default"/);
    // An empty access list without hosts reaches every host.
    expect(whyNotWithin({ access: [], deny: [] }, { access: [], deny: [], hosts: ['default', 'dc2'] })).toMatch(/every barman host/);
    expect(whyNotWithin({ access: ['barman'], deny: [], hosts: ['dc2', 'dc3'] }, { access: [], deny: [] })).toBeNull();
  });
});

describe('hosts lists through /auth/user/*', () => {
  const USERS = user('memin', []) + user('dc2admin', ['auth/user', 'barman'], ['dc2']) + user('ops', ['barman']);

  function setup() {
    const t = testApp({ clientConf: USERS });
    return { ...t, as: caller(t.app) };
  }

  it('shows a user its hosts, and adds users with hosts within the manager\'s', async () => {
    const { as, usersFile } = setup();
    expect((await as('dc2admin', '/auth/user')).body.list).toEqual({ username: 'dc2admin', access: ['auth/user', 'barman'], deny: [], hosts: ['dc2'] });
    expect((await as('ops', '/auth/user')).body.list).toEqual({ username: 'ops', access: ['barman'], deny: [] });
    const added = await as('dc2admin', '/auth/user/add', { username: 'dc2ops', password: 'long-enough-pw', access: ['barman'], hosts: ['dc2'] });
    expect(added.res.status).toBe(200);
    expect(added.body.list).toEqual({ username: 'dc2ops', access: ['barman'], deny: [], hosts: ['dc2'] });
    expect(section(usersFile.text ?? "", 'dc2ops')).toMatch(/^hosts = \['dc2'\]$/m);
  });

  it('refuses a manager limited to one host creating or widening users to others, by query and by body', async () => {
    const { as, usersFile } = setup();
    await as('dc2admin', '/auth/user'); // logging in upgrades the seed's MD5 hash
    const before = usersFile.text;
    for (const hosts of [['dc3'], ['*'], ['dc2', 'default']]) {
      const byBody = await as('dc2admin', '/auth/user/add', { username: 'mallory', password: 'long-enough-pw', access: ['barman'], hosts });
      expect(byBody.res.status, hosts.join()).toBe(403);
      const q = new URLSearchParams({ username: 'mallory', password: 'long-enough-pw', access: "['barman']", hosts: list(hosts) });
      expect((await as('dc2admin', `/auth/user/add?${q}`)).res.status).toBe(403);
    }
    // No hosts given: the default host, which dc2admin does not reach.
    expect((await as('dc2admin', '/auth/user/add', { username: 'mallory', password: 'long-enough-pw', access: ['barman'] })).res.status).toBe(403);
    // Nor widen itself.
    expect((await as('dc2admin', '/auth/user/change', { username: 'dc2admin', hosts: ['*'] })).res.status).toBe(403);
    expect((await as('dc2admin', '/auth/user/change', { username: 'dc2admin', hosts: [] })).res.status).toBe(403);
    expect(usersFile.text).toBe(before);
  });

  it('refuses host names that are none, and takes [] back to the default host only', async () => {
    const { as, usersFile, app } = setup();
    for (const hosts of ['dc 2', '../x', 'DC2', 'a\nb']) {
      const r = await as('memin', '/auth/user/change', { username: 'ops', hosts: [hosts] });
      expect(r.res.status, hosts).toBe(400);
      expect(r.body.message).toMatch(/hosts/);
    }
    const token = await loginToken(app, 'ops');
    expect((await as('memin', '/auth/user/change', { username: 'ops', hosts: ['dc2', 'default'] })).res.status).toBe(200);
    expect(section(usersFile.text ?? "", 'ops')).toMatch(/^hosts = \['dc2', ?'default'\]$/m);
    // Tokens issued before a change of hosts stop working.
    expect((await app.request(`/auth/user?token=${token}`)).status).toBe(401);
    expect((await as('memin', '/auth/user/change', { username: 'ops', hosts: [] })).res.status).toBe(200);
    expect(section(usersFile.text ?? "", 'ops')).toMatch(/^access = /m);
    expect(section(usersFile.text ?? "", 'ops')).not.toMatch(/^hosts/m);
  });
});

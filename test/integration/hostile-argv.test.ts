import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itEnv } from '../support/it-env.js';
import { standInBarman } from '../support/stand-in-barman.js';
import { CONTROL_WORDS, PRINTABLE_HOSTILE_WORDS } from '../support/hostile.js';
import { serverDir, startServerProcess, token, type ServerProcess } from '../support/server-process.js';

const env = itEnv();

/**
 * Values that must reach barman as one argv word, byte for byte (an empty value means "not
 * given"). Values with control characters are refused instead: see the test below.
 */
const CORPUS = PRINTABLE_HOSTILE_WORDS.filter((w) => w !== '');

/** A stand-in barman that prints its argv as JSON. */
function recorder(): string {
  return standInBarman(env.root, 'recorder', `exec /usr/bin/python3 -c 'import json, sys; sys.stdout.write(json.dumps({"argv": sys.argv[1:]}))' "$@"`);
}

const rec = recorder();
const HOSTS = {
  'local (recording barman)': `configfile=${env.barman.config}\ncommand=runuser -u barman -- ${rec}\nremote=false\nasynccommand=[]`,
  'ssh (recording barman)': `configfile=${env.barman.config}\ncommand=${rec}\nremote=true\nremotessh=${env.ssh.remotessh}\nknown_hosts=${env.ssh.knownHosts}\nasynccommand=[]`,
};

describe.each(Object.entries(HOSTS))('hostile values on the %s host', (_name, barmanSection) => {
  let server: ServerProcess;
  let t: string;
  const post = async (command: string, body: object) => {
    const res = await fetch(`${server.baseUrl}/barman/${command}?token=${t}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { data?: { argv: string[] }; message: string } };
  };
  beforeAll(async () => {
    server = await startServerProcess(serverDir(barmanSection).config);
    t = await token(server.baseUrl);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it.each(CORPUS.map((v) => [v.length > 16 ? `${v.slice(0, 4)}…(${v.length} chars)` : JSON.stringify(v), v]))(
    '%s arrives as exactly one word, as a positional, a repeated positional and an option value',
    async (_label, value) => {
      const a = await post('show-server', { server_name: value });
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBe(200);
      const argv = a.body.data!.argv;
      expect(argv.slice(0, 4)).toEqual(['-c', env.barman.config, '-f', 'json']);
      expect(argv.at(-1)).toBe(value);
      expect(argv.filter((w) => w === value)).toHaveLength(1);
      const b = await post('switch-wal', { server_name: ['pg', value] });
      expect(b.body.data!.argv.slice(-2)).toEqual(['pg', value]);
      const c = await post('check-wal-archive', { server_name: 'pg', timeline: value });
      expect(c.body.data!.argv).toContain(`--timeline=${value}`);
    },
  );

  it('refuses every value with a control character with a 400 naming the parameter; barman never runs', async () => {
    for (const value of CONTROL_WORDS) {
      const r = await post('show-server', { server_name: value });
      expect(r.status, JSON.stringify(value)).toBe(400);
      expect(r.body.data).toBeUndefined();
      expect((r.body as unknown as { parameter: string }).parameter).toBe('server_name');
    }
  });

  it('refuses NUL and non-UTF-8 percent escapes with a 400', async () => {
    const nul = await fetch(`${server.baseUrl}/barman/show-server?server_name=a%00b&token=${t}`);
    expect(nul.status).toBe(400);
    const bad = await fetch(`${server.baseUrl}/barman/show-server?server_name=%ff%fe&token=${t}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/server_name: not valid percent-encoded UTF-8/);
  });

  it('answers 404 with the command list for unknown commands and path tricks', async () => {
    for (const name of ['no-such-command', '..', '%2e%2e', 'a%2fb', 'BACKUP']) {
      const res = await fetch(`${server.baseUrl}/barman/${name}?token=${t}`);
      expect(res.status, name).toBe(404);
    }
    const res = await fetch(`${server.baseUrl}/barman/no-such-command?token=${t}`);
    expect(((await res.json()) as { commands: string[] }).commands).toContain('backup');
  });
});

describe('hostile values with the real barman', () => {
  let server: ServerProcess;
  let t: string;
  beforeAll(async () => {
    server = await startServerProcess(serverDir(`configfile=${env.barman.config}\ncommand=${env.barman.command.join(' ')}\nremote=false\nasynccommand=[]`).config);
    t = await token(server.baseUrl);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  // barman prints the name back in its message; only names that survive a one-line message compare.
  it.each(CORPUS.filter((v) => v.length < 100))('barman sees %j as a server name, byte for byte', async (value) => {
    const res = await fetch(`${server.baseUrl}/barman/show-server?token=${t}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ server_name: value }),
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { message: string; type: string };
    expect(body.type).toBe('UnknownServer');
    expect(body.message).toBe(`Unknown server '${value}'`);
  });
});

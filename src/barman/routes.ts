import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppEnv } from '../context.js';
import type { HostSet } from '../hosts/services.js';
import { hostField } from '../hosts/names.js';
import { hostParam } from '../hosts/params.js';
import type { JobService } from '../jobs/service.js';
import { ok } from '../http/envelope.js';
import { readParams } from '../http/params.js';
import type { CommandSpec } from './help-parser.js';
import { checkEveryName, findCommand, planInvocation } from './invocation.js';
import { readKey, type ReadCache } from '../state/read-cache.js';
import { toCommandResult } from './output.js';
import { describeParams } from './params.js';

/**
 * /barman: every command of the installed barman, discovered from its own help. `host=` names the
 * barman host (the default host when absent), among those the user may reach.
 */
export function barmanRoutes(hosts: HostSet, jobs: JobService): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  /** The host the request names, and its other parameters. */
  const target = async (c: Context<AppEnv>) => {
    const params = await readParams(c);
    const host = hosts.forUser(c.get('user'), hostParam(params));
    c.set('barmanHost', host.deps.host.description);
    return { host, params };
  };

  r.all('/help', async (c) => {
    const { host } = await target(c);
    const cat = await host.catalogue.get();
    return c.json(ok(cat.commands.map(describeCommand), { version: cat.version, ...hostField(host.name) }));
  });

  r.all('/reload', async (c) => {
    const { host } = await target(c);
    const cat = await host.catalogue.reload();
    return c.json(ok(cat.commands.map((x) => x.name), { version: cat.version, commands: cat.commands.length, ...hostField(host.name) }));
  });

  r.all('/:command/help', async (c) => {
    const { host } = await target(c);
    const cat = await host.catalogue.forCommand(c.req.param('command'));
    const spec = findCommand(cat, c.req.param('command'));
    checkEveryName(c.get('user'), spec, '/help');
    return c.json(ok(describeCommand(spec), { version: cat.version, ...hostField(host.name) }));
  });

  r.all('/:command', async (c) => {
    const user = c.get('user');
    const { host, params } = await target(c);
    const { deps, reads } = host;
    const run = await planInvocation(deps, await host.catalogue.forCommand(c.req.param('command')), c.req.param('command'), user, params);
    if (run.background) {
      const submitted = await jobs.submit({ command: run.spec.name, argv: run.argv, json: run.json, user: user.username, userId: user.id, servers: run.servers, hostName: host.name });
      const hint = `/history/result?ticket=${submitted.ticket}`;
      return c.json(ok({ ticket: submitted.ticket, status: submitted.status, result: hint }, { ticket: submitted.ticket, ...hostField(host.name) }, `Command started as a background job; see ${hint}`), 202);
    }
    const bounds = { timeoutMs: run.timeoutMs, maxOutputBytes: run.maxOutputBytes };
    const { result, cache } = run.readOnly
      ? await reads.read({
          command: run.spec.name,
          key: readKey(deps.host.description, run.argv, run.timeoutMs, run.maxOutputBytes),
          servers: run.servers,
          fresh: run.fresh,
          run: (signal) => deps.host.run(run.argv, { ...bounds, signal }),
          signal: c.req.raw.signal,
        })
      : { result: await changing(reads, () => deps.host.run(run.argv, { ...bounds, signal: c.req.raw.signal })), cache: undefined };
    const { body, status } = toCommandResult(result, { json: run.json });
    if (cache) body.cache = cache;
    Object.assign(body, hostField(host.name));
    if (status !== 200) deps.logger.log('warn', `barman ${run.spec.name} failed`, { exit: result.exitCode, status, user: user.username, ...hostField(host.name) });
    return c.json(body, status);
  });

  return r;
}

/** A command that may change barman's state: nothing cached before its end is served after it. */
async function changing<T>(reads: ReadCache, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    reads.invalidate();
  }
}

function describeCommand(spec: CommandSpec) {
  return { command: spec.name, aliases: spec.aliases, description: spec.description, params: describeParams(spec) };
}

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
import { checkEveryName, findCommand } from './invocation.js';
import { runCommand } from './run.js';
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
    const { host, params } = await target(c);
    const outcome = await runCommand(host, jobs, c.get('user'), c.req.param('command'), params, c.req.raw.signal);
    if ('job' in outcome) {
      const { ticket, status } = outcome.job;
      const hint = `/history/result?ticket=${ticket}`;
      return c.json(ok({ ticket, status, result: hint }, { ticket, ...hostField(host.name) }, `Command started as a background job; see ${hint}`), 202);
    }
    return c.json(outcome.result, outcome.status);
  });

  return r;
}

function describeCommand(spec: CommandSpec) {
  return { command: spec.name, aliases: spec.aliases, description: spec.description, params: describeParams(spec) };
}

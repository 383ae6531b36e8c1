import { Hono } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import type { JobService } from '../jobs/service.js';
import { ok } from '../http/envelope.js';
import { readParams } from '../http/params.js';
import type { CatalogueStore } from './catalogue.js';
import type { CommandSpec } from './help-parser.js';
import { checkEveryName, findCommand, planInvocation } from './invocation.js';
import { readKey, type ReadCache } from '../state/read-cache.js';
import { toCommandResult } from './output.js';
import { describeParams } from './params.js';

/** /barman: every command of the installed barman, discovered from its own help. */
export function barmanRoutes(deps: Deps, catalogue: CatalogueStore, jobs: JobService, reads: ReadCache): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.all('/help', async (c) => {
    const cat = await catalogue.get();
    return c.json(ok(cat.commands.map(describeCommand), { version: cat.version }));
  });

  r.all('/reload', async (c) => {
    const cat = await catalogue.reload();
    return c.json(ok(cat.commands.map((x) => x.name), { version: cat.version, commands: cat.commands.length }));
  });

  r.all('/:command/help', async (c) => {
    const cat = await catalogue.forCommand(c.req.param('command'));
    const spec = findCommand(cat, c.req.param('command'));
    checkEveryName(c.get('user'), spec, '/help');
    return c.json(ok(describeCommand(spec), { version: cat.version }));
  });

  /** A command that may change barman's state: nothing cached before its end is served after it. */
  const changing = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } finally {
      reads.invalidate();
    }
  };

  r.all('/:command', async (c) => {
    const user = c.get('user');
    const run = await planInvocation(deps, await catalogue.forCommand(c.req.param('command')), c.req.param('command'), user, await readParams(c));
    if (run.background) {
      const submitted = await jobs.submit({ command: run.spec.name, argv: run.argv, json: run.json, user: user.username, userId: user.id, servers: run.servers });
      const hint = `/history/result?ticket=${submitted.ticket}`;
      return c.json(ok({ ticket: submitted.ticket, status: submitted.status, result: hint }, { ticket: submitted.ticket }, `Command started as a background job; see ${hint}`), 202);
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
      : { result: await changing(() => deps.host.run(run.argv, { ...bounds, signal: c.req.raw.signal })), cache: undefined };
    const { body, status } = toCommandResult(result, { json: run.json });
    if (cache) body.cache = cache;
    if (status !== 200) deps.logger.log('warn', `barman ${run.spec.name} failed`, { exit: result.exitCode, status, user: user.username });
    return c.json(body, status);
  });

  return r;
}

function describeCommand(spec: CommandSpec) {
  return { command: spec.name, aliases: spec.aliases, description: spec.description, params: describeParams(spec) };
}

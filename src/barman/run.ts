/**
 * Running a barman command for a user on a host, whatever the route that asks: every check of
 * planInvocation (rules under every name of the command, grants, paths, ssh shapes, sizes), then
 * a background job ([barman] asynccommand) or a run now, read-only ones through the read cache.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AuthedUser } from '../context.js';
import type { HostServices } from '../hosts/services.js';
import { hostField } from '../hosts/names.js';
import type { JobService } from '../jobs/service.js';
import type { JobStatus } from '../jobs/model.js';
import type { Params } from '../http/params.js';
import { planInvocation } from './invocation.js';
import { toCommandResult, type CommandResult } from './output.js';
import { readKey, type ReadCache } from '../state/read-cache.js';

export type CommandOutcome =
  | { job: { id: string; ticket: string; status: JobStatus } }
  | { result: CommandResult; status: ContentfulStatusCode };

export async function runCommand(host: HostServices, jobs: JobService, user: AuthedUser, command: string, params: Params, signal?: AbortSignal): Promise<CommandOutcome> {
  const { deps, reads } = host;
  const run = await planInvocation(deps, await host.catalogue.forCommand(command), command, user, params);
  if (run.background) {
    const job = await jobs.submit({ command: run.spec.name, argv: run.argv, json: run.json, user: user.username, userId: user.id, servers: run.servers, hostName: host.name });
    return { job };
  }
  const bounds = { timeoutMs: run.timeoutMs, maxOutputBytes: run.maxOutputBytes };
  const { result, cache } = run.readOnly
    ? await reads.read({
        command: run.spec.name,
        key: readKey(deps.host.description, run.argv, run.timeoutMs, run.maxOutputBytes),
        servers: run.servers,
        fresh: run.fresh,
        run: (s) => deps.host.run(run.argv, { ...bounds, signal: s }),
        signal,
      })
    : { result: await changing(reads, () => deps.host.run(run.argv, { ...bounds, signal })), cache: undefined };
  const { body, status } = toCommandResult(result, { json: run.json });
  // A user's check is as good as a background one for /metrics (barman_up), and newer.
  if (run.spec.name === 'check' && run.json && body.data !== undefined) host.state.checks.record(body.data, deps.clock.now().toISOString(), run.servers.length === 0 || run.servers.includes('all'));
  if (cache) body.cache = cache;
  Object.assign(body, hostField(host.name));
  if (status !== 200) deps.logger.log('warn', `barman ${run.spec.name} failed`, { exit: result.exitCode, status, user: user.username, ...hostField(host.name) });
  return { result: body, status };
}

/** A command that may change barman's state: nothing cached before its end is served after it. */
async function changing<T>(reads: ReadCache, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    reads.invalidate();
  }
}

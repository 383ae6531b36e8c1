import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Context } from 'hono';
import type { Deps, AppEnv } from '../context.js';
import { ok } from '../http/envelope.js';
import { readParams } from '../http/params.js';
import { flag, lazySchema, matching, parseParams, text, wholeNumber } from '../http/schema.js';
import { MONTH_RE, jobHost, monthOf } from './model.js';
import { ownedBy, type JobService, type JobView } from './service.js';
import type { AuthedUser } from '../context.js';
import { hostField } from '../hosts/names.js';
import { HISTORY_ALL_GRANT, holdsGrant, hostReach, isAllowedAny, reachesHost } from '../auth/policy.js';
import { forbidden, notFound } from '../http/errors.js';

export interface HistoryRoutesOptions {
  /** Every name of a barman command (its aliases too) on the named host, for the access check on cancel. */
  commandNames?: (command: string, host: string) => Promise<string[]>;
  /** How the named barman host is described (errors of a cancel name it). */
  describeHost?: (host: string) => string;
}

/** A followed job is looked at soon after it starts (most commands are quick), then less often. */
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 250;

const ticket = () => text('is required (from the answer of an async command or /history/list)').min(1, { error: 'is required (from the answer of an async command or /history/list)' });

/** /history/list: a month's jobs, a page at a time. */
export const historyListParams = lazySchema((z) =>
  z.strictObject({
    past: matching(MONTH_RE, 'must be a month as YYYYmm, e.g. 201602', ['YYYYmm']).optional(),
    limit: wholeNumber(1, 1000, 100),
    offset: wholeNumber(0, Number.MAX_SAFE_INTEGER, 0),
  }),
);
/** /history/result: a job's result, or (follow) its log and status as Server-Sent Events. */
export const historyResultParams = lazySchema((z) => z.strictObject({ ticket: ticket(), follow: flag() }));
/** /history/cancel */
export const historyCancelParams = lazySchema((z) => z.strictObject({ ticket: ticket() }));

/** /history: the seed's async command tickets and monthly history. */
export function historyRoutes(deps: Deps, jobs: JobService, opts: HistoryRoutesOptions = {}): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.all('/list', async (c) => {
    const { past, limit, offset } = await parseParams(historyListParams, await readParams(c));
    const month = past ?? monthOf(deps.clock.now());
    const user = c.get('user');
    const everyone = holdsGrant(user, HISTORY_ALL_GRANT);
    const reach = hostReach(user);
    const { total, items } = await jobs.list(month, limit, offset, {
      ...(everyone ? {} : { owner: { user: user.username, id: user.id } }),
      // Jobs on hosts the user does not reach (those since removed from the settings included) are
      // not theirs to see. It reads each job's record once; finished ones stay in memory.
      ...(reach === 'every' ? {} : { onHost: (host: string) => reach.has(host) }),
    });
    return c.json(ok(items, { month, total, limit, offset, scope: everyone ? 'all' : 'own' }));
  });

  r.all('/result', async (c) => {
    const p = await parseParams(historyResultParams, await readParams(c));
    const id = await jobs.jobFromTicket(p.ticket);
    const view = await jobs.view(id);
    checkOwner(c.get('user'), view, 'see');
    if (!p.follow) return c.json(resultBody(view));
    return streamSSE(c, async (stream) => {
      let offset = 0;
      let current = view;
      const decoder = new TextDecoder(); // streaming: a character split across reads stays whole
      const sendLog = async () => {
        const chunk = await jobs.readOutput(current, offset);
        if (chunk.length > 0) {
          offset += chunk.length;
          await stream.writeSSE({ event: 'log', data: decoder.decode(chunk, { stream: true }) });
        }
      };
      await stream.writeSSE({ event: 'status', data: current.status });
      let pollMs = FIRST_POLL_MS;
      while (!stream.aborted) {
        await sendLog();
        if (current.status !== 'running' && current.status !== 'queued') break;
        await jobs.waitForEnd(id, pollMs);
        pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
        const previous = current.status;
        current = await jobs.view(id);
        if (current.status !== previous) await stream.writeSSE({ event: 'status', data: current.status });
      }
      await sendLog();
      await stream.writeSSE({ event: 'result', data: JSON.stringify(resultBody(current)) });
    });
  });

  r.all('/cancel', async (c) => {
    const p = await parseParams(historyCancelParams, await readParams(c));
    const id = await jobs.jobFromTicket(p.ticket);
    const status = await cancelJob(c, deps, jobs, opts, id);
    return c.json(ok({ id, status }), status === 'cancelled' ? 200 : 202);
  });

  return r;
}

/**
 * Cancel a job for the caller: theirs (or anyone's with history/all), on a host they reach, and
 * only with access to its barman command under every name it has there.
 */
export async function cancelJob(c: Context<AppEnv>, deps: Pick<Deps, 'logger'>, jobs: JobService, opts: HistoryRoutesOptions, id: string): Promise<'cancelled' | 'cancelling'> {
  const user = c.get('user');
  const view = await jobs.view(id);
  checkOwner(user, view, 'cancel');
  const host = jobHost(view.job);
  c.set('barmanHost', opts.describeHost?.(host) ?? host);
  const names = await (opts.commandNames?.(view.job.command, host) ?? Promise.resolve([view.job.command])).catch(() => [view.job.command]);
  if (!isAllowedAny(user, [...new Set([view.job.command, ...names])].map((n) => `barman/${n}`))) {
    throw forbidden(`cancelling job ${id} needs access to barman/${view.job.command}, which user ${user.username} does not have`);
  }
  const status = await jobs.cancel(id);
  deps.logger.log('info', `job ${id} cancel requested`, { by: user.username });
  return status === 'cancelled' ? 'cancelled' : 'cancelling';
}

/**
 * Jobs belong to their users: another user's job needs the `history/all` grant. A job on a barman
 * host the user does not reach is answered as one that does not exist.
 */
export function checkOwner(user: AuthedUser, view: JobView, verb: 'see' | 'cancel'): void {
  if (!reachesHost(user, jobHost(view.job))) throw notFound(`no job ${view.job.id}`);
  if (ownedBy(view.job, { user: user.username, id: user.id }) || holdsGrant(user, HISTORY_ALL_GRANT)) return;
  throw forbidden(`job ${view.job.id} was started by another user; to ${verb} other users' jobs, an access rule must name history/all`);
}

/** The seed's shape: barman's result when done, `-99 "Command not execute yet."` before that. */
function resultBody(v: JobView): Record<string, unknown> {
  const common = {
    id: v.job.id,
    status: v.status,
    command: v.job.command,
    server: v.job.servers.join(','),
    ...hostField(v.job.host_name),
    user: v.job.user,
    created_at: v.job.created_at,
    started_at: v.result?.started_at ?? v.claim?.started_at ?? null,
    ended_at: v.result?.ended_at ?? null,
    duration_ms: v.result?.duration_ms ?? null,
    exit_code: v.result?.exit_code ?? null,
  };
  if (v.result) return { ...v.result.result, ...common };
  if (v.status === 'lost') {
    return { status_code: -98, message: 'The job runner stopped without writing a result; the outcome is unknown. See its output log.', list: [], ...common };
  }
  return { status_code: -99, message: 'Command not execute yet.', list: [], ...common };
}


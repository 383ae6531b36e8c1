import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Deps, AppEnv } from '../context.js';
import { ok } from '../http/envelope.js';
import { badRequest } from '../http/errors.js';
import { flag, readParams, rejectUnknown, single, type Params } from '../http/params.js';
import { MONTH_RE, monthOf } from './model.js';
import { ownedBy, type JobService, type JobView } from './service.js';
import type { AuthedUser } from '../context.js';
import { HISTORY_ALL_GRANT, holdsGrant, isAllowedAny } from '../auth/policy.js';
import { forbidden } from '../http/errors.js';

export interface HistoryRoutesOptions {
  /** Every name of a barman command (its aliases too), for the access check on cancel. */
  commandNames?: (command: string) => Promise<string[]>;
}

const POLL_MS = 500;

/** /history: the seed's async command tickets and monthly history. */
export function historyRoutes(deps: Deps, jobs: JobService, opts: HistoryRoutesOptions = {}): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.all('/list', async (c) => {
    const p = await readParams(c);
    rejectUnknown(p, ['past', 'limit', 'offset']);
    const past = single(p, 'past');
    if (past !== undefined && !MONTH_RE.test(past)) {
      throw badRequest('parameter past must be a month as YYYYmm, e.g. 201602', { parameter: 'past', allowed: ['YYYYmm'] });
    }
    const limit = intParam(p, 'limit', 100, 1, 1000);
    const offset = intParam(p, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const month = past ?? monthOf(deps.clock.now());
    const user = c.get('user');
    const everyone = holdsGrant(user, HISTORY_ALL_GRANT);
    const { total, items } = await jobs.list(month, limit, offset, everyone ? undefined : { user: user.username, id: user.id });
    return c.json(ok(items, { month, total, limit, offset, scope: everyone ? 'all' : 'own' }));
  });

  r.all('/result', async (c) => {
    const p = await readParams(c);
    rejectUnknown(p, ['ticket', 'follow']);
    const id = await jobs.jobFromTicket(requireTicket(p));
    const view = await jobs.view(id);
    checkOwner(c.get('user'), view, 'see');
    if (!flag(p, 'follow')) return c.json(resultBody(view));
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
      while (!stream.aborted) {
        await sendLog();
        if (current.status !== 'running' && current.status !== 'queued') break;
        await stream.sleep(POLL_MS);
        const previous = current.status;
        current = await jobs.view(id);
        if (current.status !== previous) await stream.writeSSE({ event: 'status', data: current.status });
      }
      await sendLog();
      await stream.writeSSE({ event: 'result', data: JSON.stringify(resultBody(current)) });
    });
  });

  r.all('/cancel', async (c) => {
    const p = await readParams(c);
    rejectUnknown(p, ['ticket']);
    const id = await jobs.jobFromTicket(requireTicket(p));
    const user = c.get('user');
    const view = await jobs.view(id);
    checkOwner(user, view, 'cancel');
    const names = await (opts.commandNames?.(view.job.command) ?? Promise.resolve([view.job.command])).catch(() => [view.job.command]);
    if (!isAllowedAny(user, [...new Set([view.job.command, ...names])].map((n) => `barman/${n}`))) {
      throw forbidden(`cancelling job ${id} needs access to barman/${view.job.command}, which user ${user.username} does not have`);
    }
    const status = await jobs.cancel(id);
    deps.logger.log('info', `job ${id} cancel requested`, { by: c.get('user').username });
    return c.json(ok({ id, status: status === 'cancelled' ? 'cancelled' : 'cancelling' }), status === 'cancelled' ? 200 : 202);
  });

  return r;
}

/** Jobs belong to their users: another user's job needs the `history/all` grant. */
function checkOwner(user: AuthedUser, view: JobView, verb: 'see' | 'cancel'): void {
  if (ownedBy(view.job, { user: user.username, id: user.id }) || holdsGrant(user, HISTORY_ALL_GRANT)) return;
  throw forbidden(`job ${view.job.id} was started by another user; to ${verb} other users' jobs, an access rule must name history/all`);
}

function requireTicket(p: Params): string {
  const ticket = single(p, 'ticket');
  if (!ticket) throw badRequest('parameter ticket is required (from the answer of an async command or /history/list)', { parameter: 'ticket' });
  return ticket;
}

function intParam(p: Params, name: string, dflt: number, min: number, max: number): number {
  const raw = single(p, name);
  if (raw === undefined) return dflt;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw badRequest(`parameter ${name} must be a whole number from ${min} to ${max}`, { parameter: name });
  }
  return n;
}

/** The seed's shape: barman's result when done, `-99 "Command not execute yet."` before that. */
function resultBody(v: JobView): Record<string, unknown> {
  const common = {
    id: v.job.id,
    status: v.status,
    command: v.job.command,
    server: v.job.servers.join(','),
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


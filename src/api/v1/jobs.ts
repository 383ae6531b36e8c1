/**
 * Jobs as resources: a list across months with filters and cursor pagination, and one job. The
 * same rules as /history: one's own jobs unless `history/all` is held, and only on hosts one
 * reaches (a job elsewhere is answered as one that does not exist).
 */
import type { Deps } from '../../context.js';
import { ApiError, badRequest, notFound } from '../../http/errors.js';
import { queryParams } from '../../http/params.js';
import { lazySchema, matching, noParams, parseParams, text, wholeNumber, word } from '../../http/schema.js';
import { HISTORY_ALL_GRANT, holdsGrant, reachesHost } from '../../auth/policy.js';
import { DEFAULT_HOST } from '../../hosts/names.js';
import { MONTH_RE, isJobId, type JobStatus, type JobSummary } from '../../jobs/model.js';
import { ownedBy, type JobService, type JobView } from '../../jobs/service.js';
import { cancelJob, checkOwner, type HistoryRoutesOptions } from '../../jobs/routes.js';
import { resumeOffset, streamJobLog } from './job-log.js';
import type { V1Route } from './route.js';

const STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'failed', 'lost', 'cancelled'];
const ANY = 'any';

export const jobListQuery = lazySchema((z) =>
  z.strictObject({
    host: text('must be a host name').optional(),
    server: text('must be a server name').optional(),
    command: text('must be a barman command').optional(),
    status: word([ANY, ...STATUSES], ANY),
    user: text('must be a username').optional(),
    month: matching(MONTH_RE, 'must be a month as YYYYmm, e.g. 202612', ['YYYYmm']).optional(),
    limit: wholeNumber(1, 1000, 50),
    cursor: text('must be the next_cursor of the previous page').optional(),
  }),
);

/** A cursor names the last job of a page: opaque to clients, checked like any job id here. */
const encodeCursor = (id: string) => btoa(`job:${id}`).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

function decodeCursor(cursor: string): string {
  let decoded = '';
  try {
    decoded = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    // refused below
  }
  const id = decoded.startsWith('job:') ? decoded.slice(4) : '';
  if (!isJobId(id)) throw badRequest('parameter cursor must be the next_cursor of the previous page', { parameter: 'cursor' });
  return id;
}

export function jobRoutes(deps: Pick<Deps, 'clock' | 'logger'>, jobs: JobService, history: HistoryRoutesOptions): V1Route[] {
  const detail = (v: JobView) => jobDetail(v, jobs);
  return [
    {
      method: 'GET', path: '/jobs', operationId: 'listJobs', tag: 'jobs', rule: 'history/list', conditional: true, etagWithout: ['ticket'], query: jobListQuery,
      summary: 'Jobs (async barman commands), newest first, a page at a time',
      description: 'Your own jobs, or everyone\'s with the `history/all` grant, on the hosts you reach, across months (or one `month`). Follow `next_cursor` for the next page.',
      responses: { 200: { description: 'A page of jobs', schema: 'JobPage', headers: ['ETag'] } },
      handle: async (c) => {
        const q = await parseParams(jobListQuery, queryParams(c));
        const user = c.get('user');
        const everyone = holdsGrant(user, HISTORY_ALL_GRANT);
        const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
        const keep = (s: JobSummary) =>
          (everyone || ownedBy(s, { user: user.username, id: user.id })) &&
          reachesHost(user, s.host ?? DEFAULT_HOST) &&
          (q.host === undefined || (s.host ?? DEFAULT_HOST) === q.host) &&
          (q.server === undefined || s.server.split(',').includes(q.server)) &&
          (q.command === undefined || s.command === q.command) &&
          (q.status === ANY || s.status === q.status) &&
          (q.user === undefined || s.user === q.user);
        const months = q.month ? [q.month] : await jobs.months();
        const { items, next } = await jobs.page(months, { before, limit: q.limit, keep });
        return {
          items: items.map((s) => ({
            id: s.id, host: s.host ?? DEFAULT_HOST, server: s.server, command: s.command, status: s.status,
            user: s.user, created_at: s.date, status_code: s.result, ticket: s.ticket,
          })),
          // A page may be short and still have a cursor: the scan stops after PAGE_SCAN_LIMIT jobs.
          next_cursor: next === null ? null : encodeCursor(next),
        };
      },
    },
    {
      method: 'GET', path: '/jobs/{job}', operationId: 'getJob', tag: 'jobs', rule: 'history/result', conditional: true, etagWithout: ['ticket'],
      pathParams: { job: 'The job id (from the list, or the answer of an async command)' },
      summary: 'One job: its state and, once ended, barman\'s result',
      responses: { 200: { description: 'The job', schema: 'JobDetail', headers: ['ETag'] } },
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const view = await namingJob(() => jobs.view(p.job!));
        await namingJob(async () => checkOwner(c.get('user'), view, 'see'));
        return detail(view);
      },
    },
    {
      method: 'GET', path: '/jobs/{job}/log', operationId: 'followJobLog', tag: 'jobs', rule: 'history/result',
      pathParams: { job: 'The job id' },
      headerParams: { 'Last-Event-ID': 'The id of the last event received: the stream goes on from there (a byte offset of the log)' },
      summary: "A job's log as Server-Sent Events, live until the job ends, resumable",
      description: 'Events: `status` (the job\'s status, when it changes), `log` (data: a JSON string of the log\'s next bytes), `end` (data: the job as GET /api/v1/jobs/{job} gives it). Every event\'s id is the byte offset of the log it reaches: after a dropped connection, send the last id as Last-Event-ID and the stream goes on from exactly there.',
      responses: { 200: { description: 'The event stream', contentType: 'text/event-stream' } },
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const from = resumeOffset(c);
        const view = await namingJob(() => jobs.view(p.job!));
        await namingJob(async () => checkOwner(c.get('user'), view, 'see'));
        return streamJobLog(c, jobs, deps.logger, view, from, detail);
      },
    },
    {
      method: 'DELETE', path: '/jobs/{job}', operationId: 'cancelJob', tag: 'jobs', rule: 'history/cancel',
      pathParams: { job: 'The job id' },
      summary: 'Cancel a job (queued: at once; running: its barman process is stopped)',
      description: 'Needs, as /history/cancel does, access to the job\'s barman command (barman/<command>) too. 409 once the job has ended.',
      responses: {
        200: { description: 'Cancelled', schema: 'JobCancel' },
        202: { description: 'Being cancelled: its process is stopping', schema: 'JobCancel' },
      },
      errors: [409],
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const status = await namingJob(() => cancelJob(c, deps, jobs, history, p.job!));
        return c.json({ id: p.job!, status }, status === 'cancelled' ? 200 : 202);
      },
    },
  ];
}

/** A job that does not exist (or is not the caller's to know of) names the parameter. */
async function namingJob<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw notFound(e.message, { parameter: 'job' });
    throw e;
  }
}

/** A job as GET /api/v1/jobs/{job} gives it. */
export async function jobDetail(v: JobView, jobs: JobService) {
  const r = v.result;
  const ticket = await jobs.ticket(v.job.id);
  return {
    id: v.job.id,
    host: v.job.host_name ?? DEFAULT_HOST,
    server: v.job.servers.join(','),
    command: v.job.command,
    status: v.status,
    user: v.job.user,
    created_at: v.job.created_at,
    status_code: r ? r.result.status_code : null,
    ticket,
    started_at: r?.started_at ?? v.claim?.started_at ?? null,
    ended_at: r?.ended_at ?? null,
    duration_ms: r?.duration_ms ?? null,
    exit_code: r?.exit_code ?? null,
    archived: v.archived,
    result: r
      ? { status_code: r.result.status_code, message: r.result.message, list: r.result.list, ...(r.result.data !== undefined ? { data: r.result.data } : {}), ...(r.result.truncated ? { truncated: true } : {}) }
      : null,
  };
}

/** Jobs: the list with its filters, and one job with its log streaming live. */
import type { FC } from 'hono/jsx';
import { HISTORY_ALL_GRANT, holdsGrant } from '../../auth/policy.js';
import { Head, Layout, may, Notice, PostForm, ProblemBox, seg, Time, type View } from '../view.js';
import type { Job, JobDetail } from '../resources.js';
import type { Problem } from '../internal.js';

export const STATUSES = ['any', 'queued', 'running', 'done', 'failed', 'lost', 'cancelled'] as const;
export const JOB_FILTERS = ['status', 'host', 'server', 'command', 'user'] as const;
export type JobFilters = Partial<Record<(typeof JOB_FILTERS)[number], string>>;

/** Whether the API would let the user cancel `job` (jobs/routes.ts cancelJob): offered only then. */
export function mayCancel(view: View, job: Job): boolean {
  if (job.status !== 'running' && job.status !== 'queued') return false;
  if (!may(view, 'history/cancel') || !may(view, `barman/${job.command}`)) return false;
  return job.user === view.user.username || holdsGrant(view.user, HISTORY_ALL_GRANT);
}

/** A job's link, where the user may open it. */
export const JobLink: FC<{ view: View; job: Job; children?: unknown }> = ({ view, job, children }) =>
  may(view, 'history/result') ? <a href={`${view.base}/jobs/${seg(job.id)}`}>{children as string}</a> : <span>{children as string}</span>;

const statusClass = (s: Job['status']) => (s === 'done' ? 'ok' : s === 'running' || s === 'queued' ? 'info' : 'fail');

export const JobTable: FC<{ view: View; jobs: Job[] }> = ({ view, jobs }) =>
  jobs.length === 0 ? (
    <Notice kind="info">No jobs.</Notice>
  ) : (
    <div class="scroll" role="region" aria-label="Jobs" tabindex={0}>
      <table class="jobs">
        <Head cols={['Job', 'Command', 'Server', 'Host', 'Status', 'Started by', 'Created']} />
        <tbody>
          {jobs.map((j) => (
            <tr>
              <th scope="row">
                <JobLink view={view} job={j}>
                  <code>{j.id}</code>
                </JobLink>
              </th>
              <td>{j.command}</td>
              <td>{j.server}</td>
              <td>{j.host}</td>
              <td>
                <span class={`status ${statusClass(j.status)}`}>{j.status}</span>
              </td>
              <td>{j.user}</td>
              <td>
                <Time at={j.created_at} now={view.now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );

export const JobsPage: FC<{ view: View; filters: JobFilters; jobs: Job[]; next: string | null; problem?: { status: number; body: Problem | null } }> = ({ view, filters, jobs, next, problem }) => {
  const nextQuery = next ? new URLSearchParams({ ...filters, cursor: next } as Record<string, string>).toString() : '';
  return (
    <Layout view={view} base={view.base} title="Jobs" current="jobs">
      <h1>Jobs</h1>
      <form method="get" action={`${view.base}/jobs`} class="filters" role="search" aria-label="Filter jobs">
        <label>
          Status
          <select name="status">
            {STATUSES.map((s) => (
              <option value={s} selected={(filters.status ?? 'any') === s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Host <input name="host" value={filters.host ?? ''} size={10} />
        </label>
        <label>
          Server <input name="server" value={filters.server ?? ''} size={12} />
        </label>
        <label>
          Command <input name="command" value={filters.command ?? ''} size={12} />
        </label>
        <label>
          Started by <input name="user" value={filters.user ?? ''} size={10} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {problem ? <ProblemBox problem={problem.body} status={problem.status} /> : <JobTable view={view} jobs={jobs} />}
      {next ? (
        <p>
          <a href={`${view.base}/jobs?${nextQuery}`} rel="next">
            Older jobs
          </a>
        </p>
      ) : null}
    </Layout>
  );
};

export const JobPage: FC<{ view: View; job: JobDetail; cancelled?: string }> = ({ view, job, cancelled }) => {
  const live = job.status === 'running' || job.status === 'queued';
  const here = `${view.base}/jobs/${seg(job.id)}`;
  return (
    <Layout view={view} base={view.base} title={`Job ${job.command} ${job.server}`} current="jobs">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={`${view.base}/jobs`}>Jobs</a> › <code>{job.id}</code>
      </nav>
      <h1>
        {job.command} {job.server}
      </h1>
      {cancelled ? <Notice kind="info">{cancelled}</Notice> : null}
      <dl class="inline">
        <dt>Status</dt>
        <dd>
          <span class={`status ${statusClass(job.status)}`} id="job-status" aria-live="polite">
            {job.status}
          </span>
        </dd>
        <dt>Host</dt>
        <dd>{job.host}</dd>
        <dt>Started by</dt>
        <dd>{job.user}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={job.created_at} now={view.now} />
        </dd>
        <dt>Ended</dt>
        <dd>{job.ended_at ? <Time at={job.ended_at} now={view.now} /> : '—'}</dd>
        <dt>Exit code</dt>
        <dd id="job-exit">{job.exit_code ?? '—'}</dd>
      </dl>
      {mayCancel(view, job) ? (
        <PostForm view={view} action={`${here}/cancel`} class="actions">
          <button type="submit" class="danger">
            Cancel this job
          </button>
        </PostForm>
      ) : null}
      <h2 id="h-log">Log</h2>
      <div role="log" aria-labelledby="h-log" tabindex={0} class="output-wrap">
        {/* A running job's log streams in (app.js); an ended one shows barman's result. */}
        <pre class="output log" id="job-log" {...(live ? { 'data-stream': `${here}/log` } : {})}>
          {job.result ? [...job.result.list, job.result.message].filter((l) => l !== '').join('\n') : ''}
        </pre>
      </div>
      {job.result?.truncated ? <p class="muted">barman's output was longer than [barman] max_output_bytes: its end is cut.</p> : null}
      {live ? (
        <p class="muted" id="log-note" aria-live="polite">
          The log follows the job as it runs.
        </p>
      ) : null}
    </Layout>
  );
};

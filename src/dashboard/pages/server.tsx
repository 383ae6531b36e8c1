/** One server: its state, WAL, backups, recent jobs, and what the user may start on it. */
import type { FC } from 'hono/jsx';
import { Badge, bytes, Head, Layout, may, Notice, PostForm, ProblemBox, seg, serverPath, Time, type View } from '../view.js';
import { serverHealth, type Backup, type CommandResult, type HostAnswer, type Job, type Server } from '../resources.js';
import type { Answer, Problem } from '../internal.js';
import { Wal } from './fleet.js';
import { JobTable } from './jobs.js';

export interface ServerData {
  server: Server;
  host: HostAnswer | undefined;
  backups: Answer<{ items: Backup[] } | Problem> | null;
  jobs: Job[] | null;
  /** The host's refusal to answer now, when the server shown is its last known state. */
  unanswered?: Answer<Problem>;
}

export const ServerPage: FC<{ view: View; data: ServerData }> = ({ view, data }) => {
  const s = data.server;
  const here = serverPath(view, s.host, s.name);
  const { health, reasons } = serverHealth(s, data.host, view.now);
  const w = s.wal;
  return (
    <Layout view={view} base={view.base} title={`${s.name} on ${s.host}`} current="fleet">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={`${view.base}/`}>Fleet</a> › {s.host} › {s.name}
      </nav>
      <h1>
        {s.name} <Badge health={health} />
      </h1>
      {data.unanswered ? (
        <Notice kind="warn">
          The barman host did not answer ({data.unanswered.body?.detail ?? data.unanswered.body?.title ?? `error ${data.unanswered.status}`}): this is the last state known of {s.name}
          {data.host?.as_of ? <> , as of <Time at={data.host.as_of} now={view.now} /></> : null}.
        </Notice>
      ) : null}
      {reasons.length ? (
        <ul class="reasons">
          {reasons.map((r) => (
            <li>{r}</li>
          ))}
        </ul>
      ) : null}
      <div class="actions">
        {may(view, 'barman/backup') ? (
          <PostForm view={view} action={`${here}/backup`}>
            <button type="submit" class="primary">
              Start a backup
            </button>
          </PostForm>
        ) : null}
        {may(view, 'barman/check') ? (
          <PostForm view={view} action={`${here}/check`}>
            <button type="submit">Run check now</button>
          </PostForm>
        ) : null}
        {may(view, 'barman/switch-wal') ? (
          <PostForm view={view} action={`${here}/switch-wal`}>
            <button type="submit">Switch WAL</button>
          </PostForm>
        ) : null}
      </div>
      <div class="cards">
        <section class="card" aria-labelledby="h-server">
          <h2 id="h-server">Server</h2>
          <dl>
            <dt>Host</dt>
            <dd>
              {s.host} {data.host ? <span class="muted">({data.host.description})</span> : null}
            </dd>
            <dt>Description</dt>
            <dd>{s.description ?? '—'}</dd>
            <dt>PostgreSQL</dt>
            <dd>{s.postgresql_version ?? '—'}</dd>
            <dt>Backup method</dt>
            <dd>{s.backup_method ?? '—'}</dd>
            <dt>Retention policy</dt>
            <dd>{s.retention_policy ?? '—'}</dd>
            <dt>Last backup</dt>
            <dd>{s.last_backup ? <Time at={s.last_backup.end_time ?? s.last_backup.begin_time} now={view.now} /> : 'none'}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="h-wal">
          <h2 id="h-wal">WAL</h2>
          <dl>
            <dt>Archiving</dt>
            <dd>
              <Wal server={s} view={view} />
            </dd>
            <dt>Current segment</dt>
            <dd>
              <code>{w.current ?? '—'}</code>
            </dd>
            <dt>Last archived</dt>
            <dd>
              <code>{w.last_archived ?? '—'}</code>
            </dd>
            <dt>Failed attempts</dt>
            <dd>{w.failed_count ?? '—'}</dd>
            <dt>Last failed</dt>
            <dd>
              <code>{w.last_failed ?? '—'}</code>
            </dd>
          </dl>
        </section>
      </div>
      <h2>Backups</h2>
      <Backups view={view} data={data} />
      {data.jobs ? (
        <>
          <h2>Recent jobs</h2>
          <JobTable view={view} jobs={data.jobs} />
          <p>
            <a href={`${view.base}/jobs?host=${seg(s.host)}&server=${seg(s.name)}`}>All jobs of this server</a>
          </p>
        </>
      ) : null}
    </Layout>
  );
};

const Backups: FC<{ view: View; data: ServerData }> = ({ view, data }) => {
  const answer = data.backups;
  if (!answer) return <p class="muted">Not shown: your rules do not include barman/list-backup.</p>;
  if (answer.status !== 200) return <ProblemBox problem={answer.body as Problem} status={answer.status} />;
  const items = (answer.body as { items: Backup[] }).items;
  if (items.length === 0) return <Notice kind="info">No backups yet.</Notice>;
  const here = serverPath(view, data.server.host, data.server.name);
  return (
    <div class="scroll" role="region" aria-label="Backups" tabindex={0}>
      <table class="backups">
        <Head cols={['Backup', 'Status', 'Ended', 'Size', 'WAL size', 'Retention']} />
        <tbody>
          {items.map((b) => (
            <tr>
              <th scope="row">
                {may(view, 'barman/show-backup', 'barman/show-backups') ? <a href={`${here}/backups/${seg(b.id)}`}>{b.id}</a> : b.id}
              </th>
              <td>
                <span class={`status ${b.status === 'DONE' ? 'ok' : b.status === 'FAILED' ? 'fail' : 'warn'}`}>{b.status ?? '—'}</span>
              </td>
              <td>
                <Time at={b.end_time} now={view.now} />
              </td>
              <td class="num">{bytes(b.size_bytes)}</td>
              <td class="num">{bytes(b.wal_size_bytes)}</td>
              <td>{b.retention_status ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
};

/** What a command run at once answered (a check, a WAL switch). */
export const ResultPage: FC<{ view: View; title: string; back: string; answer: Answer<CommandResult | Problem> }> = ({ view, title, back, answer }) => {
  const ok = answer.status === 200;
  const result = answer.body as CommandResult;
  // A refusal of barman itself (422) carries its output too.
  const lines = Array.isArray((answer.body as { list?: unknown } | null)?.list) ? [...result.list, ok ? result.message : ''] : [];
  return (
    <Layout view={view} base={view.base} title={title} current="fleet">
      <h1>{title}</h1>
      {answer.status === 202 ? (
        <Notice kind="info">{result.message}</Notice>
      ) : ok ? (
        <Notice kind={result.status_code === 200 ? 'ok' : 'fail'}>{result.status_code === 200 ? 'barman reports no failure.' : `barman ended with ${result.status_code}.`}</Notice>
      ) : (
        <ProblemBox problem={answer.body as Problem} status={answer.status} />
      )}
      {lines.length ? (
        <div role="region" aria-label="barman's output" tabindex={0} class="output-wrap">
          <pre class="output">{lines.filter((l) => l !== '').join('\n')}</pre>
        </div>
      ) : null}
      <p>
        <a href={back}>Back</a>
      </p>
    </Layout>
  );
};

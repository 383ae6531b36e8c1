/** The fleet overview: every host the user reaches and every server on it, worst first. */
import type { FC } from 'hono/jsx';
import { Badge, Head, Layout, may, Notice, ProblemBox, serverPath, Time, type View } from '../view.js';
import { JobLink } from './jobs.js';
import { serverHealth, type HostAnswer, type Job, type Server } from '../resources.js';
import type { Problem } from '../internal.js';

export interface FleetData {
  hosts: HostAnswer[];
  servers: Server[];
  /** Running and queued jobs, when the user may list jobs. */
  jobs: Job[] | null;
  problem?: { status: number; body: Problem | null };
}

const ORDER = { fail: 0, warn: 1, unknown: 2, ok: 3 } as const;

export const FleetPage: FC<{ view: View; data: FleetData }> = ({ view, data }) => {
  const hostOf = new Map(data.hosts.map((h) => [h.name, h]));
  const rows = data.servers
    .map((s) => ({ server: s, ...serverHealth(s, hostOf.get(s.host), view.now) }))
    .sort((a, b) => ORDER[a.health] - ORDER[b.health] || a.server.host.localeCompare(b.server.host) || a.server.name.localeCompare(b.server.name));
  const running = new Map<string, Job[]>();
  for (const job of data.jobs ?? []) {
    for (const name of job.server.split(',')) {
      const key = `${job.host}\u0000${name}`;
      running.set(key, [...(running.get(key) ?? []), job]);
    }
  }
  const counts = { ok: 0, warn: 0, fail: 0, unknown: 0 };
  for (const r of rows) counts[r.health]++;
  return (
    <Layout view={view} base={view.base} title="Fleet" current="fleet">
      <h1>Fleet</h1>
      {data.problem ? <ProblemBox problem={data.problem.body} status={data.problem.status} /> : null}
      <p class="summary" data-refresh="60">
        {rows.length} server{rows.length === 1 ? '' : 's'} on {data.hosts.length} host{data.hosts.length === 1 ? '' : 's'}: <span class="badge fail">{counts.fail} failing</span>{' '}
        <span class="badge warn">{counts.warn} need attention</span> <span class="badge ok">{counts.ok} OK</span>
        {data.jobs ? (
          <>
            {' '}
            · <a href={`${view.base}/jobs?status=running`}>{data.jobs.length} job{data.jobs.length === 1 ? '' : 's'} running or queued</a>
          </>
        ) : null}
      </p>
      <h2>Hosts</h2>
      <ul class="hosts">
        {data.hosts.map((h) => (
          <li>
            <Badge health={h.reachable ? 'ok' : h.reachable === null ? 'unknown' : 'fail'} /> <strong>{h.name}</strong> <span class="muted">{h.description}</span>{' '}
            {h.reachable === false ? <span>unreachable{h.reason ? `: ${h.reason}` : ''}</span> : h.reachable === null ? <span>no answer in time</span> : null}
            {h.as_of ? (
              <span class="muted">
                {' '}
                state as of <Time at={h.as_of} now={view.now} />
              </span>
            ) : null}
          </li>
        ))}
      </ul>
      <h2>Servers</h2>
      {rows.length === 0 ? (
        <Notice kind="info">No servers: barman lists none on the hosts you reach.</Notice>
      ) : (
        <div class="scroll" role="region" aria-label="Servers" tabindex={0}>
          <table class="fleet">
            <caption class="visually-hidden">Servers, failing first</caption>
            <Head cols={['Status', 'Server', 'Host', 'Last backup', 'Backups', 'Failed', 'WAL archiving', 'Jobs']} />
            <tbody>
              {rows.map(({ server: s, health, reasons }) => {
                const jobs = running.get(`${s.host}\u0000${s.name}`) ?? [];
                return (
                  <tr class={health}>
                    <td data-label="Status">
                      <Badge health={health} title={reasons.join('; ')} />
                      {reasons.length ? <div class="reasons">{reasons.slice(0, 3).join('; ')}</div> : null}
                    </td>
                    <th scope="row">
                      <a href={serverPath(view, s.host, s.name)}>{s.name}</a>
                      {s.description ? <div class="muted">{s.description}</div> : null}
                    </th>
                    <td data-label="Host">{s.host}</td>
                    <td data-label="Last backup">{s.last_backup ? <Time at={s.last_backup.end_time ?? s.last_backup.begin_time} now={view.now} /> : <span class="muted">none</span>}</td>
                    <td class="num" data-label="Backups">{s.backups ?? '—'}</td>
                    <td class="num" data-label="Failed">{s.failed_backups ?? '—'}</td>
                    <td data-label="WAL archiving">
                      <Wal server={s} view={view} />
                    </td>
                    <td data-label="Jobs">
                      {jobs.length === 0 ? (
                        <span class="muted">—</span>
                      ) : (
                        jobs.map((j) => (
                          <div class="job">
                            <JobLink view={view} job={j}>
                              {`${j.command} (${j.status})`}
                            </JobLink>
                          </div>
                        ))
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {!may(view, 'history/list') ? <p class="muted">Running jobs are not shown: your rules do not include history/list.</p> : null}
    </Layout>
  );
};

export const Wal: FC<{ server: Server; view: View }> = ({ server: s, view }) => {
  const w = s.wal;
  if (w.archiver_enabled === null && w.streaming === null && !w.last_archived) return <span class="muted">unknown</span>;
  return (
    <span>
      {w.archiver_enabled ? 'archiver' : ''}
      {w.archiver_enabled && w.streaming ? ' + ' : ''}
      {w.streaming ? 'streaming' : ''}
      {!w.archiver_enabled && !w.streaming ? 'off' : ''}
      {w.last_archived_time ? (
        <div class="muted">
          last <Time at={w.last_archived_time} now={view.now} />
        </div>
      ) : null}
      {(w.failed_count ?? 0) > 0 ? <div class="warn-text">{w.failed_count} failed</div> : null}
    </span>
  );
};

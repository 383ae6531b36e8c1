/**
 * One backup: its details, the recover form, delete. Both destructive actions go through a
 * confirmation page that repeats what will happen; only its button carries `confirm=yes`.
 */
import type { FC } from 'hono/jsx';
import { Layout, PostForm, ProblemBox, Time, bytes, may, seg, serverPath, type View } from '../view.js';
import type { Answer, Problem } from '../internal.js';
import type { BackupDetail } from '../resources.js';

/** The recover form's fields, as API v1's RecoveryRequest names them. */
export const RECOVER_TEXT = ['destination', 'target_time', 'target_xid', 'target_lsn', 'target_name', 'target_tli', 'target_action', 'remote_host', 'remote_user', 'remote_port', 'recovery_staging_path'] as const;
export const RECOVER_FLAGS = ['target_immediate', 'exclusive', 'get_wal', 'standby_mode'] as const;
export type RecoverForm = Partial<Record<(typeof RECOVER_TEXT)[number] | (typeof RECOVER_FLAGS)[number], string>>;

const LABELS: Record<string, string> = {
  destination: 'Destination directory',
  target_time: 'Target time',
  target_xid: 'Target transaction id',
  target_lsn: 'Target LSN',
  target_name: 'Target restore point',
  target_tli: 'Target timeline',
  target_action: 'Action at the target',
  remote_host: 'Remote host (over ssh)',
  remote_user: 'Remote user',
  remote_port: 'Remote ssh port',
  recovery_staging_path: 'Staging path (compressed backups)',
  target_immediate: 'Stop as soon as the backup is consistent',
  exclusive: 'Stop just before the target (exclusive)',
  get_wal: 'Fetch WAL from barman on demand (get-wal)',
  standby_mode: 'Start as a standby',
};

const HINTS: Record<string, string> = {
  destination: 'An absolute path; on the remote host when one is given.',
  target_time: 'e.g. 2026-12-04 10:00:00+00',
  target_lsn: 'e.g. 0/3000060',
};

export const BackupPage: FC<{ view: View; backup: BackupDetail; form?: RecoverForm; refused?: Answer }> = ({ view, backup: b, form = {}, refused }) => {
  const here = `${serverPath(view, b.host, b.server)}/backups/${seg(b.id)}`;
  const rows: Array<[string, unknown]> = [
    ['Status', b.status],
    ['Began', <Time at={b.begin_time} now={view.now} />],
    ['Ended', <Time at={b.end_time} now={view.now} />],
    ['Size', bytes(b.size_bytes)],
    ['WAL size', bytes(b.wal_size_bytes)],
    ['Retention', b.retention_status ?? '—'],
    ['Timeline', b.timeline ?? '—'],
    ['Begin WAL', <code>{b.begin_wal ?? '—'}</code>],
    ['End WAL', <code>{b.end_wal ?? '—'}</code>],
    ['Begin LSN', <code>{b.begin_lsn ?? '—'}</code>],
    ['End LSN', <code>{b.end_lsn ?? '—'}</code>],
    ['Copy time', b.copy_time_seconds === null ? '—' : `${Math.round(b.copy_time_seconds)} s`],
    ['PostgreSQL', b.postgresql_version ?? '—'],
  ];
  return (
    <Layout view={view} base={view.base} title={`Backup ${b.id}`} current="fleet">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={`${view.base}/`}>Fleet</a> › <a href={serverPath(view, b.host, b.server)}>{b.server}</a> › {b.id}
      </nav>
      <h1>Backup {b.id}</h1>
      <dl class="inline">
        {rows.map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>{v as string}</dd>
          </>
        ))}
        <dt>Neighbours</dt>
        <dd>
          {b.previous_backup ? <a href={`${serverPath(view, b.host, b.server)}/backups/${seg(b.previous_backup)}`}>previous</a> : 'no previous'} ·{' '}
          {b.next_backup ? <a href={`${serverPath(view, b.host, b.server)}/backups/${seg(b.next_backup)}`}>next</a> : 'no next'}
        </dd>
      </dl>
      {may(view, 'barman/delete') ? (
        <p>
          <a class="button danger" href={`${here}/delete`}>
            Delete this backup…
          </a>
        </p>
      ) : null}
      {may(view, 'barman/recover') ? (
        <section aria-labelledby="h-recover">
          <h2 id="h-recover">Recover</h2>
          <p>The next page shows what will run and asks you to confirm.</p>
          {refused ? <ProblemBox problem={refused.body as Problem} status={refused.status} /> : null}
          <PostForm view={view} action={`${here}/recover`} class="stacked">
            {RECOVER_TEXT.map((name) =>
              name === 'target_action' ? (
                <label>
                  {LABELS[name]}
                  <select name={name}>
                    {['', 'pause', 'promote', 'shutdown'].map((v) => (
                      <option value={v} selected={(form[name] ?? '') === v}>
                        {v === '' ? '(barman default)' : v}
                      </option>
                    ))}
                  </select>
                </label>
              ) : (
                <label>
                  {LABELS[name]}
                  {name === 'destination' ? ' (required)' : ''}
                  <input name={name} value={form[name] ?? ''} required={name === 'destination'} aria-describedby={HINTS[name] ? `hint-${name}` : undefined} />
                  {HINTS[name] ? (
                    <small id={`hint-${name}`} class="muted">
                      {HINTS[name]}
                    </small>
                  ) : null}
                </label>
              ),
            )}
            {RECOVER_FLAGS.map((name) => (
              <label class="check">
                <input type="checkbox" name={name} value="true" checked={form[name] === 'true'} /> {LABELS[name]}
              </label>
            ))}
            <button type="submit">Review the recovery…</button>
          </PostForm>
        </section>
      ) : null}
    </Layout>
  );
};

/** A destructive action, spelled out, with the one button that does it. */
export const ConfirmPage: FC<{ view: View; title: string; action: string; back: string; what: Array<[string, string]>; hidden: Record<string, string>; button: string; warning: string }> = ({ view, title, action, back, what, hidden, button, warning }) => (
  <Layout view={view} base={view.base} title={title} current="fleet">
    <h1>{title}</h1>
    <div class="notice warn" role="alert">
      {warning}
    </div>
    <dl class="inline">
      {what.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>
            <code>{v}</code>
          </dd>
        </>
      ))}
    </dl>
    <PostForm view={view} action={action} class="actions">
      {Object.entries(hidden).map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <input type="hidden" name="confirm" value="yes" />
      <button type="submit" class="danger">
        {button}
      </button>{' '}
      <a href={back}>Cancel</a>
    </PostForm>
  </Layout>
);

export { LABELS as RECOVER_LABELS };

/** barman's configuration (read, change with the diff first), users, and signing in. */
import type { FC } from 'hono/jsx';
import { whyNotWithin } from '../../auth/policy.js';
import { Head, Layout, may, Notice, PostForm, ProblemBox, seg, type View } from '../view.js';
import type { Answer, Problem } from '../internal.js';
import type { BarmanConfig, BarmanConfigChanged, User } from '../resources.js';

export interface ConfigChange {
  section: string;
  key: string;
  value: string;
  remove: boolean;
  create: boolean;
  force: boolean;
}

export const ConfigPage: FC<{ view: View; hosts: string[]; host: string; answer: Answer<BarmanConfig | Problem>; change?: ConfigChange; outcome?: Answer<BarmanConfigChanged | Problem> }> = ({ view, hosts, host, answer, change, outcome }) => {
  const ok = answer.status === 200;
  const config = answer.body as BarmanConfig;
  const action = `${view.base}/config/${seg(host)}`;
  const changed = outcome?.status === 200 ? (outcome.body as BarmanConfigChanged) : null;
  return (
    <Layout view={view} base={view.base} title="Barman configuration" current="config">
      <h1>Barman configuration</h1>
      {hosts.length > 1 ? (
        <nav aria-label="Hosts" class="tabs">
          {hosts.map((h) => (
            <a href={`${view.base}/config/${seg(h)}`} aria-current={h === host ? 'page' : undefined}>
              {h}
            </a>
          ))}
        </nav>
      ) : null}
      {outcome && outcome.status !== 200 ? <ProblemBox problem={outcome.body as Problem} status={outcome.status} /> : null}
      {changed ? (
        <section aria-labelledby="h-diff" class="card">
          <h2 id="h-diff">{changed.dry_run ? 'What this change would do' : 'Changed'}</h2>
          <p>{changed.message}</p>
          {changed.warnings.map((w) => (
            <Notice kind="warn">{w}</Notice>
          ))}
          <div role="region" aria-label="Unified diff" tabindex={0} class="output-wrap">
            <pre class="output diff">{changed.diff === '' ? '(no difference)' : changed.diff}</pre>
          </div>
          {changed.dry_run && change && changed.diff !== '' ? (
            <PostForm view={view} action={`${action}/change`} class="actions">
              <input type="hidden" name="section" value={change.section} />
              <input type="hidden" name="key" value={change.key} />
              <input type="hidden" name="value" value={change.value} />
              {change.remove ? <input type="hidden" name="remove" value="true" /> : null}
              {change.create ? <input type="hidden" name="create" value="true" /> : null}
              {change.force ? <input type="hidden" name="force" value="true" /> : null}
              <input type="hidden" name="apply" value="yes" />
              <button type="submit" class="primary">
                Apply this change
              </button>{' '}
              <a href={action}>Discard</a>
            </PostForm>
          ) : null}
          {!changed.dry_run && changed.backup ? <p class="muted">The previous file is kept in the store as {changed.backup}.</p> : null}
        </section>
      ) : null}
      {!ok ? <ProblemBox problem={answer.body as Problem} status={answer.status} /> : null}
      {ok && may(view, 'config/barman/change') ? (
        <section aria-labelledby="h-change" class="card">
          <h2 id="h-change">Change an option</h2>
          <p>The difference is shown first; nothing is written until you apply it.</p>
          <PostForm view={view} action={`${action}/change`} class="stacked">
            <label>
              Section
              <input name="section" list="sections" required value={change?.section ?? ''} />
              <datalist id="sections">
                {config.sections.map((s) => (
                  <option value={s.name} />
                ))}
              </datalist>
            </label>
            <label>
              Option <input name="key" required value={change?.key ?? ''} />
            </label>
            <label>
              Value <input name="value" value={change?.value ?? ''} />
            </label>
            <label class="check">
              <input type="checkbox" name="remove" value="true" checked={change?.remove} /> Remove the option instead
            </label>
            <label class="check">
              <input type="checkbox" name="create" value="true" checked={change?.create} /> Create the section if it does not exist (a new server)
            </label>
            <label class="check">
              <input type="checkbox" name="force" value="true" checked={change?.force} /> Force (an option barman does not document, or a server that is running)
            </label>
            <button type="submit">Show the difference</button>
          </PostForm>
        </section>
      ) : null}
      {ok ? (
        <>
          <p>
            Main file <code>{config.main_file}</code>
          </p>
          {config.warnings.map((w) => (
            <Notice kind="warn">{w}</Notice>
          ))}
          {config.sections.map((s) => (
            <section aria-label={`Section ${s.name}`}>
              <h2>
                [{s.name}] <span class="muted">{s.kind}</span>
              </h2>
              <div class="scroll" role="region" aria-label={`Options of [${s.name}]`} tabindex={0}>
                <table class="options">
                  <Head cols={['Option', 'Value', 'File']} />
                  <tbody>
                    {Object.entries(s.options).map(([k, v]) => (
                      <tr>
                        <th scope="row">{k}</th>
                        <td>
                          <code>{v}</code>
                        </td>
                        <td class="muted">{s.origins[k] ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          ))}
        </>
      ) : null}
    </Layout>
  );
};

export const UsersPage: FC<{ view: View; answer: Answer<{ items: User[] } | Problem>; done?: string; refused?: Answer<unknown> }> = ({ view, answer, done, refused }) => {
  const base = `${view.base}/users`;
  const list = (v: string[] | undefined) => (v && v.length ? v.join(', ') : '—');
  // As the access model reads them (policy.ts hostReach).
  const reach = (u: User) => (u.hosts && u.hosts.length ? u.hosts.join(', ') : u.access.length === 0 ? 'every host' : 'default');
  return (
    <Layout view={view} base={view.base} title="Users" current="users">
      <h1>Users</h1>
      {done ? <Notice kind="ok">{done}</Notice> : null}
      {refused ? <ProblemBox problem={refused.body as Problem} status={refused.status} /> : null}
      {answer.status !== 200 ? (
        <ProblemBox problem={answer.body as Problem} status={answer.status} />
      ) : (
        <div class="scroll" role="region" aria-label="Users" tabindex={0}>
          <table class="users">
            <Head cols={['User', 'Access', 'Deny', 'Hosts', ...(may(view, 'auth/user/change') ? ['New password'] : []), ...(may(view, 'auth/user/remove') ? ['Remove'] : [])]} />
            <tbody>
              {(answer.body as { items: User[] }).items.map((u) => (
                <tr>
                  <th scope="row">{u.username}</th>
                  <td>{u.access.length ? list(u.access) : 'everything'}</td>
                  <td>{list(u.deny)}</td>
                  <td>{reach(u)}</td>
                  {may(view, 'auth/user/change') ? (
                    <td>
                      {whyNotWithin(u, view.user) !== null ? (
                        <span class="muted">beyond your rights</span>
                      ) : (
                      <PostForm view={view} action={`${base}/${seg(u.username)}/password`} class="row">
                        <input type="password" name="password" autocomplete="new-password" required aria-label={`New password for ${u.username}`} />
                        <button type="submit">Set</button>
                      </PostForm>
                      )}
                    </td>
                  ) : null}
                  {may(view, 'auth/user/remove') ? (
                    <td>
                      {u.username === view.user.username ? (
                        <span class="muted">you</span>
                      ) : whyNotWithin(u, view.user) !== null ? (
                        <span class="muted">beyond your rights</span>
                      ) : (
                        <a class="button danger" href={`${base}/${seg(u.username)}/remove`}>
                          Remove…
                        </a>
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {may(view, 'auth/user/add') ? (
        <section aria-labelledby="h-add" class="card">
          <h2 id="h-add">Add a user</h2>
          <p>Rules are route paths, comma-separated (or a list as the users file writes it). Your own rules bound what you may grant.</p>
          <PostForm view={view} action={`${base}/add`} class="stacked">
            <label>
              Username <input name="username" required autocomplete="off" />
            </label>
            <label>
              Password <input type="password" name="password" required autocomplete="new-password" />
            </label>
            <label>
              Access (empty: everything) <input name="access" placeholder="fleet, barman/list-backup" />
            </label>
            <label>
              Deny <input name="deny" placeholder="barman/delete" />
            </label>
            <label>
              Hosts <input name="hosts" placeholder="default" />
            </label>
            <button type="submit">Add the user</button>
          </PostForm>
        </section>
      ) : null}
    </Layout>
  );
};

export const SignInPage: FC<{ base: string; csrf: string; next: string; message?: string; kind?: 'fail' | 'info'; username?: string }> = ({ base, csrf, next, message, kind = 'fail', username }) => (
  <Layout view={null} base={base} title="Sign in">
    <section class="signin card" aria-labelledby="h-signin">
      <h1 id="h-signin">Sign in to barmanapi</h1>
      {message ? <Notice kind={kind}>{message}</Notice> : null}
      <form method="post" action={`${base}/sign-in`} class="stacked">
        <input type="hidden" name="_csrf" value={csrf} />
        <input type="hidden" name="next" value={next} />
        <label>
          Username <input name="username" autocomplete="username" required autofocus value={username ?? ''} />
        </label>
        <label>
          Password <input type="password" name="password" autocomplete="current-password" required />
        </label>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </section>
  </Layout>
);

/** A page for what has no page: a 404, a refusal, a failure. */
export const ErrorPage: FC<{ view: View | null; base: string; status: number; problem: Problem | null }> = ({ view, base, status, problem }) => (
  <Layout view={view} base={base} title={problem?.title ?? `Error ${status}`}>
    <h1>{problem?.title ?? `Error ${status}`}</h1>
    <ProblemBox problem={problem} status={status} />
    <p>
      <a href={`${base}/`}>Back to the fleet</a>
    </p>
  </Layout>
);

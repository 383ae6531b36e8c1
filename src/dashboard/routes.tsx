/**
 * The pages and their actions. Each reads and acts through API v1 as the signed-in user: a page
 * offers only what the user's rules allow (view.tsx `may`), and the API refuses anything else
 * whatever the form says.
 */
import type { Context, Hono } from 'hono';
import type { AppEnv } from '../context.js';
import { reachesHost } from '../auth/policy.js';
import { ApiError } from '../http/errors.js';
import type { Dash, DashHandler } from './index.js';
import type { Answer, Problem } from './internal.js';
import { may, seg } from './view.js';
import type { BackupDetail, BarmanConfigChanged, CommandResult, HostAnswer, HostResource, Job, JobDetail, Server } from './resources.js';
import { FleetPage } from './pages/fleet.js';
import { ResultPage, ServerPage } from './pages/server.js';
import { BackupPage, ConfirmPage, RECOVER_FLAGS, RECOVER_LABELS, RECOVER_TEXT, type RecoverForm } from './pages/backup.js';
import { JOB_FILTERS, JobPage, JobsPage, type JobFilters } from './pages/jobs.js';
import { ConfigPage, UsersPage, type ConfigChange } from './pages/admin.js';

type Route = (handler: DashHandler) => (c: Context<AppEnv>) => Promise<Response>;

const text = (d: Dash, name: string): string => {
  const v = d.form[name];
  return typeof v === 'string' ? v : '';
};

const serverApi = (host: string, server: string) => `/hosts/${seg(host)}/servers/${seg(server)}`;
/** A path parameter; `.` and `..` name no host, server, backup, job or user (and would move a v1 path). */
const param = (d: Dash, name: string) => {
  const value = d.c.req.param(name) ?? '';
  if (value === '.' || value === '..' || value === '') throw new ApiError(404, 'NotFound', `no such ${name}`);
  return value;
};

/** A command's answer: a background job is followed on its page; a result is shown. */
async function started(d: Dash, answer: Answer, title: string, back: string): Promise<Response> {
  if (answer.status === 202) {
    const id = (answer.body as { id: string }).id;
    if (may(d.view, 'history/result')) return d.redirect(`/jobs/${seg(id)}`);
    // Started, but the user may not open jobs: said here rather than a refusal on the next page.
    return d.render(<ResultPage view={d.view} title={title} back={back} answer={{ status: 202, body: { status_code: 202, message: `Started in the background as job ${id}.`, list: [] } }} />, 202);
  }
  // barman's own answer, whether it succeeded or not (busy, failed, unreachable): its output is worth showing.
  if (answer.status === 200 || Array.isArray((answer.body as { list?: unknown } | null)?.list)) return d.render(<ResultPage view={d.view} title={title} back={back} answer={answer as Answer<CommandResult>} />, answer.status);
  return d.failed(answer);
}

/** The fleet overview, the dashboard's first page (at /dashboard and /dashboard/). */
export { fleet as fleetPage };

export function pageRoutes(app: Hono<AppEnv>, signedIn: Route): void {
  app.get('/', signedIn(fleet));
  app.get('/hosts/:host/servers/:server', signedIn(server));
  for (const [action, command, title] of [
    ['backup', '/backups', 'Backup'],
    ['check', '/check', 'Check'],
    ['switch-wal', '/wal/switch', 'WAL switch'],
  ] as const) {
    app.post(`/hosts/:host/servers/:server/${action}`, signedIn(async (d) => {
      const [host, name] = [param(d, 'host'), param(d, 'server')];
      const answer = await d.api('POST', `${serverApi(host, name)}${command}`);
      return started(d, answer, `${title} of ${name}`, `${d.view.base}${serverApi(host, name)}`);
    }));
  }
  app.get('/hosts/:host/servers/:server/backups/:backup', signedIn(backup));
  app.post('/hosts/:host/servers/:server/backups/:backup/recover', signedIn(recover));
  app.get('/hosts/:host/servers/:server/backups/:backup/delete', signedIn(deleteBackup));
  app.post('/hosts/:host/servers/:server/backups/:backup/delete', signedIn(deleteBackup));
  app.get('/jobs', signedIn(jobs));
  app.get('/jobs/:job', signedIn(job));
  app.get('/jobs/:job/log', signedIn(async (d) => {
    // HEAD would open a stream nobody reads: the headers alone.
    if (d.c.req.method === 'HEAD') return new Response(null, { status: 200, headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' } });
    const last = d.c.req.header('last-event-id');
    const res = await d.raw('GET', `/jobs/${seg(param(d, 'job'))}/log`, last === undefined ? {} : { 'last-event-id': last });
    return new Response(res.body, { status: res.status, headers: { 'Content-Type': res.headers.get('content-type') ?? 'text/plain', 'Cache-Control': 'no-cache' } });
  }));
  app.post('/jobs/:job/cancel', signedIn(async (d) => {
    const id = param(d, 'job');
    const answer = await d.api<{ status: string }>('DELETE', `/jobs/${seg(id)}`);
    if (answer.status !== 200 && answer.status !== 202) return d.failed(answer);
    return d.redirect(`/jobs/${seg(id)}?cancel=${answer.status === 200 ? 'cancelled' : 'stopping'}`);
  }));
  app.get('/config', signedIn(async (d) => {
    const first = d.hosts.reachable(d.view.user)[0];
    return d.redirect(`/config/${seg(first?.name ?? 'default')}`);
  }));
  app.get('/config/:host', signedIn((d) => config(d)));
  app.post('/config/:host/change', signedIn(configChange));
  app.get('/users', signedIn((d) => users(d)));
  app.post('/users/add', signedIn(async (d) => {
    const body: Record<string, unknown> = { username: text(d, 'username'), password: text(d, 'password') };
    for (const k of ['access', 'deny', 'hosts']) {
      const given = text(d, k).trim();
      // The users file's list syntax (['a', 'b']) as typed; plain words comma-separated, as a list.
      if (given.startsWith('[')) body[k] = given;
      else if (given !== '') body[k] = given.split(',').map((v) => v.trim()).filter((v) => v !== '');
    }
    const answer = await d.api('POST', '/users', body);
    return answer.status < 300 ? d.redirect(`/users?done=added&user=${seg(String(body.username))}`) : users(d, answer);
  }));
  app.post('/users/:user/password', signedIn(async (d) => {
    const name = param(d, 'user');
    const answer = await d.api('PATCH', `/users/${seg(name)}`, { password: text(d, 'password') });
    // One's own new password ends one's session: the next page asks to sign in again.
    return answer.status < 300 ? d.redirect(`/users?done=password&user=${seg(name)}`) : users(d, answer);
  }));
  const removeUser = signedIn(async (d) => {
    const name = param(d, 'user');
    // A GET only ever shows the question; only the confirmation page's POST removes.
    if (d.c.req.method !== 'POST' || text(d, 'confirm') !== 'yes') {
      return d.render(<ConfirmPage view={d.view} title={`Remove user ${name}`} action={`${d.view.base}/users/${seg(name)}/remove`} back={`${d.view.base}/users`} what={[['User', name]]} hidden={{}} button="Remove the user" warning="The user and their tokens and sessions end now." />);
    }
    const answer = await d.api('DELETE', `/users/${seg(name)}`);
    return answer.status < 300 ? d.redirect(`/users?done=removed&user=${seg(name)}`) : users(d, answer);
  });
  app.get('/users/:user/remove', removeUser);
  app.post('/users/:user/remove', removeUser);
}

async function fleet(d: Dash): Promise<Response> {
  const jobList = (status: string) => d.api<{ items: Job[] }>('GET', `/jobs?status=${status}&limit=200`);
  const [servers, running, queued] = await Promise.all([
    d.api<{ hosts: HostAnswer[]; items: Server[] } | Problem>('GET', '/servers'),
    may(d.view, 'history/list') ? jobList('running') : null,
    may(d.view, 'history/list') ? jobList('queued') : null,
  ]);
  const ok = servers.status === 200;
  const body = servers.body as { hosts: HostAnswer[]; items: Server[] };
  const jobs = running?.status === 200 && queued?.status === 200 ? [...running.body.items, ...queued.body.items] : null;
  // Without the fleet's answer nothing is known of the hosts: shown as unknown, never as OK.
  const hostNames = d.hosts.reachable(d.view.user).map((h) => ({ name: h.name, description: h.deps.host.description, reachable: null, reason: null, as_of: null }));
  return d.render(<FleetPage view={d.view} data={{ hosts: ok ? body.hosts : hostNames, servers: ok ? body.items : [], jobs, ...(ok ? {} : { problem: { status: servers.status, body: servers.body as Problem } }) }} />);
}

async function server(d: Dash): Promise<Response> {
  const [host, name] = [param(d, 'host'), param(d, 'server')];
  const path = serverApi(host, name);
  const [one, backups, jobs, hostAnswer] = await Promise.all([
    d.api<Server>('GET', path),
    may(d.view, 'barman/list-backup', 'barman/list-backups') ? d.api<{ items: never[] }>('GET', `${path}/backups`) : null,
    may(d.view, 'history/list') ? d.api<{ items: Job[] }>('GET', `/jobs?host=${seg(host)}&server=${seg(name)}&limit=10`) : null,
    d.api<HostResource>('GET', `/hosts/${seg(host)}`),
  ]);
  const h = hostAnswer.status === 200 ? hostAnswer.body : undefined;
  const known: HostAnswer | undefined = h && { name: h.name, description: h.description, reachable: h.down ? false : true, reason: h.down?.reason ?? null, as_of: null };
  const jobList = jobs?.status === 200 ? jobs.body.items : null;
  if (one.status === 200) return d.render(<ServerPage view={d.view} data={{ server: one.body, host: known, backups, jobs: jobList }} />);
  // The barman host did not answer: the last state the fleet knows of the server, said to be so.
  if (one.status >= 502) {
    const fleet = await d.api<{ hosts: HostAnswer[]; items: Server[] }>('GET', `/hosts/${seg(host)}/servers`);
    const last = fleet.status === 200 ? fleet.body.items.find((s) => s.name === name) : undefined;
    if (last) return d.render(<ServerPage view={d.view} data={{ server: { ...last, stale: true }, host: fleet.body.hosts.find((x) => x.name === host) ?? known, backups, jobs: jobList, unanswered: one as Answer<Problem> }} />, one.status);
  }
  return d.failed(one);
}

async function backup(d: Dash, form?: RecoverForm, refused?: Answer): Promise<Response> {
  const [host, name, id] = [param(d, 'host'), param(d, 'server'), param(d, 'backup')];
  const answer = await d.api<BackupDetail>('GET', `${serverApi(host, name)}/backups/${seg(id)}`);
  if (answer.status !== 200) return d.failed(answer);
  return d.render(<BackupPage view={d.view} backup={answer.body} form={form} refused={refused} />, refused?.status ?? 200);
}

async function recover(d: Dash): Promise<Response> {
  const [host, name, id] = [param(d, 'host'), param(d, 'server'), param(d, 'backup')];
  const form: RecoverForm = {};
  for (const k of RECOVER_TEXT) if (text(d, k).trim() !== '') form[k] = text(d, k).trim();
  for (const k of RECOVER_FLAGS) if (text(d, k) === 'true') form[k] = 'true';
  const back = `${d.view.base}${serverApi(host, name)}/backups/${seg(id)}`;
  if (text(d, 'confirm') !== 'yes') {
    const what: Array<[string, string]> = [['Server', `${name} on ${host}`], ['Backup', id], ...Object.entries(form).map(([k, v]) => [RECOVER_LABELS[k] ?? k, v === 'true' ? 'yes' : v] as [string, string])];
    const where = form.remote_host ? `on ${form.remote_host}` : 'on the barman host';
    return d.render(<ConfirmPage view={d.view} title={`Recover backup ${id}`} action={`${back}/recover`} back={back} what={what} hidden={form as Record<string, string>} button="Start the recovery" warning={`barman will write the backup into ${form.destination ?? '(no destination)'} ${where}, over whatever is there.`} />);
  }
  const body: Record<string, unknown> = { backup: id };
  for (const [k, v] of Object.entries(form)) body[k] = RECOVER_FLAGS.includes(k as never) ? true : v;
  const answer = await d.api('POST', `${serverApi(host, name)}/recoveries`, body);
  // A form the API refused (a path, a target): the form again, as filled in, with why.
  if (answer.status === 400 || answer.status === 403) return backup(d, form, answer);
  return started(d, answer, `Recovery of ${id}`, back);
}

async function deleteBackup(d: Dash): Promise<Response> {
  const [host, name, id] = [param(d, 'host'), param(d, 'server'), param(d, 'backup')];
  const back = `${d.view.base}${serverApi(host, name)}/backups/${seg(id)}`;
  if (d.c.req.method !== 'POST' || text(d, 'confirm') !== 'yes') {
    return d.render(<ConfirmPage view={d.view} title={`Delete backup ${id}`} action={`${back}/delete`} back={back} what={[['Server', `${name} on ${host}`], ['Backup', id]]} hidden={{}} button="Delete the backup" warning="The backup's files are removed from the barman host; this cannot be undone." />);
  }
  const answer = await d.api('DELETE', `${serverApi(host, name)}/backups/${seg(id)}`);
  return started(d, answer, `Deletion of ${id}`, `${d.view.base}${serverApi(host, name)}`);
}

async function jobs(d: Dash): Promise<Response> {
  const filters: JobFilters = {};
  for (const k of JOB_FILTERS) if (text(d, k).trim() !== '' && !(k === 'status' && text(d, k) === 'any')) filters[k] = text(d, k).trim();
  const query = new URLSearchParams({ ...filters, limit: '50', ...(text(d, 'cursor') ? { cursor: text(d, 'cursor') } : {}) } as Record<string, string>);
  const answer = await d.api<{ items: Job[]; next_cursor: string | null }>('GET', `/jobs?${query}`);
  if (answer.status !== 200) return d.render(<JobsPage view={d.view} filters={filters} jobs={[]} next={null} problem={{ status: answer.status, body: answer.body as unknown as Problem }} />, answer.status);
  return d.render(<JobsPage view={d.view} filters={filters} jobs={answer.body.items} next={answer.body.next_cursor} />);
}

async function job(d: Dash): Promise<Response> {
  const answer = await d.api<JobDetail>('GET', `/jobs/${seg(param(d, 'job'))}`);
  if (answer.status !== 200) return d.failed(answer);
  const cancel = text(d, 'cancel');
  const note = cancel === 'cancelled' ? 'The job is cancelled.' : cancel === 'stopping' ? "The job's barman process is being stopped." : undefined;
  return d.render(<JobPage view={d.view} job={answer.body} cancelled={note} />);
}

async function config(d: Dash, change?: ConfigChange, outcome?: Answer<BarmanConfigChanged | Problem>): Promise<Response> {
  const host = param(d, 'host');
  const names = d.hosts.reachable(d.view.user).map((h) => h.name);
  if (!reachesHost(d.view.user, host) || !d.hosts.find(host)) return d.failed({ status: 404, body: { title: 'Not found', detail: `no barman host ${host.slice(0, 64)} that you reach` } });
  const answer = await d.api<never>('GET', `/hosts/${seg(host)}/config`);
  return d.render(<ConfigPage view={d.view} hosts={names} host={host} answer={answer} change={change} outcome={outcome} />, outcome && outcome.status !== 200 ? outcome.status : answer.status);
}

async function configChange(d: Dash): Promise<Response> {
  const host = param(d, 'host');
  const flag = (name: string) => text(d, name) === 'true';
  const change: ConfigChange = { section: text(d, 'section').trim(), key: text(d, 'key').trim(), value: text(d, 'value'), remove: flag('remove'), create: flag('create'), force: flag('force') };
  const id = `${change.section}.${change.key}`;
  const body = { ...(change.remove ? { remove: [id] } : { set: { [id]: change.value } }), create: change.create, force: change.force, dry_run: text(d, 'apply') !== 'yes' };
  const outcome = await d.api<BarmanConfigChanged | Problem>('PATCH', `/hosts/${seg(host)}/config`, body);
  return config(d, change, outcome);
}

const DONE: Record<string, (user: string) => string> = {
  added: (u) => `User ${u} added.`,
  password: (u) => `The password of ${u} is changed; their sessions and tokens have ended.`,
  removed: (u) => `User ${u} removed; their sessions and tokens have ended.`,
};

/** The users page; after a change (a redirect, so a reload repeats nothing) what was done, or the API's refusal. */
async function users(d: Dash, refused?: Answer<unknown>): Promise<Response> {
  const answer = await d.api<never>('GET', '/users');
  // One's own password or rules changed: the session has ended; the next page asks to sign in.
  if (answer.status === 401) return d.redirect('/sign-in?reason=changed');
  const key = text(d, 'done');
  const done = Object.hasOwn(DONE, key) ? DONE[key]!(text(d, 'user')) : undefined;
  return d.render(<UsersPage view={d.view} answer={answer} done={done} refused={refused} />, refused ? refused.status : answer.status);
}

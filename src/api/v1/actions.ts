/**
 * Actions as resources: start a backup, delete one, recover one, check a server, switch its WAL,
 * and any other barman command by name. Each typed body becomes the parameters the legacy
 * /barman/<command> route takes, and runs through the same checks (barman/runCommand): the same
 * rules under every name of the command, grants, protected paths, the shapes of ssh commands.
 * A background job answers 202 with the job and its Location; a run now answers with barman's
 * result, or with a problem carrying it when barman failed.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { ApiError, badRequest, notFound } from '../../http/errors.js';
import { queryParams, type Params } from '../../http/params.js';
import { paramsBody } from './body.js';
import { flag, lazySchema, matching, noParams, oneOf, parseParams, text } from '../../http/schema.js';
import type { HostServices, HostSet } from '../../hosts/services.js';
import type { JobService, JobView } from '../../jobs/service.js';
import { runCommand } from '../../barman/run.js';
import { COMMAND_NAME_RE } from '../../barman/invocation.js';
import { mountPrefix } from './problem.js';
import { modelOf, stateRead } from './reads.js';
import type { V1Route } from './route.js';

const HOST = { host: 'The barman host, as the settings name it (`default` for [barman])' };
const SERVER = { ...HOST, server: 'The server, as barman names it' };
const count = (what: string) => matching(/^\d{1,9}$/, `must be a whole number (${what})`).optional();

export const backupBody = lazySchema((z) =>
  z.strictObject({
    name: text('must be text').optional(),
    immediate_checkpoint: flag(),
    reuse_backup: oneOf(['off', 'copy', 'link'], 'off').optional(),
    wait: flag(),
    wait_timeout: count('seconds'),
    jobs: count('parallel workers'),
    retry_times: count('retries'),
    retry_sleep: count('seconds'),
    bwlimit: count('KB/s'),
  }),
);

export const switchWalBody = lazySchema((z) => z.strictObject({ force: flag(), archive: flag(), archive_timeout: count('seconds') }));

/** A recovery: every field has one meaning; none is shell text (the ssh command is built here). */
export const recoveryBody = lazySchema((z) =>
  z.strictObject({
    backup: text('is required: a backup id as barman lists it').min(1, { error: 'is required: a backup id as barman lists it' }),
    destination: matching(/^\/[^\0]*$/, 'is required: an absolute directory path'),
    target_time: text().optional(),
    target_xid: matching(/^\d{1,20}$/, 'must be a transaction id (digits)').optional(),
    target_lsn: matching(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'must be an LSN such as 0/3000060').optional(),
    target_name: text().optional(),
    target_immediate: flag(),
    target_tli: matching(/^(\d{1,9}|current|latest)$/, 'must be a timeline number, current or latest').optional(),
    target_action: oneOf(['pause', 'promote', 'shutdown'], 'pause').optional(),
    exclusive: flag(),
    tablespaces: z.union([z.string(), z.array(z.string())]).optional(),
    remote_host: matching(/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$|^[0-9A-Fa-f]*:[0-9A-Fa-f:.]+$/, 'must be a host name, an IPv4 or an IPv6 address (no brackets)').optional(),
    remote_user: matching(/^[a-z_][a-z0-9_.-]{0,31}$/, 'must be a user name').optional(),
    remote_port: z
      .string({ error: 'must be a port number from 1 to 65535' })
      .regex(/^\d{1,5}$/, { error: 'must be a port number from 1 to 65535' })
      .refine((v) => Number(v) >= 1 && Number(v) <= 65535, { error: 'must be a port number from 1 to 65535' })
      .optional(),
    get_wal: flag(),
    standby_mode: flag(),
    recovery_staging_path: matching(/^\/[^\0]*$/, 'must be an absolute path').optional(),
    jobs: count('parallel workers'),
    bwlimit: count('KB/s'),
  }),
);

/** Any parameters, as /barman/<command> takes them: the host's barman says which. */
export const commandBody = lazySchema((z) => z.object({}).catchall(z.union([z.string(), z.array(z.string())])));

export function actionRoutes(hosts: HostSet, jobs: JobService, detail: (v: JobView) => Promise<unknown>): V1Route[] {
  const host = (c: Context<AppEnv>, name: string): HostServices => {
    const h = hosts.forUser(c.get('user'), name);
    c.set('barmanHost', h.deps.host.description);
    return h;
  };
  /** Run `command` for the caller: 202 with the job when it runs in the background, else barman's result. */
  const act = async (c: Context<AppEnv>, h: HostServices, command: string, params: Params): Promise<Response> => {
    const outcome = await runCommand(h, jobs, c.get('user'), command, params, c.req.raw.signal);
    if ('job' in outcome) {
      return c.json(await detail(await jobs.view(outcome.job.id)), 202, { Location: `${mountPrefix(c)}/api/v1/jobs/${outcome.job.id}` });
    }
    const { result, status } = outcome;
    if (status !== 200) {
      const { type, message, ...rest } = result;
      throw new ApiError(status, type ?? 'BarmanCommandFailed', message || `barman ${command} failed (${result.status_code})`, rest);
    }
    return c.json(result, 200);
  };
  return [...backupActions(host, act), ...serverActions(host, act)];
}

type HostOf = (c: Context<AppEnv>, name: string) => HostServices;
type Act = (c: Context<AppEnv>, h: HostServices, command: string, params: Params) => Promise<Response>;

/** barman's own failures (classifyFailure): busy or locked, failed, unreachable, too slow. */
const ACTION_ERRORS: V1Route['errors'] = [409, 422, 502, 504];

const started = { 202: { description: 'Started as a background job ([barman] asynccommand): the job, also at Location', schema: 'JobDetail' as const, headers: ['Location'] } };
const ran = { 200: { description: "barman's result", schema: 'CommandResult' as const } };

function backupActions(host: HostOf, act: Act): V1Route[] {
  return [
    {
      method: 'POST', path: '/hosts/{host}/servers/{server}/backups', operationId: 'startBackup', tag: 'backups', rule: 'barman/backup', pathParams: SERVER,
      summary: 'Start a backup', body: { schema: 'BackupRequest', required: false },
      responses: { ...started, ...ran }, errors: ACTION_ERRORS,
      handle: async (c, p) => {
        const body = await paramsBody(c, backupBody, true);
        return act(c, host(c, p.host!), 'backup', { server_name: p.server!, ...asParams(body) });
      },
    },
    {
      method: 'DELETE', path: '/hosts/{host}/servers/{server}/backups/{backup}', operationId: 'deleteBackup', tag: 'backups', rule: 'barman/delete',
      pathParams: { ...SERVER, backup: 'The backup id as barman lists it; no shortcuts' },
      summary: 'Delete a backup', responses: { ...started, ...ran }, errors: ACTION_ERRORS,
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const h = host(c, p.host!);
        await listedBackup(h, p.server!, p.backup!);
        return act(c, h, 'delete', { server_name: p.server!, backup_id: p.backup! });
      },
    },
    {
      method: 'POST', path: '/hosts/{host}/servers/{server}/recoveries', operationId: 'startRecovery', tag: 'backups', rule: 'barman/recover', pathParams: SERVER,
      summary: 'Recover a backup into a directory, here or on a remote host over ssh',
      description: 'remote_host (with remote_user, remote_port) recovers over ssh: the ssh command is built from them, never taken as text. tablespaces: NAME:LOCATION pairs. The paths are checked as on /barman/recover: barman\'s own folders and the API\'s store are refused.',
      body: { schema: 'RecoveryRequest', required: true },
      responses: { ...started, ...ran }, errors: ACTION_ERRORS,
      handle: async (c, p) => {
        const body = await paramsBody(c, recoveryBody, false);
        const h = host(c, p.host!);
        await listedBackup(h, p.server!, String(body.backup));
        return act(c, h, 'recover', { server_name: p.server!, ...recoverParams(body) });
      },
    },
  ];
}

function serverActions(host: HostOf, act: Act): V1Route[] {
  return [
    {
      method: 'POST', path: '/hosts/{host}/servers/{server}/check', operationId: 'checkServer', tag: 'servers', rule: 'barman/check', pathParams: SERVER,
      summary: 'Run barman check now (it connects to PostgreSQL)', responses: { ...started, ...ran }, errors: ACTION_ERRORS,
      handle: async (c, p) => {
        await paramsBody(c, noParams, true);
        return act(c, host(c, p.host!), 'check', { server_name: p.server!, fresh: 'true' });
      },
    },
    {
      method: 'POST', path: '/hosts/{host}/servers/{server}/wal/switch', operationId: 'switchWal', tag: 'servers', rule: 'barman/switch-wal', pathParams: SERVER,
      summary: 'Switch PostgreSQL to a new WAL segment (barman switch-wal)', body: { schema: 'SwitchWalRequest', required: false },
      responses: { ...started, ...ran }, errors: ACTION_ERRORS,
      handle: async (c, p) => {
        const body = await paramsBody(c, switchWalBody, true);
        return act(c, host(c, p.host!), 'switch-wal', { server_name: p.server!, ...asParams(body) });
      },
    },
    {
      method: 'POST', path: '/hosts/{host}/commands/{command}', operationId: 'runCommand', tag: 'commands', rule: 'barman/{command}', ruleFrom: commandRule,
      pathParams: { ...HOST, command: "A barman command, as the host's barman names it (GET /barman/{command}/help?host=… lists its parameters)" },
      summary: 'Run any barman command of the host (its parameters as /barman/{command} takes them)',
      description: 'The body names the parameters as the legacy route does: positional arguments by the names barman\'s help gives them, options by long name without dashes, flags as "true". What the host\'s barman does not take is refused by name.',
      body: { schema: 'CommandRequest', required: false },
      responses: { ...started, ...ran }, errors: ACTION_ERRORS,
      handle: async (c, p) => act(c, host(c, p.host!), p.command!, asParams(await paramsBody(c, commandBody, true))),
    },
  ];
}

/**
 * The rule path of a command named in the URL: barman/<command>, as the legacy URL is. A name
 * that is no command's (a slash, dots, upper case) is no route, before any rule is looked at.
 */
function commandRule(params: Record<string, string>): string {
  const command = params.command ?? '';
  if (!COMMAND_NAME_RE.test(command)) throw notFound(`no barman command ${JSON.stringify(command.slice(0, 64))}: commands are lower-case words`, { parameter: 'command' });
  return `barman/${command}`;
}

/** A recovery body as recover's parameters: the ssh command built from its parts. */
function recoverParams(body: Record<string, unknown>): Params {
  const { backup, destination, tablespaces, remote_host: host, remote_user: user, remote_port: port, ...options } = body;
  if ((user !== undefined || port !== undefined) && host === undefined) throw badRequest('remote_user and remote_port go with remote_host', { parameter: 'remote_host' });
  const params: Params = { backup_id: String(backup), destination_directory: String(destination), ...asParams(options) };
  if (tablespaces !== undefined) params.tablespace = [tablespaces as string | string[]].flat();
  if (host !== undefined) params.remote_ssh_command = ['ssh', ...(port === undefined ? [] : ['-p', String(port)]), `${user === undefined ? '' : `${String(user)}@`}${String(host)}`].join(' ');
  return params;
}

/** A checked body as the legacy parameters: a flag on is "true", a flag off or a value not given is left out. */
function asParams(body: Record<string, unknown>): Params {
  const out: Params = {};
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined || value === false) continue;
    out[name] = value === true ? 'true' : Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/** Only an id list-backup lists: no shortcut (latest, oldest) or other word reaches barman. */
async function listedBackup(h: HostServices, server: string, id: string): Promise<void> {
  const backups = modelOf(await stateRead(h, () => h.state.backups(server)), 'server');
  if (!backups.some((b) => b.id === id)) throw notFound(`server ${server} has no backup ${JSON.stringify(id.slice(0, 64))}`, { parameter: 'backup' });
}

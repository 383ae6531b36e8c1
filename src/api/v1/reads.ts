/**
 * The read resources of barman's state: hosts, servers (every host's, or one host's), one
 * server, a server's backups and one backup. They come from the state model (its reads are
 * cached only while barman's files are unchanged) and show nothing that moves with the clock, so
 * an unchanged state gives an unchanged answer and ETag.
 */
import type { Context } from 'hono';
import type { AppEnv, SettingsHolder } from '../../context.js';
import { ApiError, notFound } from '../../http/errors.js';
import { noParams, parseParams } from '../../http/schema.js';
import { queryParams } from '../../http/params.js';
import type { HostServices, HostSet } from '../../hosts/services.js';
import { checkFleetRules, readHost, walView, type FleetRow } from '../../hosts/routes.js';
import type { BackupDetails, BackupState, ServerState } from '../../state/model.js';
import { BarmanStateError, type StateAnswer } from '../../state/service.js';
import { redact } from '../../util/redact.js';
import type { V1Route } from './route.js';

const HOST = { host: 'The barman host, as the settings name it (`default` for [barman])' };
const SERVER = { ...HOST, server: 'The server, as barman names it' };

/** The host named in the path, if the caller reaches it; no query parameters taken. */
type HostOf = (c: Context<AppEnv>, name: string) => Promise<HostServices>;

export function readRoutes(hosts: HostSet, settings: SettingsHolder, now: () => Date): V1Route[] {
  const hostOf: HostOf = async (c, name) => {
    await parseParams(noParams, queryParams(c));
    const host = hosts.forUser(c.get('user'), name);
    c.set('barmanHost', host.deps.host.description);
    return host;
  };
  return [...serverRoutes(hosts, settings, now, hostOf), ...backupRoutes(hostOf)];
}

function serverRoutes(hosts: HostSet, settings: SettingsHolder, now: () => Date, hostOf: HostOf): V1Route[] {
  const fleet = async (c: Context<AppEnv>, list: HostServices[]) => {
    const boundMs = settings.current().application.fleetTimeoutSeconds * 1000;
    return serverList(await Promise.all(list.map((h) => readHost(h, boundMs, now))));
  };
  return [
    {
      method: 'GET', path: '/hosts', operationId: 'listHosts', tag: 'hosts', rule: 'fleet', conditional: true,
      summary: 'The barman hosts you reach',
      responses: { 200: { description: 'The hosts, in settings order', schema: 'HostList', headers: ['ETag'] } },
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        checkFleetRules(c.get('user'), '/api/v1/hosts');
        return { items: hosts.reachable(c.get('user')).map(hostResource) };
      },
    },
    {
      method: 'GET', path: '/hosts/{host}', operationId: 'getHost', tag: 'hosts', rule: 'fleet', conditional: true, pathParams: HOST,
      summary: 'One barman host',
      responses: { 200: { description: 'The host', schema: 'Host', headers: ['ETag'] } },
      handle: async (c, p) => {
        const host = await hostOf(c, p.host!);
        checkFleetRules(c.get('user'), '/api/v1/hosts/{host}');
        return hostResource(host);
      },
    },
    {
      method: 'GET', path: '/servers', operationId: 'listServers', tag: 'servers', rule: 'fleet', conditional: true,
      summary: 'Every server of every host you reach (the fleet view)',
      errors: [502],
      description: 'A host that does not answer within [application] fleet_timeout is shown with `reachable: null` and its servers as last known (`stale: true`). Needs what /fleet needs: access to `fleet` and no deny of the barman commands it is made of.',
      responses: { 200: { description: 'Hosts and their servers', schema: 'ServerList', headers: ['ETag'] } },
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        checkFleetRules(c.get('user'), '/api/v1/servers');
        return fleet(c, hosts.reachable(c.get('user')));
      },
    },
    {
      method: 'GET', path: '/hosts/{host}/servers', operationId: 'listHostServers', tag: 'servers', rule: 'fleet', conditional: true, pathParams: HOST,
      summary: "One host's servers",
      errors: [502],
      responses: { 200: { description: 'The host and its servers', schema: 'ServerList', headers: ['ETag'] } },
      handle: async (c, p) => {
        const host = await hostOf(c, p.host!);
        checkFleetRules(c.get('user'), '/api/v1/hosts/{host}/servers');
        return fleet(c, [host]);
      },
    },
    {
      method: 'GET', path: '/hosts/{host}/servers/{server}', operationId: 'getServer', tag: 'servers', rule: 'fleet', conditional: true, pathParams: SERVER,
      summary: 'One server: its state, last backup and WAL archiving',
      errors: [501, 502],
      responses: { 200: { description: 'The server', schema: 'Server', headers: ['ETag'] } },
      handle: async (c, p) => {
        const host = await hostOf(c, p.host!);
        checkFleetRules(c.get('user'), '/api/v1/hosts/{host}/servers/{server}');
        return serverResource(host.name, modelOf(await stateRead(host, () => host.state.server(p.server!)), 'server'), false);
      },
    },
  ];
}

function backupRoutes(hostOf: HostOf): V1Route[] {
  return [
    {
      method: 'GET', path: '/hosts/{host}/servers/{server}/backups', operationId: 'listBackups', tag: 'backups', rule: 'barman/list-backup', ruleAliases: ['barman/list-backups'], conditional: true, pathParams: SERVER,
      summary: "A server's backups, newest first",
      errors: [501, 502],
      responses: { 200: { description: 'The backups barman lists', schema: 'BackupList', headers: ['ETag'] } },
      handle: async (c, p) => {
        const host = await hostOf(c, p.host!);
        const backups = modelOf(await stateRead(host, () => host.state.backups(p.server!)), 'server');
        return { items: backups.map((b) => backupResource(host.name, p.server!, b)) };
      },
    },
    {
      method: 'GET', path: '/hosts/{host}/servers/{server}/backups/{backup}', operationId: 'getBackup', tag: 'backups', rule: 'barman/show-backup', ruleAliases: ['barman/show-backups'], conditional: true,
      pathParams: { ...SERVER, backup: 'The backup id as barman lists it (20261127T233548); no shortcuts such as latest' },
      summary: 'One backup, as show-backup details it',
      errors: [501, 502],
      responses: { 200: { description: 'The backup', schema: 'BackupDetail', headers: ['ETag'] } },
      handle: async (c, p) => {
        const host = await hostOf(c, p.host!);
        return backupDetail(host.name, p.server!, modelOf(await stateRead(host, () => host.state.backup(p.server!, p.backup!)), 'backup'));
      },
    },
  ];
}

/** A read of the state model; barman giving no answer to read it from is the barman host failing (502). */
export async function stateRead<T>(host: HostServices, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof BarmanStateError) throw new ApiError(502, 'BarmanAnswerUnreadable', redact(e.message), { host: host.name });
    throw e;
  }
}

/** The model, or the error its absence means: 404 for what does not exist, 501 for a barman without -f json. */
export function modelOf<T>(answer: StateAnswer<T>, what: string): T {
  if (answer.reason === undefined) return answer.model;
  if (answer.missing) throw notFound(answer.reason, { parameter: what });
  throw new ApiError(501, 'NoStateModel', answer.reason);
}

export function hostResource(h: HostServices) {
  const health = h.breaker.health();
  return {
    name: h.name,
    description: h.deps.host.description,
    down: health.up === false ? { reason: health.reason, since: health.since, next_try: health.retryAt } : null,
  };
}

function serverList(rows: FleetRow[]) {
  return {
    hosts: rows.map(({ host, stale }) => ({
      name: host.name,
      description: host.description,
      reachable: host.reachable,
      reason: host.reason,
      as_of: stale ? host.as_of : null,
    })),
    items: rows.flatMap((row) => row.servers.map((s) => serverResource(row.host.name, s, row.stale))),
  };
}

function backupResource(host: string, server: string, b: BackupState) {
  return {
    host,
    server,
    id: b.id,
    status: b.status,
    begin_time: b.beginTime,
    end_time: b.endTime,
    size_bytes: b.sizeBytes,
    wal_size_bytes: b.walSizeBytes,
    retention_status: b.retentionStatus,
  };
}

function backupDetail(host: string, server: string, b: BackupDetails) {
  return {
    ...backupResource(host, server, b),
    timeline: b.timeline,
    begin_wal: b.beginWal,
    end_wal: b.endWal,
    begin_lsn: b.beginLsn,
    end_lsn: b.endLsn,
    copy_time_seconds: b.copyTimeSeconds,
    postgresql_version: b.pgVersion,
    previous_backup: b.previousBackup,
    next_backup: b.nextBackup,
  };
}

function serverResource(host: string, s: ServerState, stale: boolean) {
  return {
    host,
    name: s.name,
    description: s.description,
    active: s.active,
    disabled: s.disabled,
    backup_method: s.backupMethod,
    postgresql_version: s.pgVersion,
    retention_policy: s.retentionPolicy,
    last_backup: s.lastBackup ? backupResource(host, s.name, s.lastBackup) : null,
    backups: s.backups?.length ?? null,
    failed_backups: s.failedBackups,
    wal: walView(s),
    errors: s.errors,
    stale,
  };
}

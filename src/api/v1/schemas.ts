/**
 * The v1 answers as zod schemas: the document's components (document.ts turns them into JSON
 * Schema 2020-12, OpenAPI 3.1's dialect). Built once zod is loaded, on the first request for the
 * document, so a server that never serves it never loads zod for it.
 */
import { webhookSchemas } from './webhook-schemas.js';

type Zod = typeof import('zod');

const time = (z: Zod) => z.string().describe('ISO 8601, UTC').nullable();
/** A count or size as barman gives it (barman's own numbers are not checked further). */
const count = (z: Zod) => z.number().nullable();

export function v1Schemas(z: Zod) {
  return { ...commonSchemas(z), ...stateSchemas(z), ...jobSchemas(z), ...actionSchemas(z), ...legacySchemas(z), ...healthSchemas(z), ...webhookSchemas(z) };
}

/** /healthz and /readyz (src/http/health.ts). */
function healthSchemas(z: Zod) {
  const Health = z.strictObject({ status: z.literal('ok') });
  const HostReadiness = z.strictObject({
    name: z.string(),
    description: z.string(),
    reachable: z.boolean().nullable().describe('null: not used yet'),
    reason: z.string().nullable(),
    down_since: time(z),
    catalogue: z.strictObject({ state: z.enum(['loaded', 'partial', 'none']), version: z.string().nullable(), built_at: time(z) }),
    state_as_of: time(z).describe("The last background round's time"),
  });
  const Readiness = z.strictObject({
    status: z.enum(['ready', 'not ready']),
    checks: z.strictObject({ store: z.enum(['ok', 'failing']), serving: z.enum(['ok', 'draining']) }),
    store_error: z.string().optional().describe('Why the store takes no writes (with a token)'),
    hosts: z.array(HostReadiness).optional().describe('The barman hosts you reach (with a token that may read /fleet); never part of the verdict'),
  });
  return { Health, Readiness };
}

/** What the actions take (canonical JSON types; "true" and "5" are taken too) and what a run now answers. */
function actionSchemas(z: Zod) {
  const whole = (what: string) => z.number().int().min(0).max(999_999_999).optional().describe(what);
  const BackupRequest = z.strictObject({
    name: z.string().optional().describe('A name for the backup (barman 3.3 and later)'),
    immediate_checkpoint: z.boolean().optional(),
    reuse_backup: z.enum(['off', 'copy', 'link']).optional(),
    wait: z.boolean().optional().describe('Wait for the WAL files the backup needs (the job ends after them)'),
    wait_timeout: whole('Seconds'),
    jobs: whole('Parallel workers'),
    retry_times: whole('Retries of a failed copy'),
    retry_sleep: whole('Seconds between retries'),
    bwlimit: whole('KB/s'),
  }).describe("barman backup's options; one the host's barman lacks is refused by name");
  const SwitchWalRequest = z.strictObject({ force: z.boolean().optional(), archive: z.boolean().optional(), archive_timeout: whole('Seconds') });
  const CommandRequest = z.record(z.string(), z.union([z.string(), z.array(z.string())])).describe('Parameters as /barman/{command} takes them');
  const CommandResult = z.strictObject({
    status_code: z.number().int().describe('200, or barman\'s exit code'),
    message: z.string().describe("barman's standard error"),
    list: z.array(z.string()).describe("barman's standard output, line by line"),
    data: z.unknown().optional().describe("barman's JSON document (-f json)"),
    truncated: z.boolean().optional(),
    cache: z.strictObject({ hit: z.boolean(), age_ms: z.number().int() }).optional(),
    host: z.string().optional(),
  });
  const path = () => z.string().regex(/^\//).describe('An absolute path');
  const RecoveryRequest = z.strictObject({
    backup: z.string().describe('A backup id as barman lists it'),
    destination: path().describe('Where PGDATA is recovered to (on remote_host when given)'),
    target_time: z.string().optional().describe('A timestamp PostgreSQL understands, e.g. 2026-12-01 10:00:00+00'),
    target_xid: z.string().regex(/^\d+$/).optional(),
    target_lsn: z.string().regex(/^[0-9A-Fa-f]+\/[0-9A-Fa-f]+$/).optional(),
    target_name: z.string().optional().describe('A restore point'),
    target_immediate: z.boolean().optional().describe('End as soon as the backup is consistent'),
    target_tli: z.string().optional().describe('A timeline number, current or latest'),
    target_action: z.enum(['pause', 'promote', 'shutdown']).optional(),
    exclusive: z.boolean().optional(),
    tablespaces: z.array(z.string()).optional().describe('NAME:LOCATION pairs'),
    remote_host: z.string().optional().describe('Recover on this host, over ssh'),
    remote_user: z.string().optional(),
    remote_port: z.number().int().min(1).max(65535).optional(),
    get_wal: z.boolean().optional(),
    standby_mode: z.boolean().optional(),
    recovery_staging_path: path().optional(),
    jobs: whole('Parallel workers'),
    bwlimit: whole('KB/s'),
  });
  return { BackupRequest, SwitchWalRequest, CommandRequest, CommandResult, RecoveryRequest, ...configSchemas(z) };
}

/** barman's configuration: as read (merged sections, files) and as changed. */
function configSchemas(z: Zod) {
  const kind = z.enum(['global', 'server', 'model']);
  const options = () => z.record(z.string(), z.string());
  const BarmanConfig = z.strictObject({
    main_file: z.string(),
    configuration_files_directory: z.strictObject({ configured: z.string().nullable(), resolved: z.string().nullable(), usable: z.boolean() }),
    sections: z.array(z.strictObject({
      name: z.string(), kind, model: z.boolean(), file: z.string().describe('Where a new key of this section goes'), files: z.array(z.string()),
      options: options().describe('Effective values (secrets redacted)'), origins: options().describe('The file each value comes from'),
    })),
    files: z.array(z.strictObject({
      path: z.string(), role: z.enum(['main', 'include']),
      sections: z.array(z.strictObject({ name: z.string(), kind, model: z.boolean(), options: options() })),
      problems: z.array(z.strictObject({ line: z.number().int(), message: z.string() })),
    })),
    warnings: z.array(z.string()),
  });
  const BarmanConfigChange = z.strictObject({
    set: z.record(z.string(), z.string()).optional().describe('section.key → value'),
    remove: z.array(z.string()).optional().describe('section.key to remove'),
    create: z.boolean().optional().describe('Create the section (a new server) when it does not exist'),
    force: z.boolean().optional(),
    dry_run: z.boolean().optional().describe('Answer the diff, change nothing'),
  });
  const BarmanConfigChanged = z.strictObject({
    changes: z.array(z.strictObject({ section: z.string(), key: z.string(), action: z.enum(['set', 'remove']), previous: z.string().nullable(), value: z.string().nullable(), changed: z.boolean() })),
    file: z.string(),
    dry_run: z.boolean(),
    diff: z.string().describe('Unified diff of the file (secrets redacted)'),
    written: z.boolean(),
    write_mode: z.enum(['created', 'replaced', 'in-place']).nullable(),
    backup: z.string().nullable().describe('Where the previous content was kept, in the store'),
    warnings: z.array(z.string()),
    note: z.string().optional(),
    message: z.string(),
  });
  const SettingsView = z.strictObject({
    settings: z.array(z.looseObject({
      section: z.string(), host: z.string().optional(), key: z.string(), value: z.unknown(), default: z.unknown(),
      from: z.enum(['file', 'default']), type: z.string(), secret: z.boolean(), live: z.boolean(), privileged: z.boolean(), description: z.string(),
    })),
    file: z.string().nullable(),
    format: z.enum(['ini', 'toml']).nullable(),
    warnings: z.array(z.string()),
    note: z.string(),
  });
  const SettingsChange = z.strictObject({
    set: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional().describe("section.key (or host:NAME.key) → value; a list as the settings file writes it: ['a', 'b']"),
    remove: z.array(z.string()).optional().describe('Keys back to their defaults'),
    dry_run: z.boolean().optional(),
  });
  const SettingsChanged = z.strictObject({
    changes: z.array(z.looseObject({ id: z.string(), changed: z.boolean(), live: z.boolean(), previous: z.unknown(), value: z.unknown() })),
    file: z.string(),
    dry_run: z.boolean(),
    written: z.boolean(),
    applied_live: z.array(z.string()),
    restart_required: z.array(z.string()),
    diff: z.string(),
    backup: z.string().nullable(),
    message: z.string(),
  });
  return { BarmanConfig, BarmanConfigChange, BarmanConfigChanged, Settings: SettingsView, SettingsChange, SettingsChanged };
}

function commonSchemas(z: Zod) {
  const Problem = z.looseObject({
    type: z.string().describe('A URN naming the kind of problem: urn:barmanapi:problem:<Type>'),
    title: z.string(),
    status: z.number().int().min(100).max(599),
    detail: z.string(),
    instance: z.string().optional().describe('The request path, relative to where the API is served'),
    parameter: z.string().optional().describe('The parameter at fault'),
    allowed: z.array(z.string()).optional().describe('What the parameter takes'),
    retry_after: z.number().int().optional().describe('Seconds to wait before trying again (also in Retry-After)'),
  }).describe('An error, as RFC 9457 describes it; further members give details');

  const Me = z.strictObject({
    username: z.string(),
    access: z.array(z.string()),
    deny: z.array(z.string()),
    hosts: z.array(z.string()).describe('The barman hosts this user reaches'),
  });
  const Token = z.strictObject({
    token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().describe('Seconds'),
    expires_at: z.string(),
  });
  const Credentials = z.strictObject({ username: z.string().min(1), password: z.string() });
  const ruleList = (what: string) => z.union([z.array(z.string()), z.string()]).optional().describe(`${what}: a list, or one text in the users file's list syntax`);
  const User = z.strictObject({ username: z.string(), access: z.array(z.string()), deny: z.array(z.string()), hosts: z.array(z.string()).optional() });
  const UserList = z.strictObject({ items: z.array(User) });
  const NewUser = z.strictObject({
    username: z.string().min(1),
    password: z.string(),
    access: ruleList('Route paths (barman, auth/user/list, …); empty: everything'),
    deny: ruleList('Route paths denied (prefix reach)'),
    hosts: ruleList('Barman hosts reached; * for all'),
  });
  const UserChange = z.strictObject({ password: z.string().optional(), access: ruleList('As for a new user'), deny: ruleList('As for a new user'), hosts: ruleList('As for a new user') });
  return { Problem, Me, Token, Credentials, User, UserList, NewUser, UserChange };
}

/** Hosts, servers and backups: the state model as the v1 reads show it. */
function stateSchemas(z: Zod) {
  const Host = z.strictObject({
    name: z.string().describe('As the settings name it: `default` is [barman], others [host:NAME]'),
    description: z.string().describe('Where barman runs: `local`, or `ssh user@host`'),
    down: z.strictObject({ reason: z.string().nullable(), since: time(z), next_try: time(z) })
      .nullable()
      .describe('Set while the host is known down (with several hosts, a host that failed is tried again in the background)'),
  });
  const HostList = z.strictObject({ items: z.array(Host) });

  const Backup = z.strictObject({
    host: z.string(),
    server: z.string(),
    id: z.string(),
    status: z.string().nullable().describe('As barman says: DONE, FAILED, WAITING_FOR_WALS, STARTED, …'),
    begin_time: time(z),
    end_time: time(z),
    size_bytes: count(z),
    wal_size_bytes: count(z),
    retention_status: z.string().nullable().describe('VALID, OBSOLETE, KEEP:FULL, … when a retention policy applies'),
  });
  const BackupList = z.strictObject({ items: z.array(Backup) });
  const BackupDetail = z.strictObject({
    ...Backup.shape,
    timeline: count(z),
    begin_wal: z.string().nullable(),
    end_wal: z.string().nullable(),
    begin_lsn: z.string().nullable(),
    end_lsn: z.string().nullable(),
    copy_time_seconds: z.number().min(0).nullable(),
    postgresql_version: z.string().nullable(),
    previous_backup: z.string().nullable(),
    next_backup: z.string().nullable(),
  });

  const Wal = z.strictObject({
    current: z.string().nullable().describe('The segment PostgreSQL writes now'),
    archiver_enabled: z.boolean().nullable(),
    last_archived: z.string().nullable(),
    last_archived_time: time(z),
    failed_count: count(z),
    last_failed: z.string().nullable(),
    streaming: z.boolean().nullable(),
  });
  const Server = z.strictObject({
    host: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    active: z.boolean().nullable(),
    disabled: z.boolean().nullable(),
    backup_method: z.string().nullable(),
    postgresql_version: z.string().nullable(),
    retention_policy: z.string().nullable(),
    last_backup: Backup.nullable().describe('The newest DONE backup'),
    backups: count(z).describe('How many backups barman lists'),
    failed_backups: count(z),
    wal: Wal,
    errors: z.array(z.string()).describe('What barman reported as errors while answering'),
    stale: z.boolean().describe('true: the last known state, the host not answering now'),
  });
  const HostAnswer = z.strictObject({
    name: z.string(),
    description: z.string(),
    reachable: z.boolean().nullable().describe('true: answered; false: failed; null: no answer in time ([application] fleet_timeout)'),
    reason: z.string().nullable(),
    as_of: time(z).describe('When the servers shown were read: null when read for this answer'),
  });
  const ServerList = z.strictObject({ hosts: z.array(HostAnswer), items: z.array(Server) });
  return { Host, HostList, Backup, BackupList, BackupDetail, Wal, Server, HostAnswer, ServerList };
}

function jobSchemas(z: Zod) {
  const JobStatus = z.enum(['queued', 'running', 'done', 'failed', 'lost', 'cancelled']);
  const Job = z.strictObject({
    id: z.string(),
    host: z.string(),
    server: z.string().describe('The servers it runs on, comma-separated'),
    command: z.string(),
    status: JobStatus,
    user: z.string(),
    created_at: z.string(),
    status_code: z.number().int().nullable().describe("barman's exit code once ended"),
    ticket: z.string().describe('The legacy ticket of this job (/history/result?ticket=…)'),
  });
  const JobDetail = z.strictObject({
    ...Job.shape,
    started_at: time(z),
    ended_at: time(z),
    duration_ms: z.number().int().min(0).nullable(),
    exit_code: z.number().int().nullable(),
    archived: z.boolean().describe("true: read from its month's archive"),
    result: z.strictObject({
      status_code: z.number().int(),
      message: z.string().describe("barman's standard error"),
      list: z.array(z.string()).describe("barman's standard output, line by line"),
      data: z.unknown().optional().describe("barman's JSON document, for a command run with -f json"),
      truncated: z.boolean().optional(),
    }).nullable().describe('null until the job ends'),
  });
  const JobPage = z.strictObject({
    items: z.array(Job),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page. A page may hold fewer than `limit` jobs and still have one: each request looks at 2000 jobs at most'),
  });

  const JobCancel = z.strictObject({ id: z.string(), status: z.enum(['cancelled', 'cancelling']) });
  return { JobStatus, Job, JobDetail, JobPage, JobCancel };
}

/** The seed's envelopes, as loosely as they are kept: fields are added to them, never changed. */
function legacySchemas(z: Zod) {
  const LegacyResult = z.looseObject({
    status_code: z.number().int().describe("200, or barman's exit code"),
    message: z.string(),
    list: z.unknown(),
  }).describe('The seed\'s envelope: further members are added, never changed');
  const LegacyError = z.looseObject({ status_code: z.number().int(), type: z.string(), message: z.string() });
  const LegacyToken = z.looseObject({ token: z.string(), expires_in: z.number().int() });

  return { LegacyResult, LegacyError, LegacyToken };
}

export type SchemaName = keyof ReturnType<typeof v1Schemas>;

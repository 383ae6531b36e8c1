/**
 * From a /barman request to what runs: the command looked up in the installed barman's catalogue,
 * every access check that depends on the command and its arguments, the argv, and how it runs
 * (now, with the request's timeout and output bound, or as a background job).
 */
import type { AuthedUser, Deps } from '../context.js';
import { CONFIG_EXEC_GRANT, holdsGrant, isDenied } from '../auth/policy.js';
import { badRequest, forbidden, notFound } from '../http/errors.js';
import { single, type Params } from '../http/params.js';
import { shellJoin } from '../util/shell-quote.js';
import { truthOf } from '../util/truth.js';
import { CatalogueStore, type Catalogue } from './catalogue.js';
import type { CommandSpec } from './help-parser.js';
import { checkFileNameArguments, checkPathArguments, isRemoteRecovery, pathArguments, protectedPlaces } from './host-paths.js';
import { commandArgs, normaliseName } from './params.js';
import { checkRemoteSshCommand, SHELL_EXECUTED_OPTIONS } from './remote-ssh-command.js';

export const COMMAND_NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;
/** Parameters the API itself consumes; never passed to barman (`token` never reaches here). */
const RESERVED = new Set(['format', 'fresh']);
/** barman ≥ 3.10 commands that change its configuration: the same grant as editing it directly. */
const CONFIG_COMMANDS = new Set(['config-update', 'config-switch']);
/**
 * Commands that only read: identical runs of these at the same time may share one process
 * (single-flight.ts). `check` creates barman's folders when they are missing, which two identical
 * checks at once do no differently from one. Anything not named here runs once per request.
 */
const READ_ONLY_COMMANDS = new Set([
  'check', 'check-wal-archive', 'diagnose', 'list-backup', 'list-backups', 'list-files', 'list-processes', 'list-server',
  'list-servers', 'replication-status', 'show-backup', 'show-backups', 'show-server', 'show-servers', 'status', 'sync-info',
]);
/** barman's JSON comes back double-encoded with -f json for diagnose, which prints JSON anyway. */
const PRINTS_JSON_ALWAYS = new Set(['diagnose']);

/**
 * The one bound on a command's size, the same on every host: the command line as the SSH host
 * sends it (every word shell-quoted) may take at most this many bytes. It is below what Linux
 * takes in one argv word (128 KiB) and what an SSH exec request carries.
 */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1;

export interface Invocation {
  spec: CommandSpec;
  argv: string[];
  /** barman was asked for JSON output. */
  json: boolean;
  /** The server(s) the command acts on. */
  servers: string[];
  /** Run as a background job ([barman] asynccommand), else now within these bounds. */
  background: boolean;
  /** The command changes nothing: an identical run going on now may be shared, its answer cached. */
  readOnly: boolean;
  /** fresh=1: run barman even when the cache holds an answer. */
  fresh: boolean;
  timeoutMs: number;
  maxOutputBytes: number;
}

export function findCommand(cat: Catalogue, name: string): CommandSpec {
  const spec = COMMAND_NAME_RE.test(name) ? CatalogueStore.find(cat, name) : undefined;
  if (!spec) {
    const commands = cat.partial?.names ?? cat.commands.map((x) => x.name);
    throw notFound(`barman ${cat.version} has no command ${JSON.stringify(name.slice(0, 64))}; commands: ${commands.join(', ')}`, { commands });
  }
  return spec;
}

/**
 * Access rules name commands as the URL does, but barman accepts aliases (`verify` is
 * `verify-backup`): a deny rule that matches any name of a command denies all of its names.
 * (The URL's own name already passed the access list.)
 */
export function checkEveryName(user: AuthedUser, spec: CommandSpec, suffix: '' | '/help'): void {
  for (const name of [spec.name, ...spec.aliases]) {
    const path = `barman/${name}${suffix}`;
    if (isDenied(user, path)) throw forbidden(`access to ${path} is denied for user ${user.username}`);
  }
}

/** Everything a user's request to run a command must pass, then what runs and how. */
export async function planInvocation(deps: Deps, cat: Catalogue, name: string, user: AuthedUser, params: Params): Promise<Invocation> {
  const spec = findCommand(cat, name);
  checkEveryName(user, spec, '');
  if (CONFIG_COMMANDS.has(spec.name) && !holdsGrant(user, CONFIG_EXEC_GRANT)) {
    throw forbidden(`barman ${spec.name} changes barman's configuration, which may set commands barman runs; it needs an access rule naming ${CONFIG_EXEC_GRANT}`);
  }
  const settings = deps.settings.current();
  const { argv, json } = buildArgv(deps, cat, spec, params);
  checkFileNameArguments(spec, params);
  const paths = pathArguments(spec, params);
  if (paths.length > 0) {
    // With a remote SSH command the paths are on another host, which may be this one under
    // another name: barman's folders stay protected; path_roots speak of the barman host only.
    const ours = [{ path: settings.application.storeDirectory, why: "barmanapi's store" }];
    const roots = isRemoteRecovery(params) ? [] : settings.barman.pathRoots;
    checkPathArguments(paths, await protectedPlaces(deps.host, settings.barman.configFile, ours), roots);
  }
  const background = [spec.name, ...spec.aliases].some((n) => settings.barman.asyncCommands.includes(n));
  return {
    spec,
    argv,
    json,
    servers: serverNames(spec, params),
    background,
    readOnly: READ_ONLY_COMMANDS.has(spec.name) && spec.aliases.every((a) => READ_ONLY_COMMANDS.has(a)),
    fresh: freshOf(params),
    timeoutMs: settings.barman.timeoutSeconds * 1000,
    maxOutputBytes: settings.barman.maxOutputBytes,
  };
}

function freshOf(params: Params): boolean {
  const word = single(params, 'fresh');
  const truth = word === undefined ? false : truthOf(word);
  if (truth === null) throw badRequest('parameter fresh must be true or false', { parameter: 'fresh', allowed: ['true', 'false'] });
  return truth;
}

/** The full barman argv for a request: command prefix, -c, -f json where it helps, the validated words. */
function buildArgv(deps: Deps, cat: Catalogue, spec: CommandSpec, params: Params): { argv: string[]; json: boolean } {
  const format = single(params, 'format') ?? 'json';
  if (format !== 'json' && format !== 'console') {
    throw badRequest('parameter format must be json or console', { parameter: 'format', allowed: ['json', 'console'] });
  }
  const { command, configFile, allowFreeRemoteSshCommand } = deps.settings.current().barman;
  if (!allowFreeRemoteSshCommand) {
    for (const [name, value] of Object.entries(params)) {
      if (!SHELL_EXECUTED_OPTIONS.has(normaliseName(name))) continue;
      for (const v of Array.isArray(value) ? value : [value]) checkRemoteSshCommand(String(v), name);
    }
  }
  const words = commandArgs({ spec, params, reserved: RESERVED });
  const alwaysJson = PRINTS_JSON_ALWAYS.has(spec.name);
  const json = format === 'json' && (alwaysJson || cat.supportsJson);
  const argv = [...command, '-c', configFile, ...(json && !alwaysJson ? ['-f', 'json'] : []), ...words];
  checkArgvSize(argv, params);
  return { argv, json };
}

function checkArgvSize(argv: string[], params: Params): void {
  const size = new TextEncoder().encode(shellJoin(argv)).length;
  if (size <= MAX_COMMAND_BYTES) return;
  let longest = '';
  let longestSize = -1;
  for (const [name, value] of Object.entries(params)) {
    const n = (Array.isArray(value) ? value : [value]).reduce<number>((sum, v) => sum + String(v).length, 0);
    if (n > longestSize) [longest, longestSize] = [name, n];
  }
  throw badRequest(`the arguments are too large: barman's command line would take ${size} bytes, at most ${MAX_COMMAND_BYTES} are allowed (the largest parameter is "${longest}")`, {
    parameter: longest,
    limit: MAX_COMMAND_BYTES,
  });
}

/** The server(s) a command acts on, for job listings and the one-job-per-server rule. */
function serverNames(spec: CommandSpec, params: Params): string[] {
  const positional = spec.positionals.find((p) => normaliseName(p.name).startsWith('servername'));
  if (!positional) return [];
  const wanted = new Set([normaliseName(positional.name), normaliseName(positional.metavar)]);
  const out: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (wanted.has(normaliseName(k))) out.push(...(Array.isArray(v) ? v : [v]).map(String));
  }
  return out;
}

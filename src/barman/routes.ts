import { Hono } from 'hono';
import type { Deps, AppEnv, AuthedUser } from '../context.js';
import { CONFIG_EXEC_GRANT, holdsGrant, isDenied } from '../auth/policy.js';
import type { JobService } from '../jobs/service.js';
import { ok } from '../http/envelope.js';
import { badRequest, forbidden, notFound } from '../http/errors.js';
import { readParams, single, type Params } from '../http/params.js';
import { CatalogueStore, type Catalogue } from './catalogue.js';
import type { CommandSpec } from './help-parser.js';
import { commandArgs, describeParams, normaliseName } from './params.js';
import { toCommandResult } from './output.js';
import { checkRemoteSshCommand, SHELL_EXECUTED_OPTIONS } from './remote-ssh-command.js';
import { shellJoin } from '../util/shell-quote.js';
import { checkFileNameArguments, checkPathArguments, isRemoteRecovery, pathArguments, protectedPlaces } from './host-paths.js';

const COMMAND_NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;
/** Parameters the API itself consumes; never passed to barman. */
const RESERVED = new Set(['token', 'format']);

/** barman ≥ 3.10 commands that change its configuration: the same grant as editing it directly. */
const CONFIG_COMMANDS = new Set(['config-update', 'config-switch']);

/** barman's JSON comes back double-encoded with -f json for diagnose, which prints JSON anyway. */
const PRINTS_JSON_ALWAYS = new Set(['diagnose']);

/** /barman: every command of the installed barman, discovered from its own help. */
export function barmanRoutes(deps: Deps, catalogue: CatalogueStore, jobs: JobService): Hono<AppEnv> {
  const r = new Hono<AppEnv>();

  r.all('/help', async (c) => {
    const cat = await catalogue.get();
    return c.json(ok(cat.commands.map(describeCommand), { version: cat.version }));
  });

  r.all('/reload', async (c) => {
    const cat = await catalogue.reload();
    return c.json(ok(cat.commands.map((x) => x.name), { version: cat.version, commands: cat.commands.length }));
  });

  r.all('/:command/help', async (c) => {
    const cat = await catalogue.get();
    const spec = findCommand(cat, c.req.param('command'));
    checkEveryName(c.get('user'), spec, '/help');
    return c.json(ok(describeCommand(spec), { version: cat.version }));
  });

  r.all('/:command', async (c) => {
    const cat = await catalogue.get();
    const spec = findCommand(cat, c.req.param('command'));
    checkEveryName(c.get('user'), spec, '');
    if (CONFIG_COMMANDS.has(spec.name) && !holdsGrant(c.get('user'), CONFIG_EXEC_GRANT)) {
      throw forbidden(`barman ${spec.name} changes barman's configuration, which may set commands barman runs; it needs an access rule naming config/barman/exec`);
    }
    const params = await readParams(c);
    const { argv, json } = buildInvocation(deps, cat, spec, params);
    const user = c.get('user').username;
    const userId = c.get('user').id;
    checkFileNameArguments(spec, params);
    const paths = pathArguments(spec, params);
    if (paths.length > 0) {
      // With a remote SSH command the paths are on another host, which may be this one under
      // another name: barman's folders stay protected; path_roots speak of the barman host only.
      const ours = [{ path: deps.settings.current().application.storeDirectory, why: "barmanapi's store" }];
      const roots = isRemoteRecovery(params) ? [] : deps.settings.current().barman.pathRoots;
      checkPathArguments(paths, await protectedPlaces(deps.host, deps.settings.current().barman.configFile, ours), roots);
    }

    if (deps.settings.current().barman.asyncCommands.includes(spec.name) || spec.aliases.some((a) => deps.settings.current().barman.asyncCommands.includes(a))) {
      const submitted = await jobs.submit({ command: spec.name, argv, json, user, userId, servers: serverNames(spec, params) });
      const hint = `/history/result?ticket=${submitted.ticket}`;
      return c.json(
        ok({ ticket: submitted.ticket, status: submitted.status, result: hint }, { ticket: submitted.ticket }, `Command started as a background job; see ${hint}`),
        202,
      );
    }

    const result = await deps.host.run(argv, {
      timeoutMs: deps.settings.current().barman.timeoutSeconds * 1000,
      maxOutputBytes: deps.settings.current().barman.maxOutputBytes,
      signal: c.req.raw.signal,
    });
    const { body, status } = toCommandResult(result, { json });
    if (status !== 200) deps.logger.log('warn', `barman ${spec.name} failed`, { exit: result.exitCode, status, user });
    return c.json(body, status);
  });

  return r;
}

/**
 * Access rules name commands as the URL does, but barman accepts aliases (`verify` is
 * `verify-backup`): a deny rule that matches any name of a command denies all of its names.
 * (The URL's own name already passed the access list.)
 */
function checkEveryName(user: AuthedUser, spec: CommandSpec, suffix: string): void {
  for (const name of [spec.name, ...spec.aliases]) {
    const path = `barman/${name}${suffix}`;
    if (isDenied(user, path)) throw forbidden(`access to ${path} is denied for user ${user.username}`);
  }
}

export function findCommand(cat: Catalogue, name: string): CommandSpec {
  const spec = COMMAND_NAME_RE.test(name) ? CatalogueStore.find(cat, name) : undefined;
  if (!spec) {
    const commands = cat.commands.map((x) => x.name);
    throw notFound(`barman ${cat.version} has no command ${JSON.stringify(name.slice(0, 64))}; commands: ${commands.join(', ')}`, { commands });
  }
  return spec;
}

/** The full barman argv for a request: command prefix, -c, -f json where it helps, the validated words. */
export function buildInvocation(deps: Deps, cat: Catalogue, spec: CommandSpec, params: Params): { argv: string[]; json: boolean } {
  const format = single(params, 'format') ?? 'json';
  if (format !== 'json' && format !== 'console') {
    throw badRequest('parameter format must be json or console', { parameter: 'format', allowed: ['json', 'console'] });
  }
  if (!deps.settings.current().barman.allowFreeRemoteSshCommand) {
    for (const [name, value] of Object.entries(params)) {
      if (!SHELL_EXECUTED_OPTIONS.has(normaliseName(name))) continue;
      for (const v of Array.isArray(value) ? value : [value]) checkRemoteSshCommand(String(v), name);
    }
  }
  const words = commandArgs({ spec, params, reserved: RESERVED });
  const alwaysJson = PRINTS_JSON_ALWAYS.has(spec.name);
  const json = format === 'json' && (alwaysJson || cat.supportsJson);
  const { command, configFile } = deps.settings.current().barman;
  const argv = [...command, '-c', configFile, ...(json && !alwaysJson ? ['-f', 'json'] : []), ...words];
  checkArgvSize(argv, params);
  return { argv, json };
}

/**
 * The one bound on a command's size, the same on every host: the command line as the SSH host
 * sends it (every word shell-quoted) may take at most this many bytes. It is below what Linux
 * takes in one argv word (128 KiB) and what an SSH exec request carries.
 */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1;

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

function describeCommand(spec: CommandSpec) {
  return { command: spec.name, aliases: spec.aliases, description: spec.description, params: describeParams(spec) };
}

/** The server(s) a command acts on, for job listings and the one-job-per-server rule. */
export function serverNames(spec: CommandSpec, params: Params): string[] {
  const positional = spec.positionals.find((p) => normaliseName(p.name).startsWith('servername'));
  if (!positional) return [];
  const wanted = new Set([normaliseName(positional.name), normaliseName(positional.metavar)]);
  const out: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (wanted.has(normaliseName(k))) out.push(...(Array.isArray(v) ? v : [v]).map(String));
  }
  return out;
}

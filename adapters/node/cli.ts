/**
 * The `barmanapi` command. Each subcommand loads what it needs when it runs: `execute` (the
 * runner of every async job) starts without the HTTP server, Hono or ssh2 in memory.
 */
import { readlinkSync, unlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ApiError } from '../../src/http/errors.js';
import { SettingsError } from '../../src/settings/load.js';
import { readSettings } from './settings-file.js';
import { VERSION } from './version.js';
import type { BarmanHost } from '../../src/ports.js';

/** One subcommand: its words, positional arguments and options, and one line of help. */
interface CommandDef {
  words: string[];
  args: string[];
  options: Array<'config' | 'host' | 'port' | 'access' | 'deny' | 'hosts'>;
  help: string;
}

const COMMANDS: CommandDef[] = [
  { words: ['runserver'], args: [], options: ['config', 'host', 'port'], help: 'serve the API' },
  { words: ['user', 'list'], args: [], options: ['config'], help: 'list the users with their rules' },
  { words: ['user', 'add'], args: ['USERNAME'], options: ['access', 'deny', 'hosts', 'config'], help: 'add a user (the password is asked for)' },
  { words: ['user', 'passwd'], args: ['USERNAME'], options: ['config'], help: "change a user's password" },
  { words: ['user', 'change'], args: ['USERNAME'], options: ['access', 'deny', 'hosts', 'config'], help: "change a user's access and deny rules or barman hosts" },
  { words: ['user', 'remove'], args: ['USERNAME'], options: ['config'], help: 'remove a user' },
  { words: ['execute'], args: ['JOB_ID'], options: ['config'], help: 'run one async job (started by the server); - reads the job id from standard input' },
  { words: ['openapi'], args: [], options: [], help: "print the API's OpenAPI 3.1 document (as served at /api/v1/openapi.json)" },
];

const OPTIONS = {
  config: { type: 'string', short: 'c', usage: '[--config FILE]' },
  host: { type: 'string', usage: '[--host HOST]' },
  port: { type: 'string', short: 'p', usage: '[--port PORT]' },
  access: { type: 'string', usage: '[--access RULES]' },
  deny: { type: 'string', usage: '[--deny RULES]' },
  hosts: { type: 'string', usage: '[--hosts HOSTS]' },
} as const;

const usageLine = (c: CommandDef) => ['barmanapi', ...c.words, ...c.args, ...c.options.map((o) => OPTIONS[o].usage)].join(' ');

const HELP = `barmanapi ${VERSION} — REST API for Barman

Usage:
${COMMANDS.map((c) => `  ${usageLine(c)}\n      ${c.help}`).join('\n')}
  barmanapi --version | --help
  barmanapi COMMAND --help

The config file is --config, else $BARMANAPI_CONFIG, else /etc/barmanapi.conf.
Passwords are read from the terminal, or from the first line of standard input.
RULES is a list such as "barman,auth/user/list" or "['barman']"; an empty access list
("[]") allows everything, including the exact-name grants (config/barman/exec, …).
HOSTS is a list of barman host names ("default,dc2", "*" for every host); "[]" goes back
to the default host only (every host for an empty access list).
`;

/** A mistake in how the command was called: exit 2, with the way to the help. */
class UsageError extends Error {}

/** Entry point of the `barmanapi` command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`barmanapi: ${e.message}\n`);
      return 2;
    }
    if (e instanceof SettingsError || e instanceof ApiError) {
      process.stderr.write(`barmanapi: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`barmanapi: ${(e as Error).message}\n`);
    return 1;
  }
}

/** The subcommand named by the leading words of argv, or null. */
function findCommand(argv: string[]): CommandDef | null {
  // The command's words come first: `barmanapi user add bob --config FILE`.
  const words = argv.slice(0, 2);
  return COMMANDS.find((c) => c.words.every((w, i) => words[i] === w)) ?? null;
}

async function run(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stdout.write(HELP);
    return 2;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const def = findCommand(argv);
  if (!def) {
    if (argv.length === 1 && ['--help', '-h', 'help'].includes(argv[0]!)) {
      process.stdout.write(HELP);
      return 0;
    }
    const first = argv.find((a) => !a.startsWith('-'));
    if (first === 'user') throw new UsageError(`user needs one of list, add, passwd, change or remove; see 'barmanapi --help'`);
    throw new UsageError(`${first ? `unknown command ${JSON.stringify(first)}` : 'no command given'}; see 'barmanapi --help'`);
  }
  const name = def.words.join(' ');
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(def.options.map((o) => [o, { type: OPTIONS[o].type, ...('short' in OPTIONS[o] ? { short: OPTIONS[o].short } : {}) }])),
      },
    });
  } catch (e) {
    const message = (e as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    throw new UsageError(`${unknown ? `unknown option ${unknown}` : message.split('\n')[0]} for '${name}'; see 'barmanapi ${name} --help'`);
  }
  if (parsed.values.help) {
    process.stdout.write(`Usage: ${usageLine(def)}\n  ${def.help}\n`);
    return 0;
  }
  const args = parsed.positionals.slice(def.words.length);
  if (args.length < def.args.length) throw new UsageError(`'${name}' needs ${def.args.slice(args.length).join(' ')}; usage: ${usageLine(def)}`);
  if (args.length > def.args.length) throw new UsageError(`'${name}' takes ${def.args.length || 'no'} argument${def.args.length === 1 ? '' : 's'}, got also ${JSON.stringify(args.slice(def.args.length).join(' '))}; usage: ${usageLine(def)}`);
  const values = parsed.values as { config?: string; host?: string; port?: string; access?: string; deny?: string; hosts?: string };
  switch (def.words[0]) {
    case 'runserver':
      return (await import('./runserver.js')).runserver(values);
    case 'execute': {
      // The job's files are written: end now, so the server that follows it learns of the end at
      // once, whatever barman's background children (cron's archive-wal) still hold open.
      const code = await executeCommand(args, values);
      process.exit(code);
    }
    case 'openapi':
      return (await import('./openapi-command.js')).printOpenApiDocument();
    default:
      return userCommand(def.words[1]!, args[0], values);
  }
}

/**
 * The detached runner of one async job; see src/jobs/execute.ts. With `-` for the job id it is a
 * warm runner: it loads what it needs first, then waits for the id on standard input, and ends
 * quietly if standard input closes without one (the server that started it went away).
 */
async function executeCommand(args: string[], values: { config?: string }): Promise<number> {
  const [{ isJobId }, { executeJob }, { createBarmanHost, createHost }, { createFsStorage }] = await Promise.all([
    import('../../src/jobs/model.js'),
    import('../../src/jobs/execute.js'),
    import('./deps.js'),
    import('./fs-storage.js'),
  ]);
  const controller = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => controller.abort());
  process.on('SIGHUP', () => undefined); // outlive the terminal that started the server
  // `-`: JOB_ID_FROM_STDIN of job-runner.ts, spelt out here to keep that module out of every start.
  const id = args[0] === '-' ? await readJobId(controller.signal) : args[0];
  if (id === null) {
    removeOwnWarmLog();
    return 0;
  }
  if (!id || !isJobId(id)) throw new UsageError(`execute needs a job id such as 20261128101500_backup_ab12cd34, got ${JSON.stringify(id ?? '')}`);
  // Read now, not when a warm runner started: the settings may have changed since.
  const settings = readSettings({ config: values.config });
  const host = createHost(settings);
  const further: BarmanHost[] = [];
  const hostFor = (name: string) => {
    const found = settings.hosts.find((h) => h.name === name); // never the default host: executeJob runs that one on `host`
    if (!found) return null;
    const adapter = createBarmanHost(found.barman);
    further.push(adapter);
    return { host: adapter, maxOutputBytes: found.barman.maxOutputBytes };
  };
  try {
    const result = await executeJob(
      { storage: createFsStorage(settings.application.storeDirectory), host, clock: { now: () => new Date() }, maxOutputBytes: settings.barman.maxOutputBytes, hostFor },
      id,
      process.pid,
      controller.signal,
    );
    if (!result) {
      process.stderr.write(`barmanapi: job ${id} is already claimed by another runner\n`);
      return 3;
    }
    return 0;
  } finally {
    await Promise.all([host, ...further].map((h) => h.close()));
  }
}

/**
 * A warm runner that ends without a job removes the file its output went to (the server that
 * would have removed it may have been killed): only a file named as the server names those.
 */
function removeOwnWarmLog(): void {
  try {
    const path = readlinkSync('/proc/self/fd/2');
    // `.runner-warm-`: WARM_LOG_PREFIX of job-runner.ts.
    if (basename(path).startsWith('.runner-warm-') && path.endsWith('.log')) unlinkSync(path);
  } catch {
    // no /proc, or already gone: nothing to remove
  }
}

/** One line from standard input: the job id, or null at its end (or a stop) before a full line. */
function readJobId(signal: AbortSignal): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const done = (value: string | null) => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.destroy(); // what the server does with its end from now on is no concern of the job
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const nl = text.indexOf('\n');
      if (nl >= 0) done(text.slice(0, nl));
      else if (text.length > 200) done(text.slice(0, 200)); // not a job id: refused as one
    };
    const onEnd = () => done(null);
    process.stdin.on('data', onData);
    process.stdin.once('end', onEnd);
    process.stdin.once('error', onEnd);
    signal.addEventListener('abort', onEnd, { once: true });
  });
}

async function userCommand(action: string, username: string | undefined, values: { config?: string; access?: string; deny?: string; hosts?: string }): Promise<number> {
  const [{ UserDirectory, validateUsername }, { createFsTextFile }] = await Promise.all([import('../../src/auth/users.js'), import('./fs-storage.js')]);
  const settings = readSettings({ config: values.config });
  const users = new UserDirectory({
    file: createFsTextFile(settings.user.configFile),
    clock: { now: () => new Date() },
    minPasswordLength: settings.user.minPasswordLength,
  });
  switch (action) {
    case 'list':
      for (const u of await users.list()) process.stdout.write(`${u.username}\taccess=${JSON.stringify(u.access)}\tdeny=${JSON.stringify(u.deny)}${u.hosts ? `\thosts=${JSON.stringify(u.hosts)}` : ''}\n`);
      return 0;
    case 'add': {
      validateUsername(username);
      const password = await readNewPassword(`Password for ${username}: `);
      const u = await users.add({ username, password, access: values.access, deny: values.deny, hosts: values.hosts });
      process.stdout.write(`added ${u.username}\n`);
      return 0;
    }
    case 'passwd': {
      validateUsername(username);
      const password = await readNewPassword(`New password for ${username}: `);
      await users.change({ username, password });
      process.stdout.write(`password changed for ${username}; tokens issued before now no longer work\n`);
      return 0;
    }
    case 'change': {
      if (values.access === undefined && values.deny === undefined && values.hosts === undefined) {
        throw new UsageError(`'user change' needs --access RULES, --deny RULES and/or --hosts HOSTS (use 'user passwd' for the password)`);
      }
      const u = await users.change({ username, access: values.access, deny: values.deny, hosts: values.hosts });
      process.stdout.write(`changed ${u.username}: access=${JSON.stringify(u.access)} deny=${JSON.stringify(u.deny)}${u.hosts ? ` hosts=${JSON.stringify(u.hosts)}` : ''}; tokens issued before now no longer work\n`);
      return 0;
    }
    default:
      await users.remove(username);
      process.stdout.write(`removed ${username}\n`);
      return 0;
  }
}

async function readNewPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    throw new Error('no password on standard input');
  }
  const first = await askHidden(prompt);
  const second = await askHidden('Again: ');
  if (first !== second) throw new Error('the passwords differ');
  return first;
}

function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      // Echo the prompt, never the typed characters.
      if (s.startsWith(prompt)) write.call(rl, prompt);
    };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

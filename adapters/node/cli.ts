import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { UserDirectory } from '../../src/auth/users.js';
import { ApiError } from '../../src/http/errors.js';
import { SettingsError } from '../../src/settings/load.js';
import { createFsTextFile } from './fs-storage.js';
import { createHost, createNodeDeps } from './deps.js';
import { createFsStorage } from './fs-storage.js';
import { executeJob } from '../../src/jobs/execute.js';
import { isJobId } from '../../src/jobs/model.js';
import { readSettings } from './settings-file.js';
import { checkExposure, closeOnSignals, startServer } from './serve.js';
import { VERSION } from './version.js';

const HELP = `barmanapi ${VERSION} — REST API for Barman

Usage:
  barmanapi runserver [--config FILE] [--host HOST] [--port PORT]
  barmanapi user list [--config FILE]
  barmanapi user add USERNAME [--access RULES] [--deny RULES] [--config FILE]
  barmanapi user passwd USERNAME [--config FILE]
  barmanapi user remove USERNAME [--config FILE]
  barmanapi execute JOB_ID [--config FILE]      (started by the server for async jobs)
  barmanapi --version | --help

The config file is --config, else $BARMANAPI_CONFIG, else /etc/barmanapi.conf.
Passwords are read from the terminal, or from the first line of standard input.
RULES is a list such as "barman,auth/user/list" or "['barman']".
`;

/** Entry point of the `barmanapi` command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof SettingsError || e instanceof ApiError) {
      process.stderr.write(`barmanapi: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`barmanapi: ${(e as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      access: { type: 'string' },
      deny: { type: 'string' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'runserver':
      return runserver(values);
    case 'user':
      return userCommand(rest, values);
    case 'execute':
      return executeCommand(rest, values);
    default:
      process.stderr.write(`barmanapi: unknown command ${command}\n\n${HELP}`);
      return 2;
  }
}

async function runserver(values: { config?: string; host?: string; port?: string }): Promise<number> {
  const settings = readSettings({ config: values.config, flags: { 'application.host': values.host, 'application.port': values.port } });
  const deps = createNodeDeps(settings);
  const users = new UserDirectory({ file: deps.usersFile, clock: deps.clock, minPasswordLength: settings.user.minPasswordLength });
  if (await users.ensureExists()) {
    deps.logger.log('warn', `created ${deps.usersFile.path} with the default user memin (password 1258); change it: barmanapi user passwd memin`);
  }
  const refusal = await checkExposure(deps, settings.application.host);
  if (refusal) {
    process.stderr.write(`barmanapi: ${refusal}\n`);
    return 2;
  }
  const running = await startServer(deps, { host: settings.application.host, port: settings.application.port });
  deps.logger.log('info', `barmanapi ${VERSION} listening on http://${settings.application.host}:${running.port} (barman on ${deps.host.description})`);
  closeOnSignals(running, deps);
  await new Promise(() => undefined); // serve until a signal
  return 0;
}

/** The detached runner of one async job; see src/jobs/execute.ts. */
async function executeCommand(args: string[], values: { config?: string }): Promise<number> {
  const [id] = args;
  if (!id || !isJobId(id)) {
    process.stderr.write('barmanapi: execute needs a job id\n');
    return 2;
  }
  const settings = readSettings({ config: values.config });
  const host = createHost(settings);
  const controller = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => controller.abort());
  process.on('SIGHUP', () => undefined); // outlive the terminal that started the server
  try {
    const result = await executeJob(
      { storage: createFsStorage(settings.application.storeDirectory), host, clock: { now: () => new Date() }, maxOutputBytes: settings.barman.maxOutputBytes },
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
    await host.close();
  }
}

async function userCommand(args: string[], values: { config?: string; access?: string; deny?: string }): Promise<number> {
  const settings = readSettings({ config: values.config });
  const users = new UserDirectory({
    file: createFsTextFile(settings.user.configFile),
    clock: { now: () => new Date() },
    minPasswordLength: settings.user.minPasswordLength,
  });
  const [action, username] = args;
  switch (action) {
    case 'list':
      for (const u of await users.list()) process.stdout.write(`${u.username}\taccess=${JSON.stringify(u.access)}\tdeny=${JSON.stringify(u.deny)}\n`);
      return 0;
    case 'add': {
      const password = await readNewPassword(`Password for ${username}: `);
      const u = await users.add({ username, password, access: values.access, deny: values.deny });
      process.stdout.write(`added ${u.username}\n`);
      return 0;
    }
    case 'passwd': {
      const password = await readNewPassword(`New password for ${username}: `);
      await users.change({ username, password });
      process.stdout.write(`password changed for ${username}; tokens issued before now no longer work\n`);
      return 0;
    }
    case 'remove':
      await users.remove(username);
      process.stdout.write(`removed ${username}\n`);
      return 0;
    default:
      process.stderr.write(`barmanapi: user needs list, add, passwd or remove\n`);
      return 2;
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

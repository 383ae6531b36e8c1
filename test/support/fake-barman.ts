import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOptions, RunResult } from '../../src/ports.js';
import { createScriptedHost } from '../../adapters/memory/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'barman-help');

export type CommandHandler = (args: string[], options: RunOptions) => Partial<RunResult> | Promise<Partial<RunResult>>;

/**
 * A barman host in memory that answers -v and every --help from the real outputs of one barman
 * version, and hands other commands to `handler` with the words after `-c <conf> [-f json]`.
 */
export function fixtureBarmanHost(version: '2.19' | '3.4', handler: CommandHandler = () => ({ exitCode: 0, stdout: '{}' })) {
  const dir = join(FIXTURES, version);
  const helps = new Map(readdirSync(dir).filter((f) => f.endsWith('.txt') && !f.startsWith('_')).map((f) => [f.slice(0, -4), readFileSync(join(dir, f), 'utf8')]));
  const main = readFileSync(join(dir, '_main.txt'), 'utf8');
  const ver = readFileSync(join(dir, '_version.txt'), 'utf8');
  const counts = { version: 0, help: 0 };
  // A barman host has barman's configuration; commands that name paths check against it.
  const files = new Map([['/etc/barman.conf', '[barman]\nbarman_home = /var/lib/barman\nconfiguration_files_directory = /etc/barman.d\n']]);
  const host = createScriptedHost(async (argv, options) => {
    const i = argv.indexOf('-c');
    const rest = argv.slice(i >= 0 ? i + 2 : 1);
    if (rest[0] === '-v') {
      counts.version += 1;
      return { stdout: ver };
    }
    if (rest[0] === '--help') {
      counts.help += 1;
      return { stdout: main };
    }
    if (rest.length === 2 && rest[1] === '--help') {
      counts.help += 1;
      const text = helps.get(rest[0]!);
      return text ? { stdout: text } : { exitCode: 2, stderr: `barman: error: invalid choice: '${rest[0]}'` };
    }
    return handler(rest, options);
  }, files);
  return Object.assign(host, { counts });
}

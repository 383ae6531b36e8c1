import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import {
  aliasTarget,
  parseCommandHelp,
  parseMainHelp,
  parseVersion,
  type CommandSpec,
  type OptionSpec,
} from '../../src/barman/help-parser.js';

const VERSIONS = ['2.19', '3.4'] as const;
const fixtureDir = new URL('../fixtures/barman-help/', import.meta.url);
const fixture = (version: string, file: string) => readFileSync(new URL(`${version}/${file}`, fixtureDir), 'utf8');

/** `_commands.tsv`: name asked, command barman resolved it to, exit status of `--help`. */
function commandTable(version: string): { name: string; resolved: string }[] {
  return fixture(version, '_commands.tsv')
    .trim()
    .split('\n')
    .map((line) => {
      const [name, resolved] = line.split('\t');
      return { name: name!, resolved: resolved! };
    });
}

const command = (version: string, name: string): CommandSpec => parseCommandHelp(name, fixture(version, `${name}.txt`));
const option = (spec: CommandSpec, name: string): OptionSpec => {
  const found = spec.options.find((o) => o.name === name);
  if (!found) throw new Error(`no option ${name} in ${spec.name}: ${spec.options.map((o) => o.name).join(', ')}`);
  return found;
};

describe('parseVersion', () => {
  it('reads the version barman -v prints', () => {
    expect(parseVersion(fixture('3.4', '_version.txt'))).toBe('3.4.0');
    expect(parseVersion(fixture('2.19', '_version.txt'))).toBe('2.19');
  });

  it('reads pre-releases and refuses text without a version', () => {
    expect(parseVersion('3.10.0a1 Barman by EnterpriseDB (www.enterprisedb.com)\n')).toBe('3.10.0a1');
    expect(() => parseVersion('command not found: barman')).toThrow(/cannot read a barman version/);
  });
});

describe.each(VERSIONS)('barman %s main help', (version) => {
  const main = parseMainHelp(fixture(version, '_main.txt'));
  const table = commandTable(version);

  it('lists every command once, with its aliases, covering every name barman accepts', () => {
    const names = main.commands.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    const everyName = main.commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]).sort();
    expect(everyName).toEqual(table.map((row) => row.name).sort());
    // What barman resolves each name to is the command the alias belongs to.
    for (const row of table) {
      const owner = main.commands.find((c) => c.name === row.name || c.aliases?.includes(row.name));
      expect(owner?.name, row.name).toBe(row.resolved);
    }
  });

  it('keeps the wrapped descriptions of commands', () => {
    const byName = new Map(main.commands.map((c) => [c.name, c]));
    expect(byName.get('backup')?.description).toBe("Perform a full backup for the given server (supports 'all')");
    expect(byName.get('switch-wal')).toEqual({
      name: 'switch-wal',
      aliases: ['switch-xlog'],
      description: 'Execute the switch-wal command on the target server',
    });
    expect(byName.get('verify-backup')?.aliases).toEqual(['verify']);
    expect(byName.get('check-wal-archive')?.description).toMatch(/^Check the WAL archive .* will not cause the check to fail\.$/);
  });

  it('reads the global options, without -h, and sees -f json', () => {
    expect(main.globalOptions.map((o) => o.name)).toEqual(['version', 'config', 'color', 'log-level', 'quiet', 'debug', 'format']);
    const format = main.globalOptions.find((o) => o.name === 'format')!;
    expect(format).toMatchObject({ long: '--format', short: '-f', takesValue: true, choices: ['console', 'json'] });
    expect(main.supportsJson).toBe(true);
    const config = main.globalOptions.find((o) => o.name === 'config')!;
    expect(config).toMatchObject({ short: '-c', metavar: 'CONFIG' });
    expect(config.description).toBe('uses a configuration file (defaults: ~/.barman.conf, /etc/barman.conf, /etc/barman/barman.conf)');
  });
});

describe.each(VERSIONS)('barman %s command help', (version) => {
  it.each(commandTable(version).map((row) => [row.name, row.resolved]))('parses %s', (name, resolved) => {
    const text = fixture(version, `${name}.txt`);
    const spec = parseCommandHelp(name, text);
    expect(spec.name).toBe(name);
    expect(aliasTarget(name, text)).toBe(name === resolved ? null : resolved);
    expect(spec.aliases).toEqual(name === resolved ? [] : [resolved]);
    expect(spec.description).not.toBe('');
    expect(spec.options.some((o) => o.name === 'help' || o.short === '-h')).toBe(false);
    for (const o of spec.options) {
      expect(o.long, `${name} ${o.name}`).toMatch(/^--[a-z0-9-]+$/);
      expect(o.description, `${name} ${o.name}`).not.toBe('');
    }
    // Every positional of the usage line is described in "positional arguments:".
    for (const p of spec.positionals) expect(p.description, `${name} ${p.name}`).not.toBe('');
  });

  it('backup: several server names, --reuse-backup with an optional choice', () => {
    const spec = command(version, 'backup');
    expect(spec.positionals).toEqual([
      {
        name: 'server_name',
        metavar: 'server_name',
        required: true,
        repeatable: true,
        choices: null,
        description: "specifies the server names for the backup command ('all' will show all available servers)",
      },
    ]);
    expect(option(spec, 'reuse-backup')).toMatchObject({
      long: '--reuse-backup',
      takesValue: true,
      valueOptional: true,
      choices: ['copy', 'link', 'off'],
      metavar: '[{copy,link,off}]',
      repeatable: false,
    });
    expect(option(spec, 'jobs')).toMatchObject({ long: '--jobs', short: '-j', takesValue: true, metavar: 'NJOBS' });
    expect(option(spec, 'wait')).toMatchObject({ long: '--wait', short: '-w', takesValue: false, metavar: null });
    expect(option(spec, 'no-immediate-checkpoint').takesValue).toBe(false);
    expect(option(spec, 'wait-timeout').description).toBe(
      'the time, in seconds, spent waiting for the required WAL files to be archived before timing out',
    );
    // --name BACKUP_NAME arrived in barman 3.
    expect(spec.options.some((o) => o.name === 'name')).toBe(version === '3.4');
  });

  it('recover: three required positionals and a repeatable --tablespace', () => {
    const spec = command(version, 'recover');
    expect(spec.positionals.map((p) => [p.name, p.required, p.repeatable])).toEqual([
      ['server_name', true, false],
      ['backup_id', true, false],
      ['destination_directory', true, false],
    ]);
    expect(spec.positionals[2]!.description).toBe('the directory where the new server is created');
    expect(option(spec, 'tablespace')).toMatchObject({ takesValue: true, metavar: 'NAME:LOCATION', repeatable: true });
    expect(option(spec, 'target-time').repeatable).toBe(false);
    expect(option(spec, 'target-action').description).toMatch(/^Specifies what action .* "shutdown", "pause", "promote"\.$/);
    expect(spec.options.some((o) => o.name === 'recovery-staging-path')).toBe(version === '3.4');
    expect(spec.options.every((o) => !o.required)).toBe(true);
  });

  it('show-server is show-servers under another name', () => {
    const spec = command(version, 'show-server');
    expect(aliasTarget('show-server', fixture(version, 'show-server.txt'))).toBe('show-servers');
    expect(spec.positionals).toMatchObject([{ name: 'server_name', required: true, repeatable: true }]);
    expect(spec.options).toEqual([]);
  });

  it('reads choices, several short forms and optional positionals', () => {
    expect(option(command(version, 'keep'), 'target').choices).toEqual(['full', 'standalone']);
    expect(option(command(version, 'list-files'), 'target').choices).toEqual(['standalone', 'data', 'wal', 'full']);
    expect(option(command(version, 'replication-status'), 'target').choices).toEqual(['all', 'hot-standby', 'wal-streamer']);
    expect(option(command(version, 'get-wal'), 'gzip')).toMatchObject({ long: '--gzip', short: '-z', takesValue: false });
    expect(option(command(version, 'get-wal'), 'peek')).toMatchObject({ short: '-p', metavar: 'SIZE' });
    expect(command(version, 'sync-info').positionals.map((p) => [p.name, p.required])).toEqual([
      ['server_name', true],
      ['last_wal', false],
      ['last_position', false],
    ]);
    expect(command(version, 'cron').positionals).toEqual([]);
  });
});

describe('help in other argparse dialects', () => {
  // Older Python says "optional arguments:", prints nargs='*' as `[X [X ...]]`; Python 3.13 prints
  // the metavar once (`-c, --config CONFIG`); BooleanOptionalAction prints `--x, --no-x`.
  const text = [
    'usage: barman frob [-h] [-c CONFIG] --mode {fast,slow} [--keep | --no-keep]',
    '                   [--extra EXTRA] [--tag TAG]',
    '                   {one,two} server_name [other [other ...]]',
    '',
    'Frob the given server.',
    '',
    'Details: more text',
    '',
    'positional arguments:',
    '  {one,two}             which frob',
    '  server_name           the server',
    '  other                 more names',
    '',
    'optional arguments:',
    '  -h, --help            show this help message and exit',
    '  -c, --config CONFIG   a config file',
    '  --mode {fast,slow}    how to frob',
    '  --keep, --no-keep     keep the result',
    '',
    'Advanced:',
    '  Options rarely needed',
    '',
    '  --extra EXTRA         can be specified multiple times',
    '  --tag TAG',
    '',
    'epilog at the end',
  ].join('\n');
  const spec = parseCommandHelp('frob', text);

  it('reads positionals, including a choice without a name and an old-style nargs=*', () => {
    expect(spec.description).toBe('Frob the given server.\nDetails: more text');
    expect(spec.positionals).toEqual([
      { name: 'arg1', metavar: '{one,two}', required: true, repeatable: false, choices: ['one', 'two'], description: 'which frob' },
      { name: 'server_name', metavar: 'server_name', required: true, repeatable: false, choices: null, description: 'the server' },
      { name: 'other', metavar: 'other', required: false, repeatable: true, choices: null, description: 'more names' },
    ]);
  });

  it('reads options from every section, required ones, negations and repeat wording', () => {
    expect(spec.options.map((o) => o.name)).toEqual(['config', 'mode', 'keep', 'extra', 'tag']);
    expect(option(spec, 'config')).toMatchObject({ long: '--config', short: '-c', metavar: 'CONFIG', takesValue: true });
    expect(option(spec, 'mode')).toMatchObject({ required: true, choices: ['fast', 'slow'] });
    expect(option(spec, 'keep')).toMatchObject({ long: '--keep', negation: '--no-keep', takesValue: false, required: false });
    expect(option(spec, 'extra').repeatable).toBe(true);
    expect(option(spec, 'tag')).toMatchObject({ repeatable: false, description: '' });
  });

  it('has no alias target when the usage names the command asked', () => {
    expect(aliasTarget('frob', text)).toBeNull();
    expect(aliasTarget('frobnicate', text)).toBe('frob');
  });

  it('reads a main help whose format option lacks json', () => {
    const main = parseMainHelp(
      [
        'usage: barman [-h] [-f {console}] {a,b,c} ...',
        '',
        'positional arguments:',
        '  {a,b,c}',
        '    a (c)       does a',
        '',
        'options:',
        '  -h, --help    show this help message and exit',
        '  -f {console}, --format {console}',
        '                output format',
      ].join('\n'),
    );
    expect(main.supportsJson).toBe(false);
    // `b` was registered without help: it is only in the choices.
    expect(main.commands).toEqual([
      { name: 'a', description: 'does a', aliases: ['c'] },
      { name: 'b', description: '', aliases: [] },
    ]);
    expect(main.globalOptions.map((o) => o.name)).toEqual(['format']);
  });
});

import { CONTROL_WORDS } from '../support/hostile.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { ApiError } from '../../src/http/errors.js';
import { parseCommandHelp, type CommandSpec } from '../../src/barman/help-parser.js';
import { commandArgs, describeParams, normaliseName } from '../../src/barman/params.js';
import type { ParamValue } from '../../src/http/params.js';

const fixtureDir = new URL('../fixtures/barman-help/3.4/', import.meta.url);
const spec = (name: string): CommandSpec => parseCommandHelp(name, readFileSync(new URL(`${name}.txt`, fixtureDir), 'utf8'));
const args = (name: string, params: Record<string, ParamValue>, reserved?: ReadonlySet<string>) =>
  commandArgs({ spec: spec(name), params, reserved });

/** The ApiError a call throws, so tests can look at its message and details. */
function rejection(run: () => unknown): ApiError {
  try {
    run();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

const HOSTILE = [
  ';id',
  '$(id)',
  '`id`',
  'a b',
  "'",
  '"',
  '\\',
  'line1 line2',
  '--config=/tmp/x',
  '-h',
  '*',
  '~root',
  'x'.repeat(10_000),
];

describe('normaliseName', () => {
  it('ignores case, underscores and dashes', () => {
    expect(normaliseName('SERVERNAME')).toBe('servername');
    expect(normaliseName('server_name')).toBe('servername');
    expect(normaliseName('Server-Name')).toBe('servername');
    expect(normaliseName('--reuse-backup')).toBe('reusebackup');
  });
});

describe('commandArgs', () => {
  it('puts options (value glued on) before positionals', () => {
    expect(args('backup', { server_name: 'pg', wait: 'true', name: 'nightly' })).toEqual(['backup', '--wait', '--name=nightly', 'pg']);
    expect(args('recover', { server_name: 'pg', backup_id: 'latest', destination_directory: '/srv/pg', target_time: '2024-01-01 10:00:00' })).toEqual([
      'recover',
      '--target-time=2024-01-01 10:00:00',
      'pg',
      'latest',
      '/srv/pg',
    ]);
    expect(args('cron', {})).toEqual(['cron']);
  });

  it('matches positionals and options whatever the case and separators', () => {
    for (const key of ['server_name', 'SERVERNAME', 'server-name', 'ServerName']) {
      expect(args('show-backup', { [key]: 'pg', BACKUP_ID: 'latest' })).toEqual(['show-backup', 'pg', 'latest']);
    }
    expect(args('backup', { SERVERNAME: 'pg', immediate_checkpoint: 'TRUE', WAIT_TIMEOUT: 60 })).toEqual([
      'backup',
      '--immediate-checkpoint',
      '--wait-timeout=60',
      'pg',
    ]);
  });

  it('turns flags on with true/1/yes/on and leaves them out when off', () => {
    for (const on of ['true', 'TRUE', '1', 'yes', 'On', true, 1]) {
      expect(args('check', { server_name: 'pg', nagios: on })).toEqual(['check', '--nagios', 'pg']);
    }
    for (const off of ['false', 'FALSE', '0', 'no', 'off', '', false, 0]) {
      expect(args('check', { server_name: 'pg', nagios: off })).toEqual(['check', 'pg']);
    }
  });

  it('refuses a flag value that is neither on nor off, or a flag given twice', () => {
    const bad = rejection(() => args('check', { server_name: 'pg', nagios: 'maybe' }));
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/"nagios" is a flag: "maybe" is not one of true, 1, yes, on, false, 0, no, off/);
    expect(bad.details).toMatchObject({ parameter: 'nagios', allowed: expect.arrayContaining(['true', 'false']) });
    expect(rejection(() => args('check', { server_name: 'pg', nagios: ['true', 'true'] })).message).toMatch(/given 2 times/);
  });

  it('never passes reserved parameters to barman; a look-alike of token is an unknown parameter, its value unsaid', () => {
    expect(args('list-backups', { server_name: 'pg', format: 'json', Format: 'x' }, new Set(['format']))).toEqual([
      'list-backups',
      'pg',
    ]);
    const err = (() => {
      try {
        args('list-backups', { server_name: 'pg', TOKEN: 'secret-value' });
      } catch (e) {
        return e as ApiError;
      }
      throw new Error('accepted');
    })();
    expect(err.status).toBe(400);
    expect(err.message).toContain('TOKEN');
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('secret-value');
  });

  it('names the unknown parameter and lists what the command accepts', () => {
    const err = rejection(() => args('backup', { server_name: 'pg', wiat: 'true' }));
    expect(err.status).toBe(400);
    expect(err.message).toContain('unknown parameter "wiat" for barman backup');
    expect(err.message).toContain('accepted: server_name, immediate-checkpoint, no-immediate-checkpoint, reuse-backup');
    expect(err.details).toEqual({ parameter: 'wiat', allowed: describeParams(spec('backup')).map((d) => d.name) });
    // A reserved name is unknown when the caller did not reserve it.
    expect(rejection(() => args('backup', { server_name: 'pg', format: 'json' })).details).toMatchObject({ parameter: 'format' });
  });

  it('requires required positionals and says which one is missing', () => {
    const err = rejection(() => args('delete', { server_name: 'pg' }));
    expect(err.message).toContain('missing required parameter "backup_id" for barman delete; accepted: server_name, backup_id');
    expect(err.details).toEqual({ parameter: 'backup_id', allowed: ['server_name', 'backup_id'] });
    expect(rejection(() => args('delete', { server_name: 'pg', backup_id: '' })).details).toMatchObject({ parameter: 'backup_id' });
    expect(rejection(() => args('backup', {})).details).toMatchObject({ parameter: 'server_name' });
  });

  it('fills optional positionals in order only', () => {
    expect(args('sync-info', { server_name: 'pg', last_wal: '000000010000000000000002' })).toEqual([
      'sync-info',
      'pg',
      '000000010000000000000002',
    ]);
    const err = rejection(() => args('sync-info', { server_name: 'pg', last_position: 42 }));
    expect(err.message).toContain('"last_position" of barman sync-info needs "last_wal" too');
  });

  it('enforces choices and lists them', () => {
    expect(args('list-files', { server_name: 'pg', backup_id: 'latest', target: 'wal' })).toEqual(['list-files', '--target=wal', 'pg', 'latest']);
    const err = rejection(() => args('list-files', { server_name: 'pg', backup_id: 'latest', target: 'WAL' }));
    expect(err.message).toContain('"target" of barman list-files: "WAL" is not allowed; allowed: standalone, data, wal, full');
    expect(err.details).toEqual({ parameter: 'target', allowed: ['standalone', 'data', 'wal', 'full'] });
  });

  it('passes --reuse-backup with a choice, alone when asked for the default, or not at all', () => {
    expect(args('backup', { server_name: 'pg', reuse_backup: 'copy' })).toEqual(['backup', '--reuse-backup=copy', 'pg']);
    // "off" is a choice before it is an off-word.
    expect(args('backup', { server_name: 'pg', reuse_backup: 'off' })).toEqual(['backup', '--reuse-backup=off', 'pg']);
    // Alone it would swallow the server name as its value: the positionals go after `--`.
    expect(args('backup', { server_name: 'pg', reuse_backup: 'true' })).toEqual(['backup', '--reuse-backup', '--', 'pg']);
    expect(args('backup', { server_name: 'pg', reuse_backup: false })).toEqual(['backup', 'pg']);
    expect(rejection(() => args('backup', { server_name: 'pg', reuse_backup: 'hard' })).details).toEqual({
      parameter: 'reuse_backup',
      allowed: ['copy', 'link', 'off', 'true', '1', 'yes', 'on', 'false', '0', 'no'],
    });
  });

  it('repeats repeatable options and positionals from arrays, refuses repeats elsewhere', () => {
    expect(
      args('recover', { server_name: 'pg', backup_id: 'latest', destination_directory: '/srv', tablespace: ['a:/x', 'b:/y'] }),
    ).toEqual(['recover', '--tablespace=a:/x', '--tablespace=b:/y', 'pg', 'latest', '/srv']);
    expect(args('check', { server_name: ['pg', 'pg2'] })).toEqual(['check', 'pg', 'pg2']);
    // Two spellings of one parameter are two values of it.
    expect(args('check', { server_name: 'pg', SERVERNAME: 'pg2' })).toEqual(['check', 'pg', 'pg2']);

    const twice = rejection(() => args('recover', { server_name: 'pg', backup_id: ['a', 'b'], destination_directory: '/srv' }));
    expect(twice.message).toContain('"backup_id" of barman recover takes one value but was given 2');
    expect(rejection(() => args('backup', { server_name: 'pg', name: 'a', NAME: 'b' })).details).toMatchObject({ parameter: 'name' });
    expect(rejection(() => args('backup', { server_name: 'pg', jobs: [1, 2] })).message).toContain('takes one value but was given 2');
  });

  it('leaves out empty option values and refuses numbers that are not numbers', () => {
    expect(args('backup', { server_name: 'pg', name: '' })).toEqual(['backup', 'pg']);
    expect(args('backup', { server_name: 'pg', jobs: 4 })).toEqual(['backup', '--jobs=4', 'pg']);
    expect(rejection(() => args('backup', { server_name: 'pg', jobs: Number.NaN })).details).toMatchObject({ parameter: 'jobs' });
  });

  describe.each(HOSTILE.map((v) => [v.length > 40 ? `${v.slice(0, 10)}…(${v.length})` : JSON.stringify(v), v]))(
    'hostile value %s',
    (_label, value) => {
      it('is one option word, glued to its option', () => {
        const argv = args('backup', { server_name: 'pg', name: value });
        expect(argv).toEqual(['backup', `--name=${value}`, 'pg']);
      });

      it('is one word per repeatable option value', () => {
        const argv = args('recover', { server_name: 'pg', backup_id: 'latest', destination_directory: '/srv', tablespace: [value, value] });
        expect(argv).toEqual(['recover', `--tablespace=${value}`, `--tablespace=${value}`, 'pg', 'latest', '/srv']);
      });

      it('is one positional word, after -- when it starts with a dash', () => {
        const argv = args('delete', { server_name: 'pg', backup_id: value });
        expect(argv).toEqual(value.startsWith('-') ? ['delete', '--', 'pg', value] : ['delete', 'pg', value]);
        const many = args('check', { server_name: ['pg', value] });
        expect(many).toEqual(value.startsWith('-') ? ['check', '--', 'pg', value] : ['check', 'pg', value]);
      });

      it('is refused as a flag or a choice', () => {
        expect(rejection(() => args('check', { server_name: 'pg', nagios: value })).details).toMatchObject({ parameter: 'nagios' });
        expect(
          rejection(() => args('list-files', { server_name: 'pg', backup_id: 'x', target: value })).details,
        ).toMatchObject({ parameter: 'target' });
      });
    },
  );

  it.each(CONTROL_WORDS.map((w) => [JSON.stringify(w), w]))('refuses the control character in %s in every kind of parameter, naming it', (_label, bad) => {
    const cases: [string, Record<string, ParamValue>, string][] = [
      ['backup', { server_name: 'pg', name: bad }, 'name'],
      ['backup', { server_name: ['pg', bad] }, 'server_name'],
      ['check', { server_name: 'pg', nagios: bad }, 'nagios'],
      ['recover', { server_name: 'pg', backup_id: 'x', destination_directory: '/srv', tablespace: ['a:/b', bad] }, 'tablespace'],
      ['recover', { SERVER_NAME: 'pg', backup_id: 'x', destination_directory: '/srv', 'target-name': bad }, 'target-name'],
    ];
    for (const [command, params, parameter] of cases) {
      const err = rejection(() => args(command, params));
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/line break or control character \(U\+[0-9A-F]{4}\)/);
      expect(err.details).toMatchObject({ parameter });
    }
  });

  it('refuses a bare -- value, which argparse would drop', () => {
    expect(rejection(() => args('backup', { server_name: 'pg', name: '--' })).message).toMatch(/"--" cannot be passed/);
    expect(rejection(() => args('delete', { server_name: 'pg', backup_id: '--' })).details).toMatchObject({ parameter: 'backup_id' });
  });
});

describe('describeParams', () => {
  it('describes positionals, options and flags in help order', () => {
    const described = describeParams(spec('backup'));
    expect(described[0]).toEqual({
      name: 'server_name',
      kind: 'positional',
      required: true,
      repeatable: true,
      choices: null,
      description: "specifies the server names for the backup command ('all' will show all available servers)",
    });
    expect(described.find((d) => d.name === 'wait')).toMatchObject({ kind: 'flag', required: false });
    expect(described.find((d) => d.name === 'reuse-backup')).toMatchObject({ kind: 'option', choices: ['copy', 'link', 'off'] });
    expect(describeParams(spec('recover')).find((d) => d.name === 'tablespace')).toMatchObject({ kind: 'option', repeatable: true });
  });
});

// Cross-check with barman's own argument parser where barman is installed: every argv built above
// must come back as exactly the values that went in.
const python = '/usr/bin/python3';
const hasBarman =
  existsSync(python) && spawnSync(python, ['-c', 'import barman.cli'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!hasBarman)("barman's own parser reads the argv back", () => {
  const script = [
    'import json, sys',
    'from barman.cli import p',
    'out = []',
    'for argv in json.load(sys.stdin):',
    '    try:',
    '        ns = p.parse_args(argv)',
    "        out.append({k: v for k, v in vars(ns).items() if k != 'func'})",
    '    except SystemExit as e:',
    "        out.append({'exit': e.code})",
    'print(json.dumps(out, default=str))',
  ].join('\n');
  const parse = (argvs: string[][]): Record<string, unknown>[] => {
    const run = spawnSync(python, ['-c', script], { input: JSON.stringify(argvs), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as Record<string, unknown>[];
  };

  it('gets every hostile value back byte for byte, in every position', () => {
    const argvs = HOSTILE.flatMap((value) => [
      args('backup', { server_name: ['pg', value], name: value }),
      args('recover', { server_name: value, backup_id: value, destination_directory: value, tablespace: [value, 'a:/b'], target_name: value }),
    ]);
    const parsed = parse(argvs.map((argv) => ['-f', 'json', ...argv]));
    HOSTILE.forEach((value, i) => {
      expect(parsed[2 * i]).toMatchObject({ command: 'backup', format: 'json', server_name: ['pg', value], backup_name: value });
      expect(parsed[2 * i + 1]).toMatchObject({
        command: 'recover',
        server_name: value,
        backup_id: value,
        destination_directory: value,
        tablespace: [value, 'a:/b'],
        target_name: value,
      });
    });
  });

  it('reads flags, choices and --reuse-backup alone as meant', () => {
    const [backup, keep] = parse([
      args('backup', { server_name: ['pg', '-x'], reuse_backup: true, wait: 'yes', jobs: 2 }),
      args('keep', { server_name: 'pg', backup_id: '-1', target: 'standalone' }),
    ]);
    expect(backup).toMatchObject({ server_name: ['pg', '-x'], reuse_backup: 'link', wait: true, jobs: 2 });
    expect(keep).toMatchObject({ server_name: 'pg', backup_id: '-1', target: 'standalone', release: false });
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILTIN_OPTION_CATALOGUE } from '../../src/barman-config/builtin-options.js';
import {
  catalogueFromManPage,
  findOption,
  firstSentence,
  isExecutableOption,
  parseBarmanManPage,
  readManPageVersion,
  type BarmanOption,
  type OptionCatalogue,
} from '../../src/barman-config/option-catalogue.js';

const page = (version: string) =>
  readFileSync(new URL(`../fixtures/barman-man/${version}.5`, import.meta.url), 'utf8');

const v219 = catalogueFromManPage(page('2.19'));
const v34 = catalogueFromManPage(page('3.4'));

function option(cat: OptionCatalogue, name: string): BarmanOption {
  const found = findOption(cat, name);
  if (!found) throw new Error(`${name} missing from the ${cat.barmanVersion} catalogue`);
  return found;
}

describe('parseBarmanManPage on real barman(5) pages', () => {
  it('reads the version from the .TH line', () => {
    expect(v219.barmanVersion).toBe('2.19');
    expect(v34.barmanVersion).toBe('3.4.0');
    expect(readManPageVersion('.TH "BARMAN" "5"\n')).toBeNull();
  });

  it('finds every documented option and nothing from the other sections', () => {
    expect(v34.options).toHaveLength(82);
    expect(v219.options).toHaveLength(70);
    for (const cat of [v219, v34]) {
      const names = cat.options.map((o) => o.name);
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
      // Hook environment variables and the EXAMPLE's keys are not options.
      expect(names.some((n) => n.startsWith('barman_') && n.toUpperCase() === n)).toBe(false);
      expect(names).not.toContain('barman_user');
    }
  });

  it('sees what 3.4 added over 2.19', () => {
    const added = v34.options.map((o) => o.name).filter((n) => !findOption(v219, n));
    expect(added.sort()).toEqual([
      'backup_compression',
      'backup_compression_format',
      'backup_compression_level',
      'backup_compression_location',
      'backup_compression_workers',
      'primary_conninfo',
      'recovery_staging_path',
      'snapshot_disks',
      'snapshot_gcp_project',
      'snapshot_instance',
      'snapshot_provider',
      'snapshot_zone',
    ]);
    expect(option(v219, 'backup_method').choices).toEqual(['rsync', 'postgres', 'local-rsync']);
    expect(option(v34, 'backup_method').choices).toEqual(['rsync', 'postgres', 'local-rsync', 'snapshot']);
  });

  it('recovers log_file, whose term pandoc left unmarked in both pages', () => {
    for (const cat of [v219, v34]) {
      const logFile = option(cat, 'log_file');
      expect(logFile.description).toBe("Location of Barman's log file. Global.");
      expect(logFile.scopes).toEqual(['global']);
      expect(logFile.type).toBe('path');
      expect(option(cat, 'last_wal_maximum_age').description).not.toContain('log_file');
    }
  });

  it('reads scopes from the Global/Server sentences', () => {
    for (const cat of [v219, v34]) {
      expect(option(cat, 'barman_home').scopes).toEqual(['global']);
      expect(option(cat, 'log_level').scopes).toEqual(['global']);
      expect(option(cat, 'conninfo').scopes).toEqual(['server']);
      expect(option(cat, 'ssh_command').scopes).toEqual(['server']);
      expect(option(cat, 'compression').scopes).toEqual(['global', 'server']);
      // "Global/server." in lower case, and a scope sentence inside a bullet list's block.
      expect(option(cat, 'path_prefix').scopes).toEqual(['global', 'server']);
      expect(option(cat, 'backup_options').scopes).toEqual(['global', 'server']);
      // Stated in prose only: "it can also be set globally".
      expect(option(cat, 'primary_ssh_command').scopes).toEqual(['global', 'server']);
      // The page says nothing: no guess.
      expect(option(cat, 'errors_directory').scopes).toEqual([]);
      expect(option(cat, 'active').scopes).toEqual([]);
    }
    // The word "server" ending an ordinary sentence is not a scope.
    expect(option(v34, 'immediate_checkpoint').description).toContain('on the PostgreSQL server.');
    expect(option(v34, 'immediate_checkpoint').scopes).toEqual(['global', 'server']);
  });

  it('types options from what the page states', () => {
    const expected: Record<string, Partial<BarmanOption>> = {
      backup_method: { type: 'enum', choices: ['rsync', 'postgres', 'local-rsync', 'snapshot'], default: 'rsync' },
      compression: { type: 'enum', choices: ['gzip', 'bzip2', 'pigz', 'pygzip', 'pybzip2'], default: null },
      backup_compression: { type: 'enum', choices: ['gzip', 'lz4', 'zstd'] },
      backup_compression_format: { type: 'enum', choices: ['plain', 'tar'], default: 'tar' },
      backup_compression_location: { type: 'enum', choices: ['client', 'server'] },
      create_slot: { type: 'enum', choices: ['auto', 'manual'], default: 'manual' },
      reuse_backup: { type: 'enum', choices: ['off', 'copy', 'link'], default: 'off' },
      snapshot_provider: { type: 'enum', choices: ['gcp'] },
      log_level: { type: 'enum', choices: ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] },
      retention_policy_mode: { type: 'enum', choices: ['auto'] },
      streaming_archiver: { type: 'boolean', choices: null, default: 'off' },
      active: { type: 'boolean', default: 'true' },
      immediate_checkpoint: { type: 'boolean', default: 'false' },
      forward_config_path: { type: 'boolean', default: 'false' },
      backup_options: {
        type: 'list',
        choices: ['concurrent_backup', 'exclusive_backup', 'external_configuration'],
        default: 'concurrent_backup',
      },
      recovery_options: { type: 'list', choices: ['get-wal'], default: '' },
      snapshot_disks: { type: 'list', choices: null },
      path_prefix: { type: 'list' },
      archiver_batch_size: { type: 'integer' },
      check_timeout: { type: 'integer', default: '30' },
      minimum_redundancy: { type: 'integer', default: '0' },
      parallel_jobs: { type: 'integer', default: '1' },
      backup_compression_level: { type: 'integer', choices: null },
      last_backup_maximum_age: { type: 'interval', default: '' },
      last_wal_maximum_age: { type: 'interval' },
      last_backup_minimum_size: { type: 'size' },
      barman_home: { type: 'path' },
      barman_lock_directory: { type: 'path', default: '%(barman_home)s' },
      recovery_staging_path: { type: 'path' },
      wals_directory: { type: 'path' },
      conninfo: { type: 'string' },
      streaming_conninfo: { type: 'string', default: '%(conninfo)s' },
      streaming_archiver_name: { type: 'string', default: 'barman_receive_wal' },
      ssh_command: { type: 'command' },
      pre_backup_script: { type: 'command' },
      custom_compression_filter: { type: 'command' },
      max_incoming_wals_queue: { type: 'integer', default: '' },
      slot_name: { type: 'unknown', default: '' },
      retention_policy: { type: 'unknown', choices: null, default: '' },
      custom_compression_magic: { type: 'unknown' },
    };
    for (const [name, fields] of Object.entries(expected)) {
      expect(option(v34, name)).toMatchObject({ name, ...fields });
    }
  });

  it('does not take a conditional default for the default', () => {
    // 2.19: "exclusive_backup (default when backup_method = rsync)".
    expect(option(v219, 'backup_options')).toMatchObject({
      choices: ['exclusive_backup', 'concurrent_backup', 'external_configuration'],
      default: null,
    });
    // "when streaming_archiver is set to on" speaks of another option.
    expect(option(v34, 'slot_name').choices).toBeNull();
  });

  it('marks the options whose value barman executes', () => {
    const executing = v34.options.filter((o) => o.executes).map((o) => o.name);
    expect(executing).toEqual(
      expect.arrayContaining([
        'ssh_command',
        'primary_ssh_command',
        'path_prefix',
        'custom_compression_filter',
        'custom_decompression_filter',
        'pre_backup_script',
        'pre_backup_retry_script',
        'post_archive_retry_script',
        'post_wal_delete_script',
      ]),
    );
    // Every hook of the page, and nothing else besides the five above.
    const hooks = v34.options.filter((o) => /^(?:pre|post)_[a-z_]+_script$/.test(o.name));
    expect(hooks).toHaveLength(20);
    expect(executing).toHaveLength(hooks.length + 5);
    const data = ['custom_compression_magic', 'conninfo', 'recovery_staging_path', 'parallel_jobs', 'archiver_batch_size'];
    for (const name of data) {
      expect(option(v34, name).executes).toBe(false);
    }
  });

  it('produces plain-text descriptions', () => {
    for (const cat of [v219, v34]) {
      for (const o of cat.options) {
        expect(o.description.trim(), o.name).not.toBe('');
        expect(o.description, o.name).not.toMatch(/\\f|\\\[|\\\(|\\-|[\u0001\u0002]/);
        expect(o.description, o.name).not.toMatch(/^\.[A-Za-z]/m);
        expect(o.description, o.name).not.toContain('.TP');
      }
    }
    expect(option(v34, 'archiver').description).toContain("PostgreSQL's archive_command for a server.");
    expect(option(v34, 'backup_compression').description).toContain('Only supported when backup_method = postgres.');
  });

  it('keeps paragraphs and bullets apart', () => {
    expect(option(v34, 'reuse_backup').description).toBe(
      [
        'This option controls incremental backup support. Global/Server. Possible values are:',
        '',
        '- off: disabled (default);',
        '- copy: reuse the last available backup for a server and create a copy of the unchanged files (reduce backup time);',
        '- link: reuse the last available backup for a server and create a hard link of the unchanged files (reduce backup time and space). Requires operating system and file system support for hard links.',
      ].join('\n'),
    );
    expect(option(v34, 'primary_conninfo').description.split('\n\n')).toHaveLength(3);
  });
});

describe('parseBarmanManPage on other pandoc layouts', () => {
  // barman 3.10+ writes "Scope: ..." in its own paragraph; newer pandoc marks terms with \f[B].
  const modern = [
    '.TH "BARMAN" "5" "May 2024" "Barman User manuals" "Version 3.10.0"',
    '.SH OPTIONS',
    '.TP',
    '\\f[B]compression\\f[R]',
    'Standard compression algorithm applied to WAL files.',
    'Possible values are: \\f[CR]gzip\\f[R], \\f[CR]lz4\\f[R] and \\f[CR]zstd\\f[R].',
    '.RS',
    '.PP',
    'Scope: Global/Server/Model.',
    '.RE',
    '.TP',
    'model',
    'By default any section is considered a server; \\f[C]model\\ =\\ true\\f[R] makes it a model.',
    '.RS',
    '.TP',
    'nested_term',
    'A nested definition stays inside its option.',
    '.PP',
    'Scope: Model.',
    '.RE',
    '.TP',
    '.B "cluster"',
    'Name of the cluster the server belongs to \\[lq]as is\\[rq]; \\e is a backslash.',
    '.RS',
    '.PP',
    'Scope: Server/Model.',
    '.RE',
    '.SH HOOK SCRIPTS',
    '.TP',
    'not_an_option',
    'Ignored: outside OPTIONS.',
  ].join('\n');

  it('reads terms, Scope sentences and escapes', () => {
    const cat = catalogueFromManPage(modern);
    expect(cat.barmanVersion).toBe('3.10.0');
    expect(cat.options.map((o) => o.name)).toEqual(['compression', 'model', 'cluster']);
    expect(option(cat, 'compression')).toMatchObject({
      scopes: ['global', 'server', 'model'],
      type: 'enum',
      choices: ['gzip', 'lz4', 'zstd'],
    });
    expect(option(cat, 'model').scopes).toEqual(['model']);
    expect(option(cat, 'model').description).toContain('nested_term\n\nA nested definition stays inside its option.');
    expect(option(cat, 'cluster')).toMatchObject({
      scopes: ['server', 'model'],
      description: 'Name of the cluster the server belongs to "as is"; \\ is a backslash.\n\nScope: Server/Model.',
    });
  });

  it('reads the whole page when it has no OPTIONS section, and returns [] for non-pages', () => {
    const bare = '.TP\nssh_command\nCommand used by Barman to login to the Postgres server via ssh.\nServer.\n';
    expect(parseBarmanManPage(bare)).toEqual([
      {
        name: 'ssh_command',
        description: 'Command used by Barman to login to the Postgres server via ssh. Server.',
        scopes: ['server'],
        type: 'command',
        choices: null,
        default: null,
        executes: true,
      },
    ]);
    expect(parseBarmanManPage('')).toEqual([]);
    expect(parseBarmanManPage('usage: barman [-h]\n')).toEqual([]);
  });
});

describe('isExecutableOption', () => {
  it('matches hooks, commands, filters and path_prefix, in any case', () => {
    for (const name of [
      'ssh_command',
      'primary_ssh_command',
      'PATH_PREFIX',
      'pre_backup_script',
      'post_archive_retry_script',
      'post_wal_delete_retry_script',
      'custom_compression_filter',
      ' Custom_Decompression_Filter ',
    ]) {
      expect(isExecutableOption(name), name).toBe(true);
    }
  });

  it('leaves data options alone', () => {
    const data = ['conninfo', 'recovery_staging_path', 'parallel_jobs', 'archiver_batch_size', 'custom_compression_magic'];
    // Names merely containing the words do not count.
    for (const name of [...data, 'scripts', 'command', 'filter_list']) {
      expect(isExecutableOption(name), name).toBe(false);
    }
  });
});

describe('findOption', () => {
  it('matches keys case-insensitively, as configparser does', () => {
    expect(findOption(v34, 'SSH_Command')?.name).toBe('ssh_command');
    expect(findOption(v34, ' compression ')?.name).toBe('compression');
    expect(findOption(v34, 'ssh-command')).toBeUndefined();
    expect(findOption(v34, 'no_such_option')).toBeUndefined();
  });
});

describe('BUILTIN_OPTION_CATALOGUE', () => {
  it('is the 3.4 page as the parser reads it, descriptions cut to their first sentence', () => {
    expect(BUILTIN_OPTION_CATALOGUE.source).toBe('builtin');
    expect(BUILTIN_OPTION_CATALOGUE.barmanVersion).toBe(v34.barmanVersion);
    expect(BUILTIN_OPTION_CATALOGUE.options).toEqual(
      v34.options.map((o) => ({ ...o, description: firstSentence(o.description) })),
    );
  });

  it('serves lookups like a parsed catalogue', () => {
    expect(findOption(BUILTIN_OPTION_CATALOGUE, 'Backup_Method')).toMatchObject({
      type: 'enum',
      choices: ['rsync', 'postgres', 'local-rsync', 'snapshot'],
    });
    expect(findOption(BUILTIN_OPTION_CATALOGUE, 'post_archive_retry_script')?.executes).toBe(true);
  });
});

describe('firstSentence', () => {
  it('stops at the first full stop that ends a sentence', () => {
    expect(firstSentence('Directory for locks. Default: x.')).toBe('Directory for locks.');
    expect(firstSentence('A conflict (e.g. a WAL file). More.')).toBe('A conflict (e.g. a WAL file).');
    expect(firstSentence('No full stop')).toBe('No full stop');
    expect(firstSentence('First paragraph\n\nSecond.')).toBe('First paragraph');
  });
});

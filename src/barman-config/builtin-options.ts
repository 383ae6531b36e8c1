import type { OptionCatalogue } from './option-catalogue.js';

/**
 * Fallback catalogue for hosts without barman(5) installed. Produced once by running
 * `parseBarmanManPage` on barman 3.4's barman(5) (test/fixtures/barman-man/3.4.5) and keeping
 * the first sentence of each description; a unit test keeps it in step with the parser.
 * Do not edit entries by hand: regenerate them from the page.
 *
 * Options barman 3.4 reads but its page does not document (barman_user, log_format,
 * configuration_files_directory) are absent here as they are from the page.
 */
export const BUILTIN_OPTION_CATALOGUE: OptionCatalogue = {
  source: 'builtin',
  barmanVersion: '3.4.0',
  options: [
    {
      name: 'active', scopes: [], type: 'boolean', choices: null, default: 'true', executes: false,
      description: 'When set to true (default), the server is in full operational state.',
    },
    {
      name: 'archiver', scopes: ['global', 'server'], type: 'boolean', choices: null, default: 'true', executes: false,
      description: 'This option allows you to activate log file shipping through PostgreSQL\'s archive_command for a server.',
    },
    {
      name: 'archiver_batch_size', scopes: ['global', 'server'], type: 'integer', choices: null, default: null, executes: false,
      description: 'This option allows you to activate batch processing of WAL files for the archiver process, by setting it to a value > 0.',
    },
    {
      name: 'backup_compression', scopes: ['global', 'server'], type: 'enum', choices: ['gzip', 'lz4', 'zstd'], default: null, executes: false,
      description: 'The compression to be used during the backup process.',
    },
    {
      name: 'backup_compression_format', scopes: ['global', 'server'], type: 'enum', choices: ['plain', 'tar'], default: 'tar', executes: false,
      description: 'The format pg_basebackup should use when writing compressed backups to disk.',
    },
    {
      name: 'backup_compression_level', scopes: ['global', 'server'], type: 'integer', choices: null, default: null, executes: false,
      description: 'An integer value representing the compression level to use when compressing backups.',
    },
    {
      name: 'backup_compression_location', scopes: ['global', 'server'], type: 'enum', choices: ['client', 'server'], default: null, executes: false,
      description: 'The location (either client or server) where compression should be performed during the backup.',
    },
    {
      name: 'backup_compression_workers', scopes: [], type: 'integer', choices: null, default: '0', executes: false,
      description: 'The number of compression threads to be used during the backup process.',
    },
    {
      name: 'backup_directory', scopes: ['server'], type: 'path', choices: null, default: null, executes: false,
      description: 'Directory where backup data for a server will be placed.',
    },
    {
      name: 'backup_method', scopes: ['global', 'server'], type: 'enum', choices: ['rsync', 'postgres', 'local-rsync', 'snapshot'], default: 'rsync', executes: false,
      description: 'Configure the method barman used for backup execution.',
    },
    {
      name: 'backup_options', scopes: ['global', 'server'], type: 'list', choices: ['concurrent_backup', 'exclusive_backup', 'external_configuration'], default: 'concurrent_backup', executes: false,
      description: 'This option allows you to control the way Barman interacts with PostgreSQL for backups.',
    },
    {
      name: 'bandwidth_limit', scopes: ['global', 'server'], type: 'integer', choices: null, default: null, executes: false,
      description: 'This option allows you to specify a maximum transfer rate in kilobytes per second.',
    },
    {
      name: 'barman_home', scopes: ['global'], type: 'path', choices: null, default: null, executes: false,
      description: 'Main data directory for Barman.',
    },
    {
      name: 'barman_lock_directory', scopes: ['global'], type: 'path', choices: null, default: '%(barman_home)s', executes: false,
      description: 'Directory for locks.',
    },
    {
      name: 'basebackup_retry_sleep', scopes: ['global', 'server'], type: 'integer', choices: null, default: '30', executes: false,
      description: 'Number of seconds of wait after a failed copy, before retrying Used during both backup and recovery operations.',
    },
    {
      name: 'basebackup_retry_times', scopes: ['global', 'server'], type: 'integer', choices: null, default: '0', executes: false,
      description: 'Number of retries of base backup copy, after an error.',
    },
    {
      name: 'basebackups_directory', scopes: ['server'], type: 'path', choices: null, default: null, executes: false,
      description: 'Directory where base backups will be placed.',
    },
    {
      name: 'check_timeout', scopes: ['global', 'server'], type: 'integer', choices: null, default: '30', executes: false,
      description: 'Maximum execution time, in seconds per server, for a barman check command.',
    },
    {
      name: 'compression', scopes: ['global', 'server'], type: 'enum', choices: ['gzip', 'bzip2', 'pigz', 'pygzip', 'pybzip2'], default: null, executes: false,
      description: 'Standard compression algorithm applied to WAL files.',
    },
    {
      name: 'conninfo', scopes: ['server'], type: 'string', choices: null, default: null, executes: false,
      description: 'Connection string used by Barman to connect to the Postgres server.',
    },
    {
      name: 'create_slot', scopes: ['global', 'server'], type: 'enum', choices: ['auto', 'manual'], default: 'manual', executes: false,
      description: 'When set to auto and slot_name is defined, Barman automatically attempts to create the replication slot if not present.',
    },
    {
      name: 'custom_compression_filter', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Customised compression algorithm applied to WAL files.',
    },
    {
      name: 'custom_compression_magic', scopes: ['global', 'server'], type: 'unknown', choices: null, default: null, executes: false,
      description: 'Customised compression magic which is checked in the beginning of a WAL file to select the custom algorithm.',
    },
    {
      name: 'custom_decompression_filter', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Customised decompression algorithm applied to compressed WAL files; this must match the compression algorithm.',
    },
    {
      name: 'description', scopes: ['server'], type: 'string', choices: null, default: null, executes: false,
      description: 'A human readable description of a server.',
    },
    {
      name: 'errors_directory', scopes: [], type: 'path', choices: null, default: null, executes: false,
      description: 'Directory that contains WAL files that contain an error; usually this is related to a conflict with an existing WAL file (e.g. a WAL file that has been archived after a streamed one).',
    },
    {
      name: 'forward_config_path', scopes: [], type: 'boolean', choices: null, default: 'false', executes: false,
      description: 'Parameter which determines whether a passive node should forward its configuration file path to its primary node during cron or sync-info commands.',
    },
    {
      name: 'immediate_checkpoint', scopes: ['global', 'server'], type: 'boolean', choices: null, default: 'false', executes: false,
      description: 'This option allows you to control the way PostgreSQL handles checkpoint at the start of the backup.',
    },
    {
      name: 'incoming_wals_directory', scopes: ['server'], type: 'path', choices: null, default: null, executes: false,
      description: 'Directory where incoming WAL files are archived into.',
    },
    {
      name: 'last_backup_maximum_age', scopes: ['global', 'server'], type: 'interval', choices: null, default: '', executes: false,
      description: 'This option identifies a time frame that must contain the latest backup.',
    },
    {
      name: 'last_backup_minimum_size', scopes: ['global', 'server'], type: 'size', choices: null, default: '', executes: false,
      description: 'This option identifies lower limit to the acceptable size of the latest successful backup.',
    },
    {
      name: 'last_wal_maximum_age', scopes: ['global', 'server'], type: 'interval', choices: null, default: '', executes: false,
      description: 'This option identifies a time frame that must contain the latest WAL file archived.',
    },
    {
      name: 'log_file', scopes: ['global'], type: 'path', choices: null, default: null, executes: false,
      description: 'Location of Barman\'s log file.',
    },
    {
      name: 'log_level', scopes: ['global'], type: 'enum', choices: ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'], default: null, executes: false,
      description: 'Level of logging (DEBUG, INFO, WARNING, ERROR, CRITICAL).',
    },
    {
      name: 'max_incoming_wals_queue', scopes: ['global', 'server'], type: 'integer', choices: null, default: '', executes: false,
      description: 'Maximum number of WAL files in the incoming queue (in both streaming and archiving pools) that are allowed before barman check returns an error (that does not block backups).',
    },
    {
      name: 'minimum_redundancy', scopes: ['global', 'server'], type: 'integer', choices: null, default: '0', executes: false,
      description: 'Minimum number of backups to be retained.',
    },
    {
      name: 'network_compression', scopes: ['global', 'server'], type: 'boolean', choices: null, default: 'false', executes: false,
      description: 'This option allows you to enable data compression for network transfers.',
    },
    {
      name: 'parallel_jobs', scopes: ['global', 'server'], type: 'integer', choices: null, default: '1', executes: false,
      description: 'This option controls how many parallel workers will copy files during a backup or recovery command.',
    },
    {
      name: 'path_prefix', scopes: ['global', 'server'], type: 'list', choices: null, default: null, executes: true,
      description: 'One or more absolute paths, separated by colon, where Barman looks for executable files.',
    },
    {
      name: 'post_archive_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after a WAL file is archived by maintenance.',
    },
    {
      name: 'post_archive_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after a WAL file is archived by maintenance, after \'post_archive_retry_script\'.',
    },
    {
      name: 'post_backup_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after a base backup.',
    },
    {
      name: 'post_backup_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after a base backup, after \'post_backup_retry_script\'.',
    },
    {
      name: 'post_delete_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after the deletion of a backup.',
    },
    {
      name: 'post_delete_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after the deletion of a backup, after \'post_delete_retry_script\'.',
    },
    {
      name: 'post_recovery_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after a recovery.',
    },
    {
      name: 'post_recovery_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after a recovery, after \'post_recovery_retry_script\'.',
    },
    {
      name: 'post_wal_delete_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after the deletion of a WAL file.',
    },
    {
      name: 'post_wal_delete_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched after the deletion of a WAL file, after \'post_wal_delete_retry_script\'.',
    },
    {
      name: 'pre_archive_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before a WAL file is archived by maintenance, after \'pre_archive_script\'.',
    },
    {
      name: 'pre_archive_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before a WAL file is archived by maintenance.',
    },
    {
      name: 'pre_backup_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before a base backup, after \'pre_backup_script\'.',
    },
    {
      name: 'pre_backup_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before a base backup.',
    },
    {
      name: 'pre_delete_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before the deletion of a backup, after \'pre_delete_script\'.',
    },
    {
      name: 'pre_delete_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before the deletion of a backup.',
    },
    {
      name: 'pre_recovery_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before a recovery, after \'pre_recovery_script\'.',
    },
    {
      name: 'pre_recovery_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before a recovery.',
    },
    {
      name: 'pre_wal_delete_retry_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before the deletion of a WAL file, after \'pre_wal_delete_script\'.',
    },
    {
      name: 'pre_wal_delete_script', scopes: ['global', 'server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Hook script launched before the deletion of a WAL file.',
    },
    {
      name: 'primary_conninfo', scopes: ['server'], type: 'string', choices: null, default: null, executes: false,
      description: 'The connection string used by Barman to connect to the primary Postgres server during backup of a standby Postgres server.',
    },
    {
      name: 'primary_ssh_command', scopes: ['global', 'server'], type: 'command', choices: null, default: '', executes: true,
      description: 'Parameter that identifies a Barman server as passive.',
    },
    {
      name: 'recovery_options', scopes: ['global', 'server'], type: 'list', choices: ['get-wal'], default: '', executes: false,
      description: 'Options for recovery operations.',
    },
    {
      name: 'recovery_staging_path', scopes: ['global', 'server'], type: 'path', choices: null, default: null, executes: false,
      description: 'A path to a location on the recovery host (either the barman server or a remote host if --remote-ssh-command is also used) where files for a compressed backup will be staged before being uncompressed to the destination directory.',
    },
    {
      name: 'retention_policy', scopes: ['global', 'server'], type: 'unknown', choices: null, default: '', executes: false,
      description: 'Policy for retention of periodic backups and archive logs.',
    },
    {
      name: 'retention_policy_mode', scopes: ['global', 'server'], type: 'enum', choices: ['auto'], default: null, executes: false,
      description: 'Currently only "auto" is implemented.',
    },
    {
      name: 'reuse_backup', scopes: ['global', 'server'], type: 'enum', choices: ['off', 'copy', 'link'], default: 'off', executes: false,
      description: 'This option controls incremental backup support.',
    },
    {
      name: 'slot_name', scopes: ['global', 'server'], type: 'unknown', choices: null, default: '', executes: false,
      description: 'Physical replication slot to be used by the receive-wal command when streaming_archiver is set to on.',
    },
    {
      name: 'snapshot_disks', scopes: ['server'], type: 'list', choices: null, default: null, executes: false,
      description: 'A comma-separated list of disks which should be included in a backup taken using cloud snapshots.',
    },
    {
      name: 'snapshot_gcp_project', scopes: ['global', 'server'], type: 'string', choices: null, default: null, executes: false,
      description: 'The ID of the GCP project which owns the instance and storage volumes defined by snapshot_instance and snapshot_disks.',
    },
    {
      name: 'snapshot_instance', scopes: ['server'], type: 'string', choices: null, default: null, executes: false,
      description: 'The name of the VM or compute instance where the storage volumes are attached.',
    },
    {
      name: 'snapshot_provider', scopes: ['global', 'server'], type: 'enum', choices: ['gcp'], default: null, executes: false,
      description: 'The name of the cloud provider which should be used to create snapshots.',
    },
    {
      name: 'snapshot_zone', scopes: ['server'], type: 'string', choices: null, default: null, executes: false,
      description: 'The name of the availability zone where the compute instance and disks to be backed up in a snapshot backup are located.',
    },
    {
      name: 'ssh_command', scopes: ['server'], type: 'command', choices: null, default: null, executes: true,
      description: 'Command used by Barman to login to the Postgres server via ssh.',
    },
    {
      name: 'streaming_archiver', scopes: ['global', 'server'], type: 'boolean', choices: null, default: 'off', executes: false,
      description: 'This option allows you to use the PostgreSQL\'s streaming protocol to receive transaction logs from a server.',
    },
    {
      name: 'streaming_archiver_batch_size', scopes: ['global', 'server'], type: 'integer', choices: null, default: null, executes: false,
      description: 'This option allows you to activate batch processing of WAL files for the streaming_archiver process, by setting it to a value > 0.',
    },
    {
      name: 'streaming_archiver_name', scopes: ['global', 'server'], type: 'string', choices: null, default: 'barman_receive_wal', executes: false,
      description: 'Identifier to be used as application_name by the receive-wal command.',
    },
    {
      name: 'streaming_backup_name', scopes: ['global', 'server'], type: 'string', choices: null, default: 'barman_streaming_backup', executes: false,
      description: 'Identifier to be used as application_name by the pg_basebackup command.',
    },
    {
      name: 'streaming_conninfo', scopes: ['server'], type: 'string', choices: null, default: '%(conninfo)s', executes: false,
      description: 'Connection string used by Barman to connect to the Postgres server via streaming replication protocol.',
    },
    {
      name: 'streaming_wals_directory', scopes: ['server'], type: 'path', choices: null, default: null, executes: false,
      description: 'Directory where WAL files are streamed from the PostgreSQL server to Barman.',
    },
    {
      name: 'tablespace_bandwidth_limit', scopes: ['global', 'server'], type: 'list', choices: null, default: null, executes: false,
      description: 'This option allows you to specify a maximum transfer rate in kilobytes per second, by specifying a comma separated list of tablespaces (pairs TBNAME:BWLIMIT).',
    },
    {
      name: 'wal_retention_policy', scopes: ['global', 'server'], type: 'enum', choices: ['MAIN'], default: null, executes: false,
      description: 'Policy for retention of archive logs (WAL files).',
    },
    {
      name: 'wals_directory', scopes: ['server'], type: 'path', choices: null, default: null, executes: false,
      description: 'Directory which contains WAL files.',
    },
  ],
};

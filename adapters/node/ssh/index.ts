/**
 * A BarmanHost over one pooled SSH connection (ssh2): exec channels for commands, SFTP for files.
 * connection.ts logs in and checks host keys, pool.ts shares the connection, exec.ts runs
 * commands, file-ops.ts and sftp-files.ts read, replace and lock files.
 */
import type { BarmanHost } from '../../../src/ports.js';
import { createConnector, type ConnectionSettings } from './connection.js';
import { runRemote } from './exec.js';
import { createPool, createSlots } from './pool.js';
import { sftpFileOps } from './file-ops.js';
import { createStamper } from './stamps.js';

export { SshHostError, type SshHostErrorCode } from './errors.js';

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_EXIT_DRAIN_MS = 2_000;
const DEFAULT_MAX_CHANNELS = 8;

export interface SshHostOptions extends ConnectionSettings {
  defaultTimeoutMs?: number;
  defaultMaxOutputBytes?: number;
  /** Time between the TERM and the KILL signal when a command is stopped. */
  killGraceMs?: number;
  /** How long to keep reading after the remote command exits (a background child may hold its output). */
  exitDrainMs?: number;
  /** Commands running at once on the one connection; sshd allows 10 sessions by default, SFTP takes one. */
  maxChannels?: number;
}

/** A BarmanHost over one pooled SSH connection. */
export interface SshHost extends BarmanHost {
  readonly kind: 'ssh';
  /** Connections that completed authentication so far (pooling and reconnects are observable). */
  readonly connectionsOpened: number;
}

export function createSshHost(opts: SshHostOptions): SshHost {
  const connector = createConnector(opts);
  const { description } = connector;
  const pool = createPool(connector);
  const exec = {
    description,
    pool,
    slots: createSlots(opts.maxChannels ?? DEFAULT_MAX_CHANNELS),
    defaultTimeoutMs: opts.defaultTimeoutMs,
    defaultMaxOutputBytes: opts.defaultMaxOutputBytes,
    killGraceMs: opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    exitDrainMs: opts.exitDrainMs ?? DEFAULT_EXIT_DRAIN_MS,
  };
  const stamper = createStamper(pool, description);
  return {
    kind: 'ssh',
    description,
    get connectionsOpened() {
      return connector.opened;
    },

    run(argv, options = {}) {
      return runRemote(exec, argv, options);
    },

    stampTrees(roots, options) {
      return stamper.stamp(roots, options);
    },

    ...sftpFileOps(pool.withSftp, description),

    close() {
      stamper.close();
      return pool.close();
    },
  };
}

/**
 * The ports through which route handlers reach the outside world. Adapters (adapters/node,
 * adapters/memory, or an embedding service) implement them; nothing in src/ touches a runtime.
 */

/** The store directory (/var/lib/barmanapi). Paths are relative, '/'-separated, never contain '..'. */
export interface Storage {
  /** Whole file as text, or null when it does not exist. */
  readText(path: string): Promise<string | null>;
  /** Whole file as bytes, or null when it does not exist. */
  readBytes(path: string): Promise<Uint8Array | null>;
  /** Atomic replace: readers see the old or the new content, never a mix. Creates parent folders. */
  writeAtomic(path: string, data: string | Uint8Array): Promise<void>;
  /** Append to a file (logs), creating it and its parent folders as needed. */
  append(path: string, data: string | Uint8Array): Promise<void>;
  /** Names (not paths) of the entries of a folder; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Size and modification time, or null when the path does not exist. */
  stat(path: string): Promise<{ size: number; mtimeMs: number; isDirectory: boolean } | null>;
  /** Rename within the store (atomic on one file system). */
  rename(from: string, to: string): Promise<void>;
  /** Remove a file or a folder with everything below it; no error when it does not exist. */
  remove(path: string): Promise<void>;
  /** Create a folder and its parents. */
  mkdir(path: string): Promise<void>;
  /** Stream a file's bytes from `start` without loading it whole; null when it does not exist. */
  openRead(path: string, start?: number): Promise<ReadableStream<Uint8Array> | null>;
  /** Create a file only if it does not exist yet (O_EXCL); false when it already exists. */
  createExclusive(path: string, data: string): Promise<boolean>;
  /** Atomic replace from a stream (temp file, fsync, rename); nothing is left behind on error. */
  writeStreamAtomic(path: string, data: ReadableStream<Uint8Array>): Promise<void>;
}

/** A single text file outside the store (client.conf, barmanapi.conf). */
export interface TextFile {
  readonly path: string;
  /** The whole file; null when it does not exist. Failures are HostFileError or an adapter's own ApiError. */
  read(): Promise<string | null>;
  /** Atomic replace, keeping the owner and mode of the file it replaces. Failures as for read. */
  write(text: string): Promise<void>;
  /** A cheap token that changes whenever the file changes (mtime + size); null when missing. */
  revision(): Promise<string | null>;
  /**
   * Take the file's inter-process lock (other barmanapi processes and the CLI take the same one);
   * resolves to its release. Adapters whose file only this process writes may leave it out.
   */
  lock?(): Promise<() => Promise<void>>;
}

export interface RunOptions {
  /** Kill the command (its whole process group) after this many milliseconds. */
  timeoutMs?: number;
  /** Keep at most this many bytes of stdout and of stderr each; the rest is dropped. */
  maxOutputBytes?: number;
  /** Abort (kill) the command, e.g. when the HTTP client goes away. */
  signal?: AbortSignal;
  /** Environment additions for the command. */
  env?: Record<string, string>;
  /** Work nobody waits for (the command catalogue): takes a barman slot only when no request waits. */
  background?: boolean;
  /** Receives output as it arrives (async job logs), in addition to the bounded copy in the result. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Uint8Array) => void;
}

export interface RunResult {
  /** Exit code, or null when the command was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** stdout or stderr went past maxOutputBytes and was cut. */
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

export interface HostWriteResult {
  /** 'replaced': temp file + rename. 'in-place': the directory is not writable, the file was rewritten under a lock. */
  mode: 'replaced' | 'in-place';
}

export interface FileOwnership {
  uid: number;
  gid: number;
  mode: number;
}

export interface HostFileInfo {
  size: number;
  mtimeMs: number;
  mode: number;
  uid: number;
  gid: number;
  isDirectory: boolean;
}

/**
 * The barman host could not be reached or used, as a host reports it (never a barman failure,
 * which is a RunResult): the API answers 502 with the message, which names no secret.
 */
export type HostErrorKind = 'unreachable' | 'connection-lost' | 'auth' | 'host-key' | 'config' | 'closed';

export class HostError extends Error {
  constructor(
    readonly kind: HostErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

/**
 * A file on the barman host could not be read or written, in the host's own words turned into
 * one of a few kinds, so that callers never need errno names or SFTP status numbers. A missing
 * file is not an error where the port says null or [].
 */
export type HostFileErrorKind =
  /** The user the host acts as may not (EACCES/EPERM, SFTP permission denied). */
  | 'permission'
  /** The file system is mounted read-only. */
  | 'read-only'
  /** A folder on the way does not exist (a write to a missing folder). */
  | 'missing'
  /** The disk or quota is full. */
  | 'no-space'
  /** A directory where a file was expected, or a file where a folder was. */
  | 'not-a-file'
  /** Another process holds the file's lock past the wait. */
  | 'busy'
  /** Anything else the host reported; the message says what. */
  | 'failed';

export class HostFileError extends Error {
  constructor(
    readonly kind: HostFileErrorKind,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostFileError';
  }
}

/** What one file or folder looks like to a tree stamp (BarmanHost.stampTrees). */
export interface FileStamp {
  /** Kind, size, inode and change times as the host gives them: equal stamps mean unchanged. */
  stamp: string;
  /** The later of its modification and status-change times, in ms since the epoch, by the host's clock. */
  changedMs: number;
}

export interface TreeStamps {
  /** The host's clock when the stamps were taken, in ms since the epoch. */
  takenMs: number;
  /** Path → stamp of every root (a missing one as `-`) and every entry below it. */
  entries: Map<string, FileStamp>;
}

export interface StampOptions {
  /** How far below a root to look (0: the root alone). */
  maxDepth: number;
  /** Names of entries left out, with all below them, at any depth below a root. */
  skip: readonly string[];
}

/** Where barman lives: this machine, or a barman host reached over SSH. */
export interface BarmanHost {
  readonly kind: 'local' | 'ssh';
  /** Human description without secrets, e.g. "local" or "barman@backup:22". */
  readonly description: string;
  /** Run argv[0] with argv[1..] as separate words; nothing is interpreted by a local shell. */
  run(argv: string[], options?: RunOptions): Promise<RunResult>;
  /** Whole file as text; null when it does not exist. Failures are HostFileError. */
  readFile(path: string): Promise<string | null>;
  /**
   * Atomic write next to the target (temp + rename), keeping owner and mode. A file that does
   * not exist yet takes the owner and mode of `like` (giving a file away needs root: where the
   * host may not, the mode still applies).
   */
  writeFile(path: string, content: string, like?: FileOwnership): Promise<HostWriteResult>;
  /** null when the path does not exist. */
  stat(path: string): Promise<HostFileInfo | null>;
  /** Entry names of a directory; [] when missing. File failures of every method are HostFileError. */
  listDir(path: string): Promise<string[]>;
  /**
   * Take the inter-process lock of a file this host rewrites (other barmanapi servers and hosts
   * take the same one); resolves to its release, or fails with HostFileError 'busy' after a
   * wait. Hosts no other process writes through may leave it out.
   */
  lockFile?(path: string): Promise<() => Promise<void>>;
  /**
   * Stamps of the given roots and what lies below them, in one pass (over SSH: one round trip),
   * with the finest times the host keeps (nanoseconds where the file system has them). Symbolic
   * links are followed (what changes is their target); a link to nothing is left out, its name
   * being part of its folder's stamp. Hosts that cannot do this leave it out, and what depends on
   * it (the read cache) is off for them.
   */
  stampTrees?(roots: readonly string[], options: StampOptions): Promise<TreeStamps>;
  close(): Promise<void>;
}

/** What the job runner is told to start; the job's folder already holds job.json. */
export interface JobStart {
  id: string;
  /** Store-relative folder of the job, e.g. active/202611/20261128101500_backup_ab12cd. */
  dir: string;
}

export interface JobHandle {
  pid: number | null;
  /**
   * Settles when the runner ends, where the runner can tell (the server that started it is
   * still the one running); the job's files say how it ended.
   */
  exited?: Promise<void>;
}

/** Starts async commands that outlive the HTTP request and the server process. */
export interface JobRunner {
  start(job: JobStart): Promise<JobHandle>;
  /** Whether the runner process `pid` of job `jobId` is still alive (a reused pid does not count). */
  isAlive(pid: number, jobId: string): Promise<boolean>;
  /** Signal the runner's process group to stop. */
  cancel(pid: number): Promise<void>;
  /** Get ready to start the next job quickly (a server that has started serving calls it once). */
  prepare?(): void;
  /** Let go of whatever `prepare` or `start` holds for jobs not yet given; running jobs go on. */
  close?(): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/**
 * Files of the API's docs page (Swagger UI's script, style sheet, icon), by name: read from the
 * installed package on Node, embedded in the single binary. null: no such file here.
 */
export type DocsAssets = (name: string) => Promise<Uint8Array | null>;

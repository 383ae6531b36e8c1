import { HostError, HostFileError, type BarmanHost, type FileStamp, type HostFileInfo, type RunOptions, type RunResult, type StampOptions, type TreeStamps } from '../../src/ports.js';
import { checkStampRequest } from '../../src/util/stamp-request.js';

export type ScriptedCommand = (argv: string[], options: RunOptions) => Partial<RunResult> | Promise<Partial<RunResult>>;

/** barmanapi's own settings (BARMANAPI_*) are never handed to barman; passing one is a caller bug. */
const PRIVATE_ENV = /^BARMANAPI_/i;

/**
 * A barman host in memory: commands answered by a function, files in a map. For unit tests and
 * for embedding services that reach barman their own way.
 *
 * A folder is any path that files lie under. Without `folders`, every other folder exists too,
 * so a file can be written anywhere; with it, the folders named there exist as well (empty ones
 * included) and a write into any other folder fails as on a real host ('missing').
 */
export function createScriptedHost(
  command: ScriptedCommand = () => ({ exitCode: 127, stderr: 'no barman on this host' }),
  files: Map<string, string> = new Map(),
  folders?: Set<string>,
): BarmanHost & { files: Map<string, string>; calls: string[][]; folders: Set<string> | undefined } {
  const calls: string[][] = [];
  let closed = false;
  const enc = new TextEncoder();
  const info = (content: string): HostFileInfo => ({ size: enc.encode(content).length, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, isDirectory: false });
  const { trim, parentOf, isFolder, childrenOf } = folderView(files, folders);
  const open = () => {
    if (closed) throw new HostError('closed', 'the memory host is closed');
  };
  return {
    kind: 'local',
    description: 'memory',
    files,
    calls,
    folders,
    async run(argv, options = {}) {
      open();
      checkRun(argv, options);
      calls.push([...argv]);
      const started = Date.now();
      return completeResult(await command(argv, options), started);
    },
    async readFile(path) {
      open();
      const f = files.get(path);
      if (f !== undefined) return f;
      if (isFolder(path)) throw new HostFileError('not-a-file', path, `cannot read ${path}: it is a directory`);
      return null;
    },
    async writeFile(path, content, _like) {
      open();
      if (isFolder(path)) throw new HostFileError('not-a-file', path, `cannot write ${path}: it is a directory`);
      for (let dir = parentOf(path); dir !== '/'; dir = parentOf(dir)) {
        if (files.has(dir)) throw new HostFileError('not-a-file', path, `cannot write ${path}: ${dir} is a file`);
      }
      if (folders && !isFolder(parentOf(path))) throw new HostFileError('missing', path, `cannot write ${path}: ${parentOf(path)} does not exist`);
      files.set(path, content);
      return { mode: 'replaced' };
    },
    async stat(path) {
      open();
      const f = files.get(path);
      if (f !== undefined) return info(f);
      return isFolder(path) ? { ...info(''), isDirectory: true } : null;
    },
    async listDir(path) {
      open();
      return [...childrenOf(path)].sort();
    },
    async stampTrees(roots, options) {
      open();
      return stampMemoryTrees(files, folders, roots, options);
    },
    async close() {
      closed = true;
    },
  };
}

/** What a real host refuses before starting anything: an empty command, a NUL, our own settings. */
function checkRun(argv: string[], options: RunOptions): void {
  if (argv.length === 0 || argv[0] === '') throw new TypeError('run: argv must name a command');
  if (argv.some((w) => w.includes('\0'))) throw new TypeError('run: an argv word cannot contain a NUL character');
  for (const name of Object.keys(options.env ?? {})) {
    if (PRIVATE_ENV.test(name)) throw new TypeError(`run: ${name} is a barmanapi setting and is never passed to barman`);
  }
}

/** A scripted answer with the fields it left out filled in as a plain successful run. */
function completeResult(r: Partial<RunResult>, started: number): RunResult {
  return {
    exitCode: r.exitCode === undefined ? 0 : r.exitCode,
    signal: r.signal ?? null,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    truncated: r.truncated ?? false,
    timedOut: r.timedOut ?? false,
    aborted: r.aborted ?? false,
    durationMs: r.durationMs ?? Date.now() - started,
  };
}

/** Folders as the scripted host sees them: any path files (or the named folders) lie under. */
function folderView(files: Map<string, string>, folders: Set<string> | undefined) {
  const trim = (path: string) => (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path);
  const parentOf = (path: string) => {
    const i = path.lastIndexOf('/');
    return i <= 0 ? '/' : path.slice(0, i);
  };
  const isFolder = (path: string): boolean => {
    const p = trim(path);
    if (p === '/' || folders?.has(p)) return true;
    const prefix = `${p}/`;
    for (const k of files.keys()) if (k.startsWith(prefix)) return true;
    for (const d of folders ?? []) if (d.startsWith(prefix)) return true;
    return false;
  };
  const childrenOf = (path: string): Set<string> => {
    const prefix = trim(path) === '/' ? '/' : `${trim(path)}/`;
    const names = new Set<string>();
    for (const k of [...files.keys(), ...(folders ?? [])]) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
    names.delete('');
    return names;
  };
  return { trim, parentOf, isFolder, childrenOf };
}

/** stampTrees in memory: a file's stamp is its content, a folder's its entry names. */
function stampMemoryTrees(files: Map<string, string>, folders: Set<string> | undefined, roots: readonly string[], options: StampOptions): TreeStamps {
  const { trim, isFolder, childrenOf } = folderView(files, folders);
  const unique = checkStampRequest(roots, options);
  const entries = new Map<string, FileStamp>();
  const visit = (path: string, depth: number) => {
    const f = files.get(path);
    if (f !== undefined) return void entries.set(path, { stamp: `f ${f}`, changedMs: 0 });
    if (!isFolder(path)) return void entries.set(path, { stamp: '-', changedMs: 0 });
    const names = [...childrenOf(path)].filter((n) => !options.skip.includes(n)).sort();
    entries.set(path, { stamp: `d ${names.join('/')}`, changedMs: 0 });
    if (depth < options.maxDepth) for (const n of names) visit(`${trim(path) === '/' ? '' : trim(path)}/${n}`, depth + 1);
  };
  for (const root of unique) visit(root, 0);
  return { takenMs: Date.now(), entries };
}

import type { BarmanHost, HostFileInfo, RunOptions, RunResult } from '../../src/ports.js';

export type ScriptedCommand = (argv: string[], options: RunOptions) => Partial<RunResult> | Promise<Partial<RunResult>>;

/**
 * A barman host in memory: commands answered by a function, files in a map. For unit tests and
 * for embedding services that reach barman their own way.
 */
export function createScriptedHost(
  command: ScriptedCommand = () => ({ exitCode: 127, stderr: 'no barman on this host' }),
  files: Map<string, string> = new Map(),
): BarmanHost & { files: Map<string, string>; calls: string[][] } {
  const calls: string[][] = [];
  const info = (content: string): HostFileInfo => ({ size: content.length, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, isDirectory: false });
  return {
    kind: 'local',
    description: 'memory',
    files,
    calls,
    async run(argv, options = {}) {
      calls.push([...argv]);
      const started = Date.now();
      const r = await command(argv, options);
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
    },
    async readFile(path) {
      return files.get(path) ?? null;
    },
    async writeFile(path, content, _like) {
      files.set(path, content);
      return { mode: 'replaced' };
    },
    async stat(path) {
      const f = files.get(path);
      if (f !== undefined) return info(f);
      const prefix = path.endsWith('/') ? path : `${path}/`;
      return [...files.keys()].some((k) => k.startsWith(prefix)) ? { ...info(''), isDirectory: true } : null;
    },
    async listDir(path) {
      const prefix = path.endsWith('/') ? path : `${path}/`;
      const names = new Set<string>();
      for (const k of files.keys()) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
      return [...names].sort();
    },
    async close() {},
  };
}

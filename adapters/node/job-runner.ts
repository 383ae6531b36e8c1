import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobRunner } from '../../src/ports.js';

export interface DetachedRunnerOptions {
  /** The store directory (runner.log goes into the job's folder). */
  storeDirectory: string;
  /** The settings file the runner loads, as the server did. */
  configFile: string | null;
  /** How to start this program again; defaults to this process's own entry (see `selfCommand`). */
  command?: string[];
}

/**
 * Starts each job as `barmanapi execute <id>` in its own session and process group, detached
 * from the server: the job keeps running if the server stops, restarts or is killed.
 */
export function createDetachedJobRunner(opts: DetachedRunnerOptions): JobRunner {
  const command = opts.command ?? selfCommand();
  return {
    async start(job) {
      const log = openSync(join(opts.storeDirectory, job.dir, 'runner.log'), 'a', 0o600);
      try {
        const args = [...command.slice(1), 'execute', job.id, ...(opts.configFile ? ['--config', opts.configFile] : [])];
        const child = spawn(command[0]!, args, { detached: true, stdio: ['ignore', log, log], cwd: '/' });
        // The end is told to this server at once, while the child keeps no hold on its event loop.
        const exited = new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.once('error', () => resolve());
        });
        child.unref();
        return { pid: child.pid ?? null, exited };
      } finally {
        closeSync(log);
      }
    },
    async isAlive(pid, jobId) {
      try {
        process.kill(pid, 0);
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
      }
      // Guard against a reused pid: the process must be this job's runner, and not a zombie.
      const proc = `/proc/${pid}`;
      if (!existsSync(proc)) return true;
      try {
        const stat = readFileSync(`${proc}/stat`, 'utf8');
        if (/\) Z /.test(stat)) return false;
        return readFileSync(`${proc}/cmdline`, 'utf8').split('\0').includes(jobId);
      } catch {
        return false;
      }
    },
    async cancel(pid) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    },
  };
}

/**
 * This program's own command line: the compiled binary itself, or node + bin/barmanapi.js
 * (found from this module's location, so it works when embedded in another service too).
 */
export function selfCommand(): string[] {
  if (isCompiledBinary()) return [process.execPath];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const bin = join(dir, 'bin', 'barmanapi.js');
    if (existsSync(bin)) return [process.execPath, bin];
    dir = dirname(dir);
  }
  throw new Error('cannot find bin/barmanapi.js to start job runners');
}

export function isCompiledBinary(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' && import.meta.url.includes('$bunfs');
}

import type { JobRunner } from '../../src/ports.js';
import { executeJob, type ExecuteDeps } from '../../src/jobs/execute.js';

/**
 * Runs jobs inside this process: for tests and for embedding where jobs need not outlive the
 * process. `settled` resolves when every started job has finished.
 */
export function createInProcessJobRunner(deps: ExecuteDeps): JobRunner & { settled(): Promise<void> } {
  let nextPid = 100_000;
  const live = new Map<number, { jobId: string; controller: AbortController; done: Promise<unknown> }>();
  return {
    async start(job) {
      const pid = nextPid++;
      const controller = new AbortController();
      const done = executeJob(deps, job.id, pid, controller.signal).finally(() => live.delete(pid));
      live.set(pid, { jobId: job.id, controller, done });
      return { pid, exited: done.then(() => undefined, () => undefined) };
    },
    async isAlive(pid, jobId) {
      return live.get(pid)?.jobId === jobId;
    },
    async cancel(pid) {
      live.get(pid)?.controller.abort();
    },
    async settled() {
      while (live.size > 0) await Promise.allSettled([...live.values()].map((l) => l.done));
    },
  };
}

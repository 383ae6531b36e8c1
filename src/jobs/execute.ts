import type { BarmanHost, Clock, Storage } from '../ports.js';
import { toCommandResult } from '../barman/output.js';
import { jobDir, type JobResult, type RunClaim } from './model.js';
import { JobFiles } from './store.js';

export interface ExecuteDeps {
  storage: Storage;
  host: BarmanHost;
  clock: Clock;
  /** Output kept in memory for result.json; the whole output goes to output.log. */
  maxOutputBytes: number;
}

/**
 * The body of `barmanapi execute <job>`: claim the job (once, ever), run barman, stream its output
 * to output.log, then write result.json atomically. `signal` is aborted on SIGTERM (cancel).
 * Returns null when another runner already claimed the job.
 */
export async function executeJob(deps: ExecuteDeps, id: string, pid: number | null, signal?: AbortSignal): Promise<JobResult | null> {
  const files = new JobFiles(deps.storage);
  const dir = jobDir(id);
  const job = await files.record(id);
  if (!job) throw new Error(`no job ${id}`);
  const started = deps.clock.now();
  const claim: RunClaim = { pid, started_at: started.toISOString() };
  if (!(await deps.storage.createExclusive(`${dir}/run.json`, JSON.stringify(claim)))) return null;

  // Appends are chained so output.log keeps the order in which barman wrote.
  let writing: Promise<void> = deps.storage.writeAtomic(`${dir}/output.log`, '');
  const onOutput = (_stream: 'stdout' | 'stderr', chunk: Uint8Array) => {
    const copy = new Uint8Array(chunk);
    writing = writing.then(() => deps.storage.append(`${dir}/output.log`, copy));
  };
  let result: JobResult;
  try {
    if (await files.cancelRequested(id)) {
      result = finished('cancelled', null, started, deps.clock.now(), { status_code: -1, message: 'cancelled before it started', list: [] });
    } else {
      // No timeout: [barman] timeout is for synchronous requests; a backup may take hours.
      const r = await deps.host.run(job.argv, { timeoutMs: 0, maxOutputBytes: deps.maxOutputBytes, signal, onOutput });
      const { body } = toCommandResult(r, { json: job.json });
      const cancelled = r.aborted || (await files.cancelRequested(id));
      const status = cancelled ? 'cancelled' : r.exitCode === 0 ? 'done' : 'failed';
      const legacy = { status_code: body.status_code, message: body.message, list: body.list, ...(body.data !== undefined ? { data: body.data } : {}), ...(body.truncated ? { truncated: true } : {}) };
      result = finished(status, r.exitCode, started, deps.clock.now(), legacy);
    }
  } catch (e) {
    // The host could not run barman at all (SSH refused, spawn failed …): say so in the result.
    result = finished('failed', null, started, deps.clock.now(), { status_code: -1, message: `barman could not be run: ${(e as Error).message}`, list: [] });
  }
  await writing.catch(() => undefined);
  await deps.storage.writeAtomic(`${dir}/result.json`, JSON.stringify(result));
  return result;
}

function finished(status: JobResult['status'], exit: number | null, started: Date, ended: Date, result: JobResult['result']): JobResult {
  return {
    status,
    exit_code: exit,
    started_at: started.toISOString(),
    ended_at: ended.toISOString(),
    duration_ms: ended.getTime() - started.getTime(),
    result,
  };
}

import type { BarmanHost, Clock, Storage } from '../ports.js';
import { toCommandResult } from '../barman/output.js';
import { failure, jobHost, jobResult, type JobRecord, type JobResult } from './model.js';
import { DEFAULT_HOST } from '../hosts/names.js';
import { JobFiles } from './files.js';

export interface ExecuteDeps {
  storage: Storage;
  /** The default host's adapter. */
  host: BarmanHost;
  clock: Clock;
  /** Output kept in memory for result.json; the whole output goes to output.log. */
  maxOutputBytes: number;
  /** A further host's adapter and output bound, by name (job.json's host_name); null: no such host. */
  hostFor?: (name: string) => { host: BarmanHost; maxOutputBytes: number } | null;
}

/** Where a job runs: its own host, never another one when that is missing. */
function targetOf(deps: ExecuteDeps, job: JobRecord): { host: BarmanHost; maxOutputBytes: number } | null {
  const name = jobHost(job);
  if (name === DEFAULT_HOST) return { host: deps.host, maxOutputBytes: deps.maxOutputBytes };
  return deps.hostFor?.(name) ?? null;
}

/**
 * The body of `barmanapi execute <job>`: claim the job (once, ever), run barman, stream its output
 * to output.log, then write result.json atomically. `signal` is aborted on SIGTERM (cancel).
 * Returns null when another runner already claimed the job.
 */
export async function executeJob(deps: ExecuteDeps, id: string, pid: number | null, signal?: AbortSignal): Promise<JobResult | null> {
  const files = new JobFiles(deps.storage);
  const job = await files.record(id);
  if (!job) throw new Error(`no job ${id}`);
  const started = deps.clock.now();
  if (!(await files.takeClaim(id, { pid, started_at: started.toISOString() }))) return null;

  const output = files.outputWriter(id);
  let result: JobResult;
  try {
    const target = targetOf(deps, job);
    if (await files.cancelRequested(id)) {
      result = jobResult('cancelled', failure('cancelled before it started'), { started, ended: deps.clock.now() });
    } else if (!target) {
      result = jobResult('failed', failure(`no barman host named ${JSON.stringify(jobHost(job))} in the settings`), { started, ended: deps.clock.now() });
    } else {
      // No timeout: [barman] timeout is for synchronous requests; a backup may take hours.
      const r = await target.host.run(job.argv, { timeoutMs: 0, maxOutputBytes: target.maxOutputBytes, signal, onOutput: (_stream, chunk) => output.append(chunk) });
      const { body } = toCommandResult(r, { json: job.json });
      const cancelled = r.aborted || (await files.cancelRequested(id));
      const status = cancelled ? 'cancelled' : r.exitCode === 0 ? 'done' : 'failed';
      const legacy = { status_code: body.status_code, message: body.message, list: body.list, ...(body.data !== undefined ? { data: body.data } : {}), ...(body.truncated ? { truncated: true } : {}) };
      result = jobResult(status, legacy, { started, ended: deps.clock.now(), exitCode: r.exitCode });
    }
  } catch (e) {
    // The host could not run barman at all (SSH refused, spawn failed …): say so in the result.
    result = jobResult('failed', failure(`barman could not be run: ${(e as Error).message}`), { started, ended: deps.clock.now() });
  }
  await output.flushed();
  await files.writeResult(id, result);
  return result;
}

import type { Storage } from '../ports.js';
import { jobDir, type JobRecord, type JobResult, type RunClaim } from './model.js';

/** Reading and writing one job's files in the store. */
export class JobFiles {
  constructor(private readonly storage: Storage) {}

  async record(id: string): Promise<JobRecord | null> {
    return this.readJson<JobRecord>(`${jobDir(id)}/job.json`);
  }

  async claim(id: string): Promise<RunClaim | null> {
    return this.readJson<RunClaim>(`${jobDir(id)}/run.json`);
  }

  async spawned(id: string): Promise<RunClaim | null> {
    return this.readJson<RunClaim>(`${jobDir(id)}/spawn.json`);
  }

  /**
   * result.json, or null while there is none. A corrupt file is reported as a failed result
   * whose message says so, never as a server error.
   */
  async result(id: string): Promise<JobResult | null> {
    const path = `${jobDir(id)}/result.json`;
    const text = await this.storage.readText(path);
    if (text === null) return null;
    try {
      const r = JSON.parse(text) as JobResult;
      if (typeof r !== 'object' || r === null || typeof r.status !== 'string' || typeof r.result !== 'object') throw new Error('shape');
      return r;
    } catch {
      return corruptResult(`result file ${path} is not valid JSON; the job's outcome is unknown`);
    }
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.storage.stat(`${jobDir(id)}/cancel.json`)) !== null;
  }

  private async readJson<T>(path: string): Promise<T | null> {
    const text = await this.storage.readText(path);
    if (text === null) return null;
    try {
      return JSON.parse(text) as T;
    } catch {
      return null;
    }
  }
}

export function corruptResult(message: string): JobResult {
  return {
    status: 'failed',
    exit_code: null,
    started_at: null,
    ended_at: new Date(0).toISOString(),
    duration_ms: null,
    result: { status_code: -1, message, list: [] },
  };
}

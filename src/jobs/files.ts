import type { Storage } from '../ports.js';
import { concatBytes, readAllBytes } from '../util/bytes.js';
import { failure, jobDir, jobResult, type JobRecord, type JobResult, type RunClaim } from './model.js';

/**
 * Every file of one job in the store, named, read and written here and nowhere else:
 * job.json (what to run), spawn.json (the runner was started), run.json (the runner's claim,
 * taken once), output.log, cancel.json (a cancel was asked), runner.log (what a runner said
 * before it could start barman; the Node runner points its stderr there) and result.json.
 */
export class JobFiles {
  constructor(private readonly storage: Storage) {}

  private path(id: string, name: string): string {
    return `${jobDir(id)}/${name}`;
  }

  async record(id: string): Promise<JobRecord | null> {
    return this.readJson<JobRecord>(this.path(id, 'job.json'));
  }

  async writeRecord(job: JobRecord): Promise<void> {
    await this.storage.writeAtomic(this.path(job.id, 'job.json'), JSON.stringify(job));
  }

  async claim(id: string): Promise<RunClaim | null> {
    return this.readJson<RunClaim>(this.path(id, 'run.json'));
  }

  /** Claim the job for a runner (or for a cancel that keeps every runner out): once, ever. */
  async takeClaim(id: string, claim: RunClaim | { pid: null; started_at: null }): Promise<boolean> {
    return this.storage.createExclusive(this.path(id, 'run.json'), JSON.stringify(claim));
  }

  async spawned(id: string): Promise<RunClaim | null> {
    return this.readJson<RunClaim>(this.path(id, 'spawn.json'));
  }

  async recordSpawn(id: string, spawn: { pid: number | null; started_at: string }): Promise<void> {
    await this.storage.writeAtomic(this.path(id, 'spawn.json'), JSON.stringify(spawn));
  }

  /**
   * result.json, or null while there is none. A corrupt file is reported as a failed result
   * whose message says so, never as a server error.
   */
  async result(id: string): Promise<JobResult | null> {
    const path = this.path(id, 'result.json');
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

  async hasResult(id: string): Promise<boolean> {
    return (await this.storage.stat(this.path(id, 'result.json'))) !== null;
  }

  async writeResult(id: string, result: JobResult): Promise<void> {
    await this.storage.writeAtomic(this.path(id, 'result.json'), JSON.stringify(result));
  }

  /** Write the result unless one exists: of two settling a job at once, one writes it. */
  async settleResult(id: string, result: JobResult): Promise<boolean> {
    return this.storage.createExclusive(this.path(id, 'result.json'), JSON.stringify(result));
  }

  async requestCancel(id: string, at: Date): Promise<void> {
    await this.storage.writeAtomic(this.path(id, 'cancel.json'), JSON.stringify({ at: at.toISOString() }));
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.storage.stat(this.path(id, 'cancel.json'))) !== null;
  }

  /** The last `max` characters a runner wrote before it could start barman. */
  async runnerSaid(id: string, max: number): Promise<string> {
    return ((await this.storage.readText(this.path(id, 'runner.log'))) ?? '').trim().slice(-max);
  }

  /** An empty output.log, then appends in the order they are asked for. */
  outputWriter(id: string): { append(chunk: Uint8Array): void; flushed(): Promise<void> } {
    const path = this.path(id, 'output.log');
    let writing: Promise<void> = this.storage.writeAtomic(path, '');
    return {
      append: (chunk) => {
        const copy = new Uint8Array(chunk);
        writing = writing.then(() => this.storage.append(path, copy));
      },
      flushed: () => writing.catch(() => undefined),
    };
  }

  /** output.log from `offset`, streamed; null when there is none. */
  openOutput(id: string, offset: number): Promise<ReadableStream<Uint8Array> | null> {
    return this.storage.openRead(this.path(id, 'output.log'), offset);
  }

  /** At most `maxBytes` of the output from byte `offset` on: a follower of a large log holds one window of it, not the whole rest. */
  async readOutput(id: string, offset: number, maxBytes: number): Promise<Uint8Array> {
    const stream = await this.openOutput(id, offset);
    if (!stream) return new Uint8Array();
    if (maxBytes === Infinity) return readAllBytes(stream);
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (size < maxBytes) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    return concatBytes(chunks).subarray(0, maxBytes);
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
  return jobResult('failed', failure(message), { started: null, ended: new Date(0) });
}

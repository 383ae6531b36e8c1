/**
 * What every JobRunner adapter does (src/ports.ts), written once and run against each adapter by
 * job-runner.test.ts: a job whose folder holds job.json is started, claimed once, run, and its
 * result written; it can be asked after and cancelled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRunner, Storage } from '../../src/ports.js';
import { jobDir, newJobId, type JobRecord, type JobResult, type RunClaim } from '../../src/jobs/model.js';

export interface JobRunnerFixture {
  runner: JobRunner;
  /** The store the runner's jobs live in. */
  storage: Storage;
  /** argv of commands on the runner's barman host. */
  commands: {
    /** Writes `text` to stdout, then exits with `exitCode`. */
    print(text: string, exitCode: number): string[];
    /** Runs until it is stopped. */
    wait(): string[];
  };
  close?(): Promise<void>;
}

/** How long a runner may take to start, claim a job and finish a short command. */
const WAIT_MS = 15_000;

async function until<T>(what: string, check: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function jobRunnerContract(name: string, make: () => Promise<JobRunnerFixture>): void {
  describe(`JobRunner contract: ${name}`, () => {
    let f: JobRunnerFixture;
    const started: Array<{ pid: number; id: string }> = [];
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => {
      // Nothing a test started outlives the suite.
      for (const { pid, id } of started) if (await f.runner.isAlive(pid, id)) await f.runner.cancel(pid);
      await f?.close?.();
    });

    /** A job in its folder with job.json, as the job service leaves it before start. */
    async function newJob(argv: string[]): Promise<string> {
      const id = newJobId('backup', new Date());
      const record: JobRecord = { id, command: 'backup', argv, json: false, user: 'memin', servers: ['pg'], host: 'contract', created_at: new Date().toISOString() };
      await f.storage.writeAtomic(`${jobDir(id)}/job.json`, JSON.stringify(record));
      return id;
    }

    async function start(id: string): Promise<number> {
      const { pid } = await f.runner.start({ id, dir: jobDir(id) });
      expect(pid).toEqual(expect.any(Number));
      started.push({ pid: pid!, id });
      return pid!;
    }

    const read = async <T>(id: string, file: string): Promise<T | null> => {
      const t = await f.storage.readText(`${jobDir(id)}/${file}`);
      return t === null ? null : (JSON.parse(t) as T);
    };
    const result = (id: string) => until(`the result of ${id}`, () => read<JobResult>(id, 'result.json'));
    const ended = (pid: number, id: string) => until(`runner ${pid} to end`, async () => !(await f.runner.isAlive(pid, id)));

    it('runs the job: claims it under the pid it answered, keeps the output, writes the result', async () => {
      const id = await newJob(f.commands.print('hello from the job', 0));
      const pid = await start(id);
      const r = await result(id);
      expect(r).toMatchObject({ status: 'done', exit_code: 0 });
      expect((await read<RunClaim>(id, 'run.json'))?.pid).toBe(pid);
      expect(await f.storage.readText(`${jobDir(id)}/output.log`)).toContain('hello from the job');
      await ended(pid, id);
    });

    it('tells the one who started it when the runner has ended, after the result is written', async () => {
      const id = await newJob(f.commands.print('quick', 0));
      const handle = await f.runner.start({ id, dir: jobDir(id) });
      started.push({ pid: handle.pid!, id });
      expect(handle.exited).toBeInstanceOf(Promise);
      await until('the runner to say it ended', async () => {
        let done = false;
        await Promise.race([handle.exited!.then(() => (done = true)), new Promise((r) => setTimeout(r, 50))]);
        return done;
      });
      expect(await read<JobResult>(id, 'result.json')).toMatchObject({ status: 'done', exit_code: 0 });
      expect(await f.runner.isAlive(handle.pid!, id)).toBe(false);
    });

    it('reports a command that fails as failed, with its exit code and output', async () => {
      const id = await newJob(f.commands.print('it went wrong', 3));
      const pid = await start(id);
      expect(await result(id)).toMatchObject({ status: 'failed', exit_code: 3 });
      expect(await f.storage.readText(`${jobDir(id)}/output.log`)).toContain('it went wrong');
      await ended(pid, id);
    });

    it('says a runner is alive while its job runs and not once it has ended; another job\'s id does not count', async () => {
      const id = await newJob(f.commands.wait());
      const other = await newJob(f.commands.wait());
      const pid = await start(id);
      await until('the claim', () => read<RunClaim>(id, 'run.json'));
      expect(await f.runner.isAlive(pid, id)).toBe(true);
      // The same pid asked for under another job: a pid reused by something else is not this runner.
      expect(await f.runner.isAlive(pid, other)).toBe(false);
      await f.runner.cancel(pid);
      await result(id);
      await ended(pid, id);
      expect(await f.runner.isAlive(pid, id)).toBe(false);
    });

    it('cancel stops a running job, whose result then says cancelled', async () => {
      const id = await newJob(f.commands.wait());
      const pid = await start(id);
      await until('the claim', () => read<RunClaim>(id, 'run.json'));
      const at = Date.now();
      await f.runner.cancel(pid);
      expect(await result(id)).toMatchObject({ status: 'cancelled', exit_code: null });
      expect(Date.now() - at).toBeLessThan(10_000);
      await ended(pid, id);
    });

    it('cancel of a runner that has ended is harmless', async () => {
      const id = await newJob(f.commands.print('quick', 0));
      const pid = await start(id);
      await result(id);
      await ended(pid, id);
      await expect(f.runner.cancel(pid)).resolves.toBeUndefined();
      expect(await read<JobResult>(id, 'result.json')).toMatchObject({ status: 'done' });
    });

    it('runs a job once, however often it is started', async () => {
      const id = await newJob(f.commands.print('ran once', 0));
      const pids = [await start(id), await start(id)];
      expect(await result(id)).toMatchObject({ status: 'done' });
      for (const pid of pids) await ended(pid, id);
      expect((await f.storage.readText(`${jobDir(id)}/output.log`))?.match(/ran once/g)).toHaveLength(1);
      expect(pids).toContain((await read<RunClaim>(id, 'run.json'))?.pid);
    });
  });
}

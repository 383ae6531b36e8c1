/**
 * The detached runner's runner started ahead ([jobs] warm_runner): `barmanapi execute -` waits for
 * its job id on standard input, is handed the next job, and ends by itself when the server that
 * started it goes away. What every runner does is in job-runner.ts; this is what only this one does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDetachedJobRunner } from '../../adapters/node/job-runner.js';
import { createFsStorage } from '../../adapters/node/fs-storage.js';
import { jobDir, newJobId, type JobRecord, type JobResult, type RunClaim } from '../../src/jobs/model.js';
import type { JobRunner, LogLevel, Storage } from '../../src/ports.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'barmanapi.js');

async function until<T>(what: string, check: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids of runners waiting for a job id on stdin under settings file `config`. */
function waitingRunners(config: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (argv.includes('execute') && argv.includes('-') && argv.includes(config) && !/\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describe('detached job runner started ahead (barmanapi execute -)', () => {
  let dir: string;
  let store: string;
  let config: string;
  let storage: Storage;
  let runner: JobRunner;
  let said: Array<{ level: LogLevel; message: string }>;

  const settings = (extra = '') => writeFile(config, `[application]\nstore_directory=${store}\n[barman]\nremote=false\n${extra}`);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'barmanapi-warm-runner-'));
    await chmod(dir, 0o755);
    store = join(dir, 'store');
    config = join(dir, 'barmanapi.conf');
    await mkdir(join(store, 'active'), { recursive: true });
    await settings();
    storage = createFsStorage(store);
    said = [];
    const logger = { log: (level: LogLevel, message: string) => void said.push({ level, message }) };
    runner = createDetachedJobRunner({ storeDirectory: store, configFile: config, warm: true, logger });
  });

  afterEach(async () => {
    await runner.close?.();
    for (const pid of waitingRunners(config)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  async function newJob(argv: string[]): Promise<string> {
    const id = newJobId('backup', new Date());
    const record: JobRecord = { id, command: 'backup', argv, json: false, user: 'memin', servers: ['pg'], host: 'test', created_at: new Date().toISOString() };
    await storage.writeAtomic(`${jobDir(id)}/job.json`, JSON.stringify(record));
    return id;
  }
  const read = async <T>(id: string, file: string): Promise<T | null> => {
    const t = await storage.readText(`${jobDir(id)}/${file}`);
    return t === null ? null : (JSON.parse(t) as T);
  };
  const result = (id: string) => until(`the result of ${id}`, () => read<JobResult>(id, 'result.json'));

  it('hands the job to the runner that was waiting, and starts the next one ahead', async () => {
    runner.prepare?.();
    const [waiting] = await until('a runner started ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    const id = await newJob(['/bin/sh', '-c', 'echo from the waiting runner']);
    const handle = await runner.start({ id, dir: jobDir(id) });
    expect(handle.pid).toBe(waiting);
    expect(await result(id)).toMatchObject({ status: 'done', exit_code: 0 });
    expect((await read<RunClaim>(id, 'run.json'))?.pid).toBe(waiting);
    await handle.exited;
    // One new runner waits for the next job; the log the first one had became its job's runner.log.
    const next = await until('the next runner started ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    expect(next).not.toContain(waiting);
    expect(existsSync(join(store, jobDir(id), 'runner.log'))).toBe(true);
    expect(readdirSync(store).filter((f) => f.startsWith('.runner-warm-'))).toHaveLength(1);
    // active/ holds month folders only, as the seed's store layout has it.
    expect(readdirSync(join(store, 'active')).filter((f) => !/^\d{6}$/.test(f))).toEqual([]);
  });

  it('is known alive for its job only, though its job id is not on its command line', async () => {
    runner.prepare?.();
    await until('a runner started ahead', () => waitingRunners(config).length === 1);
    const id = await newJob(['sleep', '300']);
    const other = await newJob(['sleep', '300']);
    const { pid } = await runner.start({ id, dir: jobDir(id) });
    await until('the claim', () => read<RunClaim>(id, 'run.json'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).not.toContain(id);
    expect(await runner.isAlive(pid!, id)).toBe(true);
    expect(await runner.isAlive(pid!, other)).toBe(false);
    await runner.cancel(pid!);
    expect(await result(id)).toMatchObject({ status: 'cancelled' });
    await until('the runner to end', async () => !(await runner.isAlive(pid!, id)));
  });

  it('reads the settings when it is given the job, not when it started', async () => {
    runner.prepare?.();
    await until('a runner started ahead', () => waitingRunners(config).length === 1);
    await settings('max_output_bytes=1024\n');
    const id = await newJob(['/bin/sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x']);
    await runner.start({ id, dir: jobDir(id) });
    const r = (await result(id)) as JobResult & { truncated?: boolean };
    expect(r.status).toBe('done');
    expect(JSON.stringify(r)).toContain('"truncated":true');
  });

  it('ends, leaving no file, when closed or when the process that started it goes away', async () => {
    runner.prepare?.();
    const [waiting] = await until('a runner started ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    await runner.close?.();
    await until('the runner to end on close', () => !alive(waiting!));
    expect(readdirSync(store).filter((f) => f.startsWith('.runner-warm-'))).toEqual([]);

    // A server killed outright: its end of the pipe closes with it.
    const script = `import { createDetachedJobRunner } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'dist', 'adapters', 'node', 'job-runner.js'))};
      createDetachedJobRunner({ storeDirectory: ${JSON.stringify(store)}, configFile: ${JSON.stringify(config)}, warm: true }).prepare();
      setInterval(() => undefined, 1000);`;
    const server = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const [orphan] = await until('the other process to start a runner ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    server.kill('SIGKILL');
    await until('the runner to end with its server', () => !alive(orphan!));
    // Its server could not remove the runner's output file: the runner did.
    expect(readdirSync(store).filter((f) => f.startsWith('.runner-warm-'))).toEqual([]);
  });

  it('is not handed a job that was handed to a runner before: that one may be at work, known by its runner.log', async () => {
    runner.prepare?.();
    const [waiting] = await until('a runner started ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    const id = await newJob(['/bin/sh', '-c', 'echo second start']);
    await writeFile(join(store, jobDir(id), 'runner.log'), 'said by the first runner\n');
    const { pid } = await runner.start({ id, dir: jobDir(id) });
    expect(pid).not.toBe(waiting);
    expect(await result(id)).toMatchObject({ status: 'done' });
    expect(readFileSync(join(store, jobDir(id), 'runner.log'), 'utf8')).toContain('said by the first runner');
    await until('the unused runner to end', () => !alive(waiting!));
  });

  it('is not handed a job once dead, even before the server has heard of its end', async () => {
    runner.prepare?.();
    const [waiting] = await until('a runner started ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    const id = await newJob(['/bin/sh', '-c', 'echo after a death']);
    process.kill(waiting!, 'SIGKILL');
    // Wait without yielding to the event loop: Node has not seen the exit when start() runs.
    const deadline = Date.now() + 5000;
    while (alive(waiting!) && Date.now() < deadline) { /* spin */ }
    const { pid } = await runner.start({ id, dir: jobDir(id) });
    expect(pid).not.toBe(waiting);
    expect(await result(id)).toMatchObject({ status: 'done', exit_code: 0 });
  });

  it('is replaced by a runner started for the job when it died waiting, and says so', async () => {
    runner.prepare?.();
    const [waiting] = await until('a runner started ahead', () => waitingRunners(config).length === 1 && waitingRunners(config));
    process.kill(waiting!, 'SIGKILL');
    await until('the death to be noticed', () => said.some((s) => s.level === 'warn' && /ended before it was given a job/.test(s.message)));
    const id = await newJob(['/bin/sh', '-c', 'echo started cold']);
    const { pid } = await runner.start({ id, dir: jobDir(id) });
    expect(pid).not.toBe(waiting);
    expect(await result(id)).toMatchObject({ status: 'done', exit_code: 0 });
    expect(await storage.readText(`${jobDir(id)}/output.log`)).toContain('started cold');
  });

  it('runs a job on the barman host it names, and never on another when that host is gone from the settings', async () => {
    await settings('[host:dc2]\nremote=false\n');
    const id = await newJob(['/bin/sh', '-c', 'echo on dc2']);
    const other = await newJob(['/bin/sh', '-c', 'echo must not run']);
    for (const [job, host] of [[id, 'dc2'], [other, 'gone']] as const) {
      const record = JSON.parse((await storage.readText(`${jobDir(job)}/job.json`))!) as JobRecord;
      await storage.writeAtomic(`${jobDir(job)}/job.json`, JSON.stringify({ ...record, host_name: host }));
      await runner.start({ id: job, dir: jobDir(job) });
    }
    expect(await result(id)).toMatchObject({ status: 'done', exit_code: 0 });
    expect(await storage.readText(`${jobDir(id)}/output.log`)).toContain('on dc2');
    const refused = await result(other);
    expect(refused).toMatchObject({ status: 'failed', result: { message: 'no barman host named "gone" in the settings' } });
    expect(await storage.readText(`${jobDir(other)}/output.log`)).not.toContain('must not run');
  });

  it('execute - ends quietly without a job id, and refuses a line that is not one', () => {
    const none = spawnSync(process.execPath, [BIN, 'execute', '-', '--config', config], { input: '', encoding: 'utf8' });
    expect(none.status).toBe(0);
    expect(none.stderr).toBe('');
    const bad = spawnSync(process.execPath, [BIN, 'execute', '-', '--config', config], { input: '../../etc/passwd\n', encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('execute needs a job id');
    const endless = spawnSync(process.execPath, [BIN, 'execute', '-', '--config', config], { input: 'x'.repeat(100_000), encoding: 'utf8' });
    expect(endless.status).toBe(2);
  });
});

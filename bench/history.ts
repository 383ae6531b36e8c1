/**
 * Issue 4: a month with 10 000 finished jobs. The jobs are written straight into a temporary
 * store in the layout of src/jobs (active/YYYYmm/<id>/{job,run,result}.json + output.log): one
 * set in the current month, one in the previous month, packed into archive/YYYYmm.tar.gz here
 * by JobService.archivePastMonths() as the server would at start. A real server process
 * (`bin/barmanapi.js runserver`) then serves `/history/list?limit=100` and
 * `/history/list?past=YYYYmm&limit=100`; we time them and read its peak RSS from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFsStorage } from '../adapters/node/fs-storage.js';
import { JobService } from '../src/jobs/service.js';
import { monthOf, stamp, type JobRecord, type JobResult, type RunClaim } from '../src/jobs/model.js';
import { HOST, REPO_ROOT, basicAuth, fetchJson, freePort, log, median, percentile, round, tempDir, timed, writeConfig, type BenchOutcome } from './lib.js';

const JOBS = 10_000;
const LIMIT = 100;
const WARMUP = 3;
const ITERATIONS = 30;
const TARGET_LIST_MS = 100;
const TARGET_ARCHIVE_RATIO = 3;
const TARGET_RSS_MB = 64;

export async function benchHistory(): Promise<BenchOutcome> {
  const entry = join(REPO_ROOT, 'bin/barmanapi.js');
  if (!existsSync(join(REPO_ROOT, 'dist/adapters/node/cli.js'))) {
    return { figures: [], skipped: 'dist/ is missing: run `npm run build` first (npm run bench does)' };
  }
  const dir = tempDir('history', { inMemory: true });
  let server: ChildProcess | undefined;
  try {
    const config = writeConfig(dir.path, { barman: { configfile: '/etc/barman.conf', command: '/usr/bin/barman' } });
    const store = join(dir.path, 'store');
    const now = new Date();
    const current = monthOf(now);
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const past = monthOf(new Date(monthStart - 1));

    // The past month: written, then archived by the code the server runs at start.
    const pastStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
    const generated = await timed(async () => writeJobs(store, pastStart, monthStart - pastStart, JOBS));
    const storage = createFsStorage(store);
    const service = new JobService({
      storage,
      runner: undefined,
      clock: { now: () => now },
      logger: { log: () => undefined },
      signer: () => Promise.reject(new Error('archiving signs nothing')),
      maxRunning: () => 4,
      describeHost: () => 'local',
    });
    const archived = await timed(() => service.archivePastMonths());
    if (!archived.value.includes(past)) throw new Error(`month ${past} was not archived`);
    log(`history: ${JOBS} jobs written in ${round(generated.ms, 0)} ms, archived in ${round(archived.ms, 0)} ms`);

    // The current month: spread from its first day until now.
    const second = await timed(async () => writeJobs(store, monthStart, Math.max(3_600_000, now.getTime() - monthStart), JOBS));
    log(`history: ${JOBS} jobs of ${current} written in ${round(second.ms, 0)} ms`);

    const port = await freePort();
    const errors: string[] = [];
    server = spawn(process.execPath, [entry, 'runserver', '--config', config, '--port', String(port)], {
      cwd: dir.path,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server.stderr!.on('data', (b: Buffer) => {
      errors.push(b.toString('utf8'));
      if (errors.length > 50) errors.shift();
    });
    const pid = server.pid!;
    const base = `http://${HOST}:${port}`;
    const ready = await timed(() => waitForToken(base, server!, errors));
    const token = ready.value;
    log(`history: server up and logged in after ${round(ready.ms, 0)} ms`);

    const rssStart = procStatus(pid, 'VmRSS');
    const hwmReset = resetPeakRss(pid);
    const list = async (query: string) => {
      const r = await fetchJson(`${base}/history/list?${query}&limit=${LIMIT}&token=${token}`);
      const body = r.body as { list?: unknown[]; total?: number };
      if (r.status !== 200 || body.list?.length !== LIMIT || body.total !== JOBS) {
        throw new Error(`/history/list?${query} answered ${r.status} with ${body.list?.length} of ${body.total} rows: ${JSON.stringify(r.body).slice(0, 300)}`);
      }
    };
    const active = await series(() => list('offset=0'), pid);
    const peakActive = peakRss(pid, hwmReset);
    const rssMid = procStatus(pid, 'VmRSS');
    resetPeakRss(pid);
    const archive = await series(() => list(`past=${past}`), pid);
    const peakArchive = peakRss(pid, hwmReset);
    const rssPeak = Math.max(peakActive, peakArchive);
    const rssEnd = procStatus(pid, 'VmRSS');
    const growthMb = (rssPeak - rssStart) / 1024;
    const parts = `active listing +${round((peakActive - rssStart) / 1024, 1)} MB, then archive listing +${round((peakArchive - rssMid) / 1024, 1)} MB`;
    const where = dir.path.startsWith('/dev/shm/') ? 'store on tmpfs (/dev/shm)' : `store under ${dir.path}`;
    log(`history: RSS at start ${round(rssStart / 1024, 1)} MB, peak ${round(rssPeak / 1024, 1)} MB, at end ${round(rssEnd / 1024, 1)} MB`);

    const ratio = archive.median / active.median;
    const how = `${ITERATIONS} requests after ${WARMUP} warm-up; p95`;
    return {
      figures: [
        { bench: 'history', name: `list, current month (${JOBS} jobs), limit=${LIMIT}`, value: round(active.median, 1), unit: 'ms (median)', target: `≤ ${TARGET_LIST_MS} ms`, met: active.median <= TARGET_LIST_MS, note: `${how} ${round(active.p95, 1)} ms; first ${round(active.first, 1)} ms` },
        { bench: 'history', name: `list, past=${past} from archive, limit=${LIMIT}`, value: round(archive.median, 1), unit: 'ms (median)', target: `≤ ${TARGET_LIST_MS} ms`, met: archive.median <= TARGET_LIST_MS, note: `${how} ${round(archive.p95, 1)} ms; first (cold) ${round(archive.first, 1)} ms` },
        { bench: 'history', name: 'archive ÷ active', value: round(ratio, 3), unit: 'ratio', target: `≤ ${TARGET_ARCHIVE_RATIO}`, met: ratio <= TARGET_ARCHIVE_RATIO },
        { bench: 'history', name: 'server CPU per list, current month', value: round(active.cpuMs, 1), unit: 'ms', note: 'utime+stime from /proc ÷ requests' },
        { bench: 'history', name: `server CPU per list, past=${past}`, value: round(archive.cpuMs, 1), unit: 'ms' },
        { bench: 'history', name: `archiving ${JOBS} jobs (JobService.archivePastMonths)`, value: round(archived.ms / 1000, 1), unit: 's', note: `in the bench process, before the server starts; ${where}` },
        { bench: 'history', name: 'server peak RSS growth', value: round(growthMb, 1), unit: 'MB', target: `≤ ${TARGET_RSS_MB} MB`, met: growthMb <= TARGET_RSS_MB, note: `VmHWM − VmRSS before the first list (${round(rssStart / 1024, 1)} MB); ${parts}${hwmReset ? '' : '; peak not reset, includes start-up'}` },
      ],
    };
  } finally {
    const cleanup = await timed(async () => {
      if (server) await stop(server);
      dir.remove();
    });
    log(`history: server stopped and store removed in ${round(cleanup.ms, 0)} ms`);
  }
}

/** One cold call, warm-up calls, then timed calls; also the server's CPU time per timed call. */
async function series(call: () => Promise<void>, pid: number): Promise<{ first: number; median: number; p95: number; cpuMs: number }> {
  const first = (await timed(call)).ms;
  for (let i = 1; i < WARMUP; i++) await call();
  const ms: number[] = [];
  const cpuBefore = procCpuMs(pid);
  for (let i = 0; i < ITERATIONS; i++) ms.push((await timed(call)).ms);
  const cpuMs = (procCpuMs(pid) - cpuBefore) / ITERATIONS;
  return { first, median: median(ms), p95: percentile(ms, 95), cpuMs };
}

/** utime + stime of a process from /proc/<pid>/stat, in ms (Linux counts in 1/100 s). */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const COMMANDS = ['backup', 'backup', 'backup', 'backup', 'backup', 'backup', 'cron', 'cron', 'recover'] as const;
const SERVERS = ['pg', 'main', 'reporting'];
const USERS = ['memin', 'ops', 'backup-robot'];

/** `count` finished jobs spread over [start, start + spanMs), as the detached runner leaves them. */
export function writeJobs(store: string, start: number, spanMs: number, count: number): void {
  const step = spanMs / count;
  for (let i = 0; i < count; i++) {
    const created = new Date(start + Math.floor(i * step));
    const command = COMMANDS[i % COMMANDS.length]!;
    const server = SERVERS[i % SERVERS.length]!;
    const id = `${stamp(created)}_${command}_${suffix(i)}`;
    const folder = join(store, 'active', id.slice(0, 6), id);
    mkdirSync(folder, { recursive: true });
    const argv = ['/usr/bin/barman', '-c', '/etc/barman.conf', ...(command === 'backup' ? ['-f', 'json'] : []), command, ...(command === 'cron' ? [] : [server]), ...(command === 'recover' ? ['latest', `/var/lib/restore/${server}`] : [])];
    const job: JobRecord = { id, command, argv, json: command === 'backup', user: USERS[i % USERS.length]!, servers: command === 'cron' ? [] : [server], host: 'local', created_at: created.toISOString() };
    const startedAt = new Date(created.getTime() + 150);
    const duration = 2_000 + (i % 17) * 700;
    const endedAt = new Date(startedAt.getTime() + duration);
    const claim: RunClaim = { pid: 10_000 + (i % 30_000), started_at: startedAt.toISOString() };
    const failed = i % 20 === 7;
    const lines = failed ? [] : outputLines(command, server, created);
    const result: JobResult = {
      status: failed ? 'failed' : 'done',
      exit_code: failed ? 1 : 0,
      started_at: startedAt.toISOString(),
      ended_at: endedAt.toISOString(),
      duration_ms: duration,
      result: failed
        ? { status_code: 1, message: `ERROR: Another ${command} process is running for server ${server}`, list: [] }
        : { status_code: 0, message: '', list: lines },
    };
    writeFileSync(join(folder, 'job.json'), JSON.stringify(job));
    writeFileSync(join(folder, 'run.json'), JSON.stringify(claim));
    writeFileSync(join(folder, 'output.log'), failed ? `${result.result.message}\n` : `${lines.join('\n')}\n`);
    writeFileSync(join(folder, 'result.json'), JSON.stringify(result));
  }
}

function suffix(i: number): string {
  // Eight lowercase letters/digits, unique per i, as newJobId makes them.
  return (i * 2_654_435_761 % 2_821_109_907_456).toString(36).padStart(8, 'a').slice(-8);
}

function outputLines(command: string, server: string, at: Date): string[] {
  const label = at.toISOString().replace(/[-:]/g, '').slice(0, 15);
  if (command === 'cron') return ['Starting WAL archiving for server pg', 'Starting WAL archiving for server main', 'Starting WAL archiving for server reporting'];
  if (command === 'recover') {
    return [`Starting local restore for server ${server} using backup ${label}`, `Destination directory: /var/lib/restore/${server}`, 'Copying the base backup.', 'Copying required WAL segments.', 'Generating archive status files', 'Identify dangerous settings in destination directory.', '', 'Restore operation completed (start time: 2026-01-01 00:00:00, elapsed time: 4 seconds)', 'Your PostgreSQL server has been successfully prepared for recovery!'];
  }
  return [
    `Starting backup using postgres method for server ${server} in /var/lib/barman/${server}/base/${label}`,
    'Backup start at LSN: 0/2000028 (000000010000000000000002, 00000028)',
    `Starting backup copy via pg_basebackup for ${label}`,
    'Copy done (time: 1 second)',
    'Finalising the backup.',
    'Backup size: 22.3 MiB',
    'Backup end at LSN: 0/2000100 (000000010000000000000002, 00000100)',
    `Backup completed (start time: ${at.toISOString().replace('T', ' ').slice(0, 19)}, elapsed time: 2 seconds)`,
    `Processing xlog segments from streaming for ${server}`,
    '\t000000010000000000000002',
  ];
}

/** Wait until the server answers, and log in (the first login also upgrades memin's MD5 hash). */
async function waitForToken(base: string, server: ChildProcess, errors: string[]): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}: ${errors.join('').slice(-1000)}`);
    try {
      const r = await fetchJson(`${base}/auth/token`, { headers: basicAuth('memin', '1258') });
      const token = (r.body as { token?: unknown }).token;
      if (r.status === 200 && typeof token === 'string') return token;
      throw new Error(`login failed: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    } catch (e) {
      if (!(e instanceof TypeError) || Date.now() > deadline) throw e; // TypeError: not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A field of /proc/<pid>/status, in kB. */
function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

function peakRss(pid: number, hwmReset: boolean): number {
  return hwmReset ? procStatus(pid, 'VmHWM') : Math.max(procStatus(pid, 'VmHWM'), procStatus(pid, 'VmRSS'));
}

/** Reset the peak RSS (VmHWM) to the current RSS, so the peak measured is that of the listing. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A job whose runner died (SIGKILL, OOM, a reboot of the API machine) while barman went on:
 * barman's own lock says whether it is still at work, and barman's own listing says what it did.
 */
import type { BarmanHost, Clock, Logger, Storage } from '../ports.js';
import type { SettingsHolder } from '../context.js';
import { readBarmanConfig, unquote } from '../barman-config/reader.js';
import { joinPath } from '../util/path.js';
import { failure, jobResult, type JobRecord, type JobResult, type JobStatus, type RunClaim } from './model.js';
import type { JobFiles } from './files.js';

/** barman's lock file for a command on a server (barman/lockfile.py), where it takes one. */
const LOCK_FILE: Record<string, (server: string) => string> = {
  backup: (server) => `.${server}-backup.lock`,
  cron: () => '.cron.lock',
};

export interface OrphanedJobs {
  /** Whether barman still holds its lock for the job's command and server; null when it cannot tell. */
  isBusy(job: JobRecord): Promise<boolean | null>;
  /** What barman did for a job whose runner died, once barman is done; null when it cannot tell. */
  outcome(job: JobRecord, claim: RunClaim): Promise<JobResult | null>;
  /**
   * Stop barman's own process for the job through `barman terminate-process SERVER TASK`
   * (barman ≥ 3.14): the one way left once the runner, which held barman's process group, is
   * gone. False when this barman has no such command or the job is no server-level task.
   */
  terminate(job: JobRecord): Promise<boolean>;
}

/** Server-level tasks terminate-process knows by the command's name. */
const TERMINABLE = new Set(['backup']);

export function orphanedJobs(host: BarmanHost, settings: SettingsHolder, hasCommand: (name: string) => Promise<boolean>): OrphanedJobs {
  const lockDirectory = async (): Promise<string> => {
    try {
      const view = await readBarmanConfig(host, settings.current().barman.configFile);
      const global = view.sections.find((s) => s.name === 'barman')?.options ?? {};
      const dir = global.barman_lock_directory ?? global.barman_home;
      return dir ? unquote(dir.trim()) : '/var/lib/barman';
    } catch {
      return '/var/lib/barman';
    }
  };
  const lockPaths = async (job: JobRecord): Promise<string[]> => {
    const name = LOCK_FILE[job.command];
    if (!name) return [];
    const dir = await lockDirectory();
    const servers = job.command === 'cron' ? [''] : job.servers.filter((s) => s !== 'all');
    return servers.map((s) => joinPath(dir, name(s)));
  };
  return {
    async terminate(job) {
      if (!TERMINABLE.has(job.command) || job.servers.length !== 1 || !(await hasCommand('terminate-process'))) return false;
      const { command, configFile } = settings.current().barman;
      const r = await host.run([...command, '-c', configFile, 'terminate-process', job.servers[0]!, job.command], { timeoutMs: 60_000 });
      return r.exitCode === 0;
    },
    async isBusy(job) {
      for (const path of await lockPaths(job)) {
        // A missing lock file is a free lock; flock(1) would create it, as root perhaps.
        if ((await host.stat(path)) === null) continue;
        // As barman's own user (the command's prefix, e.g. sudo -u barman), who can open the file.
        // Short, and a request waits on it: not background work.
        const prefix = settings.current().barman.command.slice(0, -1);
        const r = await host.run([...prefix, 'flock', '--nonblock', '--conflict-exit-code', '75', path, 'true'], { timeoutMs: 10_000 });
        if (r.exitCode === 75) return true;
        if (r.exitCode !== 0) return null; // no flock, no access, a timeout: cannot tell
      }
      return false;
    },
    async outcome(job, claim) {
      if (job.command !== 'backup' || job.servers.length !== 1 || !claim.started_at) return null;
      const server = job.servers[0]!;
      // barman rewrites its lock file (its pid) when it takes the lock: an older file means
      // barman never got as far as this job's backup. A minute allows for the hosts' clocks.
      const [lock] = await lockPaths(job);
      const info = lock ? await host.stat(lock).catch(() => null) : null;
      if (!info || info.mtimeMs < Date.parse(claim.started_at) - 60_000) return null;
      const { command, configFile } = settings.current().barman;
      const r = await host.run([...command, '-c', configFile, '-f', 'json', 'list-backup', server], { timeoutMs: 60_000 });
      if (r.exitCode !== 0) return null;
      let backups: Array<{ backup_id?: string; status?: string; end_time_timestamp?: string }>;
      try {
        backups = ((JSON.parse(r.stdout) as Record<string, unknown>)[server] ?? []) as typeof backups;
      } catch {
        return null;
      }
      const since = Date.parse(claim.started_at) / 1000 - 1;
      // Newest first. The newest one is the job's when it ended after the job started, or when
      // it has no end (FAILED, STARTED: barman lists no times for those), since barman took its
      // backup lock during this job.
      const newest = backups[0];
      const latest = newest && (Number(newest.end_time_timestamp) >= since || newest.end_time_timestamp === undefined) ? newest : null;
      const ended = new Date();
      // barman says it is still at it: not an outcome yet.
      if (latest?.status === 'STARTED') return null;
      if (!latest) {
        return jobResult('lost', failure('the job runner stopped before barman did; barman has finished, and list-backup shows no backup from this job', -98), { started: claim.started_at, ended });
      }
      const done = latest.status === 'DONE' || latest.status === 'WAITING_FOR_WALS';
      const message = `the job runner stopped before barman did; barman went on and list-backup shows backup ${latest.backup_id} as ${latest.status}`;
      return jobResult(done ? 'done' : 'failed', { ...failure(message, done ? 200 : 1), data: { [server]: latest } }, { started: claim.started_at, ended });
    },
  };
}

/** How long a job found lost is taken as lost before barman is asked again. */
const ORPHAN_RECHECK_MS = 60_000;

/** The status of jobs whose runner is gone, as barman's own lock and listing tell it. */
export class OrphanVerdicts {
  private readonly lostSince = new Map<string, number>();

  constructor(private readonly deps: { orphans: OrphanedJobs; files: JobFiles; storage: Storage; clock: Clock; logger: Logger }) {}

  /**
   * The runner is gone without a result. While barman still holds its lock for the job's
   * server, barman is at work: the job is running (and blocks a second one). Once barman is
   * done, what it did is recorded as the job's result; when nothing tells, the job is lost.
   */
  async status(id: string, claim: RunClaim): Promise<JobStatus> {
    const { orphans } = this.deps;
    const job = await this.deps.files.record(id);
    if (!job) return 'lost';
    // A job found lost is asked about again at most once a minute: a listing must not run a
    // barman command for every lost job. One found running is asked again each time.
    const lostAt = this.lostSince.get(id);
    if (lostAt !== undefined && this.deps.clock.now().getTime() - lostAt < ORPHAN_RECHECK_MS) return 'lost';
    const status = await this.askBarman(id, job, claim, orphans);
    if (status === 'lost') {
      this.lostSince.set(id, this.deps.clock.now().getTime());
      if (this.lostSince.size > 10_000) this.lostSince.delete(this.lostSince.keys().next().value as string);
    }
    return status;
  }

  private async askBarman(id: string, job: JobRecord, claim: RunClaim, orphans: OrphanedJobs): Promise<JobStatus> {
    try {
      const busy = await orphans.isBusy(job);
      if (busy === null) return 'lost';
      if (busy) return 'running';
      const outcome = await orphans.outcome(job, claim);
      if (!outcome) return 'lost';
      // Exclusive: of two requests settling it at once, one writes the result.
      await this.deps.files.settleResult(id, outcome);
      this.deps.logger.log('warn', `job ${id}: its runner died; barman finished on its own (${outcome.status})`);
      return (await this.deps.files.result(id))?.status ?? outcome.status;
    } catch (err) {
      this.deps.logger.log('warn', `job ${id}: cannot ask barman about a job whose runner died: ${(err as Error).message}`);
      return 'lost';
    }
  }
}

import type { Clock, JobRunner, Logger, Storage } from '../ports.js';
import type { TokenSigner } from '../auth/tokens.js';
import { ApiError, conflict, notFound } from '../http/errors.js';
import { archivePastMonths, readArchivedJob } from './archive.js';
import { DEFAULT_HOST, hostField } from '../hosts/names.js';
import { failure, isJobId, jobHost, jobDir, jobMonth, jobResult, newJobId, summarise, type JobRecord, type JobResult, type JobStatus, type JobSummary, type RunClaim } from './model.js';
import { JobFiles } from './files.js';
import { jobMonths, listMonth, pageJobs, type Listing, type PageOptions } from './listing.js';
import { ownedBy, type JobOwner } from './model.js';

export { ownedBy, type JobOwner };
import { Listeners } from '../util/listeners.js';
import { KeyedMutex } from '../util/mutex.js';
import { OrphanVerdicts, type OrphanedJobs } from './orphans.js';

/** Summaries of finished jobs kept in memory: a few months of a busy server's history. */
const FINISHED_CACHE_SIZE = 50_000;

export interface JobServiceDeps {
  storage: Storage;
  runner: JobRunner | undefined;
  clock: Clock;
  logger: Logger;
  signer: () => Promise<TokenSigner>;
  maxRunning: () => number;
  /** Delete monthly archives older than this many months; 0 keeps them all. */
  keepMonths?: () => number;
  /** How the named barman host is described in job.json (`local`, `ssh barman@backup`). */
  describeHost: (name: string) => string;
  /** barman's own view of a job whose runner died: still at work, and what it did. */
  orphans?: OrphanedJobs;
  /** Called when a job starts or is seen to have ended: barman's state may have changed. */
  onChange?: () => void;
}

export interface SubmitRequest {
  command: string;
  argv: string[];
  json: boolean;
  user: string;
  userId?: string;
  servers: string[];
  /** The barman host by name; absent: the default host. */
  hostName?: string;
}

export interface JobView {
  job: JobRecord;
  status: JobStatus;
  result: JobResult | null;
  claim: RunClaim | null;
  archived: boolean;
}

/**
 * Async jobs: submit, queue under a cap, start through the JobRunner (detached processes that
 * outlive this server), report status from the files each job leaves, cancel, list, archive.
 * The in-memory state (queue, running set) is rebuilt from disk by `recover()` at start.
 */
export class JobService {
  private readonly files: JobFiles;
  private queue: string[] = [];
  private running = new Set<string>();
  private readonly endListeners: Listeners<JobView>;
  /** Jobs whose end has been told (the runner's exit and the next look at the files both see it). */
  private readonly told = new Set<string>();
  private pumping: Promise<void> | null = null;
  private readonly submitting = new KeyedMutex();
  private readonly finished = new Map<string, JobSummary>();
  private readonly orphanVerdicts: OrphanVerdicts | null;
  /** Ends of the runners this server started. */
  private readonly exits = new Map<string, Promise<void>>();
  private readonly listing: Listing;

  constructor(private readonly deps: JobServiceDeps) {
    this.endListeners = new Listeners(deps.logger, 'job end');
    this.files = new JobFiles(deps.storage);
    this.listing = { storage: deps.storage, summaryOf: (id) => this.summaryOf(id), ticket: (id) => this.ticket(id) };
    this.orphanVerdicts = deps.orphans ? new OrphanVerdicts({ ...deps, orphans: deps.orphans, files: this.files }) : null;
  }

  async submit(req: SubmitRequest): Promise<{ id: string; ticket: string; status: JobStatus }> {
    if (!this.deps.runner) throw new ApiError(501, 'NotConfigured', 'async commands need a job runner, and this app was created without one');
    // One submission at a time, so two requests cannot both pass the one-job-per-server check.
    return this.submitting.run('submit', () => this.submitOne(req));
  }

  private async submitOne(req: SubmitRequest): Promise<{ id: string; ticket: string; status: JobStatus }> {
    await this.refresh();
    for (const id of [...this.running, ...this.queue]) {
      const other = await this.files.record(id);
      if (other && other.command === req.command && jobHost(other) === (req.hostName ?? DEFAULT_HOST) && serversOverlap(other.servers, req.servers)) {
        const ticket = await this.ticket(id);
        throw conflict(`barman ${req.command} is already ${this.running.has(id) ? 'running' : 'queued'} for ${other.servers.join(', ') || 'all servers'}; see /history/result?ticket=${ticket}`, { ticket });
      }
    }
    const now = this.deps.clock.now();
    const id = newJobId(req.command, now);
    const job: JobRecord = { id, command: req.command, argv: req.argv, json: req.json, user: req.user, ...(req.userId ? { user_id: req.userId } : {}), servers: req.servers, host: this.deps.describeHost(req.hostName ?? DEFAULT_HOST), ...(hostField(req.hostName).host ? { host_name: req.hostName } : {}), created_at: now.toISOString() };
    await this.files.writeRecord(job);
    this.queue.push(id);
    this.deps.logger.log('info', `job ${id} queued`, { command: req.command, user: req.user, servers: req.servers });
    await this.pump();
    return { id, ticket: await this.ticket(id), status: this.running.has(id) ? 'running' : 'queued' };
  }

  ticket(id: string): Promise<string> {
    return this.deps.signer().then((s) => s.issueTicket(id, this.deps.clock.now().getTime()));
  }

  async jobFromTicket(ticket: string): Promise<string> {
    return (await this.deps.signer()).checkTicket(ticket, this.deps.clock.now().getTime());
  }

  /**
   * Listen for the end of each job this server sees running: the runners it started, and those an
   * earlier run of the server left running. Each end is told once. Returns the way to stop.
   */
  onEnd(listener: (view: JobView) => void): () => void {
    return this.endListeners.add(listener);
  }

  private async tellEnd(id: string): Promise<void> {
    if (this.endListeners.size === 0 || this.told.has(id)) return;
    const view = await this.view(id).catch((err: unknown) => {
      this.deps.logger.log('warn', `job ${id} ended, but its files could not be read`, { error: (err as Error).message });
      return null;
    });
    // Not ended yet as its files say (a runner that exited before claiming it): told once failUnstarted writes its end.
    if (!view?.result || view.status === 'queued' || view.status === 'running' || this.told.has(id)) return;
    this.told.add(id);
    if (this.told.size > FINISHED_CACHE_SIZE) this.told.delete(this.told.values().next().value as string);
    this.endListeners.emit(view);
  }

  /** Jobs running and waiting now, as this server knows them. */
  counts(): { running: number; queued: number } {
    return { running: this.running.size, queued: this.queue.length };
  }

  /** Start queued jobs while fewer than the cap run. Called on submit and by the server's timer. */
  async pump(): Promise<void> {
    this.pumping ??= (async () => {
      try {
        await this.refresh();
        while (this.queue.length > 0 && this.running.size < this.deps.maxRunning()) {
          const id = this.queue.shift()!;
          if ((await this.files.result(id)) || (await this.files.claim(id))) continue;
          const handle = await this.deps.runner!.start({ id, dir: jobDir(id) });
          await this.files.recordSpawn(id, { pid: handle.pid, started_at: this.deps.clock.now().toISOString() });
          this.running.add(id);
          if (handle.exited) this.watchExit(id, handle.exited);
          this.deps.onChange?.();
          this.deps.logger.log('info', `job ${id} started`, { pid: handle.pid });
        }
      } finally {
        this.pumping = null;
      }
    })();
    return this.pumping;
  }

  /**
   * Wait until job `id` ends or `ms` pass, whichever is first: at once when this server started
   * its runner and the runner has ended.
   */
  async waitForEnd(id: string, ms: number): Promise<void> {
    const exit = this.exits.get(id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slept = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await (exit ? Promise.race([exit, slept]) : slept);
    clearTimeout(timer);
  }

  /** A runner this server started has ended: barman's state may have changed, and a queued job may start. */
  private watchExit(id: string, exited: Promise<void>): void {
    this.exits.set(id, exited);
    void exited.then(() => {
      this.exits.delete(id);
      this.deps.onChange?.();
      void this.tellEnd(id);
      return this.pump();
    }).catch((e: unknown) => this.deps.logger.log('error', `starting queued jobs failed: ${(e as Error).message}`));
  }

  /** Rebuild queue and running set from the store (at start, e.g. after a crash). */
  async recover(): Promise<{ running: number; queued: number; lost: number }> {
    const queue: string[] = [];
    let lost = 0;
    this.running.clear();
    for (const month of (await this.deps.storage.list('active')).filter((m) => /^\d{6}$/.test(m))) {
      for (const id of (await this.deps.storage.list(`active/${month}`)).filter(isJobId)) {
        if (await this.files.hasResult(id)) continue;
        const status = await this.liveStatus(id);
        if (status === 'running') this.running.add(id);
        else if (status === 'queued') queue.push(id);
        else if (status === 'lost') lost += 1;
      }
    }
    this.queue = queue.sort();
    return { running: this.running.size, queued: this.queue.length, lost };
  }

  async view(id: string): Promise<JobView> {
    if (!isJobId(id)) throw notFound(`no job ${id}`);
    const job = await this.files.record(id);
    if (job) {
      let result = await this.files.result(id);
      const status = result ? result.status : await this.liveStatus(id);
      // liveStatus may have recorded barman's own outcome for a job whose runner died.
      if (!result && status !== 'running' && status !== 'queued') result = await this.files.result(id);
      return { job, status, result, claim: await this.files.claim(id), archived: false };
    }
    const archived = await readArchivedJob(this.deps.storage, jobMonth(id), id);
    if (!archived) throw notFound(`job ${id} no longer exists (neither in active/ nor in its month's archive)`);
    return { job: archived.job, status: archived.result?.status ?? 'lost', result: archived.result, claim: archived.claim, archived: true, };
  }

  /**
   * A month's jobs, newest first, a page at a time: only `owner`'s when given, and only those on a
   * barman host `onHost` accepts when given.
   */
  list(month: string, limit: number, offset: number, scope: { owner?: JobOwner; onHost?: (host: string) => boolean } = {}): Promise<{ total: number; items: Array<JobSummary & { ticket: string }> }> {
    return listMonth(this.listing, month, limit, offset, scope);
  }

  /** The months that hold jobs, in active/ or archived, newest first. */
  months(): Promise<string[]> {
    return jobMonths(this.deps.storage);
  }

  /** Jobs newest first across months, a page at a time (listing.ts). */
  page(months: readonly string[], opts: PageOptions, scanLimit?: number): Promise<{ items: Array<JobSummary & { ticket: string }>; next: string | null }> {
    return pageJobs(this.listing, months, opts, scanLimit);
  }

  /** A job's output from byte `offset` on, from its folder or from its month's archive. */
  async readOutput(view: JobView, offset: number, maxBytes = Infinity): Promise<Uint8Array> {
    if (view.archived) {
      const archived = await readArchivedJob(this.deps.storage, jobMonth(view.job.id), view.job.id);
      return archived?.log?.slice(offset, offset + maxBytes) ?? new Uint8Array();
    }
    return this.files.readOutput(view.job.id, offset, maxBytes);
  }

  async cancel(id: string): Promise<JobStatus> {
    const view = await this.view(id);
    if (!['queued', 'running'].includes(view.status)) throw conflict(`job ${id} has already ended (${view.status}); nothing to cancel`);
    await this.files.requestCancel(id, this.deps.clock.now());
    // A queued job: take its claim so no runner ever starts it, and record the outcome.
    if (await this.files.takeClaim(id, { pid: null, started_at: null })) {
      this.queue = this.queue.filter((q) => q !== id);
      await this.files.writeResult(id, jobResult('cancelled', failure('cancelled before it started'), { started: null, ended: this.deps.clock.now() }));
      return 'cancelled';
    }
    const claim = await this.files.claim(id);
    // Signal only a runner that is still this job's: a reused pid belongs to someone else.
    if (claim?.pid && (await this.deps.runner?.isAlive(claim.pid, id))) {
      await this.deps.runner?.cancel(claim.pid);
      return 'running';
    }
    // The runner is gone while barman works on: only barman itself can stop its process now.
    if (!(await this.deps.orphans?.terminate(view.job))) {
      throw conflict(`job ${id}: its runner is gone while barman works on, and this barman cannot be asked to stop it (terminate-process needs barman 3.14 or later); it ends on its own`);
    }
    this.deps.logger.log('info', `job ${id}: barman terminate-process sent, its runner being gone`);
    return 'running';
  }

  /** Pack every finished past month into archive/YYYYmm.tar.gz (archive.ts). */
  archivePastMonths(): Promise<string[]> {
    return archivePastMonths({ ...this.deps, keepMonths: this.deps.keepMonths?.() ?? 0 }, (id) => this.summaryOf(id));
  }

  /** Queued, running or lost, for a job without result.json. */
  private async liveStatus(id: string): Promise<JobStatus> {
    const claim = (await this.files.claim(id)) ?? (await this.files.spawned(id));
    if (!claim) return 'queued';
    if (claim.pid === null) return (await this.files.result(id))?.status ?? 'cancelled';
    if (this.deps.runner && (await this.deps.runner.isAlive(claim.pid, id))) return 'running';
    // The runner may have written its result between our two reads.
    const result = await this.files.result(id);
    if (result) return result.status;
    // Spawned but never claimed and the process is gone: it never ran, so it may run again.
    const claimed = await this.files.claim(id);
    if (!claimed) return 'queued';
    return this.orphanVerdicts ? this.orphanVerdicts.status(id, claimed) : 'lost';
  }

  private async summaryOf(id: string): Promise<JobSummary> {
    // A finished job never changes again: its summary is read from disk once.
    const known = this.finished.get(id);
    if (known) return known;
    const summary = await this.readSummary(id);
    if (summary.status === 'done' || summary.status === 'failed' || summary.status === 'cancelled') {
      this.finished.set(id, summary);
      if (this.finished.size > FINISHED_CACHE_SIZE) this.finished.delete(this.finished.keys().next().value as string);
    }
    return summary;
  }

  private async readSummary(id: string): Promise<JobSummary> {
    const job = await this.files.record(id);
    if (!job) {
      return { id, date: '', command: id.split('_')[1] ?? '', status: 'lost', result: null, user: '', server: '' };
    }
    const result = await this.files.result(id);
    return summarise(job, result ? result.status : await this.liveStatus(id), result);
  }

  private async refresh(): Promise<void> {
    for (const id of [...this.running]) {
      // Archived meanwhile: its folder has left active/.
      const status = (await this.files.record(id)) ? ((await this.files.result(id))?.status ?? (await this.liveStatus(id))) : 'done';
      if (status === 'running') continue;
      this.running.delete(id);
      this.deps.onChange?.();
      // A runner an earlier run of the server started, or one whose exit was missed.
      if (status !== 'queued') void this.tellEnd(id);
      // Started, yet its runner exited before claiming the job (bad settings, missing binary):
      // record that, with what the runner said, instead of leaving it queued for ever.
      if (status === 'queued' && (await this.failUnstarted(id))) void this.tellEnd(id);
    }
  }

  /** Whether it wrote the job's end. */
  private async failUnstarted(id: string): Promise<boolean> {
    if (!(await this.files.takeClaim(id, { pid: null, started_at: null }))) return false;
    const said = await this.files.runnerSaid(id, 2000);
    const message = `the job runner exited before starting barman${said ? `: ${said}` : ''}`;
    await this.files.writeResult(id, jobResult('failed', failure(message), { started: null, ended: this.deps.clock.now() }));
    this.deps.logger.log('error', `job ${id} failed: its runner exited before starting`);
    return true;
  }
}

/** Who a job belongs to: a user name and the id of that account. */
/** No servers, or `all`, means every server. */
function serversOverlap(a: string[], b: string[]): boolean {
  const every = (list: string[]) => list.length === 0 || list.includes('all');
  return every(a) || every(b) || a.some((s) => b.includes(s));
}

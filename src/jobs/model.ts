/**
 * Async jobs on disk, in the seed's layout: active/YYYYmm/<YYYYmmddHHMMSS>_<command>_<rand>/
 * with job.json (what to run), run.json (the runner's claim: pid, start), output.log and, at the
 * end, result.json. The folder name is the job id; the month is its first six digits, so a ticket
 * still finds its job after the month has been packed into archive/YYYYmm.tar.gz.
 */
import { DEFAULT_HOST, hostField } from '../hosts/names.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'lost' | 'cancelled';

export interface JobRecord {
  id: string;
  command: string;
  /** barman argv; holds no secret (tokens are never parameters). */
  argv: string[];
  /** barman was asked for JSON output. */
  json: boolean;
  user: string;
  /** The account that started it (see UserRecord.id); absent in jobs from before ids. */
  user_id?: string;
  servers: string[];
  /** Where barman ran, described (`local`, `ssh barman@backup`). */
  host: string;
  /** The barman host by name, as settings and users' `hosts` lists name it; absent: `default`. */
  host_name?: string;
  created_at: string;
}

/** The name of the barman host a job ran on. */
export function jobHost(job: { host_name?: string }): string {
  return job.host_name ?? DEFAULT_HOST;
}

export interface RunClaim {
  pid: number | null;
  started_at: string;
}

export interface JobResult {
  status: 'done' | 'failed' | 'cancelled' | 'lost';
  exit_code: number | null;
  started_at: string | null;
  ended_at: string;
  duration_ms: number | null;
  /** The legacy result shape, as a sync call would have answered. */
  result: { status_code: number; message: string; list: string[]; data?: unknown; truncated?: boolean };
}

/**
 * The one way a job result is made. The duration is known only where the run was timed here
 * (`started` a Date); a start read from a file gives none.
 */
export function jobResult(status: JobResult['status'], result: JobResult['result'], times: { started: Date | string | null; ended: Date; exitCode?: number | null }): JobResult {
  const { started, ended } = times;
  return {
    status,
    exit_code: times.exitCode ?? null,
    started_at: started instanceof Date ? started.toISOString() : started,
    ended_at: ended.toISOString(),
    duration_ms: started instanceof Date ? ended.getTime() - started.getTime() : null,
    result,
  };
}

/** The legacy body of an outcome barman did not report itself. */
export function failure(message: string, statusCode = -1): JobResult['result'] {
  return { status_code: statusCode, message, list: [] };
}

/** One row of /history/list, and of an archive's index.json. */
export interface JobSummary {
  id: string;
  date: string;
  command: string;
  status: JobStatus;
  result: number | null;
  user: string;
  user_id?: string;
  server: string;
  /** The barman host by name; absent for the default host (rows from before several hosts). */
  host?: string;
}

export const JOB_ID_RE = /^(\d{14})_([a-z][a-z0-9-]{0,63})_([a-z0-9]{8})$/;
export const MONTH_RE = /^(\d{4})(0[1-9]|1[0-2])$/;

export function newJobId(command: string, now: Date): string {
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
  return `${stamp(now)}_${command}_${rand}`;
}

/** YYYYmmddHHMMSS in UTC. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function monthOf(d: Date): string {
  return stamp(d).slice(0, 6);
}

export function jobMonth(id: string): string {
  return id.slice(0, 6);
}

export function jobDir(id: string): string {
  return `active/${jobMonth(id)}/${id}`;
}

export function archivePath(month: string): string {
  return `archive/${month}.tar.gz`;
}

export function isJobId(id: string): boolean {
  return JOB_ID_RE.test(id) && MONTH_RE.test(jobMonth(id));
}

export function summarise(job: JobRecord, status: JobStatus, result: JobResult | null): JobSummary {
  return {
    id: job.id,
    date: job.created_at,
    command: job.command,
    status,
    result: result ? result.result.status_code : null,
    user: job.user,
    ...(job.user_id ? { user_id: job.user_id } : {}),
    server: job.servers.join(','),
    ...hostField(job.host_name),
  };
}

export interface JobOwner {
  user: string;
  id: string;
}

/** A job belongs to the account that started it: the same name and the same account id. */
export function ownedBy(job: { user: string; user_id?: string }, owner: JobOwner): boolean {
  return job.user === owner.user && (job.user_id ?? '') === owner.id;
}

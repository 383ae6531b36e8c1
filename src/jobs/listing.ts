/**
 * Reading jobs a page at a time: one month's (/history/list, with an offset) or across months
 * (the v1 job list, with a cursor). A job's owner and host are in its record, not its id, so
 * filters read summaries (kept in memory once a job has finished).
 */
import type { Storage } from '../ports.js';
import { DEFAULT_HOST } from '../hosts/names.js';
import { mapBounded } from '../util/concurrency.js';
import { readArchiveIndex } from './archive.js';
import { MONTH_RE, isJobId, jobMonth, ownedBy, type JobOwner, type JobSummary } from './model.js';

/** What reading pages needs of the job service. */
export interface Listing {
  storage: Storage;
  summaryOf(id: string): Promise<JobSummary>;
  ticket(id: string): Promise<string>;
}

export interface PageOptions {
  /** Only jobs older than this one (the cursor). */
  before?: string;
  limit: number;
  keep: (s: JobSummary) => boolean;
}

/** Summaries read at a time while a page of jobs is gathered. */
const PAGE_CHUNK = 64;

type Row = { id: string; summary?: JobSummary };

/**
 * A month's jobs, newest first, a page at a time: only `owner`'s when given, and only those on a
 * barman host `onHost` accepts when given.
 */
export async function listMonth(d: Listing, month: string, limit: number, offset: number, scope: { owner?: JobOwner; onHost?: (host: string) => boolean }): Promise<{ total: number; items: Array<JobSummary & { ticket: string }> }> {
  const { owner, onHost } = scope;
  let rows = await monthRows(d.storage, month);
  if (owner !== undefined || onHost !== undefined) {
    const summaries = await mapBounded(rows, 16, async (row) => row.summary ?? (await d.summaryOf(row.id)));
    rows = rows
      .map((row, i) => ({ id: row.id, summary: summaries[i]! }))
      .filter((row) => (owner === undefined || ownedBy(row.summary, owner)) && (onHost === undefined || onHost(row.summary.host ?? DEFAULT_HOST)));
  }
  const items = await Promise.all(
    rows.slice(offset, offset + limit).map(async (row) => {
      const summary = row.summary ?? (await d.summaryOf(row.id));
      return { ...summary, ticket: await d.ticket(row.id) };
    }),
  );
  return { total: rows.length, items };
}

/** The months that hold jobs, in active/ or archived, newest first. */
export async function jobMonths(storage: Storage): Promise<string[]> {
  const active = (await storage.list('active')).filter((m) => MONTH_RE.test(m));
  const archived = (await storage.list('archive')).map((f) => /^(\d{6})\.tar\.gz$/.exec(f)?.[1]).filter((m): m is string => m !== undefined && MONTH_RE.test(m));
  return [...new Set([...active, ...archived])].sort().reverse();
}

/**
 * Jobs newest first across `months` (newest first), those `keep` accepts, older than the job
 * `before` when given: at most `limit`, and whether more follow. Summaries are read a chunk at a
 * time, so a page near the top of a large month reads little more than the page.
 */
export async function pageJobs(d: Listing, months: readonly string[], opts: PageOptions): Promise<{ items: Array<JobSummary & { ticket: string }>; more: boolean }> {
  const found: JobSummary[] = [];
  const beforeMonth = opts.before === undefined ? undefined : jobMonth(opts.before);
  for (const month of months) {
    if (beforeMonth !== undefined && month > beforeMonth) continue;
    const rows = (await monthRows(d.storage, month)).filter((r) => opts.before === undefined || r.id < opts.before);
    for (let i = 0; i < rows.length && found.length <= opts.limit; i += PAGE_CHUNK) {
      const chunk = await mapBounded(rows.slice(i, i + PAGE_CHUNK), 16, async (row) => row.summary ?? (await d.summaryOf(row.id)));
      found.push(...chunk.filter(opts.keep));
    }
    if (found.length > opts.limit) break;
  }
  const items = await Promise.all(found.slice(0, opts.limit).map(async (s) => ({ ...s, ticket: await d.ticket(s.id) })));
  return { items, more: found.length > opts.limit };
}

/** A month's jobs, newest first: those in active/ and those of its archive (with their summaries). */
async function monthRows(storage: Storage, month: string): Promise<Row[]> {
  const activeIds = (await storage.list(`active/${month}`)).filter(isJobId);
  // Usually only past months have an archive, but a clock set back must not hide one.
  const archived = (await readArchiveIndex(storage, month)) ?? [];
  const inActive = new Set(activeIds);
  const rows: Row[] = activeIds.map((id) => ({ id }));
  rows.push(...archived.filter((s) => !inActive.has(s.id)).map((s) => ({ id: s.id, summary: s })));
  return rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

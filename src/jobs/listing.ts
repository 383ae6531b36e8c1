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
/**
 * Jobs looked at for one page at most: a filter that matches little ends the page early (with a
 * cursor where it stopped) instead of reading every month's jobs and archives on each request.
 */
export const PAGE_SCAN_LIMIT = 2000;

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
 * `before` when given: at most `limit`. `next`: the job the next page starts before (null: no
 * more), the last one given, or the last one looked at when PAGE_SCAN_LIMIT ended the page early.
 * Summaries are read a chunk at a time, so a page near the top of a month reads little more.
 */
export async function pageJobs(d: Listing, months: readonly string[], opts: PageOptions, scanLimit = PAGE_SCAN_LIMIT): Promise<{ items: Array<JobSummary & { ticket: string }>; next: string | null }> {
  const found: JobSummary[] = [];
  const beforeMonth = opts.before === undefined ? undefined : jobMonth(opts.before);
  let scanned = 0;
  let lastSeen: string | null = null;
  for (const month of months) {
    if (beforeMonth !== undefined && month > beforeMonth) continue;
    const rows = (await monthRows(d.storage, month)).filter((r) => opts.before === undefined || r.id < opts.before);
    for (let i = 0; i < rows.length && found.length <= opts.limit && scanned < scanLimit; i += PAGE_CHUNK) {
      const slice = rows.slice(i, Math.min(i + PAGE_CHUNK, i + scanLimit - scanned));
      const chunk = await mapBounded(slice, 16, async (row) => row.summary ?? (await d.summaryOf(row.id)));
      for (const s of chunk) {
        lastSeen = s.id;
        if (opts.keep(s)) found.push(s);
        if (found.length > opts.limit) break;
      }
      scanned += slice.length;
    }
    if (found.length > opts.limit || scanned >= scanLimit) break;
  }
  const items = await Promise.all(found.slice(0, opts.limit).map(async (s) => ({ ...s, ticket: await d.ticket(s.id) })));
  const next = found.length > opts.limit ? items[items.length - 1]!.id : scanned >= scanLimit ? lastSeen : null;
  return { items, next };
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

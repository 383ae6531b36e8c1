import type { Clock, Logger, Storage } from '../ports.js';
import { concatBytes, readAllBytes } from '../util/bytes.js';
import { mapBounded } from '../util/concurrency.js';
import { archivePath, isJobId, monthOf, type JobRecord, type JobResult, type JobSummary, type RunClaim } from './model.js';

/**
 * Monthly archives: archive/YYYYmm.tar.gz holds index.json (one summary per job, first, so a
 * listing reads only the head of the file) and then every job folder's files as <id>/<file>.
 * Archives are read by streaming (gunzip + tar-stream), never extracted to disk.
 */
const INDEX = 'index.json';
const IO_CONCURRENCY = 16;

/**
 * Pack the given jobs of a month into its archive, verify it, then remove exactly those job
 * folders (the month's folder goes too once nothing else is left in it). Returns false, changing
 * nothing, when a job folder holds something other than plain files.
 */
export async function archiveMonth(storage: Storage, month: string, ids: string[], summaries: JobSummary[]): Promise<boolean> {
  const target = archivePath(month);
  const folder = `active/${month}`;
  const expected = new Map<string, number>();
  const sources: Source[] = [];
  // Listing and stat-ing tens of thousands of files one at a time is mostly waiting: do 16 at once.
  const perJob = await mapBounded(ids, IO_CONCURRENCY, async (id) => {
    const files = await storage.list(`${folder}/${id}`);
    return { id, files, stats: await Promise.all(files.map((f) => storage.stat(`${folder}/${id}/${f}`))) };
  });
  for (const { id, files, stats } of perJob) {
    for (const [i, file] of files.entries()) {
      const st = stats[i];
      if (!st) continue;
      if (st.isDirectory) return false;
      expected.set(`${id}/${file}`, st.size);
      sources.push({ name: `${id}/${file}`, path: `${folder}/${id}/${file}`, size: st.size });
    }
  }

  // An archive written by an earlier run that stopped before removing the folder.
  const existing = await storage.stat(target);
  if (existing) {
    const present = await entrySizes(storage, target);
    const complete = [...expected].every(([name, size]) => present.get(name) === size);
    if (!complete) await mergeInto(storage, target, sources, summaries);
  } else {
    await storage.writeStreamAtomic(target, await packStream(storage, summaries, sources));
  }

  const written = await entrySizes(storage, target);
  for (const [name, size] of expected) {
    if (written.get(name) !== size) throw new Error(`archive ${target} failed verification at ${name}; ${folder} is kept`);
  }
  // Only what was verified leaves active/: each job folder is moved out in one step, then deleted.
  const trash = `garbage/${month}-${Date.now().toString(36)}`;
  for (const id of ids) await storage.rename(`${folder}/${id}`, `${trash}/${id}`);
  await storage.remove(trash);
  if ((await storage.list(folder)).length === 0) await storage.remove(folder);
  indexCache.delete(target);
  return true;
}

/** The archive's job summaries, or null when the month has no archive. */
export async function readArchiveIndex(storage: Storage, month: string): Promise<JobSummary[] | null> {
  const path = archivePath(month);
  const st = await storage.stat(path);
  if (!st) return null;
  const key = `${path}:${st.mtimeMs}:${st.size}`;
  const cached = indexCache.get(path);
  if (cached && cached.key === key) return cached.summaries;
  let summaries: JobSummary[] = [];
  await walk(storage, path, async (name, read) => {
    if (name !== INDEX) return 'stop';
    summaries = JSON.parse(new TextDecoder().decode(await read())) as JobSummary[];
    return 'stop';
  });
  indexCache.set(path, { key, summaries });
  if (indexCache.size > 4) indexCache.delete(indexCache.keys().next().value as string);
  return summaries;
}

export interface ArchivedJob {
  job: JobRecord;
  claim: RunClaim | null;
  result: JobResult | null;
  log: Uint8Array | null;
}

/** One job's files from its month's archive. */
export async function readArchivedJob(storage: Storage, month: string, id: string): Promise<ArchivedJob | null> {
  const path = archivePath(month);
  if (!(await storage.stat(path))) return null;
  const found: Record<string, Uint8Array> = {};
  let seen = false;
  await walk(storage, path, async (name, read) => {
    if (name.startsWith(`${id}/`)) {
      seen = true;
      found[name.slice(id.length + 1)] = await read();
      return 'next';
    }
    return seen ? 'stop' : 'skip';
  });
  const json = <T>(file: string): T | null => {
    const b = found[file];
    if (!b) return null;
    try {
      return JSON.parse(new TextDecoder().decode(b)) as T;
    } catch {
      return null;
    }
  };
  const job = json<JobRecord>('job.json');
  if (!job) return null;
  return { job, claim: json<RunClaim>('run.json'), result: json<JobResult>('result.json'), log: found['output.log'] ?? null };
}

const indexCache = new Map<string, { key: string; summaries: JobSummary[] }>();

/** tar-stream is loaded when an archive is first read or written, not at every start-up. */
const loadTar = () => import('tar-stream').then((m) => m.default);

/** A job file to pack: its name in the archive, its path in the store, its size when listed. */
interface Source {
  name: string;
  path: string;
  size: number;
}

/** Files up to this size are read ahead whole (many small job files); larger ones are streamed. */
const READ_AHEAD_MAX_BYTES = 1024 * 1024;

async function packStream(storage: Storage, summaries: JobSummary[], sources: Source[], extra: Array<{ name: string; data: Uint8Array }> = []): Promise<ReadableStream<Uint8Array>> {
  const pack = (await loadTar()).pack();
  const add = (name: string, data: Uint8Array) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o600 }, data as Buffer, (err) => (err ? reject(err) : resolve())));
  // A large file (a multi-GB output.log) goes through in chunks, never whole in memory.
  const addStreamed = async (s: Source) => {
    const source = await storage.openRead(s.path);
    if (!source) return;
    let failed: Error | null = null;
    const finished = new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name: s.name, size: s.size, mode: 0o600 }, (err) => (err ? reject(err) : resolve()));
      void (async () => {
        try {
          for await (const chunk of source as unknown as AsyncIterable<Uint8Array>) {
            if (!entry.write(chunk as Buffer)) await new Promise<void>((r) => entry.once('drain', () => r()));
          }
          (entry as unknown as { end(): void }).end();
        } catch (e) {
          failed = e as Error;
          entry.destroy(failed);
        }
      })();
    });
    await finished;
    if (failed) throw failed;
  };
  void (async () => {
    try {
      await add(INDEX, new TextEncoder().encode(JSON.stringify(summaries)));
      for (const e of extra) await add(e.name, e.data);
      // Small files are read a few ahead of the tar writer, which takes them in order.
      const small = (s: Source) => s.size <= READ_AHEAD_MAX_BYTES;
      const window: Array<Promise<Uint8Array | null> | null> = [];
      let next = 0;
      for (const s of sources) {
        while (window.length < IO_CONCURRENCY && next < sources.length) {
          const source = sources[next++]!;
          if (!small(source)) {
            window.push(null);
            continue;
          }
          const read = storage.readBytes(source.path);
          read.catch(() => undefined); // awaited below; this only marks it handled meanwhile
          window.push(read);
        }
        const pending = window.shift()!;
        if (pending === null) {
          await addStreamed(s);
          continue;
        }
        const data = await pending;
        if (data) await add(s.name, data);
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return iterableToStream(pack as unknown as AsyncIterable<Uint8Array>).pipeThrough(new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
}

async function mergeInto(storage: Storage, target: string, sources: Source[], summaries: JobSummary[]): Promise<void> {
  const fresh = new Set(sources.map((s) => s.name));
  const kept: Array<{ name: string; data: Uint8Array }> = [];
  let oldIndex: JobSummary[] = [];
  await walk(storage, target, async (name, read) => {
    if (name === INDEX) oldIndex = JSON.parse(new TextDecoder().decode(await read())) as JobSummary[];
    else if (!fresh.has(name)) kept.push({ name, data: await read() });
    return 'next';
  });
  const ids = new Set(summaries.map((s) => s.id));
  const merged = [...oldIndex.filter((s) => !ids.has(s.id)), ...summaries];
  await storage.writeStreamAtomic(target, await packStream(storage, merged, sources, kept));
}

async function entrySizes(storage: Storage, path: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  // The size in each entry's header: verifying never reads a file's bytes into memory.
  await walk(storage, path, async (name, _read, size) => {
    sizes.set(name, size);
    return 'next';
  });
  return sizes;
}

type Visit = (name: string, read: () => Promise<Uint8Array>, size: number) => Promise<'next' | 'skip' | 'stop'>;

/** Stream through a .tar.gz entry by entry; the visitor may stop early. */
async function walk(storage: Storage, path: string, visit: Visit): Promise<void> {
  const source = await storage.openRead(path);
  if (!source) return;
  const gunzipped = source.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  const reader = gunzipped.getReader();
  const extract = (await loadTar()).extract();
  let stopped = false;
  const feed = (async () => {
    try {
      while (!stopped) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!extract.write(value as Buffer)) {
          // Wait for room, or for the reader side to stop (destroy closes the stream).
          await new Promise<void>((r) => {
            const done = () => {
              extract.off('drain', done);
              extract.off('close', done);
              r();
            };
            extract.on('drain', done);
            extract.on('close', done);
          });
        }
      }
      (extract as unknown as { end(): void }).end();
    } catch (e) {
      extract.destroy(e as Error);
    }
  })();
  try {
    for await (const entry of extract) {
      const read = () => readAllBytes(entry as AsyncIterable<Uint8Array>);
      const action = await visit(entry.header.name, read, entry.header.size ?? 0);
      if (action === 'stop') {
        stopped = true;
        break;
      }
      entry.resume();
    }
  } finally {
    stopped = true;
    await reader.cancel().catch(() => undefined);
    extract.destroy();
    await feed;
  }
}

/** tar output comes in header-sized pieces; gzip works far better on larger chunks. */
const CHUNK_BYTES = 64 * 1024;

function iterableToStream(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const parts: Uint8Array[] = [];
        let size = 0;
        while (size < CHUNK_BYTES) {
          const { done, value } = await it.next();
          if (done) break;
          parts.push(value);
          size += value.length;
        }
        if (size > 0) controller.enqueue(concatBytes(parts));
        if (size < CHUNK_BYTES) controller.close();
      } catch (e) {
        controller.error(e);
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/**
 * Pack every finished past month into archive/YYYYmm.tar.gz, then prune. Months with a job still
 * queued or running wait; jobs whose runner vanished are archived as lost (`summaryOf` says so).
 */
export async function archivePastMonths(deps: { storage: Storage; clock: Clock; logger: Logger; keepMonths: number }, summaryOf: (id: string) => Promise<JobSummary>): Promise<string[]> {
  const current = monthOf(deps.clock.now());
  const done: string[] = [];
  for (const month of (await deps.storage.list('active')).filter((m) => /^\d{6}$/.test(m) && m < current)) {
    const ids = (await deps.storage.list(`active/${month}`)).filter(isJobId);
    if (ids.length === 0) continue; // only files left by hand: nothing of ours to archive
    const summaries = await mapBounded(ids, 16, summaryOf);
    if (summaries.some((s) => s.status === 'queued' || s.status === 'running')) {
      deps.logger.log('info', `archive of ${month} waits for running jobs`);
      continue;
    }
    if (!(await archiveMonth(deps.storage, month, ids, summaries))) {
      deps.logger.log('warn', `archive of ${month} skipped: a job folder in active/${month} holds a subfolder; move it away to let the month be archived`);
      continue;
    }
    done.push(month);
    const left = await deps.storage.list(`active/${month}`);
    deps.logger.log('info', `archived ${ids.length} jobs of ${month}`, left.length > 0 ? { kept_in_active: left.slice(0, 20) } : undefined);
  }
  await pruneArchives(deps, current);
  return done;
}

/**
 * What the store no longer needs: garbage/ entries a day old (what a crash left half-moved), and
 * monthly archives older than `keepMonths` (0 keeps them all).
 */
export async function pruneArchives(deps: { storage: Storage; clock: Clock; logger: Logger; keepMonths: number }, current: string): Promise<void> {
  const dayAgo = deps.clock.now().getTime() - 86_400_000;
  for (const name of await deps.storage.list('garbage')) {
    const st = await deps.storage.stat(`garbage/${name}`);
    if (st && st.mtimeMs < dayAgo) await deps.storage.remove(`garbage/${name}`);
  }
  const keep = deps.keepMonths;
  if (keep <= 0) return;
  const [y, m] = [Number(current.slice(0, 4)), Number(current.slice(4))];
  const oldestKept = monthOf(new Date(Date.UTC(y, m - 1 - keep, 1)));
  for (const name of await deps.storage.list('archive')) {
    const month = /^(\d{6})\.tar\.gz$/.exec(name)?.[1];
    if (month && month < oldestKept) {
      await deps.storage.remove(`archive/${name}`);
      deps.logger.log('info', `deleted archive ${name}: older than keep_months = ${keep}`);
    }
  }
}

/**
 * BarmanHost.stampTrees over SSH: GNU find on the barman host (symbolic links followed, as barman
 * follows them), with the nanosecond times its file system keeps (SFTP gives whole seconds, and a request per file). Opening an SSH session costs
 * tens of milliseconds (sshd sets up a login each time), so one session stays open for stamps: a
 * small constant shell loop that reads each request as lines of data (never as code) and answers
 * with NUL-separated records. One request at a time; a session that fails or stalls is closed
 * and the next request opens a new one.
 *
 * A request: the number of roots, each root, the number of find words, each word. An answer:
 * `T <clock ns>`, `M <root>` for each missing root, six fields per entry, then `END <find's exit>`.
 */
import type { ClientChannel } from 'ssh2';
import type { FileStamp, StampOptions, TreeStamps } from '../../../src/ports.js';
import { HostFileError } from '../../../src/ports.js';
import { checkStampRequest } from '../../../src/util/stamp-request.js';
import { shellJoin } from '../../../src/util/shell-quote.js';
import type { Pool } from './pool.js';

const LOOP = [
  'while IFS= read -r n; do',
  '  set --',
  // bash gives the clock without starting a process (microseconds); sh asks date (nanoseconds).
  '  printf "T\\0%s\\0" "${EPOCHREALTIME:-$(date +%s.%N)}"',
  '  while [ "$n" -gt 0 ]; do IFS= read -r a || exit 0; if [ -e "$a" ]; then set -- "$@" "$a"; else printf "M\\0%s\\0" "$a"; fi; n=$((n-1)); done',
  '  roots=$#',
  '  IFS= read -r m || exit 0',
  '  while [ "$m" -gt 0 ]; do IFS= read -r a || exit 0; set -- "$@" "$a"; m=$((m-1)); done',
  '  s=0',
  '  if [ "$roots" -gt 0 ]; then find -L "$@" 2>/dev/null; s=$?; fi',
  '  printf "END\\0%s\\0" "$s"',
  'done',
].join('\n');
/** Kind, size, inode, modification and status-change time, path: NUL after each. */
const FORMAT = '%y\\0%s\\0%i\\0%T@\\0%C@\\0%p\\0';
const ENTRY_FIELDS = 6;
const TIMEOUT_MS = 15_000;
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

export interface Stamper {
  stamp(roots: readonly string[], options: StampOptions): Promise<TreeStamps>;
  close(): void;
}

export function createStamper(pool: Pool, description: string): Stamper {
  let session: Promise<ClientChannel> | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const open = (): Promise<ClientChannel> => {
    // bash where there is one (each take then starts only find), else sh.
    const opening = pool.openChannel(`if command -v bash >/dev/null 2>&1; then exec ${shellJoin(['bash', '--norc', '--noprofile', '-c', LOOP])}; else exec ${shellJoin(['sh', '-c', LOOP])}; fi`);
    opening.then(
      (ch) => ch.on('close', () => {
        if (session === opening) session = null;
      }),
      () => {
        if (session === opening) session = null;
      },
    );
    return opening;
  };
  const drop = (ch: ClientChannel | null) => {
    session = null;
    ch?.close();
  };
  const once = async (roots: readonly string[], options: StampOptions): Promise<TreeStamps> => {
    const unique = checkStampRequest(roots, options);
    const skip = options.skip.flatMap((name, i) => (i === 0 ? ['-name', name] : ['-o', '-name', name]));
    const words = ['-maxdepth', String(options.maxDepth), ...(skip.length > 0 ? ['(', ...skip, ')', '-prune', '-o'] : []), '-printf', FORMAT];
    const request = [String(unique.length), ...unique, String(words.length), ...words].join('\n') + '\n';
    // A session kept from before may have died with its connection unnoticed: one retry on a new one.
    for (let attempt = 1; ; attempt++) {
      const reused = session !== null;
      session ??= open();
      const ch = await session;
      try {
        return parseAnswer(await exchange(ch, request), unique, description);
      } catch (err) {
        drop(ch); // its state is unknown: the next request opens a new session
        if (reused && attempt === 1 && err instanceof SessionClosed) continue;
        throw err instanceof HostFileError ? err : new HostFileError('failed', unique[0] ?? '/', `stamping barman's files on ${description} failed: ${(err as Error).message}`);
      }
    }
  };
  return {
    stamp(roots, options) {
      const next = queue.then(() => once(roots, options));
      queue = next.catch(() => undefined);
      return next;
    },
    close() {
      void session?.then((ch) => ch.close(), () => undefined);
      session = null;
    },
  };
}

/** Send one request and collect the answer up to its END record. */
function exchange(ch: ClientChannel, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | null, text?: string) => {
      clearTimeout(timer);
      ch.off('data', onData);
      ch.off('close', onClose);
      if (err) reject(err);
      else resolve(text!);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) return done(new Error('the answer is too large'));
      // The answer ends with its END record (no entry field can be "END": paths begin with /).
      const tail = Buffer.concat(chunks.slice(-2)).toString('latin1').slice(-40);
      if (/(?:^|\0)END\0\d+\0$/.test(tail)) done(null, Buffer.concat(chunks).toString('utf8'));
    };
    const onClose = () => done(new SessionClosed('the session closed'));
    const timer = setTimeout(() => done(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
    ch.on('data', onData);
    ch.on('close', onClose);
    ch.write(request);
  });
}

/** The records of one answer as stamps. */
export function parseAnswer(answer: string, roots: readonly string[], description: string): TreeStamps {
  const fields = answer.split('\0');
  fields.pop(); // after the last NUL
  const entries = new Map<string, FileStamp>();
  let takenMs = NaN;
  let status = -1;
  for (let i = 0; i < fields.length; ) {
    const kind = fields[i]!;
    if (kind === 'T') {
      // Seconds since the epoch with a fraction (`1764755000.123456`, or nanoseconds from date).
      takenMs = /^\d{10,}[.,]\d{1,9}$/.test(fields[i + 1] ?? '') ? Number((fields[i + 1] ?? '').replace(',', '.')) * 1000 : NaN;
      i += 2;
    } else if (kind === 'M') {
      entries.set(fields[i + 1]!, { stamp: '-', changedMs: 0 });
      i += 2;
    } else if (kind === 'END') {
      status = Number(fields[i + 1]);
      i += 2;
    } else {
      const [, size, ino, mtime, ctime, path] = fields.slice(i, i + ENTRY_FIELDS) as [string, string, string, string, string, string];
      if (path === undefined) throw new HostFileError('failed', roots[0] ?? '/', `unexpected answer from find on ${description}`);
      entries.set(path, { stamp: `${kind} ${size} ${ino} ${mtime} ${ctime}`, changedMs: Math.max(Number(mtime), Number(ctime)) * 1000 });
      i += ENTRY_FIELDS;
    }
  }
  if (!Number.isFinite(takenMs)) throw new HostFileError('failed', roots[0] ?? '/', `no clock reading from the barman host ${description}`);
  // Roots that exist were looked into; find's 1 means something below could not be read (or vanished meanwhile).
  if (status !== 0) {
    const why = status === 1 ? 'a symbolic link loop, a folder it may not read, or a file removed meanwhile' : `find exited ${status}`;
    throw new HostFileError('failed', roots[0] ?? '/', `cannot stamp all of barman's files on ${description} (${why})`);
  }
  for (const root of roots) if (!entries.has(root)) entries.set(root, { stamp: '-', changedMs: 0 });
  return { takenMs, entries };
}

class SessionClosed extends Error {}

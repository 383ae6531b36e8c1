/**
 * BarmanHost.stampTrees over SSH: one exec of GNU find on the barman host, so a whole tree is one
 * round trip, with the nanosecond times the host's file system keeps (SFTP would give whole
 * seconds and need a request per file). The script is constant; the roots and names are
 * arguments, each quoted as every word of an SSH command is.
 */
import type { FileStamp, StampOptions, TreeStamps } from '../../../src/ports.js';
import { HostFileError } from '../../../src/ports.js';
import { checkStampRequest } from '../../../src/util/stamp-request.js';
import { runRemote, type ExecSettings } from './exec.js';

const SCRIPT = 'date +%s%N && exec find -H "$@"';
/** Kind, size, inode, modification and status-change time, path: NUL after each. */
const FORMAT = '%y\\0%s\\0%i\\0%T@\\0%C@\\0%p\\0';
const FIELDS = 6;
const TIMEOUT_MS = 15_000;
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

export async function stampRemoteTrees(x: ExecSettings, roots: readonly string[], options: StampOptions): Promise<TreeStamps> {
  const unique = checkStampRequest(roots, options);
  const skip = options.skip.flatMap((name, i) => (i === 0 ? ['-name', name] : ['-o', '-name', name]));
  const expression = skip.length > 0 ? ['(', ...skip, ')', '-prune', '-o'] : [];
  const argv = ['sh', '-c', SCRIPT, 'sh', ...unique, '-maxdepth', String(options.maxDepth), ...expression, '-printf', FORMAT];
  const r = await runRemote(x, argv, { timeoutMs: TIMEOUT_MS, maxOutputBytes: MAX_OUTPUT_BYTES });
  const where = unique[0] ?? '/';
  if (r.truncated || r.timedOut || r.aborted) throw new HostFileError('failed', where, `stamping barman's files on ${x.description} did not finish`);
  // find says 1 when a root is missing (that is an answer) or something could not be read (that is not).
  const problems = r.stderr.split('\n').filter((line) => line.trim() !== '' && !/No such file or directory/.test(line));
  if ((r.exitCode !== 0 && r.exitCode !== 1) || problems.length > 0) {
    const permission = problems.some((line) => /Permission denied/.test(line));
    throw new HostFileError(permission ? 'permission' : 'failed', where, `cannot stamp barman's files on ${x.description}: ${(problems[0] ?? `exit ${r.exitCode}`).slice(0, 300)}`);
  }
  return parseFindOutput(r.stdout, unique);
}

/** The clock line, then six NUL-terminated fields per entry. */
export function parseFindOutput(stdout: string, roots: readonly string[]): TreeStamps {
  const newline = stdout.indexOf('\n');
  const clockNs = newline > 0 ? stdout.slice(0, newline) : '';
  if (!/^\d{10,}$/.test(clockNs)) throw new HostFileError('failed', roots[0] ?? '/', `unexpected answer from date on the barman host: ${JSON.stringify(clockNs.slice(0, 40))}`);
  const takenMs = Number(BigInt(clockNs) / 1_000_000n);
  const fields = stdout.slice(newline + 1).split('\0');
  fields.pop(); // after the last NUL
  if (fields.length % FIELDS !== 0) throw new HostFileError('failed', roots[0] ?? '/', 'unexpected answer from find on the barman host');
  const entries = new Map<string, FileStamp>();
  for (let i = 0; i < fields.length; i += FIELDS) {
    const [kind, size, ino, mtime, ctime, path] = fields.slice(i, i + FIELDS) as [string, string, string, string, string, string];
    const changedMs = Math.max(Number(mtime), Number(ctime)) * 1000;
    entries.set(path, { stamp: `${kind} ${size} ${ino} ${mtime} ${ctime}`, changedMs });
  }
  for (const root of roots) if (!entries.has(root)) entries.set(root, { stamp: '-', changedMs: 0 });
  return { takenMs, entries };
}

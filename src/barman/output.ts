import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { RunResult } from '../ports.js';
import { redactValue } from '../util/redact.js';

/** The legacy result body of a barman command, with the parsed JSON document added under `data`. */
export interface CommandResult {
  status_code: number;
  message: string;
  list: string[];
  data?: unknown;
  truncated?: boolean;
  type?: string;
  command?: string;
  /** Read-only commands: whether the answer came from the read cache, and how old it is. */
  cache?: { hit: boolean; age_ms: number };
  /** The barman host by name, for any host but the default one. */
  host?: string;
}

export function outputLines(stdout: string): string[] {
  const lines = stdout.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Parse barman's JSON output; null when it is not JSON (console output, or a cut stream). */
export function parseJsonOutput(stdout: string): unknown {
  const text = stdout.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return null;
  try {
    let doc: unknown = JSON.parse(text);
    // `diagnose -f json` wraps its JSON document in a JSON string.
    if (typeof doc === 'string') {
      try {
        doc = JSON.parse(doc);
      } catch {
        // a plain string document
      }
    }
    return doc;
  } catch {
    return null;
  }
}

/**
 * The legacy body plus the HTTP status that tells a client what happened. Passwords inside
 * connection strings that barman prints (show-server's conninfo) are masked everywhere.
 */
export function toCommandResult(r: RunResult, opts: { json: boolean }): { body: CommandResult; status: ContentfulStatusCode } {
  const ok = r.exitCode === 0 && !r.timedOut && !r.aborted;
  const stdout = redactValue(r.stdout);
  const body: CommandResult = { status_code: ok ? 200 : (r.exitCode ?? -1), message: redactValue(r.stderr.trim()), list: outputLines(stdout) };
  if (opts.json) {
    const data = redactStrings(parseJsonOutput(r.stdout));
    if (data !== null) {
      body.data = data;
      // With -f json barman reports errors inside the document ({"_ERROR": [...]}), not on stderr.
      const errors = (data as { _ERROR?: unknown })._ERROR;
      if (!body.message && Array.isArray(errors)) body.message = errors.map(String).join('\n');
    }
  }
  if (r.truncated) body.truncated = true;
  if (ok) return { body, status: 200 };
  const { status, type } = classifyFailure(r);
  body.type = type;
  if (r.timedOut) body.message = `barman did not finish in time and was stopped. ${body.message}`.trim();
  return { body, status };
}

function redactStrings(value: unknown): unknown {
  if (typeof value === 'string') return redactValue(value);
  if (Array.isArray(value)) return value.map(redactStrings);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v)]));
  return value;
}

/** barman's failures, mapped onto HTTP statuses a client can act on. */
export function classifyFailure(r: RunResult): { status: ContentfulStatusCode; type: string } {
  const text = `${r.stderr}\n${r.stdout}`;
  if (r.timedOut) return { status: 504, type: 'BarmanTimeout' };
  if (r.exitCode === 127 || r.exitCode === 126) return { status: 502, type: 'BarmanUnavailable' };
  if (r.exitCode === 255 && /ssh|connection/i.test(text)) return { status: 502, type: 'BarmanUnavailable' };
  if (r.exitCode === null) return { status: 502, type: 'BarmanKilled' };
  if (/unknown server|not a valid server|No such server/i.test(text)) return { status: 404, type: 'UnknownServer' };
  if (/unknown backup|backup .* not found|Unknown backup id|No backup/i.test(text)) return { status: 404, type: 'UnknownBackup' };
  if (/another .* process is running|already running|is already in progress|Another action is in progress/i.test(text)) {
    return { status: 409, type: 'BarmanBusy' };
  }
  if (r.exitCode === 2 && /usage:/i.test(text)) return { status: 422, type: 'BarmanUsageError' };
  return { status: 422, type: 'BarmanCommandFailed' };
}

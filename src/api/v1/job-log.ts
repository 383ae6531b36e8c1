/**
 * A job's log as Server-Sent Events, resumable: every event carries as its id the byte offset
 * of output.log it reaches, so a client that lost the stream sends `Last-Event-ID` and gets the
 * rest, from where it left off, nothing twice and nothing skipped (from the live file or from the
 * month's archive alike). Log text travels as a JSON string per event: carriage returns, NULs and
 * line ends come back exactly as barman wrote them (bytes that are not UTF-8 come as U+FFFD; the
 * offsets still count them, so resuming neither skips nor repeats). A follower holds one window
 * of the log at a time, however large the log.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../../context.js';
import { badRequest } from '../../http/errors.js';
import type { JobService, JobView } from '../../jobs/service.js';
import type { Logger } from '../../ports.js';
import { redact } from '../../util/redact.js';

/** A followed job is looked at soon after it starts (most commands are quick), then less often. */
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 250;
/** Log bytes per event at most: a large backlog goes out as several events. */
const EVENT_BYTES = 64 * 1024;
/** Log bytes read at a time. */
const WINDOW_BYTES = 16 * EVENT_BYTES;

/** Where to start: Last-Event-ID (a byte offset, as the events give it), else 0. */
export function resumeOffset(c: Context<AppEnv>): number {
  const given = c.req.header('last-event-id');
  if (given === undefined || given.trim() === '') return 0;
  if (!/^\d{1,15}$/.test(given.trim())) throw badRequest('Last-Event-ID must be the id of an event of this stream (a byte offset)', { parameter: 'Last-Event-ID' });
  return Number(given.trim());
}

/**
 * The longest start of `bytes` that ends on a whole UTF-8 character: a character cut by a read
 * waits for the next one, so an event's id never falls inside a character.
 */
export function wholeCharacters(bytes: Uint8Array): number {
  let end = bytes.length;
  // Step back over at most 3 continuation bytes to the lead byte of the last character.
  let i = end - 1;
  while (i >= 0 && end - i <= 4 && (bytes[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return end;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (end - i < need) end = i;
  return end;
}

export function streamJobLog(c: Context<AppEnv>, jobs: JobService, logger: Logger, first: JobView, from: number, detail: (v: JobView) => Promise<unknown>): Response {
  return streamSSE(c, async (stream) => {
    let offset = from;
    let current = first;
    const decoder = new TextDecoder();
    const ended = () => current.status !== 'running' && current.status !== 'queued';
    /** Log events for `bytes`; `last`: they end the log of a finished job (a cut character there is its end). */
    const sendWindow = async (bytes: Uint8Array, last: boolean) => {
      let at = 0;
      while (at < bytes.length) {
        const slice = bytes.subarray(at, Math.min(bytes.length, at + EVENT_BYTES));
        const final = last && at + slice.length === bytes.length;
        const whole = final ? slice.length : wholeCharacters(slice);
        if (whole === 0) break; // the start of a character: read again, with the rest of it
        at += whole;
        offset += whole;
        await stream.writeSSE({ event: 'log', id: String(offset), data: JSON.stringify(decoder.decode(slice.subarray(0, whole))) });
      }
      return at;
    };
    const sendLog = async () => {
      // An archived log is read whole from its archive anyway: once, not once per window.
      const window = current.archived ? Infinity : WINDOW_BYTES;
      for (;;) {
        const bytes = await jobs.readOutput(current, offset, window);
        const last = ended() && bytes.length < window;
        const sent = await sendWindow(bytes, last);
        if (bytes.length < window || sent === 0 || stream.aborted) return;
      }
    };
    try {
      await stream.writeSSE({ event: 'status', id: String(offset), data: current.status });
      let pollMs = FIRST_POLL_MS;
      while (!stream.aborted) {
        await sendLog();
        if (ended()) break;
        await jobs.waitForEnd(current.job.id, pollMs);
        pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
        const previous = current.status;
        current = await jobs.view(current.job.id);
        if (current.status !== previous) await stream.writeSSE({ event: 'status', id: String(offset), data: current.status });
      }
      if (stream.aborted) return;
      await sendLog();
      await stream.writeSSE({ event: 'end', id: String(offset), data: JSON.stringify(await detail(current)) });
    } catch (err) {
      // The stream has begun: the failure goes to the log (redacted); the client gets an event
      // with the offset reached, and no detail of the inside.
      logger.log('error', `log stream of job ${first.job.id} failed`, { error: redact(String(err)) });
      await stream.writeSSE({ event: 'error', id: String(offset), data: JSON.stringify('the log could not be read; reconnect with Last-Event-ID to go on') }).catch(() => undefined);
    }
  });
}

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
  // Outside the stream's callback: an error event, too, carries the offset reached.
  let offset = from;
  return streamSSE(c, async (stream) => {
    let current = first;
    const decoder = new TextDecoder();
    const sendLog = async () => {
      for (;;) {
        const bytes = await jobs.readOutput(current, offset, WINDOW_BYTES);
        const sent = await sendWindow(bytes);
        if (bytes.length < WINDOW_BYTES || sent === 0 || stream.aborted) return;
      }
    };
    const sendWindow = async (bytes: Uint8Array) => {
      let at = 0;
      while (at < bytes.length) {
        const slice = bytes.subarray(at, Math.min(bytes.length, at + EVENT_BYTES));
        // The end of a finished job's log is its end, even inside a character (invalid UTF-8).
        const ended = current.status !== 'running' && current.status !== 'queued';
        const whole = ended && at + slice.length === bytes.length ? slice.length : wholeCharacters(slice) || (ended ? slice.length : 0);
        if (whole === 0) break; // the rest of a character: read again next time
        at += whole;
        offset += whole;
        await stream.writeSSE({ event: 'log', id: String(offset), data: JSON.stringify(decoder.decode(slice.subarray(0, whole))) });
      }
      return at;
    };
    await stream.writeSSE({ event: 'status', id: String(offset), data: current.status });
    let pollMs = FIRST_POLL_MS;
    while (!stream.aborted) {
      await sendLog();
      if (current.status !== 'running' && current.status !== 'queued') break;
      await jobs.waitForEnd(current.job.id, pollMs);
      pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
      const previous = current.status;
      current = await jobs.view(current.job.id);
      if (current.status !== previous) await stream.writeSSE({ event: 'status', id: String(offset), data: current.status });
    }
    if (stream.aborted) return;
    await sendLog();
    await stream.writeSSE({ event: 'end', id: String(offset), data: JSON.stringify(await detail(current)) });
  }, async (err, stream) => {
    // The stream has begun: the failure goes to the log (redacted), the client gets an error event and retries.
    logger.log('error', `log stream of job ${first.job.id} failed`, { error: redact(String(err)) });
    await stream.writeSSE({ event: 'error', id: String(offset), data: JSON.stringify('the log could not be read; reconnect with Last-Event-ID to go on') }).catch(() => undefined);
  });
}

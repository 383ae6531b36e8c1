/**
 * One webhook delivery (an event for one receiver) as the outbox keeps it in the store, read back
 * strictly, and the few rules of its attempts: the backoff, and an error's words.
 */
import { EVENT_TYPES, type EventType } from './events.js';
import { isTime } from '../util/shape.js';

export const DELIVERY_ID_RE = /^evt_[0-9a-f]{32}\.[0-9a-f]{12}$/;
const FIRST_RETRY_S = 10;
export const LAST_RETRY_S = 3600;

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

export interface Delivery {
  /** `<event id>.<receiver>`. */
  id: string;
  event_id: string;
  type: EventType;
  /** The barman host the event is about; null for a ping. */
  host: string | null;
  /** 12 hex digits naming the receiver's URL (which may hold a credential, so is never shown). */
  receiver: string;
  created_at: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  /** Retried until then; past it, a failed attempt gives the delivery up. */
  give_up_at: string;
  last_attempt: { at: string; http_status: number | null; error: string | null; duration_ms: number } | null;
  sent_at: string | null;
  /** The exact JSON that is signed and sent. */
  body: string;
  /** A job's end: whose job it was (for who may see the delivery, as /history decides). */
  owner?: { user: string; id?: string };
}

/** 10 s, 30 s, 90 s, … up to an hour, each ±20 % so that receivers back from an outage are not hit at once. */
export function backoffSeconds(attempts: number): number {
  const base = Math.min(FIRST_RETRY_S * 3 ** (attempts - 1), LAST_RETRY_S);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Why an attempt failed, in words that never hold the URL (it may carry a credential). */
export function attemptError(err: unknown, url: string): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const why = e?.name === 'AbortError' || e?.name === 'TimeoutError' ? String(e.message ?? 'aborted') : e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  const parsed = new URL(url);
  let text = why.split(url).join('<url>');
  for (const part of [parsed.pathname, parsed.search, parsed.username, parsed.password]) if (part.length > 1) text = text.split(part).join('<url>');
  return text.slice(0, 300);
}

const isTimeOrNull = (v: unknown) => v === null || isTime(v);

/** A stored delivery, every field checked: a file damaged by hand or by a crash is left alone. */
export function parseDelivery(text: string): Delivery | null {
  let d: Partial<Delivery> & Record<string, unknown>;
  try {
    d = JSON.parse(text) as typeof d;
  } catch {
    return null;
  }
  if (typeof d !== 'object' || d === null) return null;
  const attempt = d.last_attempt;
  const ok =
    typeof d.id === 'string' && DELIVERY_ID_RE.test(d.id) && d.id === `${d.event_id}.${d.receiver}` &&
    typeof d.type === 'string' && (EVENT_TYPES as readonly string[]).includes(d.type) &&
    (d.host === null || typeof d.host === 'string') &&
    typeof d.body === 'string' && isJsonObject(d.body) &&
    (d.status === 'pending' || d.status === 'sent' || d.status === 'failed') &&
    Number.isInteger(d.attempts) && (d.attempts as number) >= 0 &&
    isTime(d.created_at) && isTime(d.give_up_at) && isTimeOrNull(d.sent_at) &&
    (d.status === 'pending' ? isTime(d.next_attempt_at) : isTimeOrNull(d.next_attempt_at)) &&
    (attempt === null || (typeof attempt === 'object' && attempt !== undefined && isTime(attempt.at) && (attempt.http_status === null || Number.isInteger(attempt.http_status)) && (attempt.error === null || typeof attempt.error === 'string') && typeof attempt.duration_ms === 'number')) &&
    (d.owner === undefined || (typeof d.owner === 'object' && d.owner !== null && typeof d.owner.user === 'string'));
  return ok ? (d as Delivery) : null;
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * Webhook deliveries through the API: the receivers (by id and origin: a URL may hold a credential
 * and is never shown), each delivery's state and attempts, a redelivery, a ping. Rules:
 * `webhooks/list` to read, `webhooks/redeliver` and `webhooks/ping` to act (`webhooks` for all). A delivery is shown only where its
 * event is: on a host the caller reaches, and a job's end only to its owner or a holder of
 * `history/all`, as /history shows jobs.
 */
import type { Context } from 'hono';
import type { AppEnv, AuthedUser } from '../context.js';
import { conflict, notFound } from '../http/errors.js';
import { queryParams } from '../http/params.js';
import { lazySchema, matching, noParams, parseParams, wholeNumber, word } from '../http/schema.js';
import { HISTORY_ALL_GRANT, holdsGrant, reachesHost } from '../auth/policy.js';
import { ownedBy } from '../jobs/model.js';
import type { V1Route } from '../api/v1/route.js';
import { EVENT_TYPES, eventId, type WebhookEvent } from './events.js';
import { DELIVERY_ID_RE, type Delivery, type WebhookOutbox } from './outbox.js';

const ANY = 'any';

const deliveryQuery = lazySchema((z) =>
  z.strictObject({
    status: word([ANY, 'pending', 'sent', 'failed'], ANY),
    type: word([ANY, ...EVENT_TYPES], ANY),
    receiver: matching(/^[0-9a-f]{12}$/, 'must be a receiver id (12 hex digits) from GET /api/v1/webhooks').optional(),
    limit: wholeNumber(1, 1000, 50),
  }),
);

/** Whether `user` may see the event `d` carries: a job's end as /history shows the job. */
function sees(user: AuthedUser, d: Delivery): boolean {
  if (d.host !== null && !reachesHost(user, d.host)) return false;
  if (d.type !== 'job.ended' || holdsGrant(user, HISTORY_ALL_GRANT)) return true;
  return d.owner !== undefined && ownedBy({ user: d.owner.user, ...(d.owner.id ? { user_id: d.owner.id } : {}) }, { user: user.username, id: user.id });
}

const summary = (d: Delivery) => ({
  id: d.id, event_id: d.event_id, type: d.type, host: d.host, receiver: d.receiver, status: d.status, created_at: d.created_at,
  attempts: d.attempts, next_attempt_at: d.next_attempt_at, give_up_at: d.give_up_at, last_attempt: d.last_attempt, sent_at: d.sent_at,
});

export function webhookRoutes(outbox: WebhookOutbox, clock: { now(): Date }): V1Route[] {
  const visible = async (c: Context<AppEnv>) => {
    await outbox.load();
    const user = c.get('user');
    return outbox.all().filter((d) => sees(user, d));
  };
  const one = async (c: Context<AppEnv>, id: string) => {
    const d = DELIVERY_ID_RE.test(id) ? outbox.get(id) : undefined;
    if (!d || !(await visible(c)).includes(d)) throw notFound(`no webhook delivery ${JSON.stringify(id.slice(0, 80))}`, { parameter: 'delivery' });
    return d;
  };
  return [
    {
      method: 'GET', path: '/webhooks', operationId: 'getWebhooks', tag: 'webhooks', rule: 'webhooks/list', conditional: true,
      summary: 'The receivers of [webhooks] urls and their deliveries, counted',
      description: 'Each receiver by id and origin (its URL may hold a credential and is never shown), with the deliveries you may see by status and the last attempt.',
      responses: { 200: { description: 'Receivers', schema: 'Webhooks', headers: ['ETag'] } },
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        const mine = await visible(c);
        const receivers = await outbox.receivers();
        return {
          receivers: receivers.map((r) => {
            const own = mine.filter((d) => d.receiver === r.id);
            const last = own.filter((d) => d.last_attempt).sort((a, b) => b.last_attempt!.at.localeCompare(a.last_attempt!.at))[0];
            const count = (s: Delivery['status']) => own.filter((d) => d.status === s).length;
            return { id: r.id, origin: r.origin, pending: count('pending'), sent: count('sent'), failed: count('failed'), last_attempt: last ? { delivery: last.id, ...last.last_attempt! } : null };
          }),
        };
      },
    },
    {
      method: 'GET', path: '/webhooks/deliveries', operationId: 'listWebhookDeliveries', tag: 'webhooks', rule: 'webhooks/list', conditional: true, query: deliveryQuery,
      summary: 'Webhook deliveries, newest first',
      description: 'Pending ones, and finished ones (sent, or given up) of the last [webhooks] keep_days; only those whose event you may see.',
      responses: { 200: { description: 'Deliveries', schema: 'WebhookDeliveries', headers: ['ETag'] } },
      handle: async (c) => {
        const q = await parseParams(deliveryQuery, queryParams(c));
        const items = (await visible(c))
          .filter((d) => (q.status === ANY || d.status === q.status) && (q.type === ANY || d.type === q.type) && (q.receiver === undefined || d.receiver === q.receiver))
          .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
        return { total: items.length, items: items.slice(0, q.limit).map(summary) };
      },
    },
    {
      method: 'GET', path: '/webhooks/deliveries/{delivery}', operationId: 'getWebhookDelivery', tag: 'webhooks', rule: 'webhooks/list', conditional: true,
      pathParams: { delivery: 'The delivery id (`<event id>.<receiver>`)' },
      summary: 'One delivery, with the event it carries',
      responses: { 200: { description: 'The delivery', schema: 'WebhookDelivery', headers: ['ETag'] } },
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const d = await one(c, p.delivery!);
        return { ...summary(d), event: JSON.parse(d.body) as unknown };
      },
    },
    {
      method: 'POST', path: '/webhooks/deliveries/{delivery}/redeliver', operationId: 'redeliverWebhook', tag: 'webhooks', rule: 'webhooks/redeliver',
      pathParams: { delivery: 'The delivery id' },
      summary: 'Send a finished delivery again, now, with a new retry window',
      description: 'The same event id and body: a receiver that de-duplicates by webhook-id sees it once. 409 while it is pending, and within 10 seconds of its last attempt.',
      responses: { 202: { description: 'Pending again', schema: 'WebhookDelivery' } },
      errors: [409],
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const d = await one(c, p.delivery!);
        const refused = await outbox.redeliver(d.id);
        if (refused === 'pending') throw conflict(`delivery ${d.id} is pending already; it is sent at ${outbox.get(d.id)?.next_attempt_at ?? 'once'}`);
        if (refused === 'too soon') throw conflict(`delivery ${d.id} was attempted less than 10 seconds ago; send it again later`);
        const now = outbox.get(d.id)!;
        return c.json({ ...summary(now), event: JSON.parse(now.body) as unknown }, 202);
      },
    },
    {
      method: 'POST', path: '/webhooks/ping', operationId: 'pingWebhooks', tag: 'webhooks', rule: 'webhooks/ping',
      summary: 'Send a ping event to every receiver (to check a receiver and its signature check)',
      description: '409 while an earlier ping to a receiver waits (it is retried like any delivery).',
      responses: { 202: { description: 'The deliveries made', schema: 'WebhookPing' } },
      errors: [409],
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        const receivers = await outbox.receivers();
        if (receivers.length === 0) throw conflict('no receivers: [webhooks] urls is empty');
        const waiting = receivers.find((r) => outbox.pingPending(r.id));
        if (waiting) throw conflict(`a ping to receiver ${waiting.id} (${waiting.origin}) waits still; see GET /api/v1/webhooks/deliveries?type=ping`);
        const at = clock.now().toISOString();
        const event: WebhookEvent = { id: eventId('ping', at, crypto.randomUUID()), type: 'ping', at, data: { by: c.get('user').username } };
        return c.json({ event_id: event.id, deliveries: await outbox.publish(event) }, 202);
      },
    },
  ];
}

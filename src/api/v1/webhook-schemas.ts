/** The webhook routes' answers (src/webhooks/routes.ts), for the document. */
type Zod = typeof import('zod');

export function webhookSchemas(z: Zod) {
  const time = () => z.string().describe('ISO 8601, UTC').nullable();
  const Attempt = z.strictObject({
    at: z.string(),
    http_status: z.number().int().nullable().describe("The receiver's status; null when it gave none"),
    error: z.string().nullable().describe('Why the attempt failed; null when it was answered 2xx'),
    duration_ms: z.number().int(),
  });
  const deliveryFields = {
    id: z.string().describe('<event id>.<receiver>'),
    event_id: z.string().describe('The webhook-id header: the same for every attempt and receiver'),
    type: z.string(),
    host: z.string().nullable().describe('The barman host the event is about; null for a ping'),
    receiver: z.string(),
    status: z.enum(['pending', 'sent', 'failed']).describe('failed: given up after [webhooks] retry_hours'),
    created_at: z.string(),
    attempts: z.number().int(),
    next_attempt_at: time(),
    give_up_at: z.string(),
    last_attempt: Attempt.nullable(),
    sent_at: time(),
  };
  const WebhookDeliverySummary = z.strictObject(deliveryFields);
  const WebhookDelivery = z.strictObject({
    ...deliveryFields,
    event: z.strictObject({ id: z.string(), type: z.string(), at: z.string(), host: z.string().optional(), data: z.record(z.string(), z.unknown()) }).describe('The JSON body sent, as signed'),
  });
  const WebhookDeliveries = z.strictObject({ total: z.number().int(), items: z.array(WebhookDeliverySummary) });
  const Webhooks = z.strictObject({
    receivers: z.array(
      z.strictObject({
        id: z.string().describe('12 hex digits naming the URL'),
        origin: z.string().describe("The URL's scheme, host and port (the rest may hold a credential)"),
        pending: z.number().int(),
        sent: z.number().int(),
        failed: z.number().int(),
        last_attempt: Attempt.extend({ delivery: z.string() }).nullable(),
      }),
    ),
  });
  const WebhookPing = z.strictObject({ event_id: z.string(), deliveries: z.array(z.string()).describe('One per receiver') });
  return { WebhookDelivery, WebhookDeliveries, Webhooks, WebhookPing };
}

import { createHmac } from 'node:crypto';

// Webhooks: a URL a project's admins registered for some event types, and the deliveries made to
// it (the outbox and the delivery log are one record a delivery). Pure rules only: which events a
// webhook takes, the signature a receiver checks, and when a failed attempt is tried again.

export interface Webhook {
  /** 16 hex characters. */
  id: string;
  project: string;
  url: string;
  /** Event types (`alias.moved`) or prefixes (`proposal.*`); `*` for every event. */
  events: string[];
  description: string | null;
  /** The shared signing secret (`whsec_…`): kept so that the server can sign, shown once at creation. */
  secret: string;
  createdAt: Date;
  createdBy: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  /** 16 hex characters: the X-Promptline-Delivery header. */
  id: string;
  webhookId: string;
  project: string;
  /** The event's id, the same in every webhook's delivery of that event (the body's `id`). */
  eventId: string;
  eventType: string;
  subject: string;
  /** The JSON body as sent, byte for byte on every attempt (the signature covers it). */
  body: string;
  attempts: number;
  status: DeliveryStatus;
  lastStatusCode: number | null;
  lastError: string | null;
  /** When it is tried next; null once delivered or failed. */
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** What an attempt leaves on the delivery. */
export type DeliveryOutcome = Pick<WebhookDelivery, 'attempts' | 'status' | 'lastStatusCode' | 'lastError' | 'nextAttemptAt' | 'deliveredAt'>;

/** A due delivery, with what its attempt needs of the webhook. */
export interface DueDelivery extends WebhookDelivery {
  url: string;
  secret: string;
}

/** An event type, or a prefix of event types that ends in `.*`, or `*`. */
export const EVENT_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

export function webhookTakes(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the whole secret text. */
export function webhookSignature(secret: string, unixSeconds: number, body: string): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** After this many attempts without a 2xx a delivery is failed. */
export const MAX_DELIVERY_ATTEMPTS = 10;
/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 10 * 60_000;

/** The wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, … capped; null when no attempt is left. */
export function retryDelayMs(attempts: number, baseMs: number): number | null {
  if (attempts >= MAX_DELIVERY_ATTEMPTS) return null;
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
}

// What happened, for those who asked to be told: webhooks (src/governance/webhooks.ts) deliver
// these to the URLs a project's admins registered. Publishing never waits for a delivery: an alias
// move, a merge or an alert is done when its own store says so, whatever the receivers do.

/** An event's type: `alias.moved`, `proposal.opened`, `proposal.reviewed`, `proposal.merged`, `alert.opened`, … */
export type EventType = string;

export interface DomainEvent {
  type: EventType;
  project: string;
  /** When it happened (the change's own time). */
  at: Date;
  /** What it is about, for the delivery log: a prompt and alias, a proposal id, a monitor id. */
  subject: string;
  /** The payload receivers get: plain JSON, no secrets. */
  data: Record<string, unknown>;
}

export interface EventPublisher {
  /** Queues the event for delivery and returns at once; a failure to queue is logged, never thrown. */
  publish(event: DomainEvent): void;
}

/** For components built without webhooks (tests, tools). */
export const NO_EVENTS: EventPublisher = { publish() {} };

/** Every BullMQ queue name, in one place. A job carries only the message id; Postgres holds the rest. */
export const QUEUES = {
  /** Stored inbound messages to parse → map → validate → persist. jobId = message id, or `batch-<first id>` for a group commit's messages. */
  ingest: 'ingest',
  /** Repeatable maintenance jobs: sweeper, partition upkeep. */
  maintenance: 'maintenance',
  /** Support-console jobs: reprocess every message matching a search (progress in console_jobs). */
  console: 'console',
  /** Outbox events handed to Node-RED flows (lotbridge-event nodes). jobId = outbox event id. */
  route: 'route',
  /** Outbound deliveries (HTTP, MLLP, file) with retries. jobId = delivery id. */
  deliver: 'deliver',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Data of an `ingest` job. */
export interface IngestJobData {
  /** One message (jobId = message id): single receipts, reprocess, the sweeper, FIFO waits. */
  messageId?: string;
  connectorId?: string;
  /** A group commit's messages, processed in one canonical transaction (jobId = `batch-<first id>`). */
  messageIds?: string[];
}

/** Data of a `route` job: one outbox event (its payload stays in outbox_events too). */
export interface RouteJobData {
  eventId: string;
  type: string;
  payload: Record<string, unknown>;
  sourceMessageId: string | null;
  ordinal: number | null;
  createdAt: string;
  /** Ids of lotbridge-event nodes that finished with this event on an earlier attempt (not sent again). */
  completed?: string[];
}

/** Data of a `deliver` job: only the delivery id (the row in `deliveries` holds the rest). */
export interface DeliverJobData {
  deliveryId: string;
  /** The committed row's send data (DeliverJobSnapshot of src/delivery/enqueue-delivery.ts), used on the first attempt only. */
  row?: import('../delivery/enqueue-delivery').DeliverJobSnapshot;
}

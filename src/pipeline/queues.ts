/** Every BullMQ queue name, in one place. A job carries only the message id; Postgres holds the rest. */
export const QUEUES = {
  /** Stored inbound messages to parse → map → validate → persist. jobId = message id, or `batch-<first id>` for a group commit's messages. */
  ingest: 'ingest',
  /** Repeatable maintenance jobs: sweeper, partition upkeep. */
  maintenance: 'maintenance',
  /** Support-console jobs: reprocess every message matching a search (progress in console_jobs). */
  console: 'console',
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

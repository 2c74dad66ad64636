/** Every BullMQ queue name, in one place. A job carries only the message id; Postgres holds the rest. */
export const QUEUES = {
  /** Stored inbound messages to parse → map → validate → persist. jobId = message id. */
  ingest: 'ingest',
  /** Repeatable maintenance jobs: sweeper, partition upkeep. */
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Data of an `ingest` job. */
export interface IngestJobData {
  messageId: string;
  connectorId: string;
}

import client from 'prom-client';
import type { ThreadMetric } from '../pipeline/worker-threads';

/** Prometheus metrics of one process (served at /metrics). */
export class HubMetrics {
  readonly registry = new client.Registry();
  readonly receipts = new client.Counter({ name: 'lotbridge_ingest_receipts_total', help: 'Inbound messages by connector and receipt status', labelNames: ['connector', 'status'] as const, registers: [this.registry] });
  readonly ingestLatency = new client.Histogram({
    name: 'lotbridge_ingest_store_seconds', help: 'Time from request to committed store (the ACK latency)', labelNames: ['connector'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly processed = new client.Counter({ name: 'lotbridge_pipeline_outcomes_total', help: 'Pipeline outcomes by status', labelNames: ['status'] as const, registers: [this.registry] });
  readonly received = new client.Counter({ name: 'lotbridge_messages_received_total', help: 'Inbound messages stored, by connector (every receipt: accepted, duplicate, rejected)', labelNames: ['connector'] as const, registers: [this.registry] });
  readonly acked = new client.Counter({ name: 'lotbridge_messages_acked_total', help: 'Inbound messages answered positively (accepted or duplicate), by connector', labelNames: ['connector'] as const, registers: [this.registry] });
  readonly rejected = new client.Counter({ name: 'lotbridge_messages_rejected_total', help: 'Inbound messages rejected at intake, by connector', labelNames: ['connector'] as const, registers: [this.registry] });
  readonly jobSeconds = new client.Histogram({
    name: 'lotbridge_pipeline_job_seconds', help: 'Run time of ingest jobs and local hand-off batches (one message or a group-commit batch), by outcome', labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'lotbridge_process_' });
  }

  /** Records an observation of the pipeline (made in this thread or reported by a worker thread). */
  observe(m: ThreadMetric): void {
    if (m.kind === 'outcome') this.processed.inc({ status: m.status });
    else this.jobSeconds.observe({ outcome: m.outcome }, m.seconds);
  }

  /** A gauge whose value is read at scrape time. */
  gauge(name: string, help: string, labelNames: string[], collect: (set: (labels: Record<string, string>, v: number) => void) => Promise<void>): void {
    new client.Gauge({
      name, help, labelNames, registers: [this.registry],
      async collect() {
        this.reset();
        await collect((labels, v) => this.set(labels, v));
      },
    });
  }
}

import { type Job } from 'bullmq';
import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import { LotBridgeError } from '../errors';
import type { HubQueue, HubWorker, QueueKit } from '../pipeline/queue-kit';
import { QUEUES, type RouteJobData } from '../pipeline/queues';
import { matchesEventType, matchesGlob, routingOf, type EventRouting } from '../routing/event-pattern';
import { plainPayload } from '../ingest/stored-payload';
import { decodeHl7Bytes, hl7CharsetEncoding } from '../parsers/hl7/hl7-charset';
import type { PhiProtector } from '../security/phi';
import type { EventSubscriber, RouteTicket } from './bridge';

interface Pending {
  nodeId: string;
  resolve(by: string): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Options of {@link RouteConsumer}. */
export interface RouteConsumerOptions {
  db: Db;
  kit: QueueKit;
  phi: PhiProtector;
  logger: Logger;
  /** Route jobs handled at once. */
  concurrency: number;
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** False while flows are (re)starting: a job waits for them, so no event is completed by a flow being deployed. */
  isOpen?(): boolean;
}

/**
 * Feeds lotbridge-event nodes from the `route` queue, at least once: a job stays active until each
 * matching node's flow completed the event (lotbridge-done, or lotbridge-deliver queued it); a flow
 * error (a node's done(err), a Catch node receiving it) or the node's timeout fails the attempt,
 * and BullMQ retries it with backoff — only to the nodes that have not completed it yet — until its
 * attempts are spent and it rests in the queue's failed jobs. A process killed mid-flow loses its
 * lock; the job returns as stalled and is delivered again.
 */
export class RouteConsumer {
  readonly queue: HubQueue;
  private worker?: HubWorker;
  private readonly subs = new Map<string, EventSubscriber>();
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(private readonly opts: RouteConsumerOptions) {
    this.queue = opts.kit.queue(QUEUES.route, { producer: true });
  }

  /** Registers a lotbridge-event node. */
  subscribe(sub: EventSubscriber): () => void {
    this.subs.set(sub.id, sub);
    return () => {
      if (this.subs.get(sub.id) === sub) {
        this.subs.delete(sub.id);
      }
    };
  }

  /** True when some registered node listens to this event (the outbox relay skips the others). */
  wants(type: string, routing: EventRouting): boolean {
    return this.matching(type, routing).length > 0;
  }

  /** Number of registered event nodes. */
  get subscribers(): number {
    return this.subs.size;
  }

  /** Completes (ok) or fails one node's share of a route job; false when the ticket is unknown or already settled. */
  complete(ticket: RouteTicket | undefined, result: { ok: true; by: string } | { ok: false; error: Error; by: string }): boolean {
    if (!ticket || typeof ticket.token !== 'string') {
      return false;
    }
    const p = this.pending.get(ticket.token);
    if (!p) {
      return false;
    }
    this.pending.delete(ticket.token);
    clearTimeout(p.timer);
    if (result.ok) {
      p.resolve(result.by);
    } else {
      p.reject(result.error);
    }
    return true;
  }

  /** Starts the `route` worker. */
  async start(): Promise<void> {
    const log = this.opts.logger.child({ scope: 'route' });
    this.worker = this.opts.kit.worker<RouteJobData>(QUEUES.route, (job) => this.process(job as Job<RouteJobData>), {
      concurrency: this.opts.concurrency,
      stalledInterval: this.opts.stalledIntervalMs ?? 30000,
      lockDuration: this.opts.lockDurationMs ?? 30000,
      maxStalledCount: 10,
    });
    this.worker.on('error', (...args: unknown[]) => log.warn({ err: args[0] }, 'route worker error'));
    this.worker.on('failed', (...args: unknown[]) => {
      const [job, err] = args as [Job<RouteJobData> | undefined, Error];
      log.warn({ eventId: job?.data.eventId, type: job?.data.type, attemptsMade: job?.attemptsMade, err: err?.message }, 'route attempt failed');
    });
    await this.worker.waitUntilReady();
  }

  private matching(type: string, { connectorId, messageType }: EventRouting): EventSubscriber[] {
    return [...this.subs.values()].filter(
      (s) => s.patterns.some((p) => matchesEventType(p, type)) && matchesGlob(s.connector, connectorId) && matchesGlob(s.messageType, messageType),
    );
  }

  private async rawOf(data: RouteJobData): Promise<string | undefined> {
    const id = typeof data.payload?.messageId === 'string' ? data.payload.messageId : data.sourceMessageId;
    if (!id) {
      return undefined;
    }
    const row = await this.opts.db('inbound_messages').where({ id }).first();
    const bytes = row ? plainPayload(row, this.opts.phi) : null;
    if (!bytes) {
      return undefined;
    }
    // `encoding` is what intake read the bytes with: for HL7 its MSH-18 spelling (`8859/1`, `8859/2`, …)
    const encoding = String(row.encoding ?? '');
    const known = encoding ? hl7CharsetEncoding(encoding) : undefined;
    if (known) return decodeHl7Bytes(bytes, known);
    return bytes.toString(/^(latin1|iso-?8859-1)$/i.test(encoding) ? 'latin1' : 'utf8');
  }

  private async process(job: Job<RouteJobData>): Promise<Record<string, unknown>> {
    const data = job.data;
    for (let waited = 0; this.opts.isOpen && !this.opts.isOpen(); waited += 50) {
      if (waited > 30_000) {
        throw new LotBridgeError('LB_ERR_FLOW_FAILED', `flows did not start within 30 s; event ${data.eventId} is retried`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const done = new Set(data.completed ?? []);
    const targets = this.matching(data.type, routingOf(data.payload)).filter((s) => !done.has(s.id));
    if (targets.length === 0) {
      return { eventId: data.eventId, matched: done.size, sent: 0 };
    }
    const attempt = job.attemptsMade + 1;
    const raw = targets.some((t) => t.includeRaw) ? await this.rawOf(data) : undefined;
    const results = await Promise.allSettled(
      targets.map(
        (s) =>
          new Promise<string>((resolve, reject) => {
            const ticket: RouteTicket = { token: `${job.id}/${attempt}/${s.id}`, eventId: data.eventId };
            const timer = setTimeout(() => {
              this.pending.delete(ticket.token);
              reject(new LotBridgeError('LB_ERR_FLOW_TIMEOUT', `no lotbridge-done or lotbridge-deliver finished event ${data.eventId} (${data.type}) within ${s.timeoutMs} ms`));
            }, s.timeoutMs);
            this.pending.set(ticket.token, { nodeId: s.id, resolve, reject, timer });
            const msg: Record<string, unknown> = {
              _msgid: undefined,
              topic: data.type,
              payload: data.payload,
              eventId: data.eventId,
              event: { id: data.eventId, type: data.type, sourceMessageId: data.sourceMessageId, ordinal: data.ordinal, createdAt: data.createdAt, attempt },
              _lotbridge: ticket,
            };
            delete msg._msgid;
            if (s.includeRaw && raw !== undefined) {
              msg.raw = raw;
            }
            try {
              s.emit(msg);
            } catch (err) {
              this.complete(ticket, { ok: false, error: err as Error, by: s.id });
            }
          }),
      ),
    );
    const ok = targets.filter((_, i) => results[i].status === 'fulfilled').map((s) => s.id);
    if (ok.length > 0) {
      await job.updateData({ ...data, completed: [...done, ...ok] });
    }
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ node: targets[i].id, error: r.reason as Error }] : []));
    if (failed.length > 0) {
      const first = failed[0].error;
      const code = first instanceof LotBridgeError ? first.code : 'LB_ERR_FLOW_FAILED';
      throw new LotBridgeError(code, `event ${data.eventId} (${data.type}) attempt ${attempt}: ${failed.map((f) => `node ${f.node}: ${f.error.message}`).join('; ')}`, { cause: first });
    }
    return { eventId: data.eventId, sent: targets.length };
  }

  /** Stops the worker; events in flight fail their attempt and come back later. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const [token, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new LotBridgeError('LB_ERR_FLOW_FAILED', 'the hub is stopping'));
      this.pending.delete(token);
    }
    await this.worker?.close();
    await this.queue.close();
  }
}

import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { LotBridgeError, classifyError, isLotBridgeError } from '../errors';
import type { Logger } from '../logging/logger';
import type { ConnectorAdapter, IngestPort, IngestReceipt, ProcessingVerdict, RawInbound, StoredAck } from '../connectors/types';
import type { LotBridgeErrorJson } from '../errors';
import { GroupCommit } from './group-commit';
import type { PhiProtector } from '../security/phi';
import { markNotQueued, sha256Hex, storeInboundMessage, storeInboundMessages, type NewMessage, type StoreOutcome } from './message-store';
import { rawNamed } from '../db/named-statement';

/** Puts a stored message on the `ingest` queue (jobId = message id). */
export type Enqueue = (messageId: string, jobName: string, opts: { connectorId: string; fifoGroup?: string }) => Promise<void>;

/** One message to put on the `ingest` queue. */
export interface EnqueueItem {
  messageId: string;
  jobName: string;
  connectorId: string;
  fifoGroup?: string;
}

/** Puts the messages of one group commit on the `ingest` queue (as one job when there are several). */
export type EnqueueMany = (items: EnqueueItem[]) => Promise<void>;

interface PendingStore {
  message: NewMessage;
  queue: EnqueueItem;
}

export interface IngestServiceDeps {
  db: Db;
  /**
   * A pool whose commits do not wait for the WAL flush (createDb asyncCommit), for the records of
   * ACKs already sent: one statement per flush instead of a transaction around SET LOCAL.
   */
  asyncDb?: Db;
  logger: Logger;
  /** Running connector instances by id. */
  connectors: ReadonlyMap<string, ConnectorAdapter>;
  enqueue: Enqueue;
  /** Enqueues a group commit's messages at once; defaults to `enqueue` per message. */
  enqueueMany?: EnqueueMany;
  maxBodyBytes: number;
  /**
   * Group commit of the message store: batch size (default 200) and flushes at once. The hub passes
   * LOTBRIDGE_INTAKE_FLUSHES (default 2: a message arriving during a flush starts its own instead of
   * waiting behind it; docs/architecture.md, "Intake flushes"); without it, one at a time.
   */
  groupCommit?: { maxBatch?: number; maxInFlight?: number };
  /**
   * The local hand-off (LOTBRIDGE_PIPELINE_HANDOFF): takes what it can of a group commit's stored
   * messages straight to this process's pipeline and returns the rest, which are enqueued.
   */
  handOff?: (items: EnqueueItem[]) => EnqueueItem[];
  /** Encrypts payloads of connectors with `encryptPayload` (PHI). */
  phi?: PhiProtector;
  /** Observes every receipt (metrics). */
  onReceipt?: (connectorId: string, receipt: IngestReceipt, durationMs: number) => void;
}

/**
 * The hub's IngestPort: store first (raw bytes, envelope, dedup key, in one committed transaction),
 * then enqueue. A failed enqueue (Redis down) leaves the message `received`; the sweeper queues it
 * later, so the receipt is still `accepted`: the bytes are safe. A database failure throws a
 * transient LB_ERR_SERVICE_UNAVAILABLE and nothing may be acknowledged.
 */
export class IngestService implements IngestPort {
  private readonly writer: GroupCommit<PendingStore, StoreOutcome>;
  private readonly ackWriter: GroupCommit<{ messageId: string; ack: StoredAck }, void>;
  private readonly verdictWaiters = new Map<string, Array<(v: ProcessingVerdict) => void>>();
  private verdictTimer?: NodeJS.Timeout;

  constructor(private readonly deps: IngestServiceDeps) {
    this.writer = new GroupCommit((items) => this.storeAndEnqueue(items), {
      maxBatch: deps.groupCommit?.maxBatch ?? 200,
      maxInFlight: deps.groupCommit?.maxInFlight ?? 1,
    });
    this.ackWriter = new GroupCommit(async (items) => {
      // last one wins for a message acknowledged twice in one flush
      const latest = new Map(items.map((i) => [i.messageId, i.ack]));
      // the record of an ACK already sent needs no WAL flush of its own (a crash can lose the last
      // ones: a resend then gets a freshly built ACK); it must not add flushes the intake waits behind
      const insert = (q: Db | Knex.Transaction) => rawNamed(q,
        `INSERT INTO message_acks (message_id, ack) SELECT * FROM unnest(?::uuid[], ?::jsonb[])
         ON CONFLICT (message_id) DO UPDATE SET ack = EXCLUDED.ack, created_at = now()`,
        [[...latest.keys()], [...latest.values()].map((a) => JSON.stringify(a))] as unknown as string[],
      );
      if (this.deps.asyncDb) {
        await insert(this.deps.asyncDb);
      } else {
        await this.deps.db.transaction(async (trx) => {
          await trx.raw('SET LOCAL synchronous_commit TO OFF');
          await insert(trx);
        });
      }
      return items.map(() => ({ status: 'fulfilled' as const, value: undefined }));
    }, { maxBatch: 500, maxInFlight: 1, lingerMs: 20 });
  }

  recordAck(messageId: string, ack: StoredAck): Promise<void> {
    return this.ackWriter.submit({ messageId, ack }).catch((err: unknown) => {
      this.deps.logger.warn({ err, scope: 'ingest', messageId }, 'could not keep the acknowledgement sent for a message');
    });
  }

  async ackOf(messageId: string): Promise<StoredAck | undefined> {
    const row = await this.deps.db('message_acks').where({ message_id: messageId }).first<{ ack: StoredAck } | undefined>('ack');
    return row?.ack;
  }

  /**
   * Waits for a message's verdict. One poller serves every waiter: a single query per tick for all
   * messages awaited (the worker may run in another process, so the row is the source of truth).
   */
  awaitVerdict(messageId: string, timeoutMs: number): Promise<ProcessingVerdict> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (v: ProcessingVerdict): void => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        const list = this.verdictWaiters.get(messageId)?.filter((f) => f !== finish) ?? [];
        if (list.length > 0) this.verdictWaiters.set(messageId, list);
        else this.verdictWaiters.delete(messageId);
        finish({ status: 'timeout' });
      }, timeoutMs);
      const list = this.verdictWaiters.get(messageId) ?? [];
      list.push(finish);
      this.verdictWaiters.set(messageId, list);
      this.pollVerdicts();
    });
  }

  private pollVerdicts(): void {
    if (this.verdictTimer || this.verdictWaiters.size === 0) {
      return;
    }
    this.verdictTimer = setTimeout(() => {
      const ids = [...this.verdictWaiters.keys()];
      void this.deps.db('inbound_messages')
        .whereIn('id', ids)
        .whereIn('status', ['processed', 'routed', 'rejected', 'failed', 'duplicate'])
        .select<Array<{ id: string; status: ProcessingVerdict['status']; error_code: string | null; error_message: string | null; error_location: Record<string, unknown> | null }>>('id', 'status', 'error_code', 'error_message', 'error_location')
        .then((rows) => {
          for (const r of rows) {
            const waiters = this.verdictWaiters.get(r.id) ?? [];
            this.verdictWaiters.delete(r.id);
            const error = r.error_code ? ({ code: r.error_code, message: r.error_message ?? '', ...(r.error_location ? { location: r.error_location } : {}) } as LotBridgeErrorJson) : undefined;
            waiters.forEach((w) => w({ status: r.status, ...(error ? { error } : {}) }));
          }
        })
        .catch((err: unknown) => this.deps.logger.warn({ err, scope: 'ingest' }, 'could not poll message verdicts'))
        .finally(() => {
          this.verdictTimer = undefined;
          this.pollVerdicts();
        });
    }, 20);
    this.verdictTimer.unref();
  }

  /** Group-commit statistics (flushes, messages, largest batch, flush times). */
  get groupCommitStats(): GroupCommit<PendingStore, StoreOutcome>['stats'] {
    return { ...this.writer.stats };
  }

  /**
   * Writes one group commit: every message in one statement; when that fails, each on its own so
   * one bad row cannot fail the others. Then the stored ones are enqueued together; an enqueue
   * failure leaves them `received` for the sweeper (their receipts still say accepted: they are safe).
   */
  private async storeAndEnqueue(items: PendingStore[]): Promise<Array<PromiseSettledResult<StoreOutcome>>> {
    let outcomes: Array<PromiseSettledResult<StoreOutcome>>;
    try {
      const stored = await storeInboundMessages(this.deps.db, items.map((i) => i.message));
      outcomes = stored.map((value) => ({ status: 'fulfilled', value }));
    } catch (err) {
      if (items.length === 1) {
        return [{ status: 'rejected', reason: err }];
      }
      outcomes = await Promise.allSettled(items.map((i) => storeInboundMessage(this.deps.db, i.message)));
    }
    const queued: EnqueueItem[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled' && o.value.kind === 'stored') {
        queued.push({ ...items[i].queue, messageId: o.value.id });
      }
    });
    if (queued.length > 0 && this.deps.logger.isLevelEnabled('info')) {
      // one line per flush (a message's own line is at debug): search the log for a message id
      this.deps.logger.info({ scope: 'ingest', stored: queued.length, flushed: items.length, connectors: [...new Set(queued.map((q) => q.connectorId))], messageIds: queued.map((q) => q.messageId) }, 'messages stored');
    }
    let toQueue = queued;
    if (queued.length > 0 && this.deps.handOff) {
      // straight to the local pipeline (committed `queued` rows: a crash leaves them to the sweeper)
      try {
        toQueue = this.deps.handOff(queued);
      } catch (err) {
        this.deps.logger.warn({ err, scope: 'ingest' }, 'local hand-off failed; the messages go on the queue');
      }
    }
    if (toQueue.length > 0) {
      // the receipts do not wait for the queue: the messages are durable already, and a failed
      // enqueue only leaves them `received` for the sweeper
      const p = this.enqueue(toQueue);
      this.enqueuing.add(p);
      void p.finally(() => this.enqueuing.delete(p));
    }
    return outcomes;
  }

  private readonly enqueuing = new Set<Promise<void>>();

  private async enqueue(queued: EnqueueItem[]): Promise<void> {
    try {
      if (this.deps.enqueueMany) {
        await this.deps.enqueueMany(queued);
      } else {
        for (const q of queued) {
          await this.deps.enqueue(q.messageId, q.jobName, { connectorId: q.connectorId, fifoGroup: q.fifoGroup });
        }
      }
    } catch (err) {
      const ids = queued.map((q) => q.messageId);
      this.deps.logger.warn({ err, scope: 'ingest', messageIds: ids.slice(0, 20), count: ids.length }, 'messages stored but not queued; the sweeper will queue them');
      await markNotQueued(this.deps.db, ids).catch((e: unknown) => this.deps.logger.warn({ err: e, scope: 'ingest' }, 'could not mark the messages received'));
    }
  }

  /** Resolves when every submitted message is stored and enqueued (graceful stop). */
  async drained(): Promise<void> {
    await this.writer.drained();
    await Promise.all([...this.enqueuing]);
    await this.ackWriter.drained();
  }

  async receive(connectorId: string, raw: RawInbound): Promise<IngestReceipt> {
    const started = performance.now();
    const connector = this.deps.connectors.get(connectorId);
    if (!connector) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_NOT_FOUND', `no connector instance "${connectorId}"`);
    }
    // bindings per call, not a child logger per message (a child serializes its bindings at once)
    const log = this.deps.logger;
    const at = { scope: 'ingest', connectorId };
    const oversize = raw.oversizeBytes !== undefined || raw.payload.length > this.deps.maxBodyBytes;
    let rejection: LotBridgeError | undefined;
    let info: ReturnType<ConnectorAdapter['readEnvelope']> = {};
    if (oversize) {
      const size = raw.oversizeBytes ?? raw.payload.length;
      // a transport with a limit of its own (MLLP maxMessageBytes) names that limit in its rejection
      rejection = raw.rejection ?? new LotBridgeError(
        'LB_ERR_INGEST_TOO_LARGE',
        `message body of ${size} bytes is over the limit of ${this.deps.maxBodyBytes} bytes; only its metadata was stored`,
        { details: { sizeBytes: size, limitBytes: this.deps.maxBodyBytes } },
      );
      // its head (an MLLP frame's first 64 KiB, an HTTP body's head) still shows type, sender and
      // control id, so the rejection can be found by them; the bytes are not stored
      const head = raw.payload.length > 0 ? raw.payload.subarray(0, 64 * 1024) : raw.head;
      if (head && head.length > 0) {
        try {
          const seen = connector.readEnvelope({ ...raw, payload: head });
          info = { messageType: seen.messageType, sender: seen.sender, receiver: seen.receiver, controlId: seen.controlId };
        } catch {
          info = {};
        }
      }
    } else if (raw.rejection) {
      rejection = raw.rejection;
      // a transport-level rejection (unframed or truncated bytes) still shows what its header says, so the
      // stored message can be found by type, sender and control id; it claims no dedup key all the same
      if (raw.payload.length > 0) {
        try {
          const seen = connector.readEnvelope(raw);
          info = { messageType: seen.messageType, sender: seen.sender, receiver: seen.receiver, controlId: seen.controlId };
        } catch {
          info = {};
        }
      }
    } else if (raw.payload.length === 0) {
      rejection = new LotBridgeError('LB_ERR_INGEST_EMPTY', 'message body is empty', { location: { position: 0 } });
    } else {
      try {
        info = connector.readEnvelope(raw);
      } catch (err) {
        // readEnvelope must not throw; if it does, it is a connector bug, but the message is still stored
        log.error({ ...at, err }, 'connector envelope reader threw');
        rejection = isLotBridgeError(err)
          ? err
          : new LotBridgeError('LB_ERR_INTERNAL', 'the connector could not read the message envelope', { cause: err });
      }
      rejection ??= info.error;
    }
    const sizeBytes = raw.oversizeBytes ?? raw.payload.length;
    let payload: Buffer | null = oversize ? null : raw.payload;
    let sha256: string | undefined;
    const envelope: Record<string, string> = { ...raw.envelope };
    if (payload && connector.encryptPayload) {
      if (!this.deps.phi) {
        throw new LotBridgeError('LB_ERR_INTERNAL', `connector ${connectorId} stores PHI but the hub has no PHI protector`);
      }
      // the raw message holds patient identifiers: it is stored encrypted, its hash is of the plain bytes
      sha256 = sha256Hex(payload);
      payload = this.deps.phi.encrypt(payload);
      envelope.payloadEncryption = `phi:${this.deps.phi.keyId}`;
    }
    let outcome: StoreOutcome;
    try {
      outcome = await this.writer.submit({
        message: {
          connectorId,
          connectorKind: connector.kind,
          format: raw.format,
          transport: raw.transport,
          messageType: info.messageType,
          sender: info.sender,
          receiver: info.receiver,
          controlId: info.controlId,
          // an edited copy (console edit-and-reprocess) is never a duplicate of its original; two identical edits are
          dedupKey: raw.envelope.editOf ? `edit:${raw.envelope.editOf}:${sha256 ?? sha256Hex(raw.payload)}` : info.dedupKey,
          payload,
          sha256,
          sizeBytes,
          contentType: raw.contentType,
          encoding: raw.encoding,
          envelope,
          receivedAt: raw.receivedAt,
          rejection: rejection?.toJSON(),
        },
        queue: { messageId: '', jobName: info.messageType ?? raw.format, connectorId, fifoGroup: info.sender },
      });
    } catch (err) {
      const kind = classifyError(err);
      log.error({ ...at, err, kind }, 'message could not be stored');
      throw new LotBridgeError(
        kind === 'transient' ? 'LB_ERR_SERVICE_UNAVAILABLE' : 'LB_ERR_INTERNAL',
        kind === 'transient' ? 'the message store (PostgreSQL) is unavailable; nothing was stored, send again later' : 'the message could not be stored',
        { cause: err, kind: kind === 'transient' ? 'transient' : 'defect' },
      );
    }
    let receipt: IngestReceipt;
    if (outcome.kind === 'rejected') {
      receipt = { status: 'rejected', messageId: outcome.id, error: outcome.error };
      log.warn({ ...at, messageId: outcome.id, code: outcome.error.code, location: outcome.error.location }, 'message rejected at intake');
    } else if (outcome.kind === 'duplicate') {
      receipt = { status: 'duplicate', messageId: outcome.id, duplicateOf: outcome.duplicateOf };
      log.info({ ...at, messageId: outcome.id, duplicateOf: outcome.duplicateOf, controlId: info.controlId }, 'duplicate message stored');
    } else {
      receipt = { status: 'accepted', messageId: outcome.id };
      log.debug({ ...at, messageId: outcome.id, messageType: info.messageType, controlId: info.controlId, sizeBytes }, 'message stored');
    }
    this.deps.onReceipt?.(connectorId, receipt, performance.now() - started);
    return receipt;
  }
}

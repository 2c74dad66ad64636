import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { LotBridgeError, classifyError, isLotBridgeError, type ErrorKind, type LotBridgeErrorJson } from '../errors';
import type { Logger } from '../logging/logger';
import { schemaRegistry, describeAjvErrors } from '../schemas/registry';
import { TERMINAL_STATUSES, type DbInboundMessageRow } from '../ingest/message-store';
import type { AuditEntry, HandlerResult, MessageHandler, ProcessContext, StoredMessage } from './handler';
import type { MessageFormat } from '../connectors/types';
import { LINEAGE_TABLES } from '../api/routes/messages.routes';
import { plainPayload } from '../ingest/stored-payload';
import type { SharedCache } from './shared-cache';
import type { PhiProtector } from '../security/phi';
import { rawNamed } from '../db/named-statement';

/** What happened to one processing attempt. */
export type ProcessOutcome =
  | { status: 'processed' | 'routed' | 'rejected'; recordErrors?: number }
  | { status: 'skipped'; reason: string }
  | { status: 'retry'; error: unknown }
  | { status: 'wait'; reason: string }
  | { status: 'failed'; error: LotBridgeErrorJson; kind: ErrorKind };

export interface ProcessDeps {
  db: Db;
  logger: Logger;
  /** Handler per connector kind; a kind without one is `routed` (stored and handed to flows). */
  handlers: ReadonlyMap<string, MessageHandler>;
  /** IANA zone per connector id (connector override or LOTBRIDGE_TIMEZONE). */
  timezoneOf(connectorId: string): string;
  /** Connector ids whose messages from one sender are processed strictly in receipt order. */
  fifoConnectors?: ReadonlySet<string>;
  /** Observes each attempt's outcome (metrics). */
  onOutcome?(status: string): void;
  /** Opens payloads stored encrypted (connectors carrying PHI). */
  phi?: PhiProtector;
  /**
   * A batch also claims up to this many other queued first attempts (FOR UPDATE SKIP LOCKED), so a
   * backlog is mapped in few large transactions; their own jobs then find them done. 0 = off.
   */
  claimUpTo?: number;
  /** Master data kept across transactions (one per process). */
  shared?: SharedCache;
}

function toStored(row: DbInboundMessageRow, phi: PhiProtector | undefined): StoredMessage {
  return {
    id: row.id,
    connectorId: row.connector_id,
    connectorKind: row.connector_kind,
    format: row.format as MessageFormat,
    messageType: row.message_type,
    sender: row.sender,
    controlId: row.control_id,
    receivedAt: row.received_at,
    payload: plainPayload(row, phi) ?? Buffer.alloc(0),
    contentType: row.content_type,
    encoding: row.encoding,
    envelope: row.envelope ?? {},
  };
}

/** Parallel audit chains per connector: rows chain within `pipeline:<connector>:<shard>`. */
export const AUDIT_CHAIN_SHARDS = 16;

/**
 * The audit chain of a message's rows. A chain is appended under a lock held until COMMIT, so one
 * chain per connector would serialise every worker; the message id (UUIDv7, random tail) spreads
 * messages over AUDIT_CHAIN_SHARDS chains, each verifiable on its own.
 */
export function auditChainOf(connectorId: string, messageId: string): string {
  const shard = parseInt(messageId.replace(/-/g, '').slice(-4), 16) % AUDIT_CHAIN_SHARDS;
  return `pipeline:${connectorId}:${shard.toString().padStart(2, '0')}`;
}

/** Outbox and audit rows buffered by ProcessContexts, written last by writeProcessSink. */
export interface ProcessSink {
  outbox: Array<{ type: string; payload: Record<string, unknown>; ordinal: number; messageId: string }>;
  audits: Array<AuditEntry & { messageId: string; connectorId: string }>;
}

export function newProcessSink(): ProcessSink {
  return { outbox: [], audits: [] };
}

/**
 * The columns of `inbound_messages` a batch reads, listed: the row locks are named prepared
 * statements, and with `SELECT *` a column a newer hub's migration adds while this process runs
 * would change their result type — PostgreSQL then refuses them on every connection that prepared
 * them ("cached plan must not change result type") until the process restarts.
 */
const MESSAGE_COLUMNS =
  'id, connector_id, connector_kind, format, transport, message_type, sender, receiver, control_id, dedup_key, sha256, size_bytes, payload, content_type, encoding, envelope, received_at, status, attempts, error_code, error_message, error_location, record_errors, result, ack, duplicate_of, processed_at, updated_at, edit_of, resolved_at, resolved_by, resolution_note';
/** A batch's row lock, in receipt order. */
export const LOCK_MESSAGES_SQL = `SELECT ${MESSAGE_COLUMNS} FROM inbound_messages WHERE id = ANY(?::uuid[]) ORDER BY received_at, id FOR UPDATE`;
/** The same for a local hand-off batch: rows another batch holds are skipped (see processBatch). */
export const LOCK_MESSAGES_SKIP_LOCKED_SQL = `${LOCK_MESSAGES_SQL} SKIP LOCKED`;

/** The outbox rows of a sink as the arrays of OUTBOX_UNNEST. */
function outboxArrays(sink: ProcessSink): unknown[][] {
  return [sink.outbox.map(() => uuidv7()), sink.outbox.map((o) => o.type), sink.outbox.map((o) => JSON.stringify(o.payload)), sink.outbox.map((o) => o.messageId), sink.outbox.map((o) => o.ordinal)];
}

/** The audit rows of a sink as the arrays of AUDIT_INSERT: rows of one chain in message order; chains sorted so concurrent batches take chain locks in one order. */
function auditArrays(sink: ProcessSink): unknown[][] {
  // each row's chain computed once (a batch sorts hundreds of rows; the sort is stable)
  const rows = sink.audits.map((a) => ({ ...a, chain: auditChainOf(a.connectorId, a.messageId) })).sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return [
    rows.map((a) => a.chain),
    rows.map((a) => `connector:${a.connectorId}`),
    rows.map((a) => a.action),
    rows.map((a) => a.entityType),
    rows.map((a) => a.entityId ?? null),
    rows.map((a) => (a.before === undefined ? null : JSON.stringify(a.before))),
    rows.map((a) => (a.after === undefined ? null : JSON.stringify(a.after))),
    rows.map((a) => a.reason ?? null),
    rows.map((a) => a.messageId),
  ];
}

const OUTBOX_INSERT = `INSERT INTO outbox_events (event_id, type, payload, source_message_id, ordinal)
       SELECT * FROM unnest(?::uuid[], ?::text[], ?::jsonb[], ?::uuid[], ?::int[])
       ON CONFLICT (source_message_id, ordinal) DO NOTHING`;

/** Audit rows in array order (unnest WITH ORDINALITY): the hash chain trigger sees them in that order. */
const AUDIT_INSERT = `INSERT INTO audit_log (chain, actor, action, entity_type, entity_id, before, after, reason, source_message_id)
       SELECT chain, actor, action, entity_type, entity_id, before, after, reason, source_message_id
         FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::jsonb[], ?::jsonb[], ?::text[], ?::uuid[])
              WITH ORDINALITY AS a(chain, actor, action, entity_type, entity_id, before, after, reason, source_message_id, n)
        ORDER BY n`;

/**
 * Writes buffered outbox and audit rows: one statement each, however many messages they belong to.
 * Call it last, so the audit chain locks are held from here to COMMIT only.
 */
export async function writeProcessSink(trx: Knex.Transaction, sink: ProcessSink): Promise<void> {
  if (sink.outbox.length > 0) {
    await rawNamed(trx, OUTBOX_INSERT, outboxArrays(sink));
  }
  if (sink.audits.length > 0) {
    await rawNamed(trx, AUDIT_INSERT, auditArrays(sink));
  }
}

/**
 * The end of a batch in ONE statement (data-modifying CTEs; one round trip instead of three): every
 * mapped message's status, the outbox rows and the audit rows (the audit insert is the statement's
 * own, so the chain locks are taken in it, last, and held to COMMIT only). Empty arrays write nothing.
 */
const BATCH_END = `WITH s AS (
         UPDATE inbound_messages m
            SET attempts = m.attempts + 1, status = v.status, message_type = coalesce(v.message_type, m.message_type),
                record_errors = v.record_errors, result = v.result, error_code = NULL, error_message = NULL, error_location = NULL,
                processed_at = clock_timestamp(), updated_at = now()
           FROM unnest(?::uuid[], ?::timestamptz[], ?::text[], ?::text[], ?::jsonb[], ?::jsonb[]) AS v(id, received_at, status, message_type, record_errors, result)
          WHERE m.id = v.id AND m.received_at = v.received_at
         RETURNING 1
       ), o AS (
         ${OUTBOX_INSERT}
         RETURNING 1
       )
       ${AUDIT_INSERT}`;

async function writeBatchEnd(trx: Knex.Transaction, results: Array<{ row: DbInboundMessageRow; res: HandlerResult }>, sink: ProcessSink): Promise<void> {
  await rawNamed(trx, BATCH_END, [
    results.map((r) => r.row.id),
    results.map((r) => r.row.received_at),
    results.map((r) => r.res.status),
    results.map((r) => r.res.messageType ?? null),
    results.map((r) => (r.res.recordErrors && r.res.recordErrors.length > 0 ? JSON.stringify(r.res.recordErrors) : null)),
    results.map((r) => (r.res.summary ? JSON.stringify(r.res.summary) : null)),
    ...outboxArrays(sink),
    ...auditArrays(sink),
  ]);
}

/** The ProcessContext of one attempt: ordinals, validation, outbox and audit buffered to the end. */
export function createProcessContext(
  trx: Knex.Transaction,
  message: StoredMessage,
  timezone: string,
  logger: Logger,
  opts: {
    /** First ordinal of this attempt's rows (after those of an earlier attempt). */
    firstOrdinal?: number;
    /** Outbox and audit rows of the whole batch (default: this message's own). */
    sink?: ProcessSink;
    /** The transaction's memo, shared by the messages of a batch. */
    cache?: Map<string, unknown>;
    shared?: SharedCache;
  } = {},
): ProcessContext & { flush(): Promise<void> } {
  const { firstOrdinal = 1, sink = newProcessSink(), cache = new Map<string, unknown>(), shared } = opts;
  let ordinal = firstOrdinal - 1;
  let outboxOrdinal = firstOrdinal - 1;
  const registry = schemaRegistry();
  return {
    trx,
    message,
    timezone,
    logger,
    cache,
    shared,
    nextOrdinal: () => ++ordinal,
    validate<T>(schemaId: string, value: T): T {
      const fn = registry.get(schemaId);
      if (!fn(value)) {
        throw new LotBridgeError('LB_ERR_PIPELINE_SCHEMA_VIOLATION', `mapper output does not match ${schemaId}: ${describeAjvErrors(fn.errors)}`, {
          details: { schemaId, errors: fn.errors },
        });
      }
      return value;
    },
    emit(type: string, payload: Record<string, unknown>): Promise<void> {
      sink.outbox.push({ type, payload, ordinal: ++outboxOrdinal, messageId: message.id });
      return Promise.resolve();
    },
    audit(entry: AuditEntry): Promise<void> {
      sink.audits.push({ ...entry, messageId: message.id, connectorId: message.connectorId });
      return Promise.resolve();
    },
    /** Writes the buffered outbox and audit rows last, so the audit chain lock is held only until COMMIT. */
    flush(): Promise<void> {
      return writeProcessSink(trx, sink);
    },
  };
}

/**
 * One attempt at one message: lock its row, skip it when already terminal, run the connector kind's
 * handler in one transaction with its audit and outbox rows, and record the outcome. Input errors
 * reject the message (and free its dedup key so a corrected resend gets in); transient errors are
 * left for a retry (`final` marks the message failed instead); defects fail it.
 */
export async function processMessage(deps: ProcessDeps, messageId: string, attempt: { final: boolean }): Promise<ProcessOutcome> {
  const { db } = deps;
  const log = deps.logger.child({ scope: 'pipeline', messageId });
  const started = performance.now();
  try {
    const result = await db.transaction(async (trx): Promise<HandlerResult | { skip: string } | { wait: string }> => {
      // Workers run on a pool whose commits do not wait for the WAL flush (createDb asyncCommit):
      // the raw message is already durable (intake commits synchronously), and a crash can only
      // lose a suffix of these transactions — their messages fall back to `queued` and the sweeper
      // replays them, idempotently.
      const row = await trx<DbInboundMessageRow>('inbound_messages').where({ id: messageId }).forUpdate().first();
      if (!row) {
        return { skip: 'no such message' };
      }
      if (TERMINAL_STATUSES.includes(row.status)) {
        return { skip: `already ${row.status}` };
      }
      if (deps.fifoConnectors?.has(row.connector_id)) {
        // FIFO: an earlier message of the same sender that is still open goes first (failed ones do not block)
        const earlier = await trx('inbound_messages')
          .where({ connector_id: row.connector_id })
          .whereRaw("coalesce(sender, '') = ?", [row.sender ?? ''])
          .whereIn('status', ['received', 'queued'])
          .where((b) => b.where('received_at', '<', row.received_at).orWhere((c) => c.where('received_at', '=', row.received_at).andWhere('id', '<', messageId)))
          .first('id');
        if (earlier) {
          return { wait: `waiting for earlier message ${(earlier as { id: string }).id} of the same sender` };
        }
      }
      const message = toStored(row, deps.phi);
      const handler = deps.handlers.get(row.connector_kind);
      if (handler && !handler.processMany) {
        // the same per-kind turn as a batch of this kind takes (see processBatch): no deadlock on shared rows
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`lotbridge:map:${row.connector_kind}`]);
      }
      // A message that went through before (a reprocess) may own rows already: its records already
      // applied are skipped, so the ordinals of this run shift and would hit those rows' keys (the
      // insert is then silently ignored and a newly applicable record lost). Ordinals continue after
      // them. Rows exist only when an earlier attempt committed, and that attempt counted in `attempts`.
      const firstOrdinal = row.attempts > 0 ? (await maxOrdinalOf(trx, messageId)) + 1 : 1;
      const ctx = createProcessContext(trx, message, deps.timezoneOf(row.connector_id), log, { firstOrdinal, shared: deps.shared });
      const res: HandlerResult = handler ? await handler.process(ctx) : { status: 'routed', summary: { reason: `no canonical mapping for connector kind ${row.connector_kind}` } };
      await ctx.emit(res.status === 'routed' ? 'message.routed' : 'message.processed', {
        messageId, connectorId: row.connector_id, messageType: res.messageType ?? row.message_type, recordErrors: res.recordErrors?.length ?? 0,
      });
      await ctx.audit({ action: `message.${res.status}`, entityType: 'inbound_message', entityId: messageId, after: { status: res.status, summary: res.summary ?? null } });
      // a message that failed before and now went through: its failure alert is resolved
      if (row.attempts > 0) await trx('alerts').where({ type: 'message_failed', subject_id: messageId, status: 'open' }).update({ status: 'closed', closed_at: trx.fn.now() });
      await trx('inbound_messages').where({ id: messageId }).update({
        attempts: trx.raw('attempts + 1'),
        status: res.status,
        message_type: res.messageType ?? row.message_type,
        record_errors: res.recordErrors && res.recordErrors.length > 0 ? JSON.stringify(res.recordErrors) : null,
        result: res.summary ? JSON.stringify(res.summary) : null,
        error_code: null, error_message: null, error_location: null,
        processed_at: trx.raw('clock_timestamp()'),
        updated_at: trx.fn.now(),
      });
      await ctx.flush(); // last: the audit chain lock is held from here to COMMIT only
      return res;
    });
    if ('skip' in result) {
      return { status: 'skipped', reason: result.skip };
    }
    if ('wait' in result) {
      return { status: 'wait', reason: result.wait };
    }
    log.info({ status: result.status, durationMs: Math.round(performance.now() - started), recordErrors: result.recordErrors?.length ?? 0 }, 'message processed');
    return { status: result.status, recordErrors: result.recordErrors?.length };
  } catch (err) {
    const kind = classifyError(err);
    if (kind === 'transient' && !attempt.final) {
      log.warn({ err, kind }, 'transient error; the job will be retried');
      await recordError(deps, messageId, null, errorJson(err)).catch(() => undefined);
      return { status: 'retry', error: err };
    }
    const json =
      kind === 'transient'
        ? new LotBridgeError('LB_ERR_PIPELINE_ATTEMPTS_EXHAUSTED', `gave up after the last attempt: ${(err as Error).message}`, { cause: err }).toJSON()
        : errorJson(err);
    if (kind === 'input') {
      log.warn({ code: json.code, location: json.location }, 'message rejected');
      await recordError(deps, messageId, 'rejected', json);
      return { status: 'rejected' };
    }
    log.error({ err, code: json.code, kind }, 'message failed');
    await recordError(deps, messageId, 'failed', json);
    return { status: 'failed', error: json, kind };
  }
}

/** The highest ordinal of any canonical row of a message (0 when it has none). */
async function maxOrdinalOf(trx: Knex.Transaction, messageId: string): Promise<number> {
  const parts = LINEAGE_TABLES.map((t) => `SELECT max(ordinal) AS o FROM ${t} WHERE source_message_id = ?`).join(' UNION ALL ');
  const r = await trx.raw<{ rows: Array<{ o: number | null }> }>(`SELECT coalesce(max(o), 0) AS o FROM (${parts}) m`, LINEAGE_TABLES.map(() => messageId));
  return Number(r.rows[0].o);
}

function errorJson(err: unknown): LotBridgeErrorJson {
  if (isLotBridgeError(err)) {
    return err.toJSON();
  }
  return { code: 'LB_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

async function recordError(deps: ProcessDeps, messageId: string, status: 'rejected' | 'failed' | null, e: LotBridgeErrorJson): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const row = await trx<DbInboundMessageRow>('inbound_messages').where({ id: messageId }).forUpdate().first();
    if (!row || TERMINAL_STATUSES.includes(row.status)) {
      return;
    }
    await trx('inbound_messages').where({ id: messageId }).update({
      ...(status ? { status, processed_at: trx.fn.now() } : {}),
      attempts: trx.raw('attempts + 1'),
      error_code: e.code,
      error_message: e.message,
      error_location: e.location ? JSON.stringify(e.location) : null,
      record_errors: e.details && Array.isArray(e.details.errors) ? JSON.stringify(e.details.errors) : null,
      updated_at: trx.fn.now(),
    });
    if (status === 'rejected' && !deps.handlers.get(row.connector_kind)?.contentAddressedDedup) {
      // a rejected message holds no dedup key: the sender's corrected resend is a new message
      // (kinds whose key covers the content keep it: a corrected resend has another key anyway,
      // and an identical one is a duplicate answered as the first — no second rejection)
      await trx('message_dedup').where({ message_id: messageId }).delete();
    }
    if (status) {
      await trx('audit_log').insert({
        chain: auditChainOf(row.connector_id, messageId), actor: `connector:${row.connector_id}`, action: `message.${status}`,
        entity_type: 'inbound_message', entity_id: messageId, after: JSON.stringify({ status, code: e.code, location: e.location ?? null }), source_message_id: messageId,
      });
    }
    if (status) {
      // flows hear of it (message.failed), and the connector may answer the sender (an HL7 application ACK)
      const events: Array<{ type: string; payload: Record<string, unknown> }> = [
        { type: 'message.failed', payload: { messageId, connectorId: row.connector_id, messageType: row.message_type, status, code: e.code, message: e.message, location: e.location ?? null } },
      ];
      const handler = deps.handlers.get(row.connector_kind);
      if (handler?.onFailure && row.payload) {
        try {
          events.push(...handler.onFailure(toStored(row, deps.phi), status, e));
        } catch (err) {
          deps.logger.warn({ err, messageId }, 'the connector could not build its failure answer');
        }
      }
      if (handler?.onFailureTx && row.payload) {
        try {
          const more = await trx.transaction((sp) => handler.onFailureTx!(sp, toStored(row, deps.phi), status, e));
          events.push(...more);
        } catch (err) {
          deps.logger.warn({ err, messageId }, 'the connector could not write its failure answer');
        }
      }
      await trx.raw(
        `INSERT INTO outbox_events (event_id, type, payload, source_message_id, ordinal)
         SELECT x.event_id, x.type, x.payload, ?::uuid, (SELECT coalesce(max(ordinal), 0) FROM outbox_events WHERE source_message_id = ?::uuid) + x.n
           FROM unnest(?::uuid[], ?::text[], ?::jsonb[]) WITH ORDINALITY AS x(event_id, type, payload, n)
         ON CONFLICT (source_message_id, ordinal) DO NOTHING`,
        [messageId, messageId, events.map(() => uuidv7()), events.map((ev) => ev.type), events.map((ev) => JSON.stringify(ev.payload))] as unknown as string[],
      );
    }
    if (status === 'failed') {
      await trx('alerts').insert({
        id: uuidv7(), type: 'message_failed', severity: 'critical', subject_type: 'message', subject_id: messageId,
        message: `message ${messageId} (${row.connector_id}${row.message_type ? `, ${row.message_type}` : ''}) failed: ${e.code} ${e.message}`.slice(0, 2000),
        details: JSON.stringify({ code: e.code, location: e.location ?? null }), dedup_key: `message_failed:${messageId}`,
      }).onConflict(trx.raw("(dedup_key) WHERE status = 'open' AND dedup_key IS NOT NULL")).ignore();
    }
  });
}

/** The outcome of one message of a batch. */
export interface BatchOutcome {
  messageId: string;
  outcome: ProcessOutcome;
}

/**
 * A group commit's messages in ONE canonical transaction: their rows locked in one statement, each
 * mapped by its handler in receipt order, then every status update, outbox event and audit row
 * written in one statement each, and one COMMIT. Set-up and bookkeeping cost is shared, so a batch
 * of N messages costs far fewer round trips than N single attempts.
 *
 * Optimistic: the batch runs without savepoints. If any message throws (bad input, a deadlock, a
 * bug), the whole transaction is rolled back and every message goes through processMessage on its
 * own — each then gets its own verdict (rejected, retried, failed) exactly as if it had come alone.
 * Messages of FIFO connectors and messages that were attempted before (a reprocess, a retry) always
 * take the single path: the first need their per-sender order check, the second their ordinals
 * continued after rows an earlier attempt committed.
 */
export async function processBatch(
  deps: ProcessDeps,
  messageIds: readonly string[],
  attempt: {
    final: boolean;
    /**
     * false: only these messages — no read of which are still open, no claim of others (the local
     * hand-off: its messages were stored a moment ago and have no job another worker could run).
     */
    claim?: boolean;
  },
): Promise<BatchOutcome[]> {
  let unique = [...new Set(messageIds)];
  const claimUpTo = attempt.claim === false ? 0 : deps.claimUpTo ?? 0;
  if (unique.length === 1 && !claimUpTo) {
    return [{ messageId: unique[0], outcome: await processMessage(deps, unique[0], attempt) }];
  }
  const outcomes = new Map<string, ProcessOutcome>();
  if (claimUpTo) {
    // messages another batch claimed are usually done by now: one read, no transaction, for those
    const open = new Set(
      (await deps.db('inbound_messages').whereIn('id', unique).whereNotIn('status', TERMINAL_STATUSES).select<Array<{ id: string }>>('id')).map((r) => r.id),
    );
    for (const id of unique) {
      if (!open.has(id)) outcomes.set(id, { status: 'skipped', reason: 'already done' });
    }
    unique = unique.filter((id) => open.has(id));
    if (unique.length === 0) {
      return messageIds.filter((id, i) => messageIds.indexOf(id) === i).map((id) => ({ messageId: id, outcome: outcomes.get(id) as ProcessOutcome }));
    }
  }
  const log = deps.logger.child({ scope: 'pipeline', batchSize: unique.length });
  const started = performance.now();
  let single: string[] = [];
  let claimed = 0;
  try {
    const done = await deps.db.transaction(async (trx) => {
      // Without claims (the local hand-off) rows another batch holds are skipped, not waited for: a
      // queue batch's claim may have taken a handed-off message a moment ago, and waiting for its
      // COMMIT stalled the local pipeline (tens of ms per batch, measured). Those messages go on the
      // queue (`wait`), where their job finds them done, or maps them if that batch rolled back.
      const rows = (await rawNamed<{ rows: DbInboundMessageRow[] }>(trx, claimUpTo === 0 && attempt.claim === false ? LOCK_MESSAGES_SKIP_LOCKED_SQL : LOCK_MESSAGES_SQL, [unique])).rows;
      const room = claimUpTo - rows.length;
      if (room > 0) {
        // a backlog: take more queued first attempts that no other worker holds (their jobs will skip them)
        const fifo = [...(deps.fifoConnectors ?? [])];
        const more = await trx<DbInboundMessageRow>('inbound_messages')
          .where({ status: 'queued', attempts: 0 })
          .whereNotIn('id', unique)
          .modify((q) => {
            if (fifo.length > 0) void q.whereNotIn('connector_id', fifo);
          })
          .orderBy('received_at')
          .limit(room)
          .forUpdate()
          .skipLocked();
        for (const r of more) {
          rows.push(r);
          unique.push(r.id);
        }
        claimed = more.length;
        // receipt order across the job's own and the claimed messages (movements and counts depend on it)
        rows.sort((a, b) => a.received_at.getTime() - b.received_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      }
      const found = new Set(rows.map((r) => r.id));
      for (const id of unique) {
        if (!found.has(id)) {
          outcomes.set(id, attempt.claim === false ? { status: 'wait', reason: 'held by another batch' } : { status: 'skipped', reason: 'no such message' });
        }
      }
      const sink = newProcessSink();
      const cache = new Map<string, unknown>();
      const results: Array<{ row: DbInboundMessageRow; res: HandlerResult }> = [];
      single = [];
      const todo: Array<{ row: DbInboundMessageRow; ctx: ProcessContext }> = [];
      for (const row of rows) {
        if (TERMINAL_STATUSES.includes(row.status)) {
          outcomes.set(row.id, { status: 'skipped', reason: `already ${row.status}` });
          continue;
        }
        if (row.attempts > 0 || deps.fifoConnectors?.has(row.connector_id)) {
          single.push(row.id);
          continue;
        }
        const ctx = createProcessContext(trx, toStored(row, deps.phi), deps.timezoneOf(row.connector_id), log.child({ messageId: row.id }), { sink, cache, shared: deps.shared });
        todo.push({ row, ctx });
      }
      // handlers that map set-based take all their messages at once; the others one by one, in receipt order
      const resultOf = new Map<string, HandlerResult>();
      const kinds = [...new Set(todo.map((t) => t.row.connector_kind))];
      for (const kind of kinds) {
        const handler = deps.handlers.get(kind);
        const mine = todo.filter((t) => t.row.connector_kind === kind);
        if (handler?.processMany && mine.length > 1) {
          const many = await handler.processMany(mine.map((t) => t.ctx));
          mine.forEach((t, i) => resultOf.set(t.row.id, many[i]));
          continue;
        }
        if (handler) {
          // a handler that maps one message after another books rows (balances, lots) in message
          // order; two batches doing so at once deadlock on rows they share. One batch per kind at
          // a time (taken after the message rows, which no other batch waits for: claims skip locked ones).
          await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`lotbridge:map:${kind}`]);
        }
        for (const t of mine) {
          resultOf.set(t.row.id, handler ? await handler.process(t.ctx) : { status: 'routed', summary: { reason: `no canonical mapping for connector kind ${kind}` } });
        }
      }
      for (const { row, ctx } of todo) {
        const res = resultOf.get(row.id) as HandlerResult;
        await ctx.emit(res.status === 'routed' ? 'message.routed' : 'message.processed', {
          messageId: row.id, connectorId: row.connector_id, messageType: res.messageType ?? row.message_type, recordErrors: res.recordErrors?.length ?? 0,
        });
        await ctx.audit({ action: `message.${res.status}`, entityType: 'inbound_message', entityId: row.id, after: { status: res.status, summary: res.summary ?? null } });
        results.push({ row, res });
      }
      // statuses, outbox and audit rows in one statement, last: the audit chain locks are held from here to COMMIT only
      await writeBatchEnd(trx, results, sink);
      return results;
    });
    const ms = Math.round(performance.now() - started);
    // one line per batch (a line per message cost about as much CPU as mapping it: serialise, redact,
    // and from a worker thread a hop to the main thread's stdout); each id is in the line, so a
    // search for a message id still finds it. Per message at debug.
    const counts: Record<string, number> = {};
    const withRecordErrors: string[] = [];
    const debug = log.isLevelEnabled('debug');
    for (const { row, res } of done) {
      outcomes.set(row.id, { status: res.status, recordErrors: res.recordErrors?.length });
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      if (res.recordErrors && res.recordErrors.length > 0) withRecordErrors.push(row.id);
      if (debug) log.debug({ messageId: row.id, status: res.status, batchMs: ms, recordErrors: res.recordErrors?.length ?? 0 }, 'message processed');
    }
    if (done.length > 0) {
      log.info({ messages: unique.length, mapped: done.length, single: single.length, claimed, batchMs: ms, counts, messageIds: done.map((d) => d.row.id), ...(withRecordErrors.length > 0 ? { withRecordErrors } : {}) }, 'batch processed');
    } else {
      log.debug({ messages: unique.length, single: single.length, claimed, batchMs: ms }, 'batch committed');
    }
  } catch (err) {
    // one message (or the batch) failed: nothing of the batch committed; each message on its own
    log.info({ err: err instanceof Error ? err.message : String(err) }, 'batch rolled back; its messages are processed one by one');
    for (const id of unique) outcomes.delete(id);
    // every message of the batch on its own now, the claimed ones too (left to their own jobs, a
    // bad message would poison each next claim); a claimed message's retry is left to its own job
    single = [...unique];
  }
  const claimedIds = new Set(unique.slice(unique.length - claimed));
  for (const id of single) {
    const outcome = await processMessage(deps, id, claimedIds.has(id) ? { final: false } : attempt);
    outcomes.set(id, claimedIds.has(id) && outcome.status === 'retry' ? { status: 'skipped', reason: 'left to its own job for a retry' } : outcome);
  }
  const asked = [...new Set(messageIds)];
  const extra = unique.filter((id) => !asked.includes(id) && outcomes.has(id));
  return [...asked, ...extra].map((id) => ({ messageId: id, outcome: outcomes.get(id) ?? { status: 'skipped', reason: 'not processed' } }));
}

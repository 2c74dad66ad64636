import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/knex';
import type { HubQueue } from '../pipeline/queue-kit';
import type { PhiProtector } from '../security/phi';
import { LotBridgeError } from '../errors';
import { destinationKey, normalizeDestination, normalizePolicy, normalizeSecrets, type DeliveryPolicy, type DeliverySecrets, type Destination } from './destination';

/** What a flow node or a connector asks the `deliver` queue to send. */
export interface DeliveryRequest {
  /** Where to ({@link Destination}); validated here. */
  destination: Destination | Record<string, unknown>;
  /** The bytes to send (text is sent as UTF-8; an HL7 message for MLLP). */
  body: string | Buffer;
  /** Content-Type for HTTP (default application/json for an object turned to text by the caller, else application/octet-stream). */
  contentType?: string;
  /** Secret headers (Authorization …): kept encrypted, never in the clear on the row or in Redis. */
  secrets?: DeliverySecrets;
  /** Attempts, backoff, timeout, concurrency per destination. */
  policy?: DeliveryPolicy;
  /** Who asked: `flow:<node id>`, `connector:<id>`. */
  origin: string;
  /** A repeat of the same key returns the first delivery instead of sending twice (e.g. `<event id>:<node id>`). */
  idempotencyKey?: string;
  /** The outbox event behind the delivery: links it to the event's inbound message (lineage). */
  event?: { id: string; type: string; sourceMessageId?: string | null; ordinal?: number | null };
  /** The inbound message it answers, when there is no event (e.g. an HL7 application ACK). */
  sourceMessageId?: string;
}

/** The delivery row as the API and the nodes show it. */
export interface DeliveryView {
  id: string;
  status: 'queued' | 'delivering' | 'delivered' | 'failed' | 'skipped';
  kind: string;
  destination: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  ack: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  eventId: string | null;
  sourceMessageId: string | null;
  origin: string;
  createdAt: string;
  deliveredAt: string | null;
}

/** A row of `deliveries`. */
export interface DbDeliveryRow {
  id: string;
  idempotency_key: string | null;
  event_id: string | null;
  event_type: string | null;
  source_message_id: string | null;
  ordinal: number | null;
  origin: string;
  kind: 'http' | 'mllp' | 'file';
  destination_key: string;
  destination: Destination & { policy: Required<DeliveryPolicy> };
  request: Buffer;
  status: DeliveryView['status'];
  attempts: number;
  max_attempts: number;
  ack: Record<string, unknown> | null;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
}

/** The API view of a delivery row. */
export function deliveryView(r: DbDeliveryRow): DeliveryView {
  return {
    id: r.id,
    status: r.status,
    kind: r.kind,
    destination: r.destination as unknown as Record<string, unknown>,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    ack: r.ack,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    eventId: r.event_id,
    sourceMessageId: r.source_message_id,
    origin: r.origin,
    createdAt: new Date(r.created_at).toISOString(),
    deliveredAt: r.delivered_at ? new Date(r.delivered_at).toISOString() : null,
  };
}

/** The secret part of a delivery row (`request`), encrypted with the PHI key. */
interface SealedRequest {
  body: string;
  contentType?: string;
  secrets: DeliverySecrets;
}

/** Opens the encrypted request of a delivery row. */
export function openRequest(phi: PhiProtector, row: DbDeliveryRow): { body: Buffer; contentType?: string; secrets: DeliverySecrets } {
  const sealed = phi.decryptJson<SealedRequest>(row.request);
  return { body: Buffer.from(sealed.body, 'base64'), contentType: sealed.contentType, secrets: sealed.secrets };
}

/** Job options of a `deliver` job: jobId = delivery id, exponential backoff per the policy. */
export function deliverJobOptions(id: string, policy: Required<DeliveryPolicy>): Record<string, unknown> {
  return {
    jobId: id,
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs },
    removeOnComplete: true,
    removeOnFail: { age: 14 * 24 * 3600, count: 50000 },
  };
}

/** What {@link enqueueDelivery} needs. */
export interface EnqueueDeliveryDeps {
  db: Db;
  /** The `deliver` queue (QUEUES.deliver) of this process. */
  queue: HubQueue;
  /** Encrypts the body and secret headers on the row. */
  phi: PhiProtector;
}

/**
 * Records a delivery and queues it on the `deliver` queue (HTTP, MLLP, file; retries with
 * backoff; at most `policy.concurrency` sends per destination at once in a process). The row is
 * committed before the job is added: when the queue is down the row stays `queued` and the
 * delivery sweeper adds the job later, so nothing is lost. A repeat of an `idempotencyKey`
 * returns the existing delivery (`created: false`) and never sends twice.
 *
 * This is the entry point for connectors that send answers (HL7 application ACKs, X12 997/999,
 * EDIFACT CONTRL): see docs/nodered.md, "Deliveries from code".
 *
 * @param deps - database, deliver queue, PHI protector
 * @param req - destination, body, secrets, policy, origin, idempotency key, causing event
 * @returns the delivery view and whether it was created now
 * @throws LotBridgeError LB_ERR_DELIVERY_INVALID for a bad destination or policy (nothing is recorded)
 */
export async function enqueueDelivery(deps: EnqueueDeliveryDeps, req: DeliveryRequest): Promise<{ delivery: DeliveryView; created: boolean }> {
  const [r] = await enqueueDeliveries(deps, [req]);
  if (r instanceof Error) {
    throw r;
  }
  return r;
}

/** What a deliver job carries besides the id on its first attempt: the committed row's send data (body still encrypted). */
export interface DeliverJobSnapshot {
  kind: DbDeliveryRow['kind'];
  destinationKey: string;
  destination: DbDeliveryRow['destination'];
  /** `request` of the row (PHI-encrypted), base64. */
  request: string;
  eventId: string | null;
  maxAttempts: number;
}

/** The job data of a delivery: id, plus the snapshot so the first attempt need not read the row back. */
export function deliverJobData(r: DbDeliveryRow): { deliveryId: string; row: DeliverJobSnapshot } {
  return {
    deliveryId: r.id,
    row: { kind: r.kind, destinationKey: r.destination_key, destination: r.destination, request: Buffer.from(r.request).toString('base64'), eventId: r.event_id, maxAttempts: r.max_attempts },
  };
}

/**
 * {@link enqueueDelivery} for many requests at once (group commit): one INSERT for all rows (ON
 * CONFLICT on the idempotency key), one read for the keys that existed already, one bulk add of
 * the jobs after the commit. Each request answers on its own: a bad destination is its
 * LotBridgeError (in the answer array, nothing recorded for it); the others go on. A database
 * error fails the whole batch (throws): nothing of it was committed.
 */
export async function enqueueDeliveries(deps: EnqueueDeliveryDeps, reqs: DeliveryRequest[]): Promise<Array<{ delivery: DeliveryView; created: boolean } | Error>> {
  const out: Array<{ delivery: DeliveryView; created: boolean } | Error> = new Array(reqs.length);
  const rows: Array<Record<string, unknown> & { id: string; idempotency_key: string | null }> = [];
  const at: number[] = [];
  for (const [i, req] of reqs.entries()) {
    try {
      rows.push(prepareRow(deps.phi, req));
      at.push(i);
    } catch (err) {
      out[i] = err as Error;
    }
  }
  if (rows.length === 0) {
    return out;
  }
  const inserted = (await deps.db('deliveries').insert(rows).onConflict('idempotency_key').ignore().returning('*')) as DbDeliveryRow[];
  const byId = new Map(inserted.map((r) => [r.id, r]));
  const missingKeys = rows.filter((r) => !byId.has(r.id)).map((r) => r.idempotency_key as string);
  const byKey = new Map<string, DbDeliveryRow>();
  if (missingKeys.length > 0) {
    const existing = (await deps.db('deliveries').whereIn('idempotency_key', [...new Set(missingKeys)])) as DbDeliveryRow[];
    for (const r of existing) byKey.set(r.idempotency_key as string, r);
  }
  const jobs: Array<{ name: string; data: unknown; opts: Record<string, unknown> }> = [];
  const queued = new Set<string>();
  for (const [j, row] of rows.entries()) {
    const mine = byId.get(row.id);
    const stored = mine ?? byKey.get(row.idempotency_key as string);
    if (!stored) {
      out[at[j]] = new LotBridgeError('LB_ERR_INTERNAL', `delivery with idempotency key ${row.idempotency_key} neither inserted nor found`);
      continue;
    }
    if (stored.status === 'queued' && !queued.has(stored.id)) {
      queued.add(stored.id);
      jobs.push({ name: stored.kind, data: deliverJobData(stored), opts: deliverJobOptions(stored.id, stored.destination.policy) });
    }
    out[at[j]] = { delivery: deliveryView(stored), created: mine !== undefined };
  }
  if (jobs.length > 0) {
    if (deps.queue.addBulk) {
      await deps.queue.addBulk(jobs);
    } else {
      for (const job of jobs) await deps.queue.add(job.name, job.data as Record<string, unknown>, job.opts);
    }
  }
  return out;
}

function prepareRow(phi: PhiProtector, req: DeliveryRequest): Record<string, unknown> & { id: string; idempotency_key: string | null } {
  const destination = normalizeDestination(req.destination);
  const policy = normalizePolicy(req.policy);
  const secrets = normalizeSecrets(req.secrets);
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  if (!Buffer.isBuffer(body)) {
    throw new LotBridgeError('LB_ERR_DELIVERY_INVALID', 'the delivery body must be text or bytes', { location: { path: 'body' } });
  }
  if (destination.kind === 'mllp' && (body.includes(0x0b) || body.includes(0x1c))) {
    throw new LotBridgeError('LB_ERR_DELIVERY_INVALID', 'an MLLP body must not contain VT (0x0B) or FS (0x1C) bytes', { location: { path: 'body' } });
  }
  const sealed: SealedRequest = { body: body.toString('base64'), contentType: req.contentType, secrets };
  return {
    id: uuidv7(),
    idempotency_key: req.idempotencyKey ?? null,
    event_id: req.event?.id ?? null,
    event_type: req.event?.type ?? null,
    source_message_id: req.event?.sourceMessageId ?? req.sourceMessageId ?? null,
    ordinal: req.event?.ordinal ?? null,
    origin: req.origin,
    kind: destination.kind,
    destination_key: destinationKey(destination),
    destination: JSON.stringify({ ...destination, policy }),
    request: phi.encryptJson(sealed),
    max_attempts: policy.attempts,
  };
}

/**
 * Records a delivery that was not sent because its destination is not configured (a default flow
 * whose environment variable is unset): visible on the message as `skipped`, nothing queued.
 */
export async function recordSkippedDelivery(db: Db, req: Omit<DeliveryRequest, 'destination' | 'body'> & { kind: 'http' | 'mllp' | 'file'; reason: string }): Promise<DeliveryView> {
  const id = uuidv7();
  const rows = (await db('deliveries')
    .insert({
      id,
      idempotency_key: req.idempotencyKey ?? null,
      event_id: req.event?.id ?? null,
      event_type: req.event?.type ?? null,
      source_message_id: req.event?.sourceMessageId ?? req.sourceMessageId ?? null,
      ordinal: req.event?.ordinal ?? null,
      origin: req.origin,
      kind: req.kind,
      destination_key: 'unconfigured',
      destination: JSON.stringify({ kind: req.kind, configured: false }),
      request: Buffer.alloc(0),
      status: 'skipped',
      max_attempts: 0,
      error_message: req.reason,
    })
    .onConflict('idempotency_key')
    .ignore()
    .returning('*')) as DbDeliveryRow[];
  const row = rows[0] ?? ((await db('deliveries').where({ idempotency_key: req.idempotencyKey }).first()) as DbDeliveryRow);
  return deliveryView(row);
}

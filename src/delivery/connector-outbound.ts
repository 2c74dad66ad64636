import type { Db } from '../db/knex';
import { PollingRelay } from '../routing/polling-relay';
import type { Logger } from '../logging/logger';
import type { ConnectorInstanceConfig } from '../connectors/types';
import { isLotBridgeError } from '../errors';
import { matchesGlob } from '../routing/event-pattern';
import { recordSkippedDelivery, type DeliveryRequest, type DeliveryView } from './enqueue-delivery';
import type { DeliveryPolicy, DeliverySecrets } from './destination';
import type { PhiProtector } from '../security/phi';
import { encodeHl7Ack, hl7CharsetEncoding, readMsh } from '../parsers/hl7';

/** The bytes of an HL7 application ACK in the charset its MSH-18 (the inbound message's, echoed) names, as the connector writes its accept ACKs. */
function hl7AckBytes(raw: string): Buffer {
  const charset = readMsh(raw).charset;
  return encodeHl7Ack(raw, charset === undefined ? undefined : hl7CharsetEncoding(charset)?.decoder);
}

/** Outbox events a connector sends back to a partner through the `deliver` queue. */
export const CONNECTOR_DELIVERY_EVENTS = ['hl7.application_ack', 'edi.ack', 'edi.outbound'] as const;

/** The idempotency key of the delivery of an outbox event: one delivery per event, whoever polls. */
export const connectorDeliveryKey = (eventId: string): string => `outbox:${eventId}`;

/** One entry of the HL7 connector's `applicationAckDestinations`. */
export interface Hl7AckDestination {
  /** Glob on the sender, `MSH-3|MSH-4` as stored (e.g. `ORIS|STMARYS`, `ORIS|*`); `*` or absent = any. */
  sender?: string;
  destination: Record<string, unknown>;
  policy?: DeliveryPolicy;
}

interface OutboxRow {
  id: string;
  event_id: string;
  type: (typeof CONNECTOR_DELIVERY_EVENTS)[number];
  payload: Record<string, unknown>;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
}

/** What {@link ConnectorOutbound} needs. */
export interface ConnectorOutboundOptions {
  db: Db;
  /** Opens EDI partners' secret headers (`edi_partners.outbound_secrets`). */
  phi?: PhiProtector;
  /** Queues a delivery (DeliveryService.enqueue). */
  enqueue(req: DeliveryRequest): Promise<{ delivery: DeliveryView; created: boolean }>;
  /** The configured connector instances (HL7 `applicationAckDestinations`). */
  instances: readonly ConnectorInstanceConfig[];
  logger: Logger;
  /** Poll interval (ms). */
  pollMs: number;
  batchSize?: number;
  /**
   * How far back a poll looks past the previous one (ms), beside the start of the oldest transaction
   * then open (which covers transactions that commit late, however late): covers clock skew
   * between this process and PostgreSQL (default 1 min).
   */
  lookbackMs?: number;
}

/** A destination as partners and connectors write it: `kind`, or `type` (the EDI partners' field). */
function destinationOf(d: unknown): { destination: Record<string, unknown>; policy?: DeliveryPolicy } | undefined {
  if (!d || typeof d !== 'object' || Array.isArray(d)) {
    return undefined;
  }
  const { type, kind, policy, ...rest } = d as Record<string, unknown>;
  return { destination: { kind: kind ?? type, ...rest }, policy: policy && typeof policy === 'object' ? (policy as DeliveryPolicy) : undefined };
}

/**
 * Sends what connectors answer partners through the `deliver` queue (retries with backoff, outcome
 * on the row, listed on the source message): HL7 application ACKs (`hl7.application_ack`, to the
 * destination the HL7 connector's `applicationAckDestinations` names for the sender), EDI
 * acknowledgements (`edi.ack`: 997/999/TA1/CONTRL) and outbound documents (`edi.outbound`:
 * 850/856/ORDERS/DESADV), both to the partner's `outboundDestination`.
 *
 * It polls `outbox_events` for those types that have no delivery yet (idempotency key
 * `outbox:<event id>`), independently of the outbox relay's `dispatched_at`, so flows can still
 * listen to the same events. Each event becomes one delivery whichever process polls (the key is
 * unique: a race inserts one row), at least once (a crash before the insert finds the event again).
 * An event whose destination is not configured, or is invalid, is recorded as a `skipped` delivery
 * with the reason (visible on the message), so it is not looked at again.
 */
export class ConnectorOutbound extends PollingRelay {
  /** Created-at bound of the next poll; undefined: the first poll reads everything not yet delivered. */
  private since?: Date;

  constructor(private readonly opts: ConnectorOutboundOptions) {
    super({ pollMs: opts.pollMs, batchSize: opts.batchSize ?? 200, logger: opts.logger, what: 'connector deliveries' });
  }

  /** Turns one batch of undelivered connector events into deliveries; returns how many it took. */
  async tick(): Promise<number> {
    const limit = this.opts.batchSize ?? 200;
    const startedAt = Date.now();
    // Before this poll's snapshot: when the oldest transaction still open in this database began.
    // An event this poll cannot see yet belongs to a transaction open now, and its created_at (the
    // column's default now() is the transaction's start) is no earlier than that.
    const open = await this.opts.db.raw<{ rows: Array<{ t: Date | null }> }>(
      `SELECT min(xact_start) AS t FROM pg_stat_activity
        WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`,
    );
    const oldestOpen = open.rows[0]?.t ?? undefined;
    const r = await this.opts.db.raw<{ rows: OutboxRow[] }>(
      `SELECT e.id, e.event_id, e.type, e.payload, e.source_message_id, e.ordinal, e.created_at
         FROM outbox_events e
        WHERE e.type IN ('hl7.application_ack', 'edi.ack', 'edi.outbound')
          AND e.created_at >= ?
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.idempotency_key = 'outbox:' || e.event_id::text)
        ORDER BY e.created_at, e.id
        LIMIT ?`,
      [this.since ?? new Date(0), limit],
    );
    for (const row of r.rows) {
      await this.handle(row);
    }
    if (r.rows.length < limit) {
      // the next poll looks back past this one by lookbackMs (clock skew between this process and
      // PostgreSQL), and further to the oldest transaction that was open, however long it has been
      const next = startedAt - (this.opts.lookbackMs ?? 60_000);
      this.since = new Date(oldestOpen ? Math.min(next, new Date(oldestOpen).getTime()) : next);
    }
    return r.rows.length;
  }

  /**
   * The partner's secret headers as they are now (changed secrets apply to the next send queued), or
   * why they cannot be opened (another PHI key, a damaged blob): then the send is skipped with that
   * reason rather than sent without its credentials.
   */
  private async partnerSecrets(partnerId: unknown): Promise<{ secrets?: DeliverySecrets; error?: string }> {
    if (typeof partnerId !== 'string' || !/^[0-9a-f-]{36}$/i.test(partnerId)) return {};
    const row = await this.opts.db('edi_partners').where({ id: partnerId }).first<{ outbound_secrets: Buffer | null } | undefined>('outbound_secrets');
    if (!row?.outbound_secrets) return {};
    try {
      if (!this.opts.phi) throw new Error('this process has no PHI key');
      return { secrets: this.opts.phi.decryptJson<DeliverySecrets>(row.outbound_secrets) };
    } catch (err) {
      return { error: `partner ${partnerId}'s secret headers cannot be opened (${err instanceof Error ? err.message : String(err)}); set them again (PUT /api/v1/partners/${partnerId}) and resend` };
    }
  }

  private async handle(row: OutboxRow): Promise<void> {
    const p = row.payload;
    const event = { id: row.event_id, type: row.type, sourceMessageId: row.source_message_id, ordinal: row.ordinal };
    const key = connectorDeliveryKey(row.event_id);
    let origin: string;
    let body: string | Buffer | undefined;
    let contentType: string | undefined;
    let target: ReturnType<typeof destinationOf>;
    let sourceMessageId = row.source_message_id ?? undefined;
    let why = '';
    let secrets: DeliverySecrets | undefined;
    if (row.type === 'hl7.application_ack') {
      const connectorId = String(p.connectorId ?? '');
      origin = `connector:${connectorId}`;
      body = typeof p.raw === 'string' ? hl7AckBytes(p.raw) : undefined;
      sourceMessageId = sourceMessageId ?? (typeof p.messageId === 'string' ? p.messageId : undefined);
      const inst = this.opts.instances.find((i) => i.id === connectorId);
      const list = (Array.isArray(inst?.config.applicationAckDestinations) ? inst.config.applicationAckDestinations : []) as Hl7AckDestination[];
      const sender = typeof p.to === 'string' ? p.to : '';
      const hit = list.find((d) => matchesGlob(d.sender ?? '*', sender));
      target = hit ? destinationOf({ ...hit.destination, ...(hit.policy ? { policy: hit.policy } : {}) }) : undefined;
      why = `connector ${connectorId} names no applicationAckDestinations entry for sender ${sender || '(none)'}`;
    } else {
      const outId = String(p.outboundMessageId ?? '');
      const out = outId ? ((await this.opts.db('edi_outbound_messages').where({ id: outId }).first('raw', 'standard', 'type', 'inbound_message_id')) as { raw: string; standard: string; type: string; inbound_message_id: string | null } | undefined) : undefined;
      origin = `edi:${out?.type ?? String(p.ackType ?? p.type ?? '?')}`;
      body = out?.raw;
      contentType = out?.standard === 'edifact' ? 'application/edifact' : 'application/edi-x12';
      sourceMessageId = sourceMessageId ?? out?.inbound_message_id ?? (typeof p.inboundMessageId === 'string' ? p.inboundMessageId : undefined);
      target = destinationOf(p.destination);
      const opened = await this.partnerSecrets(p.partnerId);
      secrets = opened.secrets;
      why = `partner ${String(p.partnerId ?? '?')} has no outboundDestination`;
      if (!out) why = `no stored outbound message ${outId}`;
      if (opened.error && target) {
        why = opened.error;
        target = undefined;
      }
    }
    const kindOf = (t: typeof target): 'http' | 'mllp' | 'file' => {
      const k = t?.destination.kind;
      return k === 'mllp' || k === 'file' ? k : k === 'http' ? 'http' : row.type === 'hl7.application_ack' ? 'mllp' : 'http';
    };
    if (!target || body === undefined) {
      await recordSkippedDelivery(this.opts.db, { origin, idempotencyKey: key, event, sourceMessageId, kind: kindOf(target), reason: body === undefined && target ? `event ${row.event_id} carries nothing to send` : why });
      this.opts.logger.info({ eventId: row.event_id, type: row.type, reason: why }, 'connector delivery skipped: no destination');
      return;
    }
    try {
      await this.opts.enqueue({ destination: target.destination, body, contentType, policy: target.policy, origin, idempotencyKey: key, event, sourceMessageId, secrets });
    } catch (err) {
      if (isLotBridgeError(err) && err.code === 'LB_ERR_DELIVERY_INVALID') {
        await recordSkippedDelivery(this.opts.db, { origin, idempotencyKey: key, event, sourceMessageId, kind: kindOf(target), reason: `${err.code}: ${err.message}` });
        this.opts.logger.warn({ eventId: row.event_id, type: row.type, err: err.message }, 'connector delivery skipped: invalid destination');
        return;
      }
      throw err;
    }
  }
}

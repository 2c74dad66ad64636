import type { RowLineage } from '../../db/tables';
import { openAlert, type NewAlert } from '../../model/alerts/open-alert';
import { applyInventoryDelta } from '../../model/inventory/apply-inventory-delta';
import { findNextCount } from '../../model/inventory/find-next-count';
import { findOrCreateLocation } from '../../model/locations/find-or-create-location';
import { findMaterialByGtin, type MaterialByGtin } from '../../model/master-data/find-material-by-gtin';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import { insertTraceEvent, type NewTraceEventItem } from '../../model/trace/insert-trace-event';
import type { ProcessContext } from '../../pipeline/handler';
import type { StockState } from './wms-record.types';
import { closeClearedNegativeBalances } from '../../model/alerts/close-cleared-negative-balances';

/** $ids of the canonical schemas the WMS mapper's output is validated against. */
export const CANONICAL = {
  traceEvent: 'https://lotbridge.dev/schemas/canonical/trace-event.schema.json',
  inventoryChange: 'https://lotbridge.dev/schemas/canonical/inventory-change.schema.json',
  alert: 'https://lotbridge.dev/schemas/canonical/alert.schema.json',
  shipment: 'https://lotbridge.dev/schemas/canonical/shipment.schema.json',
  lot: 'https://lotbridge.dev/schemas/canonical/lot.schema.json',
  location: 'https://lotbridge.dev/schemas/canonical/location.schema.json',
  party: 'https://lotbridge.dev/schemas/canonical/party.schema.json',
  material: 'https://lotbridge.dev/schemas/canonical/material.schema.json',
} as const;

/** A trace event as the mapper builds it (validated against trace-event.schema.json). */
export interface CanonicalTraceEvent {
  eventType: 'ObjectEvent';
  action: 'ADD' | 'OBSERVE' | 'DELETE';
  bizStep: string;
  disposition: string | null;
  eventTime: string;
  eventTimeZoneOffset: string;
  location: string;
  bizTransactions: Array<{ type: string; value: string }>;
  sensorElementList: unknown[] | null;
  sourceKey: string;
  items: Array<{
    role: NewTraceEventItem['role'];
    materialId: string;
    lotId: string;
    serialId?: string;
    /** 14 digits; absent when the source names the item without a GTIN (an ASN line by part number). */
    gtin?: string;
    lotNumber: string;
    serial?: string;
    quantity: number;
    uom: string;
    baseQuantity: number;
  }>;
  details: Record<string, unknown>;
}

/** One booking of a balance change. */
export interface Booking {
  eventId: string;
  lotId: string;
  gtin: string;
  lotNumber: string;
  location: DbLocationRow;
  stockState: StockState;
  /** Signed, base units. */
  delta: number;
  eventTime: Date;
  /** `movement` or `count`. */
  reason: 'movement' | 'count';
  /** The material's base unit, for messages. */
  uom: string;
  /** The record's id, for messages. */
  recordId: string;
}

/** A balance change as reported in `inventory.moved` and the audit row. */
export interface BookedChange {
  location: string;
  stockState: StockState;
  delta: number;
  balance: number;
  /** Set when a later count had already seen this change: it was reversed at that count's time. */
  absorbedByCountAt?: string;
}

/** Counts shown on the message (HandlerResult.summary). */
export interface WmsSummary {
  records: number;
  applied: number;
  alreadyApplied: number;
  rejected: number;
  events: number;
  ledgerRows: number;
  alerts: number;
  created: { materials: number; lots: number; locations: number; parties: number; shipments: number };
}

/** The `negative_balance` alert of a booking that left its balance below zero (one open per lot/location/state). */
export function negativeBalanceAlert(
  b: Pick<Booking, 'lotId' | 'lotNumber' | 'gtin' | 'location' | 'stockState' | 'uom' | 'recordId'>,
  balance: number,
  feedName: string,
): NewAlert {
  return {
    type: 'negative_balance',
    severity: 'warning',
    subjectType: 'lot',
    subjectId: b.lotId,
    message: `lot ${b.lotNumber}${b.gtin ? ` (GTIN ${b.gtin})` : ''} at ${b.location.code} (${b.stockState}) is at ${balance}${b.uom ? ` ${b.uom}` : ''} after ${feedName} record ${b.recordId}`,
    details: { lotId: b.lotId, gtin: b.gtin, lotNumber: b.lotNumber, location: b.location.code, stockState: b.stockState, balance, recordId: b.recordId },
    dedupKey: `negative_balance:${b.lotId}:${b.location.id}:${b.stockState}`,
  };
}

function memo<T>(cache: Map<string, unknown>, key: string): Map<string, T> {
  let m = cache.get(key) as Map<string, T> | undefined;
  if (!m) {
    m = new Map<string, T>();
    cache.set(key, m);
  }
  return m;
}

/**
 * The WMS mapper's side of a ProcessContext: lineage for new rows, canonical validation before
 * each write, alerts with their outbox event and audit row, and ledger bookings (with the
 * count rules). One per message.
 */
export class WmsWriter {
  /** `(source_message_id, ordinal)` of new rows. */
  readonly lineage: RowLineage;
  /** What the message did so far. */
  readonly summary: WmsSummary;
  /** Locations and materials found, memoized for the transaction (shared by the messages of a batch). */
  private readonly locations: Map<string, DbLocationRow>;
  private readonly materials: Map<string, MaterialByGtin>;

  /**
   * @param ctx - the pipeline's context of this message
   * @param records - how many records the body holds
   */
  constructor(
    readonly ctx: ProcessContext,
    records: number,
    /** How alerts and messages name the feed (`WMS`, `HL7`). */
    readonly feedName = 'WMS',
  ) {
    this.lineage = { sourceMessageId: ctx.message.id, nextOrdinal: () => ctx.nextOrdinal() };
    this.locations = memo<DbLocationRow>(ctx.cache, 'wms:locations');
    this.materials = memo<MaterialByGtin>(ctx.cache, 'wms:materials');
    this.summary = {
      records,
      applied: 0,
      alreadyApplied: 0,
      rejected: 0,
      events: 0,
      ledgerRows: 0,
      alerts: 0,
      created: { materials: 0, lots: 0, locations: 0, parties: 0, shipments: 0 },
    };
  }

  /** The connector instance the message came from. */
  get connectorId(): string {
    return this.ctx.message.connectorId;
  }

  /**
   * The location with this code, created as a provisional bin when unknown (memoized per transaction).
   * @param code - the location code
   */
  async location(code: string): Promise<DbLocationRow> {
    const known = this.locations.get(code) ?? this.ctx.shared?.get<DbLocationRow>(`location:${code}`);
    if (known) {
      this.locations.set(code, known);
      return known;
    }
    const { row, created } = await findOrCreateLocation(this.ctx.trx, code, this.lineage);
    if (!created) {
      this.ctx.shared?.set(`location:${code}`, row);
    }
    if (created) {
      this.ctx.validate(CANONICAL.location, { id: row.id, code: row.code, kind: row.kind, provisional: true });
      this.summary.created.locations++;
      await this.ctx.audit({ action: 'location.create_provisional', entityType: 'location', entityId: row.id, after: { code: row.code, kind: row.kind, provisional: true } });
    }
    this.locations.set(code, row);
    return row;
  }

  /**
   * The material that owns a GTIN (any packaging level), memoized per transaction once found.
   * @param gtin - 14 digits
   * @param fresh - look it up again even when memoized
   */
  async materialByGtin(gtin: string, fresh = false): Promise<MaterialByGtin | undefined> {
    const known = fresh ? undefined : (this.materials.get(gtin) ?? this.ctx.shared?.get<MaterialByGtin>(`material:${gtin}`));
    if (known) {
      this.materials.set(gtin, known);
      return known;
    }
    const found = await findMaterialByGtin(this.ctx.trx, gtin);
    if (found) {
      this.materials.set(gtin, found);
      if (!fresh) {
        // a first look-up finds only rows this transaction did not create (it creates after a miss)
        this.ctx.shared?.set(`material:${gtin}`, found);
      }
    }
    return found;
  }

  /**
   * Validates and inserts a trace event with its items.
   * @param event - the canonical event
   * @param locationId - id of `event.location`
   * @param readPoint - where it was read, when that differs from the location (e.g. a move's source)
   * @returns the event id, or undefined when its source key was recorded meanwhile (nothing written)
   */
  async recordEvent(event: CanonicalTraceEvent, locationId: string, readPoint: string | null): Promise<string | undefined> {
    this.ctx.validate(CANONICAL.traceEvent, event);
    const id = await insertTraceEvent(
      this.ctx.trx,
      {
        type: event.eventType,
        action: event.action,
        biz_step: event.bizStep,
        disposition: event.disposition,
        event_time: new Date(event.eventTime),
        event_time_zone_offset: event.eventTimeZoneOffset,
        location_id: locationId,
        read_point: readPoint,
        biz_transactions: event.bizTransactions,
        sensor_readings: event.sensorElementList,
        details: event.details,
        source_key: event.sourceKey,
        source_message_id: this.ctx.message.id,
        ordinal: this.ctx.nextOrdinal(),
      },
      event.items.map((i) => ({
        role: i.role,
        material_id: i.materialId,
        lot_id: i.lotId,
        serial_id: i.serialId ?? null,
        quantity: i.quantity,
        uom: i.uom,
        base_quantity: i.baseQuantity,
      })),
    );
    if (id !== undefined) {
      this.summary.events++;
    }
    return id;
  }

  /**
   * Books a balance change through the ledger. When a count of the same lot/location/state was
   * booked at or after this change's time (strictly after, for a count), that count already saw
   * the change: it is reversed at the count's time, so a late message never breaks a count.
   * A balance that ends below zero opens a `negative_balance` alert; one that was below zero and
   * is not any more closes it.
   * @param b - the change
   */
  async book(b: Booking): Promise<BookedChange> {
    const key = { lotId: b.lotId, locationId: b.location.id, stockState: b.stockState };
    let balance = await this.ledger(b, b.delta, b.eventTime, b.reason);
    const change: BookedChange = { location: b.location.code, stockState: b.stockState, delta: b.delta, balance };
    if (b.delta !== 0) {
      const count = await findNextCount(this.ctx.trx, key, b.eventTime, b.reason === 'count');
      if (count && count.eventId !== b.eventId) {
        balance = await this.ledger(b, -b.delta, count.eventTime, 'count_absorbed');
        change.balance = balance;
        change.absorbedByCountAt = count.eventTime.toISOString();
      }
    }
    if (balance < 0) {
      await this.alert(negativeBalanceAlert(b, balance, this.feedName));
    } else if (change.balance - b.delta < 0) {
      // the balance was below zero before this change and is not now: its alert is closed
      await closeClearedNegativeBalances(this.ctx.trx, [b.lotId]);
    }
    return change;
  }

  private async ledger(b: Booking, delta: number, at: Date, reason: 'movement' | 'count' | 'count_absorbed'): Promise<number> {
    this.ctx.validate(CANONICAL.inventoryChange, {
      eventId: b.eventId,
      lotId: b.lotId,
      locationId: b.location.id,
      location: b.location.code,
      // an ASN cancellation books per lot and knows no GTIN ('')
      ...(b.gtin ? { gtin: b.gtin } : {}),
      lotNumber: b.lotNumber,
      stockState: b.stockState,
      delta,
      eventTime: at.toISOString(),
      reason,
    });
    this.summary.ledgerRows++;
    return applyInventoryDelta(this.ctx.trx, {
      eventId: b.eventId,
      lotId: b.lotId,
      locationId: b.location.id,
      stockState: b.stockState,
      delta,
      eventTime: at,
      sourceMessageId: this.ctx.message.id,
      ordinal: this.ctx.nextOrdinal(),
    });
  }

  /**
   * Opens an alert (unless one with its dedup key is open) with its `alert.opened` outbox event and audit row.
   * @param a - the alert
   * @returns the alert id, or undefined when an open alert with that key exists
   */
  async alert(a: NewAlert): Promise<string | undefined> {
    this.validateAlert(a);
    const id = await openAlert(this.ctx.trx, a, this.lineage);
    if (id !== undefined) {
      await this.alertOpened(a, id);
    }
    return id;
  }

  /** Validates an alert against the canonical schema (before it is written, alone or in a batch). */
  validateAlert(a: NewAlert): void {
    this.ctx.validate(CANONICAL.alert, {
      type: a.type,
      severity: a.severity,
      subjectType: a.subjectType,
      subjectId: a.subjectId,
      message: a.message.slice(0, 2000),
      details: a.details,
      dedupKey: a.dedupKey,
      status: 'open',
    });
  }

  /** What follows an alert written (alone or in a batch): the count, its `alert.opened` outbox event and audit row. */
  async alertOpened(a: NewAlert, id: string): Promise<void> {
    this.summary.alerts++;
    await this.ctx.emit('alert.opened', { alertId: id, type: a.type, severity: a.severity, subjectType: a.subjectType, subjectId: a.subjectId, message: a.message });
    await this.ctx.audit({ action: 'alert.open', entityType: 'alert', entityId: id, after: { type: a.type, severity: a.severity, subjectId: a.subjectId, dedupKey: a.dedupKey } });
  }
}

import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbLotRow, LotStatus, RowLineage } from '../../db/tables';
import { LotBridgeError } from '../../errors';
import type { NewAlert } from '../../model/alerts/open-alert';
import { openAlerts } from '../../model/alerts/open-alerts';
import { findNextCounts } from '../../model/inventory/find-next-count';
import { findOrCreateLocation } from '../../model/locations/find-or-create-location';
import { assertLotStatusChange } from '../../model/lots/lot-status';
import { normalizeGtin } from '../../model/master-data/gs1-keys';
import type { DbLocationRow, DbMaterialRow, MaterialKind } from '../../model/master-data/master-data.types';
import { createProvisionalMaterial } from '../../model/materials/create-provisional-material';
import { insertTraceEvent, type NewTraceEventItem } from '../../model/trace/insert-trace-event';
import type { ProcessContext } from '../../pipeline/handler';
import { failAt, type At, type B2mmlQuantity } from './b2mml-records';
import { canonicalUom, uomFactor } from './b2mml-uom';
import { closeClearedNegativeBalances } from '../../model/alerts/close-cleared-negative-balances';

/** $ids of the canonical schemas the MES mapper validates against. */
export const CANONICAL = {
  traceEvent: 'https://lotbridge.dev/schemas/canonical/trace-event.schema.json',
  alert: 'https://lotbridge.dev/schemas/canonical/alert.schema.json',
  lot: 'https://lotbridge.dev/schemas/canonical/lot.schema.json',
  material: 'https://lotbridge.dev/schemas/canonical/material.schema.json',
  inventoryChange: 'https://lotbridge.dev/schemas/canonical/inventory-change.schema.json',
} as const;

/** Stock lifecycle states (inventory_balances_state_check). */
export type StockState = 'raw' | 'component' | 'wip' | 'finished' | 'pending_inspection' | 'pending_shipment' | 'in_transit';

/** A material as the MES mapper uses it. */
export type MesMaterial = Pick<DbMaterialRow, 'id' | 'code' | 'base_uom' | 'kind' | 'provisional'>;

/** Counts and facts shown on the message (HandlerResult.summary). */
export interface B2mmlSummary {
  document: string;
  version: string;
  materialDefinitions: number;
  lots: number;
  applied: number;
  alreadyApplied: number;
  rejected: number;
  events: number;
  lotLinks: number;
  ledgerRows: number;
  qualityResults: number;
  statusChanges: number;
  alerts: number;
  serials: number;
  created: { materials: number; lots: number; provisionalLots: number; locations: number };
  /** Values the message gave that differ from what is stored (kept as stored). */
  mismatches: string[];
  /** Elements read but not mapped (MaterialUse Sample, a consumption without a lot …). */
  skipped: string[];
}

/** One signed balance change. */
export interface StockDelta {
  eventId: string;
  lotId: string;
  lotNumber: string;
  material: MesMaterial;
  location: DbLocationRow;
  stockState: StockState;
  delta: number;
  eventTime: Date;
}

/** Bindings of a raw statement whose parameters are arrays (unnest). */
export const binds = (...values: unknown[]): readonly Knex.RawBinding[] => values as readonly Knex.RawBinding[];

const keyOf = (materialId: string, lotNumber: string): string => `${materialId}\u0000${lotNumber}`;

/** The stock state a consumed lot is taken from when it has no stock at the place: by material kind. */
export function consumedStateOf(kind: MaterialKind): StockState {
  return kind === 'raw' ? 'raw' : kind === 'finished' ? 'wip' : 'component';
}

/** The state produced stock enters: finished goods wait for QA (or are finished once released); intermediates are WIP. */
export function producedStateOf(kind: MaterialKind, status: LotStatus): StockState {
  if (kind === 'finished' || kind === 'implant') {
    return status === 'released' ? 'finished' : 'pending_inspection';
  }
  return 'wip';
}

/** CBV disposition of a lot status. */
export const DISPOSITION_OF: Readonly<Record<LotStatus, string>> = {
  quarantine: 'in_progress',
  released: 'conformant',
  rejected: 'non_conformant',
  on_hold: 'non_sellable_other',
  recalled: 'recalled',
  expired: 'expired',
};

/**
 * The MES mapper's side of a ProcessContext: material and lot resolution in sets, ledger bookings
 * in one statement, lot status changes through the lot status rules, alerts with outbox and audit.
 */
export class B2mmlWriter {
  readonly lineage: RowLineage;
  readonly summary: B2mmlSummary;
  private readonly locations = new Map<string, DbLocationRow>();

  constructor(
    readonly ctx: ProcessContext,
    document: string,
    version: string,
    /** Location code for production without one (connector config `location`). */
    readonly defaultLocation: string,
  ) {
    this.lineage = { sourceMessageId: ctx.message.id, nextOrdinal: () => ctx.nextOrdinal() };
    this.summary = {
      document,
      version,
      materialDefinitions: 0,
      lots: 0,
      applied: 0,
      alreadyApplied: 0,
      rejected: 0,
      events: 0,
      lotLinks: 0,
      ledgerRows: 0,
      qualityResults: 0,
      statusChanges: 0,
      alerts: 0,
      serials: 0,
      created: { materials: 0, lots: 0, provisionalLots: 0, locations: 0 },
      mismatches: [],
      skipped: [],
    };
  }

  get trx(): Knex.Transaction {
    return this.ctx.trx;
  }

  /** Notes a value kept as stored (at most 50 listed). */
  mismatch(text: string): void {
    if (this.summary.mismatches.length < 50) {
      this.summary.mismatches.push(text);
    }
  }

  /** The location with this code (a provisional bin when new), memoized. */
  async location(code: string | undefined): Promise<DbLocationRow> {
    const c = (code ?? this.defaultLocation).trim() || this.defaultLocation;
    const known = this.locations.get(c);
    if (known) {
      return known;
    }
    const { row, created } = await findOrCreateLocation(this.trx, c, this.lineage);
    if (created) {
      this.summary.created.locations++;
      await this.ctx.audit({ action: 'location.create_provisional', entityType: 'location', entityId: row.id, after: { code: row.code, kind: row.kind, provisional: true } });
    }
    this.locations.set(c, row);
    return row;
  }

  /**
   * Finds the materials MES references name: a valid GTIN (any packaging level) first, then the
   * primary code, then an `internal` identifier. Three set queries, whatever the number of refs.
   * @returns ref → material (absent: unknown)
   */
  async findMaterials(refs: Iterable<string>): Promise<Map<string, MesMaterial>> {
    const all = [...new Set(refs)];
    const out = new Map<string, MesMaterial>();
    if (all.length === 0) {
      return out;
    }
    const cols = ['m.id', 'm.code', 'm.base_uom', 'm.kind', 'm.provisional'];
    const gtinOf = new Map<string, string>();
    for (const r of all) {
      if (/^(\d{8}|\d{12,14})$/.test(r)) {
        const g = normalizeGtin(r);
        if (g.ok) {
          gtinOf.set(g.gtin, r);
        }
      }
    }
    if (gtinOf.size > 0) {
      const rows = await this.trx('material_identifiers as i').join('materials as m', 'm.id', 'i.material_id').whereIn('i.scheme', ['gtin', 'udi_di']).whereIn('i.value', [...gtinOf.keys()]).select<Array<MesMaterial & { value: string }>>([...cols, 'i.value']);
      for (const r of rows) {
        out.set(gtinOf.get(r.value) as string, { id: r.id, code: r.code, base_uom: r.base_uom, kind: r.kind, provisional: r.provisional });
      }
    }
    let rest = all.filter((r) => !out.has(r));
    if (rest.length > 0) {
      const rows = await this.trx('materials as m').whereIn('m.code', rest).select<MesMaterial[]>(cols);
      for (const r of rows) {
        out.set(r.code, r);
      }
      rest = rest.filter((r) => !out.has(r));
    }
    if (rest.length > 0) {
      const rows = await this.trx('material_identifiers as i').join('materials as m', 'm.id', 'i.material_id').where('i.scheme', 'internal').whereIn('i.value', rest).select<Array<MesMaterial & { value: string }>>([...cols, 'i.value']);
      for (const r of rows) {
        out.set(r.value, { id: r.id, code: r.code, base_uom: r.base_uom, kind: r.kind, provisional: r.provisional });
      }
    }
    return out;
  }

  /**
   * The materials of these refs, creating a provisional one (code = the MES id, an `internal`
   * identifier, the kind and unit the message implies; code GTIN-… for a GTIN) for each unknown ref.
   */
  async materials(wanted: ReadonlyArray<{ ref: string; kind: MaterialKind; uom?: string; at: At }>): Promise<Map<string, MesMaterial>> {
    const found = await this.findMaterials(wanted.map((w) => w.ref));
    for (const w of wanted) {
      if (found.has(w.ref)) {
        continue;
      }
      const baseUom = w.uom ? canonicalUom(w.uom) : 'EA';
      const g = /^(\d{8}|\d{12,14})$/.test(w.ref) ? normalizeGtin(w.ref) : undefined;
      let row: MesMaterial;
      let created: boolean;
      if (g?.ok) {
        ({ row, created } = await createProvisionalMaterial(this.trx, { gtin: g.gtin, baseUom }, this.lineage));
      } else {
        if (w.ref.length > 64) {
          throw failAt('LB_ERR_B2MML_REQUIRED', w.at, `material id "${w.ref.slice(0, 20)}…" is longer than 64 characters`);
        }
        this.ctx.validate(CANONICAL.material, { code: w.ref, kind: w.kind, baseUom, lotControlled: true, serialControlled: false, implantable: false, provisional: true, identifiers: [{ scheme: 'internal', value: w.ref, packagingLevel: 'each', quantityPerLevel: 1 }] });
        const [ins] = await this.trx('materials')
          .insert({ id: uuidv7(), code: w.ref, kind: w.kind, base_uom: baseUom, provisional: true, source_message_id: this.lineage.sourceMessageId, ordinal: this.lineage.nextOrdinal() })
          .onConflict('code')
          .ignore()
          .returning<MesMaterial[]>(['id', 'code', 'base_uom', 'kind', 'provisional']);
        created = ins !== undefined;
        row = ins ?? ((await this.trx('materials').where({ code: w.ref }).first(['id', 'code', 'base_uom', 'kind', 'provisional'])) as MesMaterial);
        await this.trx('material_identifiers').insert({ material_id: row.id, scheme: 'internal', value: w.ref, packaging_level: 'each', quantity_per_level: 1 }).onConflict(['scheme', 'value']).ignore();
      }
      if (created) {
        this.summary.created.materials++;
        await this.ctx.audit({ action: 'material.create_provisional', entityType: 'material', entityId: row.id, after: { code: row.code, kind: row.kind, baseUom: row.base_uom, provisional: true }, reason: `MES names material ${w.ref} at ${w.at.path}` });
      }
      found.set(w.ref, row);
    }
    return found;
  }

  /**
   * Factor from a message quantity's unit to the material's base unit.
   * @throws LotBridgeError LB_ERR_B2MML_UOM at the UnitOfMeasure
   */
  factor(material: MesMaterial, uom: string | undefined, at: At, lotNumber: string): number {
    if (uom === undefined) {
      return 1;
    }
    const f = uomFactor(uom, material.base_uom);
    if (f === undefined) {
      throw failAt('LB_ERR_B2MML_UOM', { path: `${at.path}/UnitOfMeasure`, line: at.line }, `lot ${lotNumber}: unit "${uom}" does not convert to ${material.code}'s base unit ${material.base_uom}`, {
        uom,
        baseUom: material.base_uom,
        material: material.code,
      });
    }
    return f;
  }

  /**
   * The quantity to book and its factor to the material's base unit: the only one, or of several
   * Quantity elements the first whose unit converts.
   * @throws LotBridgeError LB_ERR_B2MML_UOM when none converts (at the first)
   */
  pickQuantity(material: MesMaterial, q: B2mmlQuantity, lotNumber: string): { quantity: B2mmlQuantity; factor: number } {
    for (const alt of q.alternatives ?? []) {
      const f = alt.uom === undefined ? 1 : uomFactor(alt.uom, material.base_uom);
      if (f !== undefined) {
        return { quantity: alt, factor: f };
      }
    }
    return { quantity: q, factor: this.factor(material, q.uom, q.at, lotNumber) };
  }

  /** Lots by (material, lot number), one query. */
  async findLots(keys: ReadonlyArray<{ materialId: string; lotNumber: string }>): Promise<Map<string, DbLotRow>> {
    const out = new Map<string, DbLotRow>();
    if (keys.length === 0) {
      return out;
    }
    const r = await this.trx.raw<{ rows: DbLotRow[] }>(
      `SELECT l.* FROM lots l JOIN unnest(?::uuid[], ?::text[]) AS k(material_id, lot_number)
          ON l.material_id = k.material_id AND l.lot_number = k.lot_number`,
      [keys.map((k) => k.materialId), keys.map((k) => k.lotNumber)],
    );
    for (const l of r.rows) {
      out.set(keyOf(l.material_id, l.lot_number), l);
    }
    return out;
  }

  /** The map key of a lot. */
  static lotKey(materialId: string, lotNumber: string): string {
    return keyOf(materialId, lotNumber);
  }

  /**
   * Inserts lots in one statement (those that exist meanwhile are read back), with lineage ordinals
   * in input order.
   */
  async insertLots(rows: ReadonlyArray<{ materialId: string; lotNumber: string; manufacturedAt?: string | null; expiry?: string | null; status: LotStatus; provisional: boolean }>): Promise<Map<string, DbLotRow>> {
    const out = new Map<string, DbLotRow>();
    if (rows.length === 0) {
      return out;
    }
    const ids = rows.map(() => uuidv7());
    const ordinals = rows.map(() => this.lineage.nextOrdinal());
    const r = await this.trx.raw<{ rows: DbLotRow[] }>(
      `INSERT INTO lots (id, material_id, lot_number, manufactured_at, expiry, status, provisional, source_message_id, ordinal)
       SELECT x.id, x.material_id, x.lot_number, x.manufactured_at, x.expiry, x.status, x.provisional, ?::uuid, x.ordinal
         FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::date[], ?::date[], ?::text[], ?::boolean[], ?::int[])
              AS x(id, material_id, lot_number, manufactured_at, expiry, status, provisional, ordinal)
       ON CONFLICT (material_id, lot_number) DO NOTHING
       RETURNING *`,
      [
        this.lineage.sourceMessageId,
        ids,
        rows.map((x) => x.materialId),
        rows.map((x) => x.lotNumber),
        rows.map((x) => x.manufacturedAt ?? null),
        rows.map((x) => x.expiry ?? null),
        rows.map((x) => x.status),
        rows.map((x) => x.provisional),
        ordinals,
      ] as unknown as readonly Knex.RawBinding[],
    );
    for (const l of r.rows) {
      out.set(keyOf(l.material_id, l.lot_number), l);
    }
    this.summary.created.lots += r.rows.filter((l) => !l.provisional).length;
    this.summary.created.provisionalLots += r.rows.filter((l) => l.provisional).length;
    const missing = rows.filter((x) => !out.has(keyOf(x.materialId, x.lotNumber)));
    if (missing.length > 0) {
      for (const [k, v] of await this.findLots(missing)) {
        out.set(k, v);
      }
    }
    return out;
  }

  /**
   * Records a trace event with its items.
   * @returns the event id, or undefined when its source key was recorded before (nothing written)
   */
  async recordEvent(
    e: { type: 'ObjectEvent' | 'TransformationEvent'; action: 'ADD' | 'OBSERVE' | 'DELETE' | null; bizStep: string; disposition: string | null; time: { utc: Date; offset: string }; location: DbLocationRow; sourceKey: string; bizTransactions: Array<{ type: string; value: string }>; details: Record<string, unknown> },
    items: NewTraceEventItem[],
  ): Promise<string | undefined> {
    // the canonical check of the event shape (items validated by their column types; thousands of inputs stay cheap)
    this.ctx.validate(CANONICAL.traceEvent, {
      eventType: e.type,
      action: e.action,
      bizStep: e.bizStep,
      disposition: e.disposition,
      eventTime: e.time.utc.toISOString(),
      eventTimeZoneOffset: e.time.offset,
      location: e.location.code,
      bizTransactions: e.bizTransactions,
      sensorElementList: null,
      sourceKey: e.sourceKey,
      items: items.slice(0, 5).map((i) => ({ role: i.role, ...(i.material_id ? { materialId: i.material_id } : {}), ...(i.lot_id ? { lotId: i.lot_id } : {}), ...(i.quantity === null ? {} : { quantity: i.quantity }), ...(i.uom ? { uom: i.uom } : {}) })),
      details: e.details,
    });
    const id = await insertTraceEvent(
      this.trx,
      {
        type: e.type,
        action: e.action,
        biz_step: e.bizStep,
        disposition: e.disposition,
        event_time: e.time.utc,
        event_time_zone_offset: e.time.offset,
        location_id: e.location.id,
        read_point: null,
        biz_transactions: e.bizTransactions,
        sensor_readings: null,
        details: e.details,
        source_key: e.sourceKey,
        source_message_id: this.lineage.sourceMessageId,
        ordinal: this.lineage.nextOrdinal(),
      },
      items,
    );
    if (id !== undefined) {
      this.summary.events++;
    }
    return id;
  }

  /** True when an event with this source key exists. */
  async eventExists(sourceKey: string): Promise<boolean> {
    return (await this.trx('trace_events').where({ source_key: sourceKey }).first('id')) !== undefined;
  }

  /** Current balances of lots at locations, per state (one query). */
  async balances(keys: ReadonlyArray<{ lotId: string; locationId: string }>): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    if (keys.length === 0) {
      return out;
    }
    const r = await this.trx.raw<{ rows: Array<{ lot_id: string; location_id: string; stock_state: string; quantity: number }> }>(
      `SELECT b.lot_id, b.location_id, b.stock_state, b.quantity FROM inventory_balances b
         JOIN unnest(?::uuid[], ?::uuid[]) AS k(lot_id, location_id) ON b.lot_id = k.lot_id AND b.location_id = k.location_id`,
      [keys.map((k) => k.lotId), keys.map((k) => k.locationId)],
    );
    for (const b of r.rows) {
      const k = `${b.lot_id}\u0000${b.location_id}`;
      let m = out.get(k);
      if (!m) {
        m = new Map();
        out.set(k, m);
      }
      m.set(b.stock_state, Number(b.quantity));
    }
    return out;
  }

  /**
   * Books balance changes: ledger rows and balance upserts in one statement (deltas of one
   * lot/location/state summed). The count rule of the canonical model holds (docs/connectors/wms.md,
   * Counts): a change (not itself a count) at or before a count of its lot/location/state that is
   * already booked was seen by that count, so it is reversed at the count's time (a late
   * consumption never breaks a stock take). A balance left below zero opens a `negative_balance`
   * alert unless the lot was created by this message (its provisional_lot alert says it already).
   */
  async book(deltas: ReadonlyArray<StockDelta>, quietLots: ReadonlySet<string> = new Set()): Promise<void> {
    if (deltas.length === 0) {
      return;
    }
    for (const d of deltas.slice(0, 3)) {
      this.ctx.validate(CANONICAL.inventoryChange, { eventId: d.eventId, lotId: d.lotId, locationId: d.location.id, location: d.location.code, lotNumber: d.lotNumber, stockState: d.stockState, delta: d.delta, eventTime: d.eventTime.toISOString(), reason: 'movement' });
    }
    const insert = async (rows: ReadonlyArray<StockDelta>): Promise<Array<{ lot_id: string; location_id: string; stock_state: string; quantity: number }>> => {
      const ordinals = rows.map(() => this.lineage.nextOrdinal());
      const r = await this.trx.raw<{ rows: Array<{ lot_id: string; location_id: string; stock_state: string; quantity: number }> }>(
        `WITH x AS (
           SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::numeric[], ?::timestamptz[], ?::int[])
                  AS x(event_id, lot_id, location_id, stock_state, delta, event_time, ordinal)),
         l AS (
           INSERT INTO inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)
           SELECT event_id, lot_id, location_id, stock_state, delta, event_time, ?::uuid, ordinal FROM x)
         INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity)
         SELECT lot_id, location_id, stock_state, sum(delta) FROM x GROUP BY lot_id, location_id, stock_state
         ORDER BY lot_id, location_id, stock_state
         ON CONFLICT (lot_id, location_id, stock_state)
         DO UPDATE SET quantity = inventory_balances.quantity + EXCLUDED.quantity, updated_at = now()
         RETURNING lot_id, location_id, stock_state, quantity`,
        [
          rows.map((d) => d.eventId),
          rows.map((d) => d.lotId),
          rows.map((d) => d.location.id),
          rows.map((d) => d.stockState),
          rows.map((d) => d.delta),
          rows.map((d) => d.eventTime),
          ordinals,
          this.lineage.sourceMessageId,
        ] as unknown as readonly Knex.RawBinding[],
      );
      this.summary.ledgerRows += rows.length;
      return r.rows;
    };
    const booked = await insert(deltas);
    // the count rule, after the balance rows are locked by the booking (as the WMS writer reads after its own)
    const nonZero = deltas.filter((d) => d.delta !== 0);
    let absorbedRows: Array<{ lot_id: string; location_id: string; stock_state: string; quantity: number }> = [];
    if (nonZero.length > 0) {
      // a delta of a count (a known lot's quantity) is no change a later count saw
      const found = await findNextCounts(this.trx, nonZero.map((d) => ({ lotId: d.lotId, locationId: d.location.id, stockState: d.stockState, at: d.eventTime, eventId: d.eventId })));
      const absorbed = [...found].sort(([a], [b]) => a - b).map(([i, at]) => ({ ...nonZero[i], delta: -nonZero[i].delta, eventTime: at }));
      for (const d of absorbed.slice(0, 3)) {
        this.ctx.validate(CANONICAL.inventoryChange, { eventId: d.eventId, lotId: d.lotId, locationId: d.location.id, location: d.location.code, lotNumber: d.lotNumber, stockState: d.stockState, delta: d.delta, eventTime: d.eventTime.toISOString(), reason: 'count_absorbed' });
      }
      if (absorbed.length > 0) {
        absorbedRows = await insert(absorbed);
      }
    }
    const rowKey = (b: { lot_id: string; location_id: string; stock_state: string }): string => `${b.lot_id}\u0000${b.location_id}\u0000${b.stock_state}`;
    const finalByKey = new Map([...booked, ...absorbedRows].map((b) => [rowKey(b), b]));
    const r = { rows: [...finalByKey.values()] };
    const negative = r.rows.filter((b) => Number(b.quantity) < 0 && !quietLots.has(b.lot_id));
    if (negative.length > 0) {
      const byKey = new Map(deltas.map((d) => [rowKey({ lot_id: d.lotId, location_id: d.location.id, stock_state: d.stockState }), d]));
      await this.alerts(
        negative.map((b) => {
          const d = byKey.get(rowKey(b)) as StockDelta;
          return {
            type: 'negative_balance',
            severity: 'warning',
            subjectType: 'lot',
            subjectId: b.lot_id,
            message: `lot ${d.lotNumber} (${d.material.code}) at ${d.location.code} (${b.stock_state}) is at ${Number(b.quantity)} ${d.material.base_uom} after MES consumption`,
            details: { lotId: b.lot_id, material: d.material.code, lotNumber: d.lotNumber, location: d.location.code, stockState: b.stock_state, balance: Number(b.quantity) },
            dedupKey: `negative_balance:${b.lot_id}:${b.location_id}:${b.stock_state}`,
          } satisfies NewAlert;
        }),
      );
    }
    // a balance that was below zero before these changes and is not now: its alert is closed
    const sumOf = new Map<string, number>();
    for (const d of deltas) {
      const k = rowKey({ lot_id: d.lotId, location_id: d.location.id, stock_state: d.stockState });
      sumOf.set(k, (sumOf.get(k) ?? 0) + d.delta);
    }
    const cleared = booked
      .filter((b) => Number(b.quantity) - (sumOf.get(rowKey(b)) ?? 0) < 0 && Number((finalByKey.get(rowKey(b)) ?? b).quantity) >= 0)
      .map((b) => b.lot_id);
    await closeClearedNegativeBalances(this.trx, cleared);
  }

  /** Opens alerts in one statement, each with its `alert.opened` outbox event and audit row. */
  async alerts(list: NewAlert[]): Promise<void> {
    if (list.length === 0) {
      return;
    }
    for (const a of list.slice(0, 3)) {
      this.ctx.validate(CANONICAL.alert, { type: a.type, severity: a.severity, subjectType: a.subjectType, subjectId: a.subjectId, message: a.message.slice(0, 2000), details: a.details, dedupKey: a.dedupKey, status: 'open' });
    }
    const ids = await openAlerts(this.trx, list.map((alert) => ({ alert, lineage: this.lineage })));
    for (const [i, id] of ids) {
      const a = list[i];
      this.summary.alerts++;
      await this.ctx.emit('alert.opened', { alertId: id, type: a.type, severity: a.severity, subjectType: a.subjectType, subjectId: a.subjectId, message: a.message });
      await this.ctx.audit({ action: 'alert.open', entityType: 'alert', entityId: id, after: { type: a.type, severity: a.severity, subjectId: a.subjectId, dedupKey: a.dedupKey } });
    }
  }

  /**
   * Changes a lot's quality status through the lot status rules (src/model/lots/lot-status.ts):
   * writes the lot, an ObjectEvent (bizStep inspecting, the status's CBV disposition), an audit row
   * naming the source message (before/after, override reason), outbox `lot.status_changed` (and
   * `lot.released` / `lot.rejected`). A released finished lot's pending_inspection stock moves
   * to finished.
   * @returns false when the lot already had that status (nothing written)
   * @throws LotBridgeError LB_ERR_LOT_STATUS_TRANSITION for a forbidden change
   */
  async changeStatus(
    lot: DbLotRow,
    material: MesMaterial,
    to: LotStatus,
    o: { at: At; raw: string; override?: { reason: string }; failedTests?: readonly string[]; time: { utc: Date; offset: string }; document: string },
  ): Promise<boolean> {
    const name = `${material.code} / ${lot.lot_number}`;
    const change = assertLotStatusChange({ lot: name, from: lot.status, to, actor: 'mes', ...(o.override ? { override: o.override } : {}), ...(o.failedTests ? { failedTests: o.failedTests } : {}) }, o.at);
    if (change === 'none') {
      return false;
    }
    const [updated] = await this.trx<DbLotRow>('lots').where({ id: lot.id, status: lot.status }).update({ status: to, updated_at: this.trx.fn.now() }).returning('*');
    if (!updated) {
      throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', `lot ${name} changed status meanwhile; retrying`, { kind: 'transient' });
    }
    this.summary.statusChanges++;
    const location = await this.location(undefined);
    const eventId = await this.recordEvent(
      {
        type: 'ObjectEvent',
        action: 'OBSERVE',
        bizStep: 'inspecting',
        disposition: DISPOSITION_OF[to],
        time: o.time,
        location,
        sourceKey: `b2mml:${this.lineage.sourceMessageId}:status:${lot.id}`,
        bizTransactions: [],
        details: { from: lot.status, to, mesStatus: o.raw, document: o.document, ...(change === 'override' ? { override: o.override } : {}) },
      },
      [{ role: 'subject', material_id: material.id, lot_id: lot.id, serial_id: null, quantity: null, uom: null, base_quantity: null }],
    );
    await this.ctx.audit({
      action: change === 'override' ? 'lot.status_override' : to === 'released' ? 'lot.release' : to === 'rejected' ? 'lot.reject' : 'lot.status_change',
      entityType: 'lot',
      entityId: lot.id,
      before: { status: lot.status },
      after: { status: to },
      reason: `MES ${o.document}: ${o.raw} at ${o.at.path}${change === 'override' ? `; override: ${o.override?.reason}` : ''}`,
    });
    const payload = { lotId: lot.id, lotNumber: lot.lot_number, material: material.code, from: lot.status, to, ...(change === 'override' ? { override: o.override?.reason } : {}) };
    await this.ctx.emit('lot.status_changed', payload);
    if (to === 'released' || to === 'rejected') {
      await this.ctx.emit(`lot.${to}`, payload);
    }
    if (to === 'released' && eventId !== undefined) {
      // finished stock waiting for QA becomes finished
      const waiting = await this.trx('inventory_balances as b')
        .join('locations as l', 'l.id', 'b.location_id')
        .where({ 'b.lot_id': lot.id, 'b.stock_state': 'pending_inspection' })
        .where('b.quantity', '>', 0)
        .select<Array<DbLocationRow & { quantity: number }>>('l.*', 'b.quantity');
      await this.book(
        waiting.flatMap((w) => {
          const { quantity, ...loc } = w;
          const base = { eventId, lotId: lot.id, lotNumber: lot.lot_number, material, location: loc as DbLocationRow, eventTime: o.time.utc };
          return [
            { ...base, stockState: 'pending_inspection' as const, delta: -Number(quantity) },
            { ...base, stockState: 'finished' as const, delta: Number(quantity) },
          ];
        }),
      );
    }
    lot.status = to;
    return true;
  }
}

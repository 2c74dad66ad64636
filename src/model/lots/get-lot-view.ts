import type { Db } from '../../db/knex';
import { LotBridgeError } from '../../errors';
import { normalizeGtin } from '../master-data/gs1-keys';
import { findMaterialIdByCode } from '../master-data/get-material';
import type { PackagingLevel } from '../master-data/master-data.types';
import { isoTime } from '../master-data/master-data.util';

/** How a caller names a lot: the GTIN of any packaging level or a material code, plus the lot number. */
export interface LotKey {
  /** GTIN-8/12/13/14 of the material at any packaging level (each, box, case …). */
  gtin?: string;
  /** Material code (primary code or an `internal` identifier such as the MES number). */
  material?: string;
  /** Lot number. */
  lot: string;
}

/** One stock position of a lot. */
export interface LotBalance {
  /** Location code. */
  location: string;
  /** Lifecycle state (raw, component, wip, finished, pending_inspection, pending_shipment, in_transit). */
  stockState: string;
  /** Quantity in the material's base unit. */
  quantity: number;
  /** The material's base unit. */
  uom: string;
}

/** A lot linked to this one through lot_links (genealogy). */
export interface LinkedLot {
  id: string;
  lotNumber: string;
  /** Material code of the linked lot. */
  material: string;
  expiry: string | null;
  status: string;
  /** Sum of the link quantities between the two lots (null when the links carry none). */
  quantity: number | null;
  uom: string | null;
}

/** A trace event that touched the lot (one entry per event item naming the lot). */
export interface LotEvent {
  id: string;
  /** EPCIS event type: ObjectEvent, TransformationEvent … */
  type: string;
  /** ADD | OBSERVE | DELETE, null for transformations. */
  action: string | null;
  /** CBV bizStep, e.g. receiving. */
  bizStep: string;
  disposition: string | null;
  /** UTC, ISO-8601. */
  eventTime: string;
  /** The source's offset, e.g. +01:00. */
  eventTimeZoneOffset: string;
  /** Location code, when the event has one. */
  location: string | null;
  quantity: number | null;
  uom: string | null;
  /** The lot's role in the event: input, output, child, parent, subject. */
  role: string;
  /** Inbound message that produced the event. */
  sourceMessageId: string;
}

/** Everything known about one lot: material, expiry, status, stock, genealogy, events, lineage. */
export interface LotView {
  id: string;
  lotNumber: string;
  material: {
    id: string;
    code: string;
    description: string | null;
    /** GTINs of the material per packaging level. */
    gtins: Array<{ gtin: string; packagingLevel: PackagingLevel; quantityPerLevel: number }>;
    baseUom: string;
    provisional: boolean;
  };
  /** YYYY-MM-DD or null. */
  expiry: string | null;
  /** YYYY-MM-DD or null. */
  manufacturedAt: string | null;
  /** quarantine, released, on_hold, rejected, recalled, expired. */
  status: string;
  /** True when the lot was first seen in a feed or stock import, not in a lot master. */
  provisional: boolean;
  /** Non-zero balances per location and stock state. */
  balances: LotBalance[];
  /** Sum of `balances` (base units). */
  totalQuantity: number;
  /** Lots this lot was made from. */
  inputs: LinkedLot[];
  /** Lots made from this lot. */
  outputs: LinkedLot[];
  /** Trace events that touched the lot, newest first (at most 100). */
  events: LotEvent[];
  /** Number of event items naming the lot (events may be cut at 100). */
  eventCount: number;
  /** Inbound messages that created or touched the lot (lineage), oldest first. */
  sourceMessageIds: string[];
}

const EVENT_LIMIT = 100;

/**
 * Resolves a lot key to the lot's id. The GTIN of any packaging level (or a GS1 UDI-DI) and the
 * material's code or internal identifier all resolve to the same material.
 * @param db - knex instance or transaction
 * @param key - gtin or material, and lot number
 * @returns undefined when the material or the lot is unknown (or gtin and material disagree)
 * @throws LotBridgeError LB_ERR_API_BAD_REQUEST when neither gtin nor material is given or the GTIN is invalid
 */
export async function resolveLotId(db: Db, key: LotKey): Promise<string | undefined> {
  if (!key.gtin && !key.material) {
    throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'name the lot with gtin=… or material=…, and lot=…', { location: { path: 'gtin' } });
  }
  let materialId: string | undefined;
  if (key.gtin) {
    const g = normalizeGtin(key.gtin);
    if (!g.ok) {
      throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', g.reason, { location: { path: 'gtin' } });
    }
    const row = await db('material_identifiers')
      .whereIn('scheme', ['gtin', 'udi_di'])
      .where({ value: g.gtin })
      .orderByRaw("scheme = 'gtin' DESC")
      .first<{ material_id: string } | undefined>('material_id');
    if (!row) {
      return undefined;
    }
    materialId = row.material_id;
  }
  if (key.material) {
    const byCode = await findMaterialIdByCode(db, key.material);
    if (!byCode || (materialId && byCode !== materialId)) {
      return undefined;
    }
    materialId = byCode;
  }
  const lot = await db('lots').where({ material_id: materialId, lot_number: key.lot.trim() }).first<{ id: string } | undefined>('id');
  return lot?.id;
}

interface LinkRow {
  id: string;
  lot_number: string;
  material: string;
  expiry: string | null;
  status: string;
  quantity: number | null;
  uom: string | null;
}

async function linkedLots(db: Db, lotId: string, direction: 'inputs' | 'outputs'): Promise<LinkedLot[]> {
  const [self, other] = direction === 'inputs' ? ['output_lot_id', 'input_lot_id'] : ['input_lot_id', 'output_lot_id'];
  const r = await db.raw<{ rows: LinkRow[] }>(
    `SELECT o.id, o.lot_number, m.code AS material, o.expiry, o.status, sum(k.quantity) AS quantity, k.uom
       FROM lot_links k JOIN lots o ON o.id = k.${other} JOIN materials m ON m.id = o.material_id
      WHERE k.${self} = ?
      GROUP BY o.id, o.lot_number, m.code, o.expiry, o.status, k.uom
      ORDER BY m.code, o.lot_number`,
    [lotId],
  );
  return r.rows.map((x) => ({
    id: x.id,
    lotNumber: x.lot_number,
    material: x.material,
    expiry: x.expiry,
    status: x.status,
    quantity: x.quantity,
    uom: x.uom,
  }));
}

/**
 * The lot view by lot id (what `GET /api/v1/lots` answers), or undefined when there is no such lot.
 * Six indexed queries: lot + material, GTINs, balances, genealogy both ways, events, lineage.
 * @param db - knex instance or transaction
 * @param lotId - lots.id
 */
export async function getLotViewById(db: Db, lotId: string): Promise<LotView | undefined> {
  const lot = await db('lots as l')
    .join('materials as m', 'm.id', 'l.material_id')
    .where('l.id', lotId)
    .first<
      | {
          id: string;
          lot_number: string;
          expiry: string | null;
          manufactured_at: string | null;
          status: string;
          provisional: boolean;
          material_id: string;
          code: string;
          description: string | null;
          base_uom: string;
          material_provisional: boolean;
        }
      | undefined
    >(
      'l.id', 'l.lot_number', 'l.expiry', 'l.manufactured_at', 'l.status', 'l.provisional',
      'm.id as material_id', 'm.code', 'm.description', 'm.base_uom', 'm.provisional as material_provisional',
    );
  if (!lot) {
    return undefined;
  }
  const [gtins, balances, inputs, outputs, events, count, lineage] = await Promise.all([
    db('material_identifiers')
      .where({ material_id: lot.material_id, scheme: 'gtin' })
      .orderByRaw("array_position(ARRAY['each','inner','box','case','pallet'], packaging_level), value")
      .select<Array<{ value: string; packaging_level: PackagingLevel; quantity_per_level: number }>>('value', 'packaging_level', 'quantity_per_level'),
    db('inventory_balances as b')
      .join('locations as loc', 'loc.id', 'b.location_id')
      .where('b.lot_id', lotId)
      .whereNot('b.quantity', 0)
      .orderBy([{ column: 'loc.code' }, { column: 'b.stock_state' }])
      .select<Array<{ location: string; stock_state: string; quantity: number }>>('loc.code as location', 'b.stock_state', 'b.quantity'),
    linkedLots(db, lotId, 'inputs'),
    linkedLots(db, lotId, 'outputs'),
    db.raw<{
      rows: Array<{
        id: string; type: string; action: string | null; biz_step: string; disposition: string | null; event_time: Date;
        event_time_zone_offset: string; location: string | null; quantity: number | null; uom: string | null; role: string;
        source_message_id: string;
      }>;
    }>(
      `SELECT e.id, e.type, e.action, e.biz_step, e.disposition, e.event_time, e.event_time_zone_offset,
              loc.code AS location, i.quantity, i.uom, i.role, e.source_message_id
         FROM trace_event_items i
         JOIN trace_events e ON e.id = i.event_id
         LEFT JOIN locations loc ON loc.id = e.location_id
        WHERE i.lot_id = ?
        ORDER BY e.event_time DESC, e.record_time DESC, i.id DESC
        LIMIT ${EVENT_LIMIT}`,
      [lotId],
    ),
    db('trace_event_items').where({ lot_id: lotId }).count<Array<{ n: number }>>({ n: '*' }),
    db.raw<{ rows: Array<{ id: string }> }>(
      `SELECT DISTINCT id::text AS id FROM (
         SELECT source_message_id AS id FROM lots WHERE id = ?
         UNION SELECT e.source_message_id FROM trace_event_items i JOIN trace_events e ON e.id = i.event_id WHERE i.lot_id = ?
         UNION SELECT source_message_id FROM lot_links WHERE input_lot_id = ? OR output_lot_id = ?
       ) s WHERE id IS NOT NULL ORDER BY 1 LIMIT 1000`,
      [lotId, lotId, lotId, lotId],
    ),
  ]);
  const bal = balances.map((b) => ({ location: b.location, stockState: b.stock_state, quantity: b.quantity, uom: lot.base_uom }));
  return {
    id: lot.id,
    lotNumber: lot.lot_number,
    material: {
      id: lot.material_id,
      code: lot.code,
      description: lot.description,
      gtins: gtins.map((g) => ({ gtin: g.value, packagingLevel: g.packaging_level, quantityPerLevel: g.quantity_per_level })),
      baseUom: lot.base_uom,
      provisional: lot.material_provisional,
    },
    expiry: lot.expiry,
    manufacturedAt: lot.manufactured_at,
    status: lot.status,
    provisional: lot.provisional,
    balances: bal,
    totalQuantity: Math.round(bal.reduce((s, b) => s + b.quantity, 0) * 10000) / 10000,
    inputs,
    outputs,
    events: events.rows.map((e) => ({
      id: e.id,
      type: e.type,
      action: e.action,
      bizStep: e.biz_step,
      disposition: e.disposition,
      eventTime: isoTime(e.event_time),
      eventTimeZoneOffset: e.event_time_zone_offset,
      location: e.location,
      quantity: e.quantity,
      uom: e.uom,
      role: e.role,
      sourceMessageId: e.source_message_id,
    })),
    eventCount: Number(count[0]?.n ?? 0),
    sourceMessageIds: lineage.rows.map((r) => r.id),
  };
}

/**
 * The lot view for a lot named by GTIN (any packaging level) or material code, and lot number.
 * @param db - knex instance or transaction
 * @param key - gtin or material, and lot
 * @returns undefined when no lot matches
 * @throws LotBridgeError LB_ERR_API_BAD_REQUEST when neither gtin nor material is given or the GTIN is invalid
 */
export async function getLotView(db: Db, key: LotKey): Promise<LotView | undefined> {
  const id = await resolveLotId(db, key);
  return id ? getLotViewById(db, id) : undefined;
}

import type { DbLotRow } from '../../db/tables';
import { LotBridgeError } from '../../errors';
import { findOrCreateLot, type LotResolution } from '../../model/lots/find-or-create-lot';
import type { MaterialKind } from '../../model/master-data/master-data.types';
import { createProvisionalMaterial } from '../../model/materials/create-provisional-material';
import { findOrCreateSerial } from '../../model/serials/find-or-create-serial';
import { packagingLevelOfUom } from './wms-mapping';
import type { MessageLocation } from '../../errors';
import type { WmsItem } from './wms-record.types';
import { recordErrorFactory } from './wms-record.validator';
import { CANONICAL, type WmsWriter } from './wms-writer';

/** The stored things a movement or count names, and how its quantity converts to base units. */
export interface StockItem {
  material: { id: string; code: string; kind: MaterialKind; baseUom: string; provisional: boolean };
  lot: DbLotRow;
  serialId: string | null;
  /** Base units per unit of the record's quantity. */
  factor: number;
}

/**
 * What resolving a stock item needs from a record: WMS movements and counts, and records of other
 * feeds shaped like them (an HL7 FT1 usage is a movement of type `consume`).
 */
export interface StockRecord {
  kind: 'movement' | 'count';
  /** Movement type (receive, issue, consume …); absent for counts. */
  type?: string;
  /** The record's own id (for messages and alerts). */
  id: string;
  /** Where the record sits in its message (for errors). */
  at: MessageLocation;
  /** Path prefix of the record's fields in errors. */
  pathPrefix: string;
  item: WmsItem;
  quantity: number;
  uom?: string;
}

/** Quantities (as given and in base units) must stay below this: the columns are numeric(18,4). */
const MAX_QUANTITY = 1e14;

/** A material as far as quantity conversion needs it. */
interface ConvertibleMaterial {
  code: string;
  baseUom: string;
  identifiers: Array<{ scheme: string; packagingLevel: string; quantityPerLevel: number }>;
}

/**
 * Base units per unit of a record's quantity. Without a `uom` the quantity counts packs of the
 * scanned GTIN (a case GTIN of 10: 20 → 200). The material's base unit counts 1; a pack unit (CS,
 * BX, PL …) converts with the GTIN of that packaging level. Anything else is LB_ERR_WMS_UOM.
 */
function factorOf(rec: StockRecord, m: ConvertibleMaterial, scanned: { packagingLevel: string; quantityPerLevel: number }): number {
  if (rec.uom === undefined) {
    return scanned.quantityPerLevel;
  }
  if (rec.uom.toUpperCase() === m.baseUom.toUpperCase()) {
    return 1;
  }
  const level = packagingLevelOfUom(rec.uom);
  const gtins = m.identifiers.filter((i) => i.scheme === 'gtin' || i.scheme === 'udi_di');
  const match = level === scanned.packagingLevel ? scanned : gtins.find((i) => i.packagingLevel === level);
  if (match) {
    return match.quantityPerLevel;
  }
  if (level === 'each') {
    return 1;
  }
  throw recordErrorFactory(rec.at, rec.pathPrefix)(
    'LB_ERR_WMS_UOM',
    'uom',
    `uom ${JSON.stringify(rec.uom)} cannot be converted to ${m.baseUom} for material ${m.code}` +
      (level === undefined ? ' (not a known unit)' : ` (it has no GTIN at packaging level ${level})`),
    { details: { uom: rec.uom, baseUom: m.baseUom, material: m.code } },
  );
}

/**
 * The material of a record's GTIN (a provisional `GTIN-<gtin>` material, with its alert, when none
 * has it) and the factor from the record's quantity to base units. Throws LB_ERR_WMS_UOM or
 * LB_ERR_WMS_QUANTITY before anything is written for the record.
 */
export async function resolveStockMaterial(w: WmsWriter, rec: StockRecord, sourceKey: string): Promise<{ material: StockItem['material']; factor: number }> {
  const { ctx } = w;
  const { gtin } = rec.item;
  let found = await w.materialByGtin(gtin);
  if (!found) {
    const baseUom = rec.uom?.toUpperCase() ?? 'EA';
    const made = await createProvisionalMaterial(ctx.trx, { gtin, baseUom }, w.lineage);
    if (made.created) {
      const { row } = made;
      ctx.validate(CANONICAL.material, {
        id: row.id, code: row.code, kind: row.kind, baseUom: row.base_uom, lotControlled: true, serialControlled: false, implantable: false, provisional: true,
        identifiers: [{ scheme: 'gtin', value: gtin, packagingLevel: 'each', quantityPerLevel: 1 }],
      });
      w.summary.created.materials++;
      await ctx.audit({ action: 'material.create_provisional', entityType: 'material', entityId: row.id, after: { code: row.code, gtin, baseUom: row.base_uom } });
      await w.alert({
        type: 'provisional_lot',
        severity: 'warning',
        subjectType: 'material',
        subjectId: row.id,
        message: `GTIN ${gtin} is not in master data: provisional material ${row.code} created by ${w.feedName} record ${rec.id}; quantities are booked as given (${baseUom}) until master data adopts it`,
        details: { gtin, materialCode: row.code, sourceKey },
        dedupKey: `provisional_material:${row.id}`,
      });
    }
    // the provisional material, or the one master data gave the GTIN to meanwhile
    found = await w.materialByGtin(gtin, true);
  }
  if (!found) {
    throw new LotBridgeError('LB_ERR_INTERNAL', `GTIN ${gtin} has no material after the provisional one was created`);
  }
  const factor = factorOf(rec, found.material, found);
  if (Math.max(Math.abs(rec.quantity), Math.abs(rec.quantity * factor)) >= MAX_QUANTITY) {
    // numeric(18,4) holds less than 10^14: PostgreSQL would refuse the row and fail the whole message
    throw recordErrorFactory(rec.at, rec.pathPrefix)(
      'LB_ERR_WMS_QUANTITY',
      'quantity',
      `quantity ${rec.quantity}${factor === 1 ? '' : ` (${rec.quantity * factor} ${found.material.baseUom})`} is too large (at most ${MAX_QUANTITY - 1} base units)`,
    );
  }
  const m = found.material;
  const material: StockItem['material'] = { id: m.id, code: m.code, kind: m.kind, baseUom: m.baseUom, provisional: m.provisional };
  return { material, factor };
}

/**
 * What follows finding or creating a record's lot: a created (provisional) lot is validated,
 * counted, announced (`lot.created`) and audited, with an alert when it was first seen in anything
 * but a receipt; an expiry that contradicts the stored one opens a `udi_mismatch` alert.
 */
export async function afterLotResolved(w: WmsWriter, rec: StockRecord, material: StockItem['material'], lotResult: LotResolution, sourceKey: string): Promise<void> {
  const { ctx } = w;
  const { gtin } = rec.item;
  const lot = lotResult.row;
  if (lotResult.created) {
    ctx.validate(CANONICAL.lot, { id: lot.id, materialId: material.id, gtin, lotNumber: lot.lot_number, expiry: lot.expiry, status: lot.status, provisional: true, sourceMessageId: ctx.message.id });
    w.summary.created.lots++;
    await ctx.emit('lot.created', { lotId: lot.id, materialId: material.id, materialCode: material.code, gtin, lotNumber: lot.lot_number, expiry: lot.expiry, provisional: true, sourceKey });
    await ctx.audit({ action: 'lot.create_provisional', entityType: 'lot', entityId: lot.id, after: { materialCode: material.code, lotNumber: lot.lot_number, expiry: lot.expiry } });
    const firstSeenOutOfOrder = rec.kind === 'movement' && rec.type !== 'receive';
    if (firstSeenOutOfOrder) {
      await w.alert({
        type: 'provisional_lot',
        severity: 'warning',
        subjectType: 'lot',
        subjectId: lot.id,
        message: `lot ${lot.lot_number} of ${material.code} was first seen in a ${w.feedName} ${rec.type ?? rec.kind} (${rec.id}), before any receipt: created provisional`,
        details: { gtin, lotNumber: lot.lot_number, sourceKey },
        dedupKey: `provisional_lot:${lot.id}`,
      });
    }
  }
  if (lotResult.expiryMismatch !== undefined) {
    await w.alert({
      type: 'udi_mismatch',
      severity: 'warning',
      subjectType: 'lot',
      subjectId: lot.id,
      message: `${w.feedName} record ${rec.id} gives lot ${lot.lot_number} of ${material.code} expiry ${lotResult.expiryMismatch}; the lot has ${lot.expiry ?? 'none'} (kept)`,
      details: { gtin, lotNumber: lot.lot_number, stored: lot.expiry, received: lotResult.expiryMismatch, sourceKey },
      dedupKey: `udi_mismatch:expiry:${lot.id}:${lotResult.expiryMismatch}`,
    });
  }
}

/**
 * Resolves the material (by GTIN; a provisional `GTIN-<gtin>` material when none has it), the
 * quantity conversion, the lot (found or created provisional, expiry filled from the feed) and the
 * serial of a movement or count, raising the alerts that go with them. The only step of a record
 * that may throw an input error (LB_ERR_WMS_UOM; LB_ERR_WMS_QUANTITY for 10^14 base units or more), and it does so before the record writes anything.
 * @param w - the message's writer
 * @param rec - the record
 * @param sourceKey - the record's idempotency key (for alert details)
 */
export async function resolveStockItem(w: WmsWriter, rec: StockRecord, sourceKey: string): Promise<StockItem> {
  const { ctx } = w;
  const { material, factor } = await resolveStockMaterial(w, rec, sourceKey);
  const lotResult = await findOrCreateLot(ctx.trx, { materialId: material.id, lotNumber: rec.item.lot, expiry: rec.item.expiry }, w.lineage);
  const lot = lotResult.row;
  await afterLotResolved(w, rec, material, lotResult, sourceKey);
  let serialId: string | null = null;
  if (rec.item.serial !== undefined) {
    const s = await findOrCreateSerial(ctx.trx, { materialId: material.id, lotId: lot.id, serialNumber: rec.item.serial }, w.lineage);
    serialId = s.row.id;
  }
  return { material, lot, serialId, factor };
}

/** The `subject` item of a trace event. */
export interface SubjectItem {
  role: 'subject';
  materialId: string;
  lotId: string;
  serialId?: string;
  serial?: string;
  gtin: string;
  lotNumber: string;
  quantity: number;
  uom: string;
  baseQuantity: number;
}

/** The `subject` item of a movement or count event: the stock item, as recorded and in base units. */
export function subjectItemOf(rec: { item: WmsItem; quantity: number; uom?: string }, item: StockItem, baseQuantity: number): SubjectItem {
  return {
    role: 'subject',
    materialId: item.material.id,
    lotId: item.lot.id,
    ...(item.serialId === null ? {} : { serialId: item.serialId, serial: rec.item.serial }),
    gtin: rec.item.gtin,
    lotNumber: item.lot.lot_number,
    quantity: rec.quantity,
    uom: rec.uom ?? item.material.baseUom,
    baseQuantity,
  };
}

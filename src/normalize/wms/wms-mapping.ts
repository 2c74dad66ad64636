import type { MaterialKind, PackagingLevel } from '../../model/master-data/master-data.types';
import type { StockState, WmsMovementType } from './wms-record.types';

/** EPCIS/CBV fields of a WMS movement type. */
export interface EpcisMapping {
  bizStep: string;
  action: 'ADD' | 'OBSERVE' | 'DELETE';
}

/**
 * CBV bizStep per WMS record type. Moves and put-aways are `storing` (moving stock into and out of
 * storage within a site); an issue hands stock out of the warehouse for use (`dispensing`); an
 * adjustment has no CBV step of its own (`other`, with the WMS type in the event details).
 */
export const WMS_EPCIS: Readonly<Record<WmsMovementType | 'count' | 'temperature', EpcisMapping>> = {
  receive: { bizStep: 'receiving', action: 'OBSERVE' },
  putaway: { bizStep: 'storing', action: 'OBSERVE' },
  move: { bizStep: 'storing', action: 'OBSERVE' },
  pick: { bizStep: 'picking', action: 'OBSERVE' },
  issue: { bizStep: 'dispensing', action: 'OBSERVE' },
  ship: { bizStep: 'shipping', action: 'OBSERVE' },
  adjust: { bizStep: 'other', action: 'OBSERVE' },
  count: { bizStep: 'cycle_counting', action: 'OBSERVE' },
  temperature: { bizStep: 'sensor_reporting', action: 'OBSERVE' },
};

/**
 * CBV disposition of stock after a movement: shipped stock is `in_transit`, issued stock
 * `dispensed`; otherwise it follows the stock state the quantity ends in.
 * @param type - the movement type (or count)
 * @param state - the stock state the quantity ends in
 */
export function dispositionOf(type: WmsMovementType | 'count', state: StockState): string {
  if (type === 'ship') {
    return 'in_transit';
  }
  if (type === 'issue') {
    return 'dispensed';
  }
  switch (state) {
    case 'pending_inspection':
    case 'pending_shipment':
    case 'wip':
      return 'in_progress';
    case 'in_transit':
      return 'in_transit';
    case 'raw':
    case 'component':
    case 'finished':
      return 'sellable_not_accessible';
  }
}

/** CBV bizTransaction types for the reference kinds WMS feeds use; other kinds are kept as written. */
const BIZ_TRANSACTION_TYPES: Readonly<Record<string, string>> = {
  asn: 'desadv',
  desadv: 'desadv',
  po: 'po',
  order: 'po',
  invoice: 'inv',
  inv: 'inv',
  bol: 'bol',
  rma: 'rma',
  workorder: 'prodorder',
  prodorder: 'prodorder',
  recadv: 'recadv',
};

/**
 * The EPCIS business transactions of a record's reference (`{ asn: 'ASN-77' }` → desadv ASN-77).
 * @param reference - kind → value
 */
export function bizTransactionsOf(reference: Record<string, string>): Array<{ type: string; value: string }> {
  return Object.entries(reference).map(([kind, value]) => ({ type: BIZ_TRANSACTION_TYPES[kind] ?? kind, value }));
}

/**
 * Stock state when a record names none: raw materials are `raw`, components `component`,
 * everything else `finished`.
 * @param kind - the material kind
 */
export function defaultStockState(kind: MaterialKind): StockState {
  return kind === 'raw' ? 'raw' : kind === 'component' ? 'component' : 'finished';
}

/** Units of measure that name a packaging level. */
const UOM_LEVELS: Readonly<Record<string, PackagingLevel>> = {
  EA: 'each',
  EACH: 'each',
  PCE: 'each',
  PC: 'each',
  PCS: 'each',
  UNIT: 'each',
  C62: 'each',
  IN: 'inner',
  INNER: 'inner',
  BX: 'box',
  BOX: 'box',
  CS: 'case',
  CA: 'case',
  CT: 'case',
  CASE: 'case',
  PL: 'pallet',
  PAL: 'pallet',
  PX: 'pallet',
  PALLET: 'pallet',
};

/**
 * The packaging level a unit of measure names (EA → each, CS → case …), if it names one.
 * @param uom - the unit as a feed writes it
 */
export function packagingLevelOfUom(uom: string): PackagingLevel | undefined {
  return UOM_LEVELS[uom.trim().toUpperCase()];
}

/**
 * The idempotency key of a WMS record: `wms:<connectorId>:<movementId>`, with `@<sender>` after the
 * connector id when the record names a sender (two warehouses on one connector may number alike),
 * and `reading:` before a temperature reading's id.
 * @param connectorId - the connector instance
 * @param id - movementId or readingId
 * @param sender - the record's sender/warehouse, if any
 * @param reading - true for a temperature reading
 */
export function wmsSourceKey(connectorId: string, id: string, sender: string | undefined, reading: boolean): string {
  return `wms:${connectorId}${sender === undefined ? '' : `@${sender}`}:${reading ? 'reading:' : ''}${id}`;
}

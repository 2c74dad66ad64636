import type { Knex } from 'knex';

/** A lot a recall touches. */
export interface ImpactLot {
  lotId: string;
  material: string;
  gtin: string | null;
  lot: string;
  /** named: recalled; derived: put on hold (pending a decision). */
  role: 'named' | 'derived';
  depth: number;
  previousStatus: string;
  newStatus: string;
}

export interface ImpactCustomer {
  customer: string;
  gln: string | null;
  name: string | null;
  uom: string | null;
  units: number;
  shipments: number;
  lots: number;
}

export interface ImpactLocation {
  location: string;
  locationName: string | null;
  party: string | null;
  stockState: string;
  uom: string;
  units: number;
  lots: number;
}

export interface ImpactHospital {
  hospital: string;
  gln: string | null;
  name: string | null;
  uom: string;
  units: number;
  usages: number;
  firstUsedAt: string;
  lastUsedAt: string;
}

export interface ImpactConsumption {
  hospital: string;
  location: string;
  usedAt: string;
  material: string;
  lot: string;
  serial: string | null;
  quantity: number;
  uom: string;
  procedureCode: string | null;
  /** Pseudonymous procedure reference (keyed HMAC); the hospital resolves it to its own patient records. */
  procedureRef: string | null;
}

export interface ImpactOpenShipment {
  shipmentId: string;
  shipmentNumber: string;
  status: string;
  customer: string;
  customerName: string | null;
  shippedAt: string | null;
  expectedAt: string | null;
  units: number;
  lots: string[];
}

export interface ImpactSerial {
  serialId: string;
  material: string;
  serial: string;
  lot: string | null;
  previousStatus: string;
  location: string | null;
}

/** The impact snapshot of a recall, taken in its transaction. */
export interface RecallImpact {
  takenAt: string;
  totals: {
    lots: number;
    namedLots: number;
    derivedLots: number;
    serials: number;
    unitsOnHand: number;
    unitsShipped: number;
    unitsConsumed: number;
    customers: number;
    hospitals: number;
    openShipments: number;
  };
  lots: ImpactLot[];
  serials: ImpactSerial[];
  unitsByCustomer: ImpactCustomer[];
  unitsByLocation: ImpactLocation[];
  consumedByHospital: ImpactHospital[];
  consumption: ImpactConsumption[];
  openShipments: ImpactOpenShipment[];
}

/** Shipment statuses of an outbound shipment that can still be stopped or intercepted. */
export const OPEN_SHIPMENT_STATUSES = ['planned', 'shipped', 'in_transit'];

const iso = (d: Date | string | null): string | null => (d === null ? null : d instanceof Date ? d.toISOString() : d);
const round = (n: number): number => Math.round(n * 10000) / 10000;

/**
 * Computes the impact of a set of lots (all of them, no pages): stock per location and state, units
 * shipped per customer, consumption per hospital (and each usage with its pseudonymous procedure
 * reference), open outbound shipments to stop.
 * @param trx - the recall's transaction (so the snapshot matches the status changes)
 * @param lots - the affected lots with their roles
 * @param serials - serials named by the recall
 */
export async function computeRecallImpact(trx: Knex, lots: ImpactLot[], serials: ImpactSerial[]): Promise<RecallImpact> {
  const ids = lots.map((l) => l.lotId);
  // one after another: the queries share the recall's transaction (one connection)
  const q = async <T>(sql: string, params: Knex.RawBinding[]): Promise<{ rows: T[] }> => trx.raw<{ rows: T[] }>(sql, params);
  const cust = await q<{ customer: string; gln: string | null; name: string | null; uom: string | null; units: number; shipments: number; lots: number }>(
      `SELECT coalesce(p.code, p.gln, s.ship_to, 'unknown') AS customer, p.gln, p.name, x.uom,
              sum(coalesce(x.quantity_shipped, x.quantity_expected, x.quantity_received, 0)) AS units,
              count(DISTINCT s.id)::int AS shipments, count(DISTINCT x.lot_id)::int AS lots
         FROM shipment_lines x JOIN shipments s ON s.id = x.shipment_id AND s.direction = 'outbound'
         LEFT JOIN parties p ON p.id = s.to_party_id
        WHERE x.lot_id = ANY(?::uuid[])
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 4`,
      [ids],
  );
  const loc = await q<{ location: string; location_name: string | null; party: string | null; stock_state: string; uom: string; units: number; lots: number }>(
      `SELECT loc.code AS location, loc.name AS location_name, coalesce(p.code, p.gln) AS party, b.stock_state, m.base_uom AS uom,
              sum(b.quantity) AS units, count(DISTINCT b.lot_id)::int AS lots
         FROM inventory_balances b
         JOIN locations loc ON loc.id = b.location_id
         JOIN lots l ON l.id = b.lot_id JOIN materials m ON m.id = l.material_id
         LEFT JOIN parties p ON p.id = loc.party_id
        WHERE b.lot_id = ANY(?::uuid[]) AND b.quantity <> 0
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 4, 5`,
      [ids],
  );
  const hosp = await q<{ hospital: string; gln: string | null; name: string | null; uom: string; units: number; usages: number; first_used_at: Date; last_used_at: Date }>(
      `SELECT coalesce(p.gln, p.code, loc.code) AS hospital, p.gln, p.name, u.uom, sum(u.quantity) AS units, count(*)::int AS usages,
              min(u.used_at) AS first_used_at, max(u.used_at) AS last_used_at
         FROM device_usages u JOIN locations loc ON loc.id = u.location_id LEFT JOIN parties p ON p.id = u.party_id
        WHERE u.lot_id = ANY(?::uuid[])
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 4`,
      [ids],
  );
  const cons = await q<{ hospital: string; location: string; used_at: Date; material: string; lot: string; serial: string | null; quantity: number; uom: string; procedure_code: string | null; procedure_ref_hmac: string | null }>(
      `SELECT coalesce(p.gln, p.code, loc.code) AS hospital, loc.code AS location, u.used_at, m.code AS material, l.lot_number AS lot,
              sr.serial_number AS serial, u.quantity, u.uom, u.procedure_code, u.procedure_ref_hmac
         FROM device_usages u JOIN locations loc ON loc.id = u.location_id LEFT JOIN parties p ON p.id = u.party_id
         JOIN lots l ON l.id = u.lot_id JOIN materials m ON m.id = u.material_id LEFT JOIN serials sr ON sr.id = u.serial_id
        WHERE u.lot_id = ANY(?::uuid[])
        ORDER BY 1, u.used_at, u.id`,
      [ids],
  );
  const open = await q<{ id: string; shipment_number: string; status: string; customer: string; customer_name: string | null; shipped_at: Date | null; expected_at: Date | null; units: number; lots: string[] }>(
      `SELECT s.id, s.shipment_number, s.status, coalesce(p.code, p.gln, s.ship_to, 'unknown') AS customer, p.name AS customer_name, s.shipped_at, s.expected_at,
              sum(coalesce(x.quantity_shipped, x.quantity_expected, 0)) AS units,
              array_agg(DISTINCT m.code || ' / ' || l.lot_number ORDER BY m.code || ' / ' || l.lot_number) AS lots
         FROM shipment_lines x JOIN shipments s ON s.id = x.shipment_id
         JOIN lots l ON l.id = x.lot_id JOIN materials m ON m.id = l.material_id
         LEFT JOIN parties p ON p.id = s.to_party_id
        WHERE x.lot_id = ANY(?::uuid[]) AND s.direction = 'outbound' AND s.status = ANY(?::text[])
        GROUP BY s.id, s.shipment_number, s.status, 4, p.name, s.shipped_at, s.expected_at
        ORDER BY s.shipment_number`,
      [ids, OPEN_SHIPMENT_STATUSES],
  );
  const unitsByCustomer = cust.rows.map((r) => ({ ...r, units: round(r.units) }));
  const unitsByLocation = loc.rows.map((r) => ({ location: r.location, locationName: r.location_name, party: r.party, stockState: r.stock_state, uom: r.uom, units: round(r.units), lots: r.lots }));
  const consumedByHospital = hosp.rows.map((r) => ({ hospital: r.hospital, gln: r.gln, name: r.name, uom: r.uom, units: round(r.units), usages: r.usages, firstUsedAt: iso(r.first_used_at) ?? '', lastUsedAt: iso(r.last_used_at) ?? '' }));
  return {
    takenAt: new Date().toISOString(),
    totals: {
      lots: lots.length,
      namedLots: lots.filter((l) => l.role === 'named').length,
      derivedLots: lots.filter((l) => l.role === 'derived').length,
      serials: serials.length,
      unitsOnHand: round(unitsByLocation.reduce((s, r) => s + r.units, 0)),
      unitsShipped: round(unitsByCustomer.reduce((s, r) => s + r.units, 0)),
      unitsConsumed: round(consumedByHospital.reduce((s, r) => s + r.units, 0)),
      customers: new Set(unitsByCustomer.map((r) => r.customer)).size,
      hospitals: new Set(consumedByHospital.map((r) => r.hospital)).size,
      openShipments: open.rows.length,
    },
    lots,
    serials,
    unitsByCustomer,
    unitsByLocation,
    consumedByHospital,
    consumption: cons.rows.map((r) => ({
      hospital: r.hospital, location: r.location, usedAt: iso(r.used_at) ?? '', material: r.material, lot: r.lot, serial: r.serial,
      quantity: round(r.quantity), uom: r.uom, procedureCode: r.procedure_code, procedureRef: r.procedure_ref_hmac,
    })),
    openShipments: open.rows.map((r) => ({
      shipmentId: r.id, shipmentNumber: r.shipment_number, status: r.status, customer: r.customer, customerName: r.customer_name,
      shippedAt: iso(r.shipped_at), expectedAt: iso(r.expected_at), units: round(r.units), lots: r.lots,
    })),
  };
}

const CSV_COLUMNS = ['section', 'material', 'lot', 'role', 'depth', 'previousStatus', 'newStatus', 'party', 'partyName', 'location', 'stockState', 'shipment', 'status', 'date', 'units', 'uom', 'count', 'reference'] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // a cell a spreadsheet would run as a formula is quoted with a leading apostrophe
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The impact as one CSV table (RFC 4180, header row, one `section` column saying which list a row belongs to). */
export function recallImpactCsv(recall: { recallNumber: string; reason: string; class: string | null }, impact: RecallImpact): string {
  const rows: Array<Partial<Record<(typeof CSV_COLUMNS)[number], unknown>>> = [];
  rows.push({ section: 'recall', reference: recall.recallNumber, status: recall.class ? `class ${recall.class}` : '', partyName: recall.reason, date: impact.takenAt });
  for (const l of impact.lots) rows.push({ section: 'lot', material: l.material, lot: l.lot, role: l.role, depth: l.depth, previousStatus: l.previousStatus, newStatus: l.newStatus });
  for (const s of impact.serials) rows.push({ section: 'serial', material: s.material, lot: s.lot, reference: s.serial, previousStatus: s.previousStatus, newStatus: 'recalled', location: s.location });
  for (const c of impact.unitsByCustomer) rows.push({ section: 'customer', party: c.customer, partyName: c.name, units: c.units, uom: c.uom, count: c.shipments });
  for (const b of impact.unitsByLocation) rows.push({ section: 'on_hand', location: b.location, party: b.party, partyName: b.locationName, stockState: b.stockState, units: b.units, uom: b.uom, count: b.lots });
  for (const h of impact.consumedByHospital) rows.push({ section: 'hospital', party: h.hospital, partyName: h.name, units: h.units, uom: h.uom, count: h.usages, date: h.lastUsedAt });
  for (const c of impact.consumption) rows.push({ section: 'consumption', party: c.hospital, location: c.location, date: c.usedAt, material: c.material, lot: c.lot, units: c.quantity, uom: c.uom, status: c.procedureCode, reference: c.procedureRef ?? c.serial });
  for (const s of impact.openShipments) rows.push({ section: 'open_shipment', shipment: s.shipmentNumber, status: s.status, party: s.customer, partyName: s.customerName, date: s.shippedAt, units: s.units, reference: s.lots.join('; ') });
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

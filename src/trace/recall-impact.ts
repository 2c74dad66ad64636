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
  /** The shipment's units of the affected lots when its lines are in one unit of measure; null when they are in several (see `quantities`). */
  units: number | null;
  /** Per unit of measure. */
  quantities: Array<{ units: number; uom: string | null }>;
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
    /**
     * The units on hand, shipped and consumed per unit of measure (by uom): the `units…` totals
     * above add every unit together (10 EA and 2 KG make 12), these do not.
     */
    unitsByUom: Array<{ uom: string | null; onHand: number; shipped: number; consumed: number }>;
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

/** A sum of quantities without the float noise of adding them (0.1 + 0.2 → 0.3); quantities are kept with 10 decimals. */
const round = (n: number): number => Number(n.toPrecision(15));

/** A customer to notify of a recall (the `recall.opened` event's `impact.customers`): all units of every uom, and the affected lots it received. */
export interface RecallNotifyCustomer {
  party_id: string | null;
  customer: string;
  gln: string | null;
  name: string | null;
  /** Units received of the affected lots when in one unit of measure; null when in several (see `quantities`). */
  units: number | null;
  quantities: Array<{ units: number; uom: string | null }>;
  lots: Array<{ material: string; lot: string }>;
}

/**
 * Rows aggregated per unit of measure (one per `uom`), grouped by `key` in their order: each group's
 * first row and all its rows.
 */
function perUom<T>(rows: T[], key: (r: T) => string): Array<[T, T[]]> {
  const groups = new Map<string, [T, T[]]>();
  for (const r of rows) {
    const k = key(r);
    const g = groups.get(k);
    if (g) g[1].push(r);
    else groups.set(k, [r, [r]]);
  }
  return [...groups.values()];
}

/** `quantities` per unit of measure of rows with `units` and `uom`, and `units` when they are in one unit (null when in several). */
function quantitiesOf(rows: Array<{ units: number | string; uom: string | null }>): { units: number | null; quantities: Array<{ units: number; uom: string | null }> } {
  const quantities = rows.map((x) => ({ units: round(Number(x.units)), uom: x.uom }));
  return { units: quantities.length === 1 ? quantities[0].units : null, quantities };
}

/** Lot counts up to which the shipment lines are read lot by lot (index probes); above, PostgreSQL picks its join. */
const LATERAL_LINES_UP_TO = 1000;

/**
 * Computes the impact of a set of lots and named serials (all of them, no pages): stock per location
 * and state, units shipped per customer, consumption per hospital (and each usage with its
 * pseudonymous procedure reference), open outbound shipments to stop. A named serial's own shipment
 * lines and usages count unless its lot is among the lots (whose rows already hold them).
 * @param trx - the recall's transaction (so the snapshot matches the status changes)
 * @param lots - the affected lots with their roles
 * @param serials - serials named by the recall
 */
export async function computeRecallImpact(trx: Knex, lots: ImpactLot[], serials: ImpactSerial[]): Promise<RecallImpact> {
  return (await computeRecallImpactAndNotify(trx, lots, serials)).impact;
}

/**
 * {@link computeRecallImpact} and the customers to notify, in **one statement**: the affected
 * lots' outbound shipment lines are read once (a materialized CTE) and aggregated three ways (per
 * customer and uom, per open shipment, per customer for the notice), beside the stock and usage
 * aggregates. For up to {@link LATERAL_LINES_UP_TO} lots the lines are read lot by lot (LATERAL
 * index probes: the planner's estimate for `lot_id = ANY(…)` would hash-join every shipment).
 */
export async function computeRecallImpactAndNotify(trx: Knex, lots: ImpactLot[], serials: ImpactSerial[]): Promise<{ impact: RecallImpact; notify: RecallNotifyCustomer[] }> {
  const ids = [...new Set(lots.map((l) => l.lotId))];
  const serialIds = [...new Set(serials.map((s) => s.serialId))];
  const lotLines = ids.length <= LATERAL_LINES_UP_TO
    ? `SELECT lo.id AS lot_id, m.code AS material, lo.lot_number, x.*
         FROM unnest(?::uuid[]) u(id) JOIN lots lo ON lo.id = u.id JOIN materials m ON m.id = lo.material_id
         CROSS JOIN LATERAL (
           SELECT x.uom, x.quantity_shipped, x.quantity_expected, x.quantity_received, s.id AS shipment_id, s.shipment_number, s.status,
                  s.ship_to, s.shipped_at, s.expected_at, s.to_party_id
             FROM shipment_lines x JOIN shipments s ON s.id = x.shipment_id AND s.direction = 'outbound' AND s.status <> 'cancelled' WHERE x.lot_id = u.id) x`
    : `SELECT x.lot_id, m.code AS material, lo.lot_number, x.uom, x.quantity_shipped, x.quantity_expected, x.quantity_received,
              s.id AS shipment_id, s.shipment_number, s.status, s.ship_to, s.shipped_at, s.expected_at, s.to_party_id
         FROM shipment_lines x JOIN shipments s ON s.id = x.shipment_id AND s.direction = 'outbound' AND s.status <> 'cancelled'
         JOIN lots lo ON lo.id = x.lot_id JOIN materials m ON m.id = lo.material_id
        WHERE x.lot_id = ANY(?::uuid[])`;
  // a named serial's own lines and usages count too (the unit shipped to a customer, implanted at a
  // hospital), unless its lot is among the affected lots (then the lot's rows hold them already)
  const lines = serialIds.length === 0
    ? lotLines
    : `${lotLines}
       UNION ALL
       SELECT x.lot_id, m.code AS material, lo.lot_number, x.uom, x.quantity_shipped, x.quantity_expected, x.quantity_received,
              s.id AS shipment_id, s.shipment_number, s.status, s.ship_to, s.shipped_at, s.expected_at, s.to_party_id
         FROM shipment_lines x JOIN shipments s ON s.id = x.shipment_id AND s.direction = 'outbound' AND s.status <> 'cancelled'
         JOIN materials m ON m.id = x.material_id LEFT JOIN lots lo ON lo.id = x.lot_id
        WHERE x.serial_id = ANY(?::uuid[]) AND (x.lot_id IS NULL OR NOT x.lot_id = ANY(?::uuid[]))`;
  const usages = serialIds.length === 0
    ? 'u.lot_id = ANY(?::uuid[])'
    : '(u.lot_id = ANY(?::uuid[]) OR (u.serial_id = ANY(?::uuid[]) AND (u.lot_id IS NULL OR NOT u.lot_id = ANY(?::uuid[]))))';
  const usageParams = serialIds.length === 0 ? [ids] : [ids, serialIds, ids];
  const r = await trx.raw<{ rows: Array<Record<'cust' | 'loc' | 'hosp' | 'cons' | 'open' | 'notify', any[]>> }>(
    `WITH lines AS MATERIALIZED (${lines}),
     cust AS (
       SELECT coalesce(p.code, p.gln, x.ship_to, 'unknown') AS customer, p.gln, p.name, x.uom,
              sum(coalesce(x.quantity_shipped, x.quantity_expected, x.quantity_received, 0)) AS units,
              count(DISTINCT x.shipment_id)::int AS shipments, count(DISTINCT x.lot_id)::int AS lots
         FROM lines x LEFT JOIN parties p ON p.id = x.to_party_id
        GROUP BY 1, 2, 3, 4),
     open AS (
       SELECT x.shipment_id AS id, x.shipment_number, x.status, coalesce(p.code, p.gln, x.ship_to, 'unknown') AS customer, p.name AS customer_name,
              x.shipped_at, x.expected_at, x.uom, sum(coalesce(x.quantity_shipped, x.quantity_expected, 0)) AS units,
              array_agg(DISTINCT x.material || coalesce(' / ' || x.lot_number, '') ORDER BY x.material || coalesce(' / ' || x.lot_number, '')) AS lots
         FROM lines x LEFT JOIN parties p ON p.id = x.to_party_id
        WHERE x.status = ANY(?::text[])
        GROUP BY x.shipment_id, x.shipment_number, x.status, 4, p.name, x.shipped_at, x.expected_at, x.uom),
     notify AS (
       SELECT p.id AS party_id, coalesce(p.code, p.gln, x.ship_to, 'unknown') AS customer, p.gln, p.name, x.uom,
              sum(coalesce(x.quantity_shipped, x.quantity_expected, x.quantity_received, 0)) AS units,
              jsonb_agg(DISTINCT jsonb_build_object('material', x.material, 'lot', x.lot_number)) AS lots
         FROM lines x LEFT JOIN parties p ON p.id = x.to_party_id
        GROUP BY p.id, 2, p.gln, p.name, x.uom),
     loc AS (
       SELECT loc.code AS location, loc.name AS location_name, coalesce(p.code, p.gln) AS party, b.stock_state, m.base_uom AS uom,
              sum(b.quantity) AS units, count(DISTINCT b.lot_id)::int AS lots
         FROM inventory_balances b
         JOIN locations loc ON loc.id = b.location_id
         JOIN lots l ON l.id = b.lot_id JOIN materials m ON m.id = l.material_id
         LEFT JOIN parties p ON p.id = loc.party_id
        WHERE b.lot_id = ANY(?::uuid[]) AND b.quantity > 0
        GROUP BY 1, 2, 3, 4, 5),
     hosp AS (
       SELECT coalesce(p.gln, p.code, loc.code) AS hospital, p.gln, p.name, u.uom, sum(u.quantity) AS units, (count(*) FILTER (WHERE u.quantity > 0))::int AS usages,
              min(u.used_at) FILTER (WHERE u.quantity > 0) AS first_used_at, max(u.used_at) FILTER (WHERE u.quantity > 0) AS last_used_at
         FROM device_usages u JOIN locations loc ON loc.id = u.location_id LEFT JOIN parties p ON p.id = u.party_id
        WHERE ${usages}
        GROUP BY 1, 2, 3, 4
       HAVING sum(u.quantity) > 0),
     cons AS (
       SELECT coalesce(p.gln, p.code, loc.code) AS hospital, loc.code AS location, u.used_at, m.code AS material, l.lot_number AS lot,
              sr.serial_number AS serial, u.quantity, u.uom, u.procedure_code, u.procedure_ref_hmac, u.id
         FROM device_usages u JOIN locations loc ON loc.id = u.location_id LEFT JOIN parties p ON p.id = u.party_id
         ${serialIds.length === 0 ? 'JOIN' : 'LEFT JOIN'} lots l ON l.id = u.lot_id JOIN materials m ON m.id = u.material_id LEFT JOIN serials sr ON sr.id = u.serial_id
        WHERE ${usages})
     SELECT (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.customer, c.uom), '[]') FROM cust c) AS cust,
            (SELECT coalesce(jsonb_agg(to_jsonb(b) ORDER BY b.location, b.stock_state, b.uom), '[]') FROM loc b) AS loc,
            (SELECT coalesce(jsonb_agg(to_jsonb(h) ORDER BY h.hospital, h.uom), '[]') FROM hosp h) AS hosp,
            (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.hospital, c.used_at, c.id), '[]') FROM cons c) AS cons,
            (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.shipment_number, o.uom), '[]') FROM open o) AS open,
            (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.customer, n.party_id, n.uom), '[]') FROM notify n) AS notify`,
    [ids, ...(serialIds.length === 0 ? [] : [serialIds, ids]), OPEN_SHIPMENT_STATUSES, ids, ...usageParams, ...usageParams],
  );
  const q = r.rows[0];
  // timestamps arrive as jsonb text: answered as ISO 8601 UTC, as before
  const ts = (v: string | null): string | null => (v === null || v === undefined ? null : new Date(v).toISOString());
  const unitsByCustomer: ImpactCustomer[] = q.cust.map((c) => ({ customer: c.customer, gln: c.gln, name: c.name, uom: c.uom, units: round(c.units), shipments: c.shipments, lots: c.lots }));
  const unitsByLocation: ImpactLocation[] = q.loc.map((b) => ({ location: b.location, locationName: b.location_name, party: b.party, stockState: b.stock_state, uom: b.uom, units: round(b.units), lots: b.lots }));
  const consumedByHospital: ImpactHospital[] = q.hosp.map((h) => ({ hospital: h.hospital, gln: h.gln, name: h.name, uom: h.uom, units: round(h.units), usages: h.usages, firstUsedAt: ts(h.first_used_at) ?? '', lastUsedAt: ts(h.last_used_at) ?? '' }));
  // one row per shipment and unit of measure from the statement: one entry per shipment (its lots in
  // PostgreSQL's order; merged in code order when the shipment has lines in several units)
  const openShipments: ImpactOpenShipment[] = perUom(q.open, (o) => o.id).map(([o, rows]) => ({
    shipmentId: o.id, shipmentNumber: o.shipment_number, status: o.status, customer: o.customer, customerName: o.customer_name,
    shippedAt: ts(o.shipped_at), expectedAt: ts(o.expected_at), ...quantitiesOf(rows),
    lots: rows.length === 1 ? (o.lots as string[]) : [...new Set(rows.flatMap((x) => x.lots as string[]))].sort(),
  }));
  const impact: RecallImpact = {
    takenAt: new Date().toISOString(),
    totals: {
      lots: lots.length,
      namedLots: lots.filter((l) => l.role === 'named').length,
      derivedLots: lots.filter((l) => l.role === 'derived').length,
      serials: serials.length,
      unitsOnHand: round(unitsByLocation.reduce((s, x) => s + x.units, 0)),
      unitsShipped: round(unitsByCustomer.reduce((s, x) => s + x.units, 0)),
      unitsConsumed: round(consumedByHospital.reduce((s, x) => s + x.units, 0)),
      customers: new Set(unitsByCustomer.map((x) => x.customer)).size,
      hospitals: new Set(consumedByHospital.map((x) => x.hospital)).size,
      openShipments: openShipments.length,
      unitsByUom: unitsPerUom(unitsByLocation, unitsByCustomer, consumedByHospital),
    },
    lots,
    serials,
    unitsByCustomer,
    unitsByLocation,
    consumedByHospital,
    consumption: q.cons.map((c) => ({
      hospital: c.hospital, location: c.location, usedAt: ts(c.used_at) ?? '', material: c.material, lot: c.lot, serial: c.serial,
      quantity: round(c.quantity), uom: c.uom, procedureCode: c.procedure_code, procedureRef: c.procedure_ref_hmac,
    })),
    openShipments,
  };
  const notify: RecallNotifyCustomer[] = perUom(q.notify, (n) => `${n.party_id ?? ''}|${n.customer}`).map(([n, rows]) => {
    const seen = new Map<string, { material: string; lot: string }>();
    for (const l of rows.flatMap((x) => x.lots as Array<{ material: string; lot: string }>)) seen.set(`${l.material}\u0000${l.lot}`, l);
    return { party_id: n.party_id, customer: n.customer, gln: n.gln, name: n.name, ...quantitiesOf(rows), lots: [...seen.values()] };
  });
  return { impact, notify };
}

type Units = { uom: string | null; units: number };

/** The totals of the stock, customer and hospital lists per unit of measure, by uom. */
function unitsPerUom(
  onHand: readonly Units[], shipped: readonly Units[], consumed: readonly Units[],
): RecallImpact['totals']['unitsByUom'] {
  const by = new Map<string | null, { uom: string | null; onHand: number; shipped: number; consumed: number }>();
  const add = (rows: readonly Units[], key: 'onHand' | 'shipped' | 'consumed'): void => {
    for (const r of rows) {
      let t = by.get(r.uom);
      if (!t) by.set(r.uom, (t = { uom: r.uom, onHand: 0, shipped: 0, consumed: 0 }));
      t[key] += r.units;
    }
  };
  add(onHand, 'onHand');
  add(shipped, 'shipped');
  add(consumed, 'consumed');
  // by uom, a line without one last
  const k = (u: string | null): string => (u === null ? '\uffff' : u);
  return [...by.values()].sort((a, b) => (k(a.uom) < k(b.uom) ? -1 : k(a.uom) > k(b.uom) ? 1 : 0)).map((t) => ({ uom: t.uom, onHand: round(t.onHand), shipped: round(t.shipped), consumed: round(t.consumed) }));
}

const CSV_COLUMNS = ['section', 'material', 'lot', 'role', 'depth', 'previousStatus', 'newStatus', 'party', 'partyName', 'location', 'stockState', 'shipment', 'status', 'date', 'units', 'uom', 'count', 'reference', 'serial', 'gln'] as const;

export function csvCell(v: unknown): string {
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
  for (const s of impact.serials) rows.push({ section: 'serial', material: s.material, lot: s.lot, reference: s.serial, serial: s.serial, previousStatus: s.previousStatus, newStatus: 'recalled', location: s.location });
  for (const c of impact.unitsByCustomer) rows.push({ section: 'customer', party: c.customer, gln: c.gln, partyName: c.name, units: c.units, uom: c.uom, count: c.shipments });
  for (const b of impact.unitsByLocation) rows.push({ section: 'on_hand', location: b.location, party: b.party, partyName: b.locationName, stockState: b.stockState, units: b.units, uom: b.uom, count: b.lots });
  for (const h of impact.consumedByHospital) rows.push({ section: 'hospital', party: h.hospital, gln: h.gln, partyName: h.name, units: h.units, uom: h.uom, count: h.usages, date: h.lastUsedAt });
  for (const c of impact.consumption) rows.push({ section: 'consumption', party: c.hospital, location: c.location, date: c.usedAt, material: c.material, lot: c.lot, units: c.quantity, uom: c.uom, status: c.procedureCode, reference: c.procedureRef ?? c.serial, serial: c.serial });
  // one row per open shipment and unit of measure
  for (const s of impact.openShipments) {
    for (const q of s.quantities) rows.push({ section: 'open_shipment', shipment: s.shipmentNumber, status: s.status, party: s.customer, partyName: s.customerName, date: s.shippedAt, units: q.units, uom: q.uom, reference: s.lots.join('; ') });
  }
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

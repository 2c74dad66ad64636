import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../../src/db/knex';

/** GTINs used by the WMS tests (valid check digits). */
export const GTIN = {
  /** Material TEST-A, each. */
  eachA: '09506000134352',
  /** Material TEST-A, case of 10. */
  caseA: '19506000134359',
  /** Material TEST-B, each. */
  eachB: '09506000134369',
  /** Not in master data. */
  unknown: '09506000999999',
};

/** A valid GLN of a customer. */
export const CUSTOMER_GLN = '4098765432101';

/** Inserts a material with its GTINs (as master data would). */
export async function seedMaterial(
  db: Db,
  m: { code: string; kind?: string; baseUom?: string; gtins: Array<{ gtin: string; level?: string; qty?: number }>; minC?: number; maxC?: number },
): Promise<string> {
  const id = uuidv7();
  await db('materials').insert({
    id,
    code: m.code,
    kind: m.kind ?? 'finished',
    base_uom: m.baseUom ?? 'EA',
    storage_temp_min_c: m.minC ?? null,
    storage_temp_max_c: m.maxC ?? null,
  });
  await db('material_identifiers').insert(
    m.gtins.map((g) => ({ material_id: id, scheme: 'gtin', value: g.gtin, packaging_level: g.level ?? 'each', quantity_per_level: g.qty ?? 1 })),
  );
  return id;
}

/** Inserts a location (as master data would). */
export async function seedLocation(db: Db, l: { code: string; minC?: number; maxC?: number }): Promise<string> {
  const id = uuidv7();
  await db('locations').insert({ id, code: l.code, kind: 'bin', temp_min_c: l.minC ?? null, temp_max_c: l.maxC ?? null });
  return id;
}

/** Balances of one lot (by GTIN of any level and lot number): `location/state` → quantity, zeros left out. */
export async function balancesOf(db: Db, gtin: string, lot: string): Promise<Record<string, number>> {
  const rows = await db('inventory_balances as b')
    .join('lots as l', 'l.id', 'b.lot_id')
    .join('material_identifiers as mi', 'mi.material_id', 'l.material_id')
    .join('locations as loc', 'loc.id', 'b.location_id')
    .where({ 'mi.value': gtin, 'l.lot_number': lot })
    .whereNot('b.quantity', 0)
    .select<Array<{ code: string; stock_state: string; quantity: number }>>('loc.code', 'b.stock_state', 'b.quantity');
  return Object.fromEntries(rows.map((r) => [`${r.code}/${r.stock_state}`, Number(r.quantity)]));
}

/** The sum of the ledger per `location/state` of a lot, to check balances equal their ledger. */
export async function ledgerOf(db: Db, gtin: string, lot: string): Promise<Record<string, number>> {
  const rows = await db('inventory_ledger as g')
    .join('lots as l', 'l.id', 'g.lot_id')
    .join('material_identifiers as mi', 'mi.material_id', 'l.material_id')
    .join('locations as loc', 'loc.id', 'g.location_id')
    .where({ 'mi.value': gtin, 'l.lot_number': lot })
    .groupBy('loc.code', 'g.stock_state')
    .havingRaw('sum(g.delta) <> 0')
    .select<Array<{ code: string; stock_state: string; total: number }>>('loc.code', 'g.stock_state', db.raw('sum(g.delta) AS total'));
  return Object.fromEntries(rows.map((r) => [`${r.code}/${r.stock_state}`, Number(r.total)]));
}

/** Open alerts of a type. */
export async function openAlerts(db: Db, type: string): Promise<Array<{ id: string; severity: string; subject_type: string; subject_id: string; message: string; details: Record<string, unknown>; dedup_key: string; source_message_id: string | null }>> {
  return db('alerts').where({ type, status: 'open' }).orderBy('opened_at');
}

/** One movement record with defaults (receive of 10 EA of TEST-A lot L1 at A1). */
export function movement(over: Record<string, unknown>): Record<string, unknown> {
  return { type: 'receive', occurredAt: '2026-03-01T10:00:00Z', location: 'A1', gtin: GTIN.eachA, lot: 'L1', quantity: 10, ...over };
}

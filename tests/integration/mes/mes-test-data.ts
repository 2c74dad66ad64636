import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../../../src/db/knex';
import { createB2mmlHandler } from '../../../src/normalize/b2mml/b2mml.handler';
import type { MessageHandler } from '../../../src/pipeline/handler';
import { processTestMessage, type HandlerRun } from '../../helpers/process-context';

/** The MES handler as the hub registers it for the built-in `mes` instance. */
export const mesHandler: MessageHandler = createB2mmlHandler({ configOf: () => ({ location: 'MES', limits: {} }) });

/** A fixture of tests/fixtures/b2mml. */
export const b2mmlFixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/b2mml', name));

/** Stores a B2MML body as the `mes` connector would and runs the handler on it. */
export function runB2mml(db: Db, payload: Buffer | string, opts: { timezone?: string; contentType?: string } = {}): ReturnType<typeof processTestMessage> {
  return processTestMessage(db, mesHandler, { payload, contentType: opts.contentType ?? 'application/xml', format: 'b2mml', connectorId: 'mes', connectorKind: 'mes-b2mml' }, { timezone: opts.timezone ?? 'UTC' });
}

/** The result of a run that must have been processed. */
export function processed(r: HandlerRun): Extract<HandlerRun, { ok: true }>['result'] {
  if (!r.ok) {
    throw new Error(`expected processed, got ${r.error.code}: ${r.error.message}`);
  }
  return r.result;
}

/** A lot by material code and lot number. */
export async function lotOf(db: Db, material: string, lot: string): Promise<{ id: string; status: string; provisional: boolean; manufactured_at: string | null; expiry: string | null } | undefined> {
  return db('lots as l').join('materials as m', 'm.id', 'l.material_id').where({ 'm.code': material, 'l.lot_number': lot }).first('l.id', 'l.status', 'l.provisional', 'l.manufactured_at', 'l.expiry');
}

/** Non-zero balances of a lot as `location/state` → quantity. */
export async function balancesOf(db: Db, material: string, lot: string): Promise<Record<string, number>> {
  const rows = await db('inventory_balances as b')
    .join('lots as l', 'l.id', 'b.lot_id')
    .join('materials as m', 'm.id', 'l.material_id')
    .join('locations as loc', 'loc.id', 'b.location_id')
    .where({ 'm.code': material, 'l.lot_number': lot })
    .whereNot('b.quantity', 0)
    .select<Array<{ code: string; stock_state: string; quantity: number }>>('loc.code', 'b.stock_state', 'b.quantity');
  return Object.fromEntries(rows.map((r) => [`${r.code}/${r.stock_state}`, Number(r.quantity)]));
}

/** Lot numbers reached from a lot by walking lot_links backwards (inputs of inputs …). */
export async function backwardLots(db: Db, lotId: string): Promise<string[]> {
  const r = await db.raw<{ rows: Array<{ lot_number: string }> }>(
    `WITH RECURSIVE up(id) AS (
       SELECT input_lot_id FROM lot_links WHERE output_lot_id = ?
       UNION SELECT k.input_lot_id FROM lot_links k JOIN up ON k.output_lot_id = up.id)
     SELECT l.lot_number FROM up JOIN lots l ON l.id = up.id ORDER BY 1`,
    [lotId],
  );
  return r.rows.map((x) => x.lot_number);
}

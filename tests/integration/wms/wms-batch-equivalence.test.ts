import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../../src/db/knex';
import { silentLogger } from '../../../src/logging/logger';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import type { MessageHandler } from '../../../src/pipeline/handler';
import { processBatch, processMessage, type ProcessDeps } from '../../../src/pipeline/process-message';
import { storeTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { CUSTOMER_GLN, GTIN, movement, seedLocation, seedMaterial } from './wms-test-data';

/**
 * The set-based batch path (processBatch → wms processMany → applyWmsMovementsBatch) must write what
 * the one-message-at-a-time path writes. The same messages go into two databases: one maps them all
 * in one batch, the other one message per transaction, in the same order. Their canonical rows,
 * outbox events and audit rows, projected onto business keys (ids replaced), must be equal.
 */

type Body = unknown;

/** Messages that exercise the batch path's branches and the one-by-one messages that interrupt it. */
function messages(): Body[] {
  return [
    // 1: a plain receive (new lot, provisional location)
    movement({ movementId: 'M1', lot: 'L1', expiry: '2027-03-31', location: 'A1', quantity: 10 }),
    // 2: several records: a case receive (×10), a move, a pick without toLocation, a bad record (validation), a bad uom (resolution)
    [
      movement({ movementId: 'M2a', lot: 'L2', location: 'A1', quantity: 5, uom: 'CS' }),
      movement({ movementId: 'M2b', type: 'move', lot: 'L1', location: 'A1', toLocation: 'A2', quantity: 3 }),
      movement({ movementId: 'M2c', type: 'pick', lot: 'L1', location: 'A2', quantity: 2 }),
      movement({ movementId: 'M2d', quantity: 'ten' }),
      movement({ movementId: 'M2e', lot: 'L2', quantity: 1, uom: 'PL' }),
    ],
    // 3: an issue that takes the balance below zero, then a second one (the alert is open already)
    [
      movement({ movementId: 'M3a', type: 'issue', lot: 'L1', location: 'A1', quantity: 20, occurredAt: '2026-03-01T11:00:00Z' }),
      movement({ movementId: 'M3b', type: 'issue', lot: 'L1', location: 'A1', quantity: 1, occurredAt: '2026-03-01T11:05:00Z' }),
    ],
    // 4: the same lot with another expiry (udi_mismatch), a lot without expiry given one (filled), and M1 again (already applied)
    [
      movement({ movementId: 'M4a', lot: 'L1', expiry: '2028-01-31', location: 'A3', quantity: 1 }),
      movement({ movementId: 'M4b', lot: 'L2', expiry: '2027-06-30', location: 'A3', quantity: 1 }),
      movement({ movementId: 'M1', lot: 'L1', expiry: '2027-03-31', location: 'A1', quantity: 10 }),
    ],
    // 5: a count (one by one): L1 at A1 is 4 as of 12:00
    { movementId: 'C5', type: 'count', occurredAt: '2026-03-01T12:00:00Z', location: 'A1', gtin: GTIN.eachA, lot: 'L1', quantity: 4 },
    // 6: a late movement before the count (absorbed at the count's time) and one after it
    [
      movement({ movementId: 'M6a', type: 'adjust', lot: 'L1', location: 'A1', quantity: 7, occurredAt: '2026-03-01T11:30:00Z' }),
      movement({ movementId: 'M6b', lot: 'L1', location: 'A1', quantity: 2, occurredAt: '2026-03-01T12:30:00Z' }),
    ],
    // 7: an unknown GTIN (provisional material) and a lot first seen in a pick (provisional_lot)
    [
      movement({ movementId: 'M7a', gtin: GTIN.unknown, lot: 'LX', location: 'B1', quantity: 4 }),
      movement({ movementId: 'M7b', type: 'pick', gtin: GTIN.eachB, lot: 'LB1', location: 'B1', toLocation: 'B2', quantity: 1 }),
    ],
    // 8: movements of a recalled lot (one alert each)
    [
      movement({ movementId: 'M8a', lot: 'LR', location: 'A1', quantity: 6 }),
      movement({ movementId: 'M8b', type: 'issue', lot: 'LR', location: 'A1', quantity: 2 }),
    ],
    // 9: a ship to a customer (one by one: an outbound shipment)
    movement({ movementId: 'M9', type: 'ship', lot: 'L2', location: 'A1', quantity: 1, shipTo: CUSTOMER_GLN, reference: { shipment: 'SH-9' } }),
    // 10: serials, one of them twice in the batch
    [
      movement({ movementId: 'M10a', lot: 'LS', serial: 'S-1', location: 'A4', quantity: 1 }),
      movement({ movementId: 'M10b', lot: 'LS', serial: 'S-2', location: 'A4', quantity: 1 }),
    ],
    movement({ movementId: 'M11', type: 'move', lot: 'LS', serial: 'S-1', location: 'A4', toLocation: 'A5', quantity: 1 }),
    // 12: a temperature reading (one by one)
    { readingId: 'T12', type: 'temperature', sensor: 'S1', location: 'A1', at: '2026-03-01T12:10:00Z', celsius: 30 },
    // 13: M2b again in another message, and the same movementId twice in one message
    [movement({ movementId: 'M2b', type: 'move', lot: 'L1', location: 'A1', toLocation: 'A2', quantity: 3 }), movement({ movementId: 'M13', lot: 'L3', quantity: 2 }), movement({ movementId: 'M13', lot: 'L3', quantity: 2 })],
    // 14: a putaway with a new state, an adjust down
    [
      movement({ movementId: 'M14a', type: 'putaway', lot: 'L3', location: 'A1', toLocation: 'A6', quantity: 1, toStockState: 'pending_inspection' }),
      movement({ movementId: 'M14b', type: 'adjust', lot: 'L3', location: 'A1', quantity: -1 }),
    ],
    // 15: a ship from the dock before the picks that brought the stock there (one by one: DOCK -3)
    movement({ movementId: 'M15', type: 'ship', lot: 'L3', location: 'DOCK', quantity: 3, shipTo: CUSTOMER_GLN, reference: { shipment: 'SH-15' }, occurredAt: '2026-03-01T14:00:00Z' }),
    // 16: the picks: the first fills 2 of the 3 shipped, the second 1 (and 1 pending), the third was picked after the ship
    [
      movement({ movementId: 'M16a', type: 'pick', lot: 'L3', location: 'A1', toLocation: 'DOCK', quantity: 2, occurredAt: '2026-03-01T13:00:00Z' }),
      movement({ movementId: 'M16b', type: 'pick', lot: 'L3', location: 'A1', toLocation: 'DOCK', quantity: 2, occurredAt: '2026-03-01T13:30:00Z' }),
      movement({ movementId: 'M16c', type: 'pick', lot: 'L3', location: 'A1', toLocation: 'DOCK', quantity: 1, occurredAt: '2026-03-01T15:00:00Z' }),
    ],
  ];
}

async function seed(db: Db): Promise<void> {
  const a = await seedMaterial(db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }, { gtin: GTIN.caseA, level: 'case', qty: 10 }] });
  await seedMaterial(db, { code: 'TEST-B', kind: 'component', gtins: [{ gtin: GTIN.eachB }] });
  await seedLocation(db, { code: 'A1', minC: 2, maxC: 8 });
  await db('lots').insert({ id: uuidv7(), material_id: a, lot_number: 'LR', status: 'recalled', provisional: false });
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The database's rows on business keys: message ids become the message's number, other ids `<id>`. */
async function projection(db: Db, labels: Map<string, string>): Promise<Record<string, unknown>> {
  const q = async (sql: string): Promise<unknown[]> => (await db.raw(sql)).rows;
  const clean = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(UUID, (id) => labels.get(id) ?? '<id>'));
  const sorted = (rows: unknown[]): unknown[] => rows.map(clean).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
  return {
    messages: sorted(await q(`SELECT id, status, message_type, error_code, record_errors, result FROM inbound_messages`)),
    events: sorted(await q(`SELECT e.source_message_id, e.source_key, e.biz_step, e.disposition, e.action, e.event_time, e.event_time_zone_offset, loc.code AS location, e.read_point,
                                   e.biz_transactions, e.sensor_readings, e.details,
                                   (SELECT json_agg(json_build_object('role', i.role, 'material', mat.code, 'lot', l.lot_number, 'serial', s.serial_number, 'q', i.quantity::float, 'base', i.base_quantity::float, 'uom', i.uom))
                                      FROM trace_event_items i JOIN materials mat ON mat.id = i.material_id LEFT JOIN lots l ON l.id = i.lot_id LEFT JOIN serials s ON s.id = i.serial_id WHERE i.event_id = e.id) AS items
                              FROM trace_events e JOIN locations loc ON loc.id = e.location_id`)),
    ledger: sorted(await q(`SELECT g.source_message_id, e.source_key, l.lot_number, loc.code, g.stock_state, g.delta::float, g.event_time FROM inventory_ledger g
                             JOIN trace_events e ON e.id = g.event_id JOIN lots l ON l.id = g.lot_id JOIN locations loc ON loc.id = g.location_id`)),
    balances: sorted(await q(`SELECT mat.code, l.lot_number, loc.code AS location, b.stock_state, b.quantity::float FROM inventory_balances b JOIN lots l ON l.id = b.lot_id
                              JOIN materials mat ON mat.id = l.material_id JOIN locations loc ON loc.id = b.location_id WHERE b.quantity <> 0`)),
    lots: sorted(await q(`SELECT mat.code, l.lot_number, l.expiry::text, l.provisional, l.status, l.source_message_id FROM lots l JOIN materials mat ON mat.id = l.material_id`)),
    serials: sorted(await q(`SELECT mat.code, s.serial_number, l.lot_number, s.source_message_id FROM serials s JOIN materials mat ON mat.id = s.material_id LEFT JOIN lots l ON l.id = s.lot_id`)),
    materials: sorted(await q(`SELECT code, provisional, base_uom, source_message_id FROM materials`)),
    locations: sorted(await q(`SELECT code, provisional, source_message_id FROM locations`)),
    shipments: sorted(await q(`SELECT s.shipment_number, s.direction, s.status, s.ship_to, (SELECT json_agg(json_build_object('lot', l.lot_number, 'q', sl.quantity_shipped::float)) FROM shipment_lines sl JOIN lots l ON l.id = sl.lot_id WHERE sl.shipment_id = s.id) AS lines FROM shipments s`)),
    alerts: sorted(await q(`SELECT type, severity, subject_type, status, message, details, dedup_key, source_message_id FROM alerts`)),
    outbox: sorted(await q(`SELECT source_message_id, type, payload FROM outbox_events`)),
    audit: sorted(await q(`SELECT source_message_id, action, entity_type, after FROM audit_log WHERE chain LIKE 'pipeline:%'`)),
  };
}

function deps(db: Db): ProcessDeps {
  return { db, logger: silentLogger(), handlers: new Map<string, MessageHandler>([['wms', wmsHandler]]), timezoneOf: () => 'UTC' };
}

/** Stores the bodies in order; returns their ids and the label (message number) of each id. */
async function store(db: Db, bodies: Body[]): Promise<{ ids: string[]; labels: Map<string, string> }> {
  const ids: string[] = [];
  for (const b of bodies) {
    ids.push((await storeTestMessage(db, { payload: JSON.stringify(b), contentType: 'application/json' })).id);
  }
  return { ids, labels: new Map(ids.map((id, i) => [id, `msg${i + 1}`])) };
}

describe('WMS movements mapped set-based in one batch = one message at a time', () => {
  let batchDb: TestDatabase;
  let singleDb: TestDatabase;
  let batched: Record<string, unknown>;
  let single: Record<string, unknown>;
  let batchTransactions = 0;

  beforeAll(async () => {
    [batchDb, singleDb] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    await Promise.all([seed(batchDb.db), seed(singleDb.db)]);
    const a = await store(batchDb.db, messages());
    const outcomes = await processBatch(deps(batchDb.db), a.ids, { final: true });
    expect(outcomes.map((o) => o.outcome.status)).toEqual(a.ids.map(() => 'processed'));
    batchTransactions = Number((await batchDb.db.raw(`SELECT count(DISTINCT xmin::text) AS n FROM inbound_messages WHERE status = 'processed'`)).rows[0].n);
    batched = await projection(batchDb.db, a.labels);

    const b = await store(singleDb.db, messages());
    for (const id of b.ids) {
      expect((await processMessage(deps(singleDb.db), id, { final: true })).status).toBe('processed');
    }
    single = await projection(singleDb.db, b.labels);
  }, 60000);

  afterAll(async () => {
    await Promise.all([batchDb?.destroy(), singleDb?.destroy()]);
  });

  it('maps the batch in one transaction', () => {
    expect(batchTransactions).toBe(1);
  });

  it('writes the same events, ledger, balances, lots, serials, master data, shipments, alerts, outbox events and audit rows', () => {
    for (const k of Object.keys(single)) {
      expect({ [k]: batched[k] }).toEqual({ [k]: single[k] });
    }
  });

  it('exercised what it claims: count rules, negative and recalled alerts, record errors, duplicates', () => {
    const ledger = single.ledger as Array<{ source_key: string; delta: number; event_time: string }>;
    // picks after an earlier-arrived ship: M16a fills 2 at DOCK/finished, M16b 1 (and 1 pending), M16c none
    const dock = (key: string): unknown[] => (ledger as unknown as Array<{ source_key: string; code: string; stock_state: string; delta: number }>)
      .filter((g) => g.source_key.endsWith(key) && g.code === 'DOCK').map((g) => `${g.stock_state} ${g.delta}`).sort();
    expect([dock(':M16a'), dock(':M16b'), dock(':M16c')]).toEqual([['finished 2'], ['finished 1', 'pending_shipment 1'], ['pending_shipment 1']]);
    // M6a (11:30, before the 12:00 count) booked and reversed at the count's time; M6b (after it) stays
    expect(ledger.filter((l) => l.source_key === 'wms:wms:M6a').map((l) => [l.delta, l.event_time])).toEqual([
      [7, '2026-03-01T11:30:00.000Z'], [-7, '2026-03-01T12:00:00.000Z'],
    ].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1)));
    expect(single.balances).toContainEqual({ code: 'TEST-A', lot_number: 'L1', location: 'A1', stock_state: 'finished', quantity: 6 });
    const alerts = single.alerts as Array<{ type: string; dedup_key: string; details: { lotNumber?: string; recordId?: string } }>;
    // L1 at A1 went below zero with M3a (10 − 3 − 20): one alert, not a second one for M3b
    expect(alerts.filter((a) => a.type === 'negative_balance' && a.details.lotNumber === 'L1').map((a) => a.details.recordId)).toEqual(['M3a']);
    expect(alerts.filter((a) => a.type === 'recalled_lot_movement').map((a) => a.dedup_key).sort()).toEqual(['recalled_lot_movement:wms:wms:M8a', 'recalled_lot_movement:wms:wms:M8b']);
    expect(alerts.map((a) => a.type)).toEqual(expect.arrayContaining(['udi_mismatch', 'provisional_lot', 'temp_excursion']));
    const msgs = single.messages as Array<{ id: string; record_errors: Array<{ code: string }> | null; result: { applied: number; alreadyApplied: number } }>;
    const m2 = msgs.find((m) => m.id === 'msg2');
    expect(m2?.record_errors?.map((e) => e.code)).toEqual(['LB_ERR_WMS_QUANTITY', 'LB_ERR_WMS_UOM']);
    expect(msgs.find((m) => m.id === 'msg13')?.result).toMatchObject({ applied: 1, alreadyApplied: 2 });
    expect(msgs.find((m) => m.id === 'msg4')?.result).toMatchObject({ applied: 2, alreadyApplied: 1 });
    // the move's inventory.moved reports the balances one booking after another would
    const moved = (single.outbox as Array<{ type: string; payload: { movementId?: string; changes?: unknown[] } }>).find((o) => o.type === 'inventory.moved' && o.payload.movementId === 'M3b');
    expect(moved?.payload.changes).toEqual([{ location: 'A1', stockState: 'finished', delta: -1, balance: -14 }]);
  });

  it('gives a message whose every record fails its own verdict, and maps the others of the batch', async () => {
    const t = await createTestDatabase();
    try {
      await seed(t.db);
      const bodies: Body[] = [
        movement({ movementId: 'G1', lot: 'G', quantity: 3 }),
        // the uom fails only when the material is resolved, while the batch is being mapped
        movement({ movementId: 'BAD', lot: 'G', quantity: 1, uom: 'PL' }),
        movement({ movementId: 'G2', type: 'issue', lot: 'G', quantity: 1 }),
      ];
      const { ids } = await store(t.db, bodies);
      const outcomes = await processBatch(deps(t.db), ids, { final: true });
      expect(outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'rejected', 'processed']);
      const rows = await t.db('inbound_messages').whereIn('id', ids).orderBy('id').select('status', 'error_code');
      expect(rows).toEqual([{ status: 'processed', error_code: null }, { status: 'rejected', error_code: 'LB_ERR_WMS_UOM' }, { status: 'processed', error_code: null }]);
      const balances = await t.db('inventory_balances as b').join('lots as l', 'l.id', 'b.lot_id').where('l.lot_number', 'G').select('b.quantity');
      expect(balances.map((b: { quantity: string }) => Number(b.quantity))).toEqual([2]);
    } finally {
      await t.destroy();
    }
  });
});

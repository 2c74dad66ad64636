import { silentLogger } from '../../../src/logging/logger';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import type { MessageHandler } from '../../../src/pipeline/handler';
import { processBatch } from '../../../src/pipeline/process-message';
import { processTestMessage, storeTestMessage, type HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { CUSTOMER_GLN, GTIN, balancesOf, ledgerOf, movement, seedMaterial } from './wms-test-data';

/**
 * Out of order: the ship of picked stock arrives before the pick that put it into pending_shipment.
 * The ship finds no picked stock and takes it from the default state at the dock (a negative
 * balance); the pick, when it arrives, books the part those later ships took into that state. The
 * balances must end as they do when the records arrive in business order.
 */
describe('WMS handler: a ship that arrives before its pick', () => {
  let t: TestDatabase;
  const ok = async (body: unknown): Promise<Extract<HandlerRun, { ok: true }>> => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(body), contentType: 'application/json' });
    if (!r.ok) {
      throw r.error;
    }
    return r;
  };
  const receive = movement({ movementId: 'SBP-1', location: 'A1', lot: 'LSBP', quantity: 10, occurredAt: '2026-03-01T08:00:00Z' });
  const pick = movement({ movementId: 'SBP-2', type: 'pick', location: 'A1', toLocation: 'DOCK', lot: 'LSBP', quantity: 5, occurredAt: '2026-03-01T09:00:00Z' });
  const ship = movement({ movementId: 'SBP-3', type: 'ship', location: 'DOCK', lot: 'LSBP', quantity: 5, shipTo: CUSTOMER_GLN, reference: { so: 'SO-SBP' }, occurredAt: '2026-03-01T10:00:00Z' });

  beforeEach(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('in business order: 5 left at A1, nothing at DOCK', async () => {
    await ok(receive);
    await ok(pick);
    await ok(ship);
    expect(await balancesOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 5 });
  });

  it('ship first, pick second: the same balances as in business order, the ledger says how', async () => {
    await ok(receive);
    await ok(ship);
    await ok(pick);
    expect(await balancesOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 5 });
    // the pick's 5 went to the finished stock the ship took at the dock, none to pending_shipment
    expect(await ledgerOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 5 });
    const legs = await t.db('inventory_ledger as g').join('locations as loc', 'loc.id', 'g.location_id').join('trace_events as e', 'e.id', 'g.event_id')
      .where('e.source_key', 'like', '%SBP-2').orderBy('g.id').select<Array<{ code: string; stock_state: string; delta: string }>>('loc.code', 'g.stock_state', 'g.delta');
    expect(legs.map((l) => [l.code, l.stock_state, Number(l.delta)])).toEqual([['A1', 'finished', -5], ['DOCK', 'finished', 5]]);
    // the pick event still says what the WMS did: picked to the dock
    const ev = await t.db('trace_events').where('source_key', 'like', '%SBP-2').first<{ details: { to: unknown } }>('details');
    expect(ev?.details.to).toEqual({ location: 'DOCK', stockState: 'pending_shipment' });
    // the ship's negative_balance alert (DOCK finished at -5) is closed: the balance is back at 0
    expect(await t.db('alerts').where({ type: 'negative_balance' }).select('status', 'message').then((rows) => rows.map((a) => [a.status, a.message]))).toEqual([
      ['closed', expect.stringContaining('at DOCK (finished) is at -5')],
    ]);
  });

  it('a ship of part of a pick arrives first: that part fills the dock, the rest is pending shipment', async () => {
    await ok(receive);
    await ok({ ...ship, movementId: 'SBP-3P', quantity: 2 });
    await ok(pick);
    expect(await balancesOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 5, 'DOCK/pending_shipment': 3 });
  });

  it('a ship before a pick in business time (the dock was short when it shipped) stays negative: a later pick is not what it shipped', async () => {
    await ok(receive);
    await ok(ship); // 10:00, nothing picked: DOCK/finished -5
    await ok({ ...pick, movementId: 'SBP-4', occurredAt: '2026-03-01T11:00:00Z' }); // picked after the ship
    expect(await balancesOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 5, 'DOCK/finished': -5, 'DOCK/pending_shipment': 5 });
    expect(await t.db('alerts').where({ type: 'negative_balance' }).pluck('status')).toEqual(['open']);
  });

  it('two picks arrive after the ship: the first fills what the ship took, the second is pending shipment', async () => {
    await ok(receive);
    await ok(ship);
    await ok(pick);
    await ok({ ...pick, movementId: 'SBP-5', quantity: 2, occurredAt: '2026-03-01T09:30:00Z' });
    expect(await balancesOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 3, 'DOCK/pending_shipment': 2 });
  });

  it('the set-based batch path books picks after an earlier-arrived ship the same way, pick by pick in batch order', async () => {
    await ok(receive);
    await ok({ ...ship, quantity: 4 }); // 10:00: DOCK/finished -4
    const deps = { db: t.db, logger: silentLogger(), handlers: new Map<string, MessageHandler>([['wms', wmsHandler]]), timezoneOf: () => 'UTC' };
    const bodies = [
      [
        { ...pick, movementId: 'SBP-B1', quantity: 3 }, // 09:00: fills 3 (-4 → -1)
        { ...pick, movementId: 'SBP-B2', quantity: 3, occurredAt: '2026-03-01T09:30:00Z' }, // fills 1, 2 pending
      ],
      { ...pick, movementId: 'SBP-B3', quantity: 1, occurredAt: '2026-03-01T10:30:00Z' }, // after the ship: pending
    ];
    const ids: string[] = [];
    for (const b of bodies) ids.push((await storeTestMessage(t.db, { payload: JSON.stringify(b), contentType: 'application/json' })).id);
    const outcomes = await processBatch(deps, ids, { final: true });
    expect(outcomes.map((o) => o.outcome.status)).toEqual(['processed', 'processed']);
    expect(await balancesOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 3, 'DOCK/pending_shipment': 3 });
    expect(await ledgerOf(t.db, GTIN.eachA, 'LSBP')).toEqual({ 'A1/finished': 3, 'DOCK/pending_shipment': 3 });
    // the ship's alert is closed by the batch that brought DOCK/finished back to 0
    expect(await t.db('alerts').where({ type: 'negative_balance' }).pluck('status')).toEqual(['closed']);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import type { StoredMessage } from '../../../src/pipeline/handler';
import { processTestMessage, runHandler, storeTestMessage, type HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, ledgerOf, movement, openAlerts, seedMaterial } from './wms-test-data';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/wms', name));
type Ok = Extract<HandlerRun, { ok: true }> & { message: StoredMessage };

describe('WMS handler: counts as of their time, and idempotency', () => {
  let t: TestDatabase;
  const ok = async (body: unknown): Promise<Ok> => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(body), contentType: 'application/json' });
    if (!r.ok) {
      throw r.error;
    }
    return r;
  };
  const count = (id: string, lot: string, quantity: number, at: string): Record<string, unknown> =>
    movement({ movementId: id, type: 'count', location: 'CNT-BIN-1', lot, quantity, occurredAt: at });
  const ledgerRows = async (lot: string): Promise<Array<[string, number]>> =>
    (
      await t.db('inventory_ledger as g').join('lots as l', 'l.id', 'g.lot_id').where('l.lot_number', lot).orderBy('g.event_time').orderBy('g.id').select('g.event_time', 'g.delta')
    ).map((r: { event_time: Date; delta: number }) => [new Date(r.event_time).toISOString().slice(11, 16), Number(r.delta)]);

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('books a late count as of its time: the issue after it still applies (100 in, 30 out at 12:00, count 90 at 10:00 → 60)', async () => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: fixture('count-late-after-moves.ndjson'), contentType: 'application/x-ndjson' });
    if (!r.ok) {
      throw r.error;
    }
    expect(await balancesOf(t.db, GTIN.eachA, 'LK1')).toEqual({ 'CNT-BIN-1/finished': 60 });
    expect(await ledgerRows('LK1')).toEqual([
      ['08:00', 100],
      ['10:00', -10],
      ['12:00', -30],
    ]);
    const ev = await t.db('trace_events').where({ source_key: 'wms:wms:CNT-3' }).first();
    expect(ev).toMatchObject({ biz_step: 'cycle_counting', action: 'OBSERVE', details: expect.objectContaining({ counted: 90, balanceAsOf: 100, adjustment: -10 }) });
  });

  it('keeps a booked count true when an earlier movement arrives after it, and applies a later one', async () => {
    await ok(movement({ movementId: 'CNT-4', type: 'issue', location: 'CNT-BIN-1', lot: 'LK1', quantity: 5, occurredAt: '2026-03-06T09:00:00Z' }));
    expect(await balancesOf(t.db, GTIN.eachA, 'LK1')).toEqual({ 'CNT-BIN-1/finished': 60 });
    expect(await ledgerRows('LK1')).toEqual([
      ['08:00', 100],
      ['09:00', -5],
      ['10:00', -10],
      ['10:00', 5],
      ['12:00', -30],
    ]);
    await ok(movement({ movementId: 'CNT-5', location: 'CNT-BIN-1', lot: 'LK1', quantity: 7, occurredAt: '2026-03-06T11:00:00Z' }));
    expect(await balancesOf(t.db, GTIN.eachA, 'LK1')).toEqual({ 'CNT-BIN-1/finished': 67 });
    expect(await ledgerOf(t.db, GTIN.eachA, 'LK1')).toEqual({ 'CNT-BIN-1/finished': 67 });
  });

  it('lets a later count win over an earlier count that arrives after it', async () => {
    await ok(movement({ movementId: 'CC-0', location: 'CNT-BIN-1', lot: 'LK3', quantity: 100, occurredAt: '2026-03-06T08:00:00Z' }));
    await ok(count('CC-1', 'LK3', 70, '2026-03-06T11:00:00Z'));
    await ok(count('CC-2', 'LK3', 95, '2026-03-06T10:00:00Z'));
    expect(await balancesOf(t.db, GTIN.eachA, 'LK3')).toEqual({ 'CNT-BIN-1/finished': 70 });
    await ok(count('CC-3', 'LK3', 65, '2026-03-06T11:00:00Z'));
    expect(await balancesOf(t.db, GTIN.eachA, 'LK3')).toEqual({ 'CNT-BIN-1/finished': 65 });
  });

  it('books a count that matches the balance as a zero change (no inventory.moved), and a count of a new lot as its opening stock', async () => {
    const matching = await ok(count('CZ-1', 'LK1', 67, '2026-03-06T13:00:00Z'));
    expect(await ledgerRows('LK1')).toContainEqual(['13:00', 0]);
    expect(await t.db('outbox_events').where({ source_message_id: matching.message.id, type: 'inventory.moved' })).toEqual([]);
    await ok(count('CZ-2', 'LK-NEW', 12, '2026-03-06T13:00:00Z'));
    expect(await balancesOf(t.db, GTIN.eachA, 'LK-NEW')).toEqual({ 'CNT-BIN-1/finished': 12 });
    const lot = await t.db('lots').where({ lot_number: 'LK-NEW' }).first();
    expect((await openAlerts(t.db, 'provisional_lot')).filter((a) => a.subject_id === lot.id)).toEqual([]);
  });

  it('changes nothing when the same message is processed twice', async () => {
    const message = await storeTestMessage(t.db, {
      payload: JSON.stringify([movement({ movementId: 'ID-1', lot: 'LI1', quantity: 4 }), movement({ movementId: 'ID-2', type: 'move', toLocation: 'A2', lot: 'LI1', quantity: 1 })]),
      contentType: 'application/json',
    });
    const first = await runHandler(t.db, wmsHandler, message);
    const snapshot = async (): Promise<unknown> => ({
      balances: await balancesOf(t.db, GTIN.eachA, 'LI1'),
      events: (await t.db('trace_events').where({ source_message_id: message.id })).length,
      ledger: (await t.db('inventory_ledger').where({ source_message_id: message.id })).length,
      outbox: (await t.db('outbox_events').where({ source_message_id: message.id })).length,
      audit: (await t.db('audit_log').where({ source_message_id: message.id })).length,
    });
    const before = await snapshot();
    const second = await runHandler(t.db, wmsHandler, message);
    expect(first.ok && first.result.summary).toMatchObject({ applied: 2, alreadyApplied: 0 });
    expect(second.ok && second.result.summary).toMatchObject({ applied: 0, alreadyApplied: 2, events: 0, ledgerRows: 0 });
    expect(await snapshot()).toEqual(before);
    expect(before).toMatchObject({ balances: { 'A1/finished': 3, 'A2/finished': 1 }, events: 2, ledger: 3 });
  });

  it('applies a movementId once across messages, and once per sender', async () => {
    await ok([movement({ movementId: 'DUP-1', lot: 'LD1', quantity: 6 })]);
    const again = await ok(movement({ movementId: 'DUP-1', lot: 'LD1', quantity: 6, location: 'A1 ' }));
    expect(again.result.summary).toMatchObject({ applied: 0, alreadyApplied: 1 });
    expect(await balancesOf(t.db, GTIN.eachA, 'LD1')).toEqual({ 'A1/finished': 6 });
    await ok(movement({ movementId: 'DUP-1', lot: 'LD1', quantity: 6, sender: 'WH2' }));
    expect(await balancesOf(t.db, GTIN.eachA, 'LD1')).toEqual({ 'A1/finished': 12 });
    expect((await t.db('trace_events').where('source_key', 'like', 'wms:wms%:DUP-1')).map((e: { source_key: string }) => e.source_key).sort()).toEqual([
      'wms:wms:DUP-1',
      'wms:wms@WH2:DUP-1',
    ]);
  });

  it('applies a movement once when two messages carrying it are processed at the same time', async () => {
    const body = (n: number): string => JSON.stringify([movement({ movementId: 'RACE-1', location: 'RACE-LOC', gtin: GTIN.unknown, lot: 'LRACE', quantity: 9 }), movement({ movementId: `RACE-x${n}`, location: 'RACE-LOC', gtin: GTIN.unknown, lot: 'LRACE', quantity: 1 })]);
    const [a, b] = await Promise.all([
      storeTestMessage(t.db, { payload: body(1), contentType: 'application/json' }),
      storeTestMessage(t.db, { payload: body(2), contentType: 'application/json' }),
    ]);
    const runs = await Promise.all([runHandler(t.db, wmsHandler, a), runHandler(t.db, wmsHandler, b)]);
    expect(runs.map((r) => r.ok)).toEqual([true, true]);
    expect(await balancesOf(t.db, GTIN.unknown, 'LRACE')).toEqual({ 'RACE-LOC/finished': 11 });
    expect(await t.db('materials').where({ code: `GTIN-${GTIN.unknown}` })).toHaveLength(1);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import type { StoredMessage } from '../../../src/pipeline/handler';
import { createProvisionalMaterial } from '../../../src/model/materials/create-provisional-material';
import { processTestMessage, type HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { CUSTOMER_GLN, GTIN, balancesOf, ledgerOf, movement, openAlerts, seedMaterial } from './wms-test-data';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/wms', name));

describe('WMS handler: movements into the canonical model', () => {
  let t: TestDatabase;
  const ok = async (body: unknown, timezone?: string): Promise<Extract<HandlerRun, { ok: true }> & { message: StoredMessage }> => {
    const run = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(body), contentType: 'application/json' }, { timezone });
    if (!run.ok) {
      throw new Error(`expected success, got ${run.error.code}: ${run.error.message}`);
    }
    return run;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }, { gtin: GTIN.caseA, level: 'case', qty: 10 }] });
    await seedMaterial(t.db, { code: 'TEST-B', kind: 'component', gtins: [{ gtin: GTIN.eachB }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it("turns the issue's receive movement into a lot with its barcode expiry, a balance, an EPCIS event and outbox rows", async () => {
    const run = await processTestMessage(t.db, wmsHandler, { payload: fixture('movement-receive-barcode.json'), contentType: 'application/json' });
    expect(run.ok).toBe(true);
    if (!run.ok) {
      return;
    }
    expect(run.result).toMatchObject({ status: 'processed', messageType: 'movement:receive', summary: { records: 1, applied: 1, events: 1, ledgerRows: 1 } });
    expect(run.result.recordErrors).toBeUndefined();

    const lot = await t.db('lots').where({ lot_number: 'L2403A' }).first();
    expect(lot).toMatchObject({ expiry: '2027-03-31', provisional: true, status: 'released', source_message_id: run.message.id });
    expect(await balancesOf(t.db, GTIN.eachA, 'L2403A')).toEqual({ 'WH1-COLD-A01/pending_inspection': 20 });
    expect(await t.db('locations').where({ code: 'WH1-COLD-A01' }).first()).toMatchObject({ provisional: true, kind: 'bin' });

    const ev = await t.db('trace_events').where({ source_key: 'wms:wms:WMS-000123' }).first();
    expect(ev).toMatchObject({
      type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'receiving', disposition: 'in_progress', event_time_zone_offset: '+00:00',
      biz_transactions: [{ type: 'desadv', value: 'ASN-77' }], source_message_id: run.message.id,
    });
    expect(new Date(ev.event_time).toISOString()).toBe('2026-03-01T10:15:00.000Z');
    const items = await t.db('trace_event_items').where({ event_id: ev.id });
    expect(items).toEqual([expect.objectContaining({ role: 'subject', lot_id: lot.id, quantity: 20, uom: 'EA', base_quantity: 20 })]);
    const ledger = await t.db('inventory_ledger').where({ event_id: ev.id });
    expect(ledger).toEqual([expect.objectContaining({ delta: 20, stock_state: 'pending_inspection', source_message_id: run.message.id })]);

    const outbox = await t.db('outbox_events').where({ source_message_id: run.message.id }).orderBy('ordinal');
    expect(outbox.map((o) => o.type)).toEqual(['lot.created', 'inventory.moved']);
    expect(outbox[1].payload).toMatchObject({ movementId: 'WMS-000123', changes: [{ location: 'WH1-COLD-A01', stockState: 'pending_inspection', delta: 20, balance: 20 }] });
    const audit = await t.db('audit_log').where({ source_message_id: run.message.id }).orderBy('seq');
    expect(audit.map((a) => a.action)).toEqual(['lot.create_provisional', 'location.create_provisional', 'wms.receive']);
    expect(audit[0].chain).toMatch(/^pipeline:wms:\d{2}$/);
  });

  it('converts packs to base units: a case GTIN of 10 counts 20 cases as 200 EA; uom CS converts, uom EA does not', async () => {
    await ok([
      movement({ movementId: 'CASE-1', gtin: GTIN.caseA, lot: 'LC1', quantity: 20 }),
      movement({ movementId: 'CASE-2', gtin: GTIN.eachA, lot: 'LC1', quantity: 3, uom: 'CS' }),
      movement({ movementId: 'CASE-3', gtin: GTIN.caseA, lot: 'LC1', quantity: 5, uom: 'EA' }),
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'LC1')).toEqual({ 'A1/finished': 235 });
    const item = await t.db('trace_event_items as i').join('trace_events as e', 'e.id', 'i.event_id').where('e.source_key', 'wms:wms:CASE-1').first('i.quantity', 'i.uom', 'i.base_quantity');
    expect(item).toEqual({ quantity: 20, uom: 'EA', base_quantity: 200 });
  });

  it('rejects a unit that does not convert to the base unit with LB_ERR_WMS_UOM and books the other records', async () => {
    const run = await ok([movement({ movementId: 'UOM-1', lot: 'LU1', quantity: 2, uom: 'KG' }), movement({ movementId: 'UOM-2', lot: 'LU1', quantity: 2, uom: 'PL' }), movement({ movementId: 'UOM-3', lot: 'LU1' })]);
    expect(run.result.recordErrors?.map((e) => [e.code, e.location])).toEqual([
      ['LB_ERR_WMS_UOM', { index: 0, line: 1, path: '/0/uom', field: 'uom' }],
      ['LB_ERR_WMS_UOM', { index: 1, line: 1, path: '/1/uom', field: 'uom' }],
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'LU1')).toEqual({ 'A1/finished': 10 });
  });

  it('creates a provisional material GTIN-<gtin> with a provisional_lot alert for a GTIN master data does not know', async () => {
    await ok(movement({ movementId: 'PROV-1', gtin: GTIN.unknown, lot: 'LP1', quantity: 4, uom: 'BX' }));
    const m = await t.db('materials').where({ code: `GTIN-${GTIN.unknown}` }).first();
    expect(m).toMatchObject({ provisional: true, kind: 'finished', base_uom: 'BX' });
    expect(await t.db('material_identifiers').where({ material_id: m.id })).toEqual([expect.objectContaining({ scheme: 'gtin', value: GTIN.unknown, packaging_level: 'each' })]);
    expect(await balancesOf(t.db, GTIN.unknown, 'LP1')).toEqual({ 'A1/finished': 4 });
    const alerts = (await openAlerts(t.db, 'provisional_lot')).filter((a) => a.subject_id === m.id);
    expect(alerts).toEqual([expect.objectContaining({ severity: 'warning', subject_type: 'material' })]);
    await ok(movement({ movementId: 'PROV-2', gtin: GTIN.unknown, lot: 'LP1', quantity: 1, uom: 'BX' }));
    expect((await openAlerts(t.db, 'provisional_lot')).filter((a) => a.subject_id === m.id)).toHaveLength(1);
  });

  it('puts away from the dock to a bin (stock state changed on the way) and moves between bins', async () => {
    await ok([
      movement({ movementId: 'PA-0', location: 'DOCK-1', lot: 'LM1', quantity: 12, stockState: 'pending_inspection' }),
      movement({ movementId: 'PA-1', type: 'putaway', location: 'DOCK-1', toLocation: 'BIN-1', lot: 'LM1', quantity: 12, stockState: 'pending_inspection', toStockState: 'finished', occurredAt: '2026-03-01T11:00:00Z' }),
      movement({ movementId: 'MV-1', type: 'move', location: 'BIN-1', toLocation: 'BIN-2', lot: 'LM1', quantity: 5, occurredAt: '2026-03-01T12:00:00Z' }),
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'LM1')).toEqual({ 'BIN-1/finished': 7, 'BIN-2/finished': 5 });
    expect(await ledgerOf(t.db, GTIN.eachA, 'LM1')).toEqual(await balancesOf(t.db, GTIN.eachA, 'LM1'));
    const pa = await t.db('trace_events as e').join('locations as l', 'l.id', 'e.location_id').where('e.source_key', 'wms:wms:PA-1').first('e.biz_step', 'e.disposition', 'e.read_point', 'l.code');
    expect(pa).toEqual({ biz_step: 'storing', disposition: 'sellable_not_accessible', read_point: 'DOCK-1', code: 'BIN-1' });
  });

  it('picks into pending_shipment, ships from there into an outbound shipment to a provisional customer, one line per ship record', async () => {
    const run = await ok([
      movement({ movementId: 'SH-0', location: 'A2', lot: 'LS1', quantity: 50 }),
      movement({ movementId: 'SH-1', type: 'pick', location: 'A2', toLocation: 'DOCK-OUT', lot: 'LS1', quantity: 20, occurredAt: '2026-03-01T11:00:00Z' }),
      movement({ movementId: 'SH-2', type: 'ship', location: 'DOCK-OUT', lot: 'LS1', quantity: 15, shipTo: CUSTOMER_GLN, reference: { so: 'SO-1' }, occurredAt: '2026-03-01T12:00:00Z' }),
      movement({ movementId: 'SH-3', type: 'ship', location: 'DOCK-OUT', lot: 'LS1', quantity: 5, shipTo: CUSTOMER_GLN, reference: 'so:SO-1', occurredAt: '2026-03-01T12:05:00Z' }),
    ]);
    expect(run.result.summary).toMatchObject({ applied: 4, created: { shipments: 1, parties: 1 } });
    expect(await balancesOf(t.db, GTIN.eachA, 'LS1')).toEqual({ 'A2/finished': 30 });
    const shipment = await t.db('shipments').where({ direction: 'outbound', shipment_number: 'SO-1' }).first();
    expect(shipment).toMatchObject({ status: 'shipped', ship_to: CUSTOMER_GLN });
    expect(await t.db('parties').where({ id: shipment.to_party_id }).first()).toMatchObject({ gln: CUSTOMER_GLN, role: 'customer', provisional: true });
    const lines = await t.db('shipment_lines').where({ shipment_id: shipment.id }).orderBy('line_no');
    expect(lines.map((l) => [l.line_no, l.quantity_shipped, l.uom])).toEqual([
      [1, 15, 'EA'],
      [2, 5, 'EA'],
    ]);
    const ship = await t.db('trace_events').where({ source_key: 'wms:wms:SH-2' }).first();
    expect(ship).toMatchObject({ biz_step: 'shipping', disposition: 'in_transit' });
    const outbox = await t.db('outbox_events').where({ source_message_id: run.message.id, type: 'shipment.created' });
    expect(outbox).toHaveLength(1);
  });

  it('ships unpicked stock from the default state, and a component from component stock', async () => {
    await ok([
      movement({ movementId: 'SU-0', gtin: GTIN.eachB, lot: 'LB1', quantity: 8 }),
      movement({ movementId: 'SU-1', type: 'ship', gtin: GTIN.eachB, lot: 'LB1', quantity: 3, shipTo: 'CUST-42', occurredAt: '2026-03-01T11:00:00Z' }),
    ]);
    expect(await balancesOf(t.db, GTIN.eachB, 'LB1')).toEqual({ 'A1/component': 5 });
    expect(await t.db('shipments').where({ shipment_number: 'SU-1' }).first()).toMatchObject({ ship_to: 'CUST-42' });
    expect(await t.db('parties').where({ code: 'CUST-42' }).first()).toMatchObject({ provisional: true, gln: null });
  });

  it('issues and adjusts with signed deltas, allows a negative balance and raises one negative_balance alert for it', async () => {
    await ok([
      movement({ movementId: 'NB-0', lot: 'LN1', quantity: 5 }),
      movement({ movementId: 'NB-1', type: 'issue', lot: 'LN1', quantity: 8, occurredAt: '2026-03-01T11:00:00Z' }),
      movement({ movementId: 'NB-2', type: 'adjust', lot: 'LN1', quantity: -1, occurredAt: '2026-03-01T12:00:00Z' }),
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'LN1')).toEqual({ 'A1/finished': -4 });
    const issue = await t.db('trace_events').where({ source_key: 'wms:wms:NB-1' }).first();
    expect(issue).toMatchObject({ biz_step: 'dispensing', disposition: 'dispensed' });
    const lot = await t.db('lots').where({ lot_number: 'LN1' }).first();
    expect((await openAlerts(t.db, 'negative_balance')).filter((a) => a.subject_id === lot.id)).toEqual([
      expect.objectContaining({ severity: 'warning', subject_type: 'lot', message: expect.stringMatching(/LN1 .* at A1 \(finished\) is at -3 EA/) }),
    ]);
    await ok(movement({ movementId: 'NB-3', lot: 'LN1', quantity: 10, occurredAt: '2026-03-01T13:00:00Z' }));
    expect(await balancesOf(t.db, GTIN.eachA, 'LN1')).toEqual({ 'A1/finished': 6 });
  });

  it('accepts a movement of a recalled lot and raises a critical recalled_lot_movement alert for each movement', async () => {
    await ok(movement({ movementId: 'RC-0', lot: 'LR1', quantity: 10 }));
    await t.db('lots').where({ lot_number: 'LR1' }).update({ status: 'recalled' });
    const run = await ok([
      movement({ movementId: 'RC-1', type: 'pick', lot: 'LR1', quantity: 2, occurredAt: '2026-03-02T10:00:00Z' }),
      movement({ movementId: 'RC-2', type: 'ship', lot: 'LR1', quantity: 2, shipTo: CUSTOMER_GLN, occurredAt: '2026-03-02T11:00:00Z' }),
    ]);
    expect(run.result.summary).toMatchObject({ applied: 2 });
    const lot = await t.db('lots').where({ lot_number: 'LR1' }).first();
    const alerts = (await openAlerts(t.db, 'recalled_lot_movement')).filter((a) => a.subject_id === lot.id);
    expect(alerts.map((a) => [a.severity, a.dedup_key])).toEqual([
      ['critical', 'recalled_lot_movement:wms:wms:RC-1'],
      ['critical', 'recalled_lot_movement:wms:wms:RC-2'],
    ]);
    expect(alerts[1].message).toMatch(new RegExp(`shipped to ${CUSTOMER_GLN}`));
    expect(await balancesOf(t.db, GTIN.eachA, 'LR1')).toEqual({ 'A1/finished': 8 });
  });

  it("reads timestamps without an offset in the connector's time zone and stores UTC plus the offset", async () => {
    await ok(
      [
        movement({ movementId: 'TZ-1', lot: 'LT1', occurredAt: '2026-03-01T11:15:00' }),
        movement({ movementId: 'TZ-2', lot: 'LT1', occurredAt: '2026-07-01 12:00' }),
        movement({ movementId: 'TZ-3', lot: 'LT1', occurredAt: '2026-07-01T12:00:00-05:00' }),
      ],
      'Europe/Berlin',
    );
    const rows = await t.db('trace_events').whereIn('source_key', ['wms:wms:TZ-1', 'wms:wms:TZ-2', 'wms:wms:TZ-3']).orderBy('source_key');
    expect(rows.map((r) => [new Date(r.event_time).toISOString(), r.event_time_zone_offset])).toEqual([
      ['2026-03-01T10:15:00.000Z', '+01:00'],
      ['2026-07-01T10:00:00.000Z', '+02:00'],
      ['2026-07-01T17:00:00.000Z', '-05:00'],
    ]);
  });

  it('fills a missing lot expiry from a later barcode and flags a contradicting one with udi_mismatch', async () => {
    await ok(movement({ movementId: 'EX-1', lot: 'LX1' }));
    await ok(movement({ movementId: 'EX-2', gtin: undefined, lot: undefined, barcode: `(01)${GTIN.eachA}(17)280131(10)LX1` }));
    expect(await t.db('lots').where({ lot_number: 'LX1' }).first()).toMatchObject({ expiry: '2028-01-31' });
    await ok(movement({ movementId: 'EX-3', lot: 'LX1', expiry: '2028-02-29' }));
    const lot = await t.db('lots').where({ lot_number: 'LX1' }).first();
    expect(lot.expiry).toBe('2028-01-31');
    expect((await openAlerts(t.db, 'udi_mismatch')).filter((a) => a.subject_id === lot.id)).toHaveLength(1);
  });

  it('books on the material master data gave the GTIN to while the provisional one was being created', async () => {
    let ordinal = 0;
    const made = await createProvisionalMaterial(t.db, { gtin: GTIN.caseA, baseUom: 'EA' }, { sourceMessageId: '018f0000-0000-7000-8000-00000000e001', nextOrdinal: () => ++ordinal });
    expect(made).toMatchObject({ created: false, row: { code: 'TEST-A', provisional: false } });
    expect(await t.db('materials').where({ code: `GTIN-${GTIN.caseA}` })).toEqual([]);
  });
});

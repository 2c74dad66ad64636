import { v7 as uuidv7 } from 'uuid';
import type { TestHub } from '../../helpers/start-hub';
import { MATERIALS, countsOf, fixture, seedMaterial, send, startMappingHub, usagesOf } from './mapping-helpers';

/**
 * OMS^O05 supply requisitions (new, change, cancel), MFN^M16 item master (materials with the
 * hospital's item number, reorder-policy seeds from IVT-21..25, lots from ILT), and the types
 * without a canonical mapping (ADT^A01, ORU^R01: routed). Fixtures: tests/fixtures/hl7/mapping.
 */
describe('HL7 OMS^O05, MFN^M16 and routed types', () => {
  let h: TestHub;
  const db = () => h.hub.db;
  const SENDER = 'MMIS|CITYHOSP';
  const requisitions = () => db()('supply_requisitions as r').leftJoin('materials as m', 'm.id', 'r.material_id').leftJoin('locations as l', 'l.id', 'r.location_id')
    .where({ 'r.sender': SENDER, 'r.requisition_number': 'REQ-8801' }).orderBy('r.line_no').select('r.*', 'm.code as material', 'l.code as location');
  const demand = () => db()('demand_history').where('source_key', 'like', `hl7-req:${SENDER}:REQ-8801:%`).orderBy('source_key');

  beforeAll(async () => {
    h = await startMappingHub();
    await seedMaterial(h, MATERIALS.stent);
    await seedMaterial(h, MATERIALS.guideWire);
  });
  afterAll(async () => {
    await h?.stop();
  });

  describe('OMS^O05', () => {
    let newId: string;

    it('a new requisition with two ORC/RQD lines becomes two supply_requisitions rows and requisition demand', async () => {
      const sent = await send(h, fixture('oms-o05-v251-requisition-two-lines.hl7'));
      newId = sent.id;
      expect(sent.ackCode).toBe('CA');
      expect(sent.message).toMatchObject({ status: 'processed', messageType: 'OMS^O05', result: { version: '2.5.1', lines: 2, unknownItems: 0 } });
      const rows = await requisitions();
      expect(rows.map((r) => [r.line_no, r.order_control, r.status, r.material, r.item_code, Number(r.quantity), r.uom, r.location, r.needed_by])).toEqual([
        [1, 'NW', 'open', 'STENT-DES-3018', '05412345678908', 10, 'EA', 'CITYHOSP/CATHLAB-CAB2', '2026-04-12'],
        [2, 'NW', 'open', 'GW-014-190', '05412345679011', 25, 'EA', 'CITYHOSP/CATHLAB-CAB2', '2026-04-13'],
      ]);
      // escapes in RQD-2 item text: \T\ \F\ \S\ and \.br\ (a line break)
      expect(rows.map((r) => r.item_text)).toEqual(['Drug-eluting stent 3.0&3.5 mm\nsterile, single use', 'Guide wire 0.014|190 cm ^ PTFE']);
      expect(new Date(rows[0].requested_at).toISOString()).toBe('2026-04-10T05:55:00.000Z'); // ORC-9
      expect(await db()('parties').where({ id: rows[0].party_id }).first()).toMatchObject({ code: 'CITYHOSP', role: 'customer' });
      const d = await demand();
      expect(d.map((r) => [r.kind, r.material_id, Number(r.quantity), r.uom, r.location_id, r.source_message_id])).toEqual([
        ['requisition', rows[0].material_id, 10, 'EA', rows[0].location_id, sent.id],
        ['requisition', rows[1].material_id, 25, 'EA', rows[1].location_id, sent.id],
      ]);
      const outbox = await db()('outbox_events').where({ source_message_id: sent.id, type: 'requisition.received' }).orderBy('ordinal');
      expect(outbox.map((o) => [o.payload.requisitionNumber, o.payload.lineNo, o.payload.status, o.payload.quantity])).toEqual([
        ['REQ-8801', 1, 'open', 10],
        ['REQ-8801', 2, 'open', 25],
      ]);
      const audit = await db()('audit_log').where({ source_message_id: sent.id, action: 'hl7.requisition_open' });
      expect(audit.map((a) => a.entity_id).sort()).toEqual(rows.map((r) => r.id).sort());
    });

    it('an XO change updates the line (status changed, new quantity and date) and its demand; the other line is untouched', async () => {
      const before = await requisitions();
      const sent = await send(h, fixture('oms-o05-v251-xo-change-line-2.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', result: { lines: 1 } });
      const rows = await requisitions();
      expect(rows).toHaveLength(2);
      expect(rows[0]).toEqual(before[0]);
      expect(rows[1]).toMatchObject({ id: before[1].id, order_control: 'XO', status: 'changed', needed_by: '2026-04-14' });
      expect(Number(rows[1].quantity)).toBe(40);
      expect((await demand()).map((r) => Number(r.quantity))).toEqual([10, 40]);
    });

    it('a CA cancel marks the line cancelled and removes its demand', async () => {
      const sent = await send(h, fixture('oms-o05-v251-ca-cancel-line-1.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', result: { lines: 1 } });
      const rows = await requisitions();
      expect(rows.map((r) => [r.line_no, r.order_control, r.status])).toEqual([
        [1, 'CA', 'cancelled'],
        [2, 'XO', 'changed'],
      ]);
      expect((await demand()).map((r) => [r.source_key.split(':').pop(), Number(r.quantity)])).toEqual([['2', 40]]);
      const outbox = await db()('outbox_events').where({ source_message_id: sent.id, type: 'requisition.cancelled' });
      expect(outbox.map((o) => [o.payload.requisitionNumber, o.payload.lineNo, o.payload.status])).toEqual([['REQ-8801', 1, 'cancelled']]);
    });

    it('reprocessing the original NW message later neither reopens the cancelled line nor undoes the change, and emits nothing new', async () => {
      const rows = await requisitions();
      const d = await demand();
      const before = await countsOf(db(), newId);
      const r = await h.api('POST', `/api/v1/messages/${newId}/reprocess`);
      expect(r.status).toBe(202);
      expect(await h.waitForStatus(newId)).toMatchObject({ status: 'processed' });
      expect(await requisitions()).toEqual(rows);
      expect(await demand()).toEqual(d);
      const after = await countsOf(db(), newId);
      expect(after.outbox_events - before.outbox_events).toBe(1); // message.processed only
    });
  });

  describe('OMS^O05 with a date needed known to the month', () => {
    it('an RQD-10 date needed sent to the month (DT 202605) is needed by the first day of that month', async () => {
      const sent = await send(h, fixture('oms-o05-v251-rqd-10-needed-month-only.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', messageType: 'OMS^O05', result: { lines: 1 } });
      const row = await db()('supply_requisitions').where({ requisition_number: 'REQ-8807', line_no: 1 }).first('needed_by', 'quantity');
      expect([row.needed_by, Number(row.quantity)]).toEqual(['2026-05-01', 50]);
    });

    it('the HL7 null "" in RQD-2, RQD-4, RQD-6 and RQD-9 is no value: the GTIN in RQD-3 names the item, no unit, no location', async () => {
      const sent = await send(h, fixture('oms-o05-v251-hl7-nulls.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', messageType: 'OMS^O05', result: { lines: 1 } });
      const row = await db()('supply_requisitions as r').leftJoin('materials as m', 'm.id', 'r.material_id').where({ 'r.requisition_number': 'REQ-8860', 'r.line_no': 1 })
        .first('r.item_code', 'r.item_text', 'r.uom', 'r.location_id', 'm.base_uom');
      // the unit falls back to the material's base unit, as for an empty RQD-6
      expect(row).toEqual({ item_code: '05412345679011', item_text: null, uom: row.base_uom, location_id: null, base_uom: expect.any(String) });
      expect(await db()('locations').where('code', 'like', '%/""')).toEqual([]);
    });
  });

  describe('MFN^M16', () => {
    it('items become materials known by the hospital item number, IVT-21..25 seed reorder policies, ILT lots carry their expiry', async () => {
      // a policy the hub already computed from demand for the guide wire in cabinet 1: the seed must not overwrite its reorder point
      const cab1 = (await db()('locations').insert({ id: uuidv7(), code: 'CITYHOSP/CATHLAB-CAB1', kind: 'bin' }).returning('id'))[0].id;
      const gw = await db()('materials').where({ code: MATERIALS.guideWire.code }).first();
      await db()('reorder_policies').insert({ material_id: gw.id, location_id: cab1, method: 'normal', reorder_point: 12, safety_stock: 4, computed_at: new Date() });

      const sent = await send(h, fixture('mfn-m16-v26-item-master-reorder-seeds.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', messageType: 'MFN^M16', result: { version: '2.6', items: 2, policies: 2, lots: 3 } });

      const balloon = await db()('materials').where({ code: 'CITYHOSP:BAL-2515' }).first();
      expect(balloon).toMatchObject({ description: 'Balloon catheter 2.5 x 15 mm\nPTCA, rapid exchange & hydrophilic' });
      const ids = async (materialId: string) => (await db()('material_identifiers').where({ material_id: materialId }).orderBy('scheme')).map((i) => [i.scheme, i.value]);
      expect(await ids(balloon.id)).toEqual([['customer', 'CITYHOSP:BAL-2515']]);
      // the guide wire is known (ITM-9 = our material code): it keeps its GTIN and learns the hospital's item number
      expect(await ids(gw.id)).toEqual([['customer', 'CITYHOSP:GW-014'], ['gtin', MATERIALS.guideWire.gtin]]);

      const policies = await db()('reorder_policies as p').join('materials as m', 'm.id', 'p.material_id').join('locations as l', 'l.id', 'p.location_id').orderBy('m.code')
        .select('m.code', 'l.code as location', 'p.method', 'p.reorder_point', 'p.reorder_theory', 'p.safety_stock_days', 'p.max_days', 'p.recommended_order_point', 'p.recommended_order_amount', 'p.source_message_id');
      expect(policies.map((p) => [p.code, p.location, p.method, Number(p.reorder_point), p.reorder_theory, Number(p.safety_stock_days), Number(p.max_days), Number(p.recommended_order_point), Number(p.recommended_order_amount), p.source_message_id])).toEqual([
        ['CITYHOSP:BAL-2515', 'CITYHOSP/CATHLAB-CAB2', 'hl7_seed', 8, 'M', 14, 60, 8, 20, sent.id],
        ['GW-014-190', 'CITYHOSP/CATHLAB-CAB1', 'normal', 12, 'D', 7, 30, 15, 50, sent.id],
      ]);

      const lots = await db()('lots as l').join('materials as m', 'm.id', 'l.material_id').whereIn('l.lot_number', ['BC-2511-A', 'BC-2601-C', 'GW2512-03']).orderBy('l.lot_number').select('l.lot_number', 'l.expiry', 'm.code', 'l.provisional');
      expect(lots.map((l) => [l.lot_number, l.expiry, l.code])).toEqual([
        ['BC-2511-A', '2027-11-30', 'CITYHOSP:BAL-2515'],
        ['BC-2601-C', '2028-01-31', 'CITYHOSP:BAL-2515'],
        ['GW2512-03', '2027-10-31', 'GW-014-190'],
      ]);
      const lotView = await h.api('GET', `/api/v1/lots?gtin=${MATERIALS.guideWire.gtin}&lot=GW2512-03`);
      expect(lotView.json).toMatchObject({ lotNumber: 'GW2512-03', expiry: '2027-10-31', totalQuantity: 0 });
      const outbox = await db()('outbox_events').where({ source_message_id: sent.id }).orderBy('ordinal');
      expect(outbox.filter((o) => o.type === 'lot.created')).toHaveLength(3);
      expect(outbox.filter((o) => o.type === 'item.master_updated').map((o) => [o.payload.materialCode, o.payload.event, o.payload.facility])).toEqual([
        ['CITYHOSP:BAL-2515', 'MAD', 'CITYHOSP'],
        ['GW-014-190', 'MAD', 'CITYHOSP'],
      ]);
    });

    it('an ILT-3 expiry known to the month (DTM 202810) gives the lot the last day of that month', async () => {
      const sent = await send(h, fixture('mfn-m16-v26-ilt-3-expiry-month-only.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', messageType: 'MFN^M16', result: { items: 1, lots: 1 } });
      const lot = await db()('lots').where({ lot_number: 'GW2604-11' }).first('expiry');
      expect(lot.expiry).toBe('2028-10-31');
    });

    it('an MUP update of the seeds moves a seeded reorder point with the hospital recommendation', async () => {
      const sent = await send(h, fixture('mfn-m16-v26-item-update-order-point.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', result: { items: 1, policies: 1, lots: 0 } });
      const balloon = await db()('materials').where({ code: 'CITYHOSP:BAL-2515' }).first();
      const p = await db()('reorder_policies').where({ material_id: balloon.id }).first();
      expect([p.method, Number(p.reorder_point), Number(p.recommended_order_point), Number(p.recommended_order_amount), p.source_message_id]).toEqual(['hl7_seed', 10, 10, 30, sent.id]);
      expect(await db()('materials').where('code', 'like', 'CITYHOSP:%')).toHaveLength(1);
    });

    it('the HL7 null "" in ITM-2, ITM-9 and ILT-2 is no value: no description, no catalog number, and no lot named ""', async () => {
      const sent = await send(h, fixture('mfn-m16-v26-hl7-nulls.hl7'));
      expect(sent.message).toMatchObject({ status: 'processed', messageType: 'MFN^M16', result: { items: 1, lots: 0 } });
      expect(await db()('lots').where({ lot_number: '""' })).toEqual([]);
      const m = await db()('materials').where({ code: 'CITYHOSP:GW-015' }).first('description');
      expect(m).toEqual({ description: null });
    });
  });

  describe('DFT^P03 by the hospital item number MFN^M16 taught', () => {
    it('an FT1 without device data whose FT1-7 is a known hospital item number is an unlotted usage of that material, with demand', async () => {
      const sent = await send(h, fixture('dft-p03-v251-supply-by-hospital-item-number.hl7'));
      expect(sent.message.error).toBeNull();
      expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1, unlotted: 1, ledgerRows: 0 } });
      const [u] = await usagesOf(db(), sent.id);
      expect([u.material, u.lot, u.trace_event_id, u.location, Number(u.quantity), u.uom]).toEqual(['GW-014-190', null, null, 'CITYHOSP/CATHLAB', 2, 'EA']);
      const d = await db()('demand_history').where({ source_message_id: sent.id });
      expect(d.map((r) => [r.kind, r.material_id, Number(r.quantity)])).toEqual([['consumption', u.material_id, 2]]);
      expect(await db()('inventory_ledger').where({ source_message_id: sent.id })).toEqual([]);
    });

    it('a hospital item whose material has no GTIN is rejected with that reason at FT1-7', async () => {
      const sent = await send(h, fixture('dft-p03-v251-supply-item-without-gtin.hl7'));
      expect(sent.message.status).toBe('rejected');
      expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_ITEM_UNIDENTIFIED', location: { segment: 'FT1', field: '7' } });
      expect(sent.message.error.message).toMatch(/hospital's item number of material CITYHOSP:BAL-2515, which has no GTIN/);
    });
  });

  describe('types without a canonical mapping', () => {
    it.each([
      ['adt-a01-v25-admission.hl7', 'ADT^A01', 'HIS-A01-90211'],
      ['oru-r01-v251-blood-count.hl7', 'ORU^R01', 'LAB-R01-55120'],
    ])('%s is stored, acknowledged AA and routed with no canonical rows', async (name, type, controlId) => {
      const sent = await send(h, fixture(name));
      expect(sent.receipt).toBe('accepted');
      expect(sent.ackCode).toBe('AA');
      expect(sent.ack).toContain(`MSA|AA|${controlId}`);
      expect(sent.message).toMatchObject({ status: 'routed', messageType: type, controlId, error: null, result: { reason: `no canonical mapping for ${type}: stored and routed as-is` } });
      const counts = await countsOf(db(), sent.id);
      expect(counts).toEqual({
        trace_events: 0, inventory_ledger: 0, device_usages: 0, demand_history: 0, supply_requisitions: 0, lots: 0, serials: 0, materials: 0, locations: 0, parties: 0,
        outbox_events: 1, audit_log: 1, alerts: 0,
      });
      expect(await db()('outbox_events').where({ source_message_id: sent.id }).first()).toMatchObject({ type: 'message.routed', payload: { messageType: type } });
    });
  });
});

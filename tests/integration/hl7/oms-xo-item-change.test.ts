import type { TestHub } from '../../helpers/start-hub';
import { MATERIALS, seedMaterial, send, startMappingHub } from './mapping-helpers';

/*
 * Review finding: an OMS^O05 XO that changes a requisition line's item (RQD-3 another GTIN) updates
 * supply_requisitions.material_id, but the line's `requisition` demand row (demand_history, key
 * hl7-req:<sender>:<number>:<line>) merged only quantity, uom and location on its conflict: it kept
 * the old material, so replenishment kept planning demand for the item the hospital no longer wants
 * (and none for the one it now wants).
 */
const oms = (control: string, controlId: string, orc9: string, gtin: string, text: string, qty: number): string =>
  [
    `MSH|^~\\&|MMIS|CITYHOSP|LOTBRIDGE|MEDTECH|${orc9}||OMS^O05^OMS_O05|${controlId}|P|2.5.1`,
    `ORC|${control}|REQ-9901^MMIS|||||||${orc9}|4711^Weber^Anna`,
    `RQD|1|ITEM^${text}^99LB|${gtin}^^GTIN||${qty}|EA^each^99LB|||CATHLAB-CAB2^Cath lab cabinet 2^99LB|20260420`,
  ].join('\r') + '\r';

describe('HL7: OMS^O05 XO changing the item of a line', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startMappingHub();
    await seedMaterial(h, MATERIALS.stent);
    await seedMaterial(h, MATERIALS.guideWire);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('moves the line\'s requisition demand to the new item', async () => {
    const first = await send(h, oms('NW', 'REQ-XO-1', '20260415080000+0200', MATERIALS.stent.gtin, 'Stent', 10));
    expect(first.message).toMatchObject({ status: 'processed' });
    const changed = await send(h, oms('XO', 'REQ-XO-2', '20260415090000+0200', MATERIALS.guideWire.gtin, 'Guide wire', 10));
    expect(changed.message).toMatchObject({ status: 'processed' });

    const line = await h.hub.db('supply_requisitions as r').join('materials as m', 'm.id', 'r.material_id').where({ 'r.requisition_number': 'REQ-9901', 'r.line_no': 1 }).first('m.code', 'r.material_id');
    expect(line.code).toBe(MATERIALS.guideWire.code);
    const demand = await h.hub.db('demand_history as d').join('materials as m', 'm.id', 'd.material_id').where('d.source_key', 'like', 'hl7-req:%:REQ-9901:1').select('m.code');
    expect(demand.map((d: { code: string }) => d.code)).toEqual([MATERIALS.guideWire.code]);
  });
});

import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { balancesOf, lotOf, processed, runB2mml } from './mes-test-data';

const pp = (id: string, actuals: string): string => `<?xml version="1.0" encoding="UTF-8"?>
<ProductionPerformance xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700">
  <ID>${id}</ID>
  <PublishedDate>2026-03-02T08:05:00+01:00</PublishedDate>
  <ProductionResponse><ID>PR-${id}</ID>
    <SegmentResponse><ID>SR-1</ID><ActualEndTime>2026-03-02T07:30:00+01:00</ActualEndTime>
      <HierarchyScope><EquipmentID>LINE-1</EquipmentID></HierarchyScope>
${actuals}
    </SegmentResponse>
  </ProductionResponse>
</ProductionPerformance>`;
const act = (mat: string, lot: string, use: string, q: string, uom: string): string =>
  `      <MaterialActual><MaterialDefinitionID>${mat}</MaterialDefinitionID><MaterialLotID>${lot}</MaterialLotID><MaterialUse>${use}</MaterialUse><Quantity><QuantityString>${q}</QuantityString><UnitOfMeasure>${uom}</UnitOfMeasure></Quantity></MaterialActual>`;

/**
 * MES stock quantities. Converted quantities are stored in the base unit, with 10 decimals
 * (numeric(28,10); with 4 they were rounded away): a consumption written in a much smaller unit
 * than the base unit (mg of a material kept in kg) is booked as it was written. A balance an MES
 * consumption took below zero gets its negative_balance alert closed by the report that brings it
 * back.
 */
describe('MES: stock quantities', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await t.db('materials').insert([
      { id: '00000000-0000-7000-8000-0000000000a1', code: 'COAT-API', kind: 'raw', base_uom: 'KG' },
      { id: '00000000-0000-7000-8000-0000000000a2', code: 'FG-STENT', kind: 'finished', base_uom: 'EA' },
      { id: '00000000-0000-7000-8000-0000000000b1', code: 'COAT-B', kind: 'raw', base_uom: 'KG' },
      { id: '00000000-0000-7000-8000-0000000000b2', code: 'FG-B', kind: 'finished', base_uom: 'EA' },
      { id: '00000000-0000-7000-8000-0000000000b4', code: 'STEM-B', kind: 'component', base_uom: 'EA' },
    ]);
  });
  afterAll(async () => {
    await t.destroy();
  });

  // with numeric(18,4), 40 MG → 0.00004 KG was 0.0000 in trace_event_items.base_quantity,
  // lot_links.quantity and inventory_ledger.delta, and the coating lot's stock did not change
  it('books the 40 MG consumed (0.00004 KG) against the coating lot: stock, item and genealogy quantity', async () => {
    const r = await runB2mml(t.db, pp('PP-MG-1', [act('COAT-API', 'API-7', 'Consumed', '40', 'MG'), act('FG-STENT', 'ST-1', 'Produced', '100', 'EA')].join('\n')));
    processed(r);
    const api = await lotOf(t.db, 'COAT-API', 'API-7');
    const item = await t.db('trace_event_items').where({ lot_id: api?.id, role: 'input' }).first('quantity', 'uom', 'base_quantity');
    expect(item).toEqual({ quantity: 40, uom: 'MG', base_quantity: 0.00004 });
    expect(await t.db('lot_links').where({ input_lot_id: api?.id }).pluck('quantity')).toEqual([0.00004]);
    expect(await balancesOf(t.db, 'COAT-API', 'API-7')).toEqual({ 'LINE-1/raw': -0.00004 });
  });

  it('a WIP lot consumed beyond what was reported made opens negative_balance; the report of the rest closes the alert', async () => {
    processed(await runB2mml(t.db, pp('PP-NB-1', [act('COAT-B', 'CB-1', 'Consumed', '1', 'KG'), act('STEM-B', 'W-1', 'Produced', '1', 'EA')].join('\n'))));
    processed(await runB2mml(t.db, pp('PP-NB-2', [act('STEM-B', 'W-1', 'Consumed', '3', 'EA'), act('FG-B', 'FB-1', 'Produced', '3', 'EA')].join('\n'))));
    expect(await balancesOf(t.db, 'STEM-B', 'W-1')).toEqual({ 'LINE-1/wip': -2 });
    const lot = await lotOf(t.db, 'STEM-B', 'W-1');
    const alerts = async (): Promise<string[]> => t.db('alerts').where({ type: 'negative_balance', subject_id: lot?.id }).pluck('status');
    expect(await alerts()).toEqual(['open']);
    // the other two stems made are reported late
    processed(await runB2mml(t.db, pp('PP-NB-3', [act('COAT-B', 'CB-1', 'Consumed', '2', 'KG'), act('STEM-B', 'W-1', 'Produced', '2', 'EA')].join('\n'))));
    expect(await balancesOf(t.db, 'STEM-B', 'W-1')).toEqual({});
    expect(await alerts()).toEqual(['closed']);
  });
});

import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, seedMaterial } from '../wms/wms-test-data';
import { balancesOf, processed, runB2mml } from './mes-test-data';

const report = `<?xml version="1.0" encoding="UTF-8"?>
<ProductionPerformance xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700">
  <ID>PP-LATE-1</ID>
  <ProductionResponse><ID>PR-LATE-1</ID>
    <SegmentResponse><ID>SR-1</ID><ActualEndTime>2026-03-02T09:00:00Z</ActualEndTime>
      <HierarchyScope><EquipmentID>LINE-1</EquipmentID></HierarchyScope>
      <MaterialActual><MaterialDefinitionID>RAW-TI</MaterialDefinitionID><MaterialLotID>RT-1</MaterialLotID><MaterialUse>Consumed</MaterialUse>
        <StorageLocation>RM-01</StorageLocation><Quantity><QuantityString>12.5</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity></MaterialActual>
      <MaterialActual><MaterialDefinitionID>FG-ROD</MaterialDefinitionID><MaterialLotID>FR-1</MaterialLotID><MaterialUse>Produced</MaterialUse>
        <Quantity><QuantityString>10</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialActual>
    </SegmentResponse>
  </ProductionResponse>
</ProductionPerformance>`;

/**
 * The canonical count rule (docs/connectors/wms.md, Counts): a change that happened at or before a
 * count of the same lot/location/state but arrives after it was already seen by the count, so the
 * count stays true. It must hold for MES consumptions as for WMS movements.
 */
describe('MES consumption that arrives after a later WMS count of the same stock', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'RAW-TI', kind: 'raw', baseUom: 'KG', gtins: [{ gtin: GTIN.eachA }] });
    await seedMaterial(t.db, { code: 'FG-ROD', gtins: [{ gtin: GTIN.eachB }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('keeps the 10:00 count of 87.5 KG true when the 09:00 consumption of 12.5 KG arrives late', async () => {
    const wms = async (body: unknown): Promise<void> => {
      const r = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(body), contentType: 'application/json' });
      if (!r.ok) {
        throw r.error;
      }
    };
    await wms({ movementId: 'LC-1', type: 'receive', occurredAt: '2026-03-02T08:00:00Z', location: 'RM-01', gtin: GTIN.eachA, lot: 'RT-1', quantity: 100, uom: 'KG' });
    // the stock take at 10:00 finds 87.5 KG: the 09:00 consumption had already happened
    await wms({ movementId: 'LC-2', type: 'count', occurredAt: '2026-03-02T10:00:00Z', location: 'RM-01', gtin: GTIN.eachA, lot: 'RT-1', quantity: 87.5, uom: 'KG' });
    expect(await balancesOf(t.db, 'RAW-TI', 'RT-1')).toEqual({ 'RM-01/raw': 87.5 });

    processed(await runB2mml(t.db, report));
    expect(await balancesOf(t.db, 'RAW-TI', 'RT-1')).toEqual({ 'RM-01/raw': 87.5 });
    // the ledger still shows the consumption at 09:00, reversed at the count's time
    const ledger = await t.db('inventory_ledger as g').join('lots as l', 'l.id', 'g.lot_id').where({ 'l.lot_number': 'RT-1' }).orderBy('g.id').select('g.delta', 'g.event_time');
    expect(ledger.map((x) => [Number(x.delta), new Date(x.event_time).toISOString()])).toEqual([
      [100, '2026-03-02T08:00:00.000Z'],
      [-12.5, '2026-03-02T10:00:00.000Z'],
      [-12.5, '2026-03-02T09:00:00.000Z'],
      [12.5, '2026-03-02T10:00:00.000Z'],
    ]);
  });
});

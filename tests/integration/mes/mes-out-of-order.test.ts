import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { backwardLots, balancesOf, lotOf, processed, runB2mml } from './mes-test-data';

const NS = 'http://www.mesa.org/xml/B2MML';

/** Out of order is normal: QA before production, a recalled lot consumed, a report that gives two quantities. */
describe('MES (B2MML) out of order and awkward reports', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await t.db('materials').insert([
      { id: '01900000-0000-7000-8000-000000000001', code: 'CMP-PLATE-2', kind: 'component', base_uom: 'EA' },
      { id: '01900000-0000-7000-8000-000000000002', code: 'FG-TIBIA-2', kind: 'finished', base_uom: 'EA' },
    ]);
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('takes a QA release before the production report: provisional lot released, later adopted, its stock goes straight to finished', async () => {
    const qa = await runB2mml(
      t.db,
      `<QualityTest xmlns="${NS}"><ID>QT-EARLY-1</ID><PublishedDate>2026-03-07T09:00:00Z</PublishedDate><MaterialDefinitionID>FG-TIBIA-2</MaterialDefinitionID><MaterialLotID>FGLOT-T-2</MaterialLotID>
         <TestResult><ID>VISUAL</ID><Result><ValueString>OK</ValueString></Result></TestResult><Disposition>Released</Disposition></QualityTest>`,
    );
    expect(processed(qa).summary).toMatchObject({ qualityResults: 1, statusChanges: 1, alerts: 1 });
    expect(await lotOf(t.db, 'FG-TIBIA-2', 'FGLOT-T-2')).toMatchObject({ status: 'released', provisional: true });
    expect(await t.db('alerts').where({ type: 'provisional_lot', source_message_id: qa.message.id }).count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 1 }]);

    const pp = await runB2mml(
      t.db,
      `<ProductionPerformance xmlns="${NS}"><ID>PP-LATE-1</ID><ProductionResponse><ID>PR-LATE</ID><SegmentResponse><ID>S1</ID><ActualEndTime>2026-03-06T17:00:00Z</ActualEndTime>
         <MaterialActual><MaterialDefinitionID>CMP-PLATE-2</MaterialDefinitionID><MaterialLotID>PLATE-LOT-4</MaterialLotID><MaterialUse>Consumed</MaterialUse>
           <Quantity><QuantityString>0.9</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity>
           <Quantity><QuantityString>6</QuantityString><UnitOfMeasure>PCE</UnitOfMeasure></Quantity></MaterialActual>
         <MaterialActual><MaterialDefinitionID>FG-TIBIA-2</MaterialDefinitionID><MaterialLotID>FGLOT-T-2</MaterialLotID><MaterialUse>Produced</MaterialUse>
           <Quantity><QuantityString>6</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialActual>
       </SegmentResponse></ProductionResponse></ProductionPerformance>`,
    );
    processed(pp);
    const fg = await lotOf(t.db, 'FG-TIBIA-2', 'FGLOT-T-2');
    expect(fg).toMatchObject({ status: 'released', provisional: false, manufactured_at: '2026-03-06' });
    expect(await balancesOf(t.db, 'FG-TIBIA-2', 'FGLOT-T-2')).toEqual({ 'MES/finished': 6 });
    // of the two quantities the one in a unit the material counts in was booked
    expect(await balancesOf(t.db, 'CMP-PLATE-2', 'PLATE-LOT-4')).toEqual({ 'MES/component': -6 });
    expect(await t.db('lot_links').where({ output_lot_id: fg?.id }).first('quantity', 'uom')).toEqual({ quantity: 6, uom: 'EA' });
    expect(await backwardLots(t.db, fg?.id as string)).toEqual(['PLATE-LOT-4']);
    expect(await t.db('audit_log').where({ action: 'lot.adopt', source_message_id: pp.message.id }).count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 1 }]);
  });

  it('records a recalled lot consumed in production and opens a critical recalled_lot_movement alert', async () => {
    await t.db('lots').where({ lot_number: 'PLATE-LOT-4' }).update({ status: 'recalled' });
    const pp = await runB2mml(
      t.db,
      `<ProductionPerformance xmlns="${NS}"><ID>PP-RECALLED-1</ID><ProductionResponse><ID>PR-RC</ID><SegmentResponse><ID>S1</ID><ActualEndTime>2026-03-08T10:00:00Z</ActualEndTime>
         <MaterialActual><MaterialDefinitionID>CMP-PLATE-2</MaterialDefinitionID><MaterialLotID>PLATE-LOT-4</MaterialLotID><MaterialUse>Consumed</MaterialUse><Quantity><QuantityString>2</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialActual>
         <MaterialActual><MaterialDefinitionID>FG-TIBIA-2</MaterialDefinitionID><MaterialLotID>FGLOT-T-3</MaterialLotID><MaterialUse>Produced</MaterialUse><Quantity><QuantityString>2</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialActual>
       </SegmentResponse></ProductionResponse></ProductionPerformance>`,
    );
    processed(pp);
    const alert = await t.db('alerts').where({ type: 'recalled_lot_movement', source_message_id: pp.message.id }).first('severity', 'message');
    expect(alert).toEqual({ severity: 'critical', message: 'recalled lot PLATE-LOT-4 (CMP-PLATE-2) was consumed in production: MES ProductionPerformance PP-RECALLED-1, segment PR-RC/S1' });
    // and the lot, already below zero at MES, went further down: its negative_balance alert too
    expect(await t.db('alerts').where({ source_message_id: pp.message.id }).orderBy('type').pluck('type')).toEqual(['negative_balance', 'recalled_lot_movement']);
    expect(await t.db('outbox_events').where({ source_message_id: pp.message.id, type: 'alert.opened' }).count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 2 }]);
    expect((await backwardLots(t.db, (await lotOf(t.db, 'FG-TIBIA-2', 'FGLOT-T-3'))?.id as string))).toEqual(['PLATE-LOT-4']);
  });

  it('rejects a report whose quantities none convert, naming the first', async () => {
    const r = await runB2mml(
      t.db,
      `<ProductionPerformance xmlns="${NS}"><ID>PP-NOCONV</ID><ProductionResponse><ID>PR-NC</ID><SegmentResponse><ID>S1</ID>
         <MaterialActual><MaterialDefinitionID>CMP-PLATE-2</MaterialDefinitionID><MaterialLotID>PLATE-LOT-5</MaterialLotID><MaterialUse>Consumed</MaterialUse>
           <Quantity><QuantityString>1</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity><Quantity><QuantityString>1</QuantityString><UnitOfMeasure>L</UnitOfMeasure></Quantity></MaterialActual>
       </SegmentResponse></ProductionResponse></ProductionPerformance>`,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('LB_ERR_B2MML_UOM');
    expect(r.error.location?.path).toBe('/ProductionPerformance/ProductionResponse/SegmentResponse/MaterialActual/Quantity[1]/UnitOfMeasure');
  });
});

import { getLotView } from '../../../src/model/lots/get-lot-view';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { b2mmlFixture, backwardLots, balancesOf, lotOf, processed, runB2mml } from './mes-test-data';

/**
 * The MES fixture set in production order, on one database: master sync, a production report,
 * its QA release, a two-step V0401 report, a report with an unknown consumed lot, a QA reject, a
 * forbidden release, a release with an override.
 */
describe('MES (B2MML) mapping into the canonical model', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('maps a V0600 MaterialInformation with a BOM and prefixed namespace: materials, lots, dates, serials, stock, a release', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('material-information-v0600-prefixed-bom.xml'));
    const res = processed(r);
    expect(res).toMatchObject({ status: 'processed', messageType: 'MaterialInformation', summary: { materialDefinitions: 3, lots: 3, rejected: 0, serials: 2 } });
    expect(res.recordErrors).toBeUndefined();

    const mats = await t.db('materials').whereIn('code', ['RAW-TI-ROD', 'CMP-LINER-4', 'FG-KNEE-4']).orderBy('code').select('code', 'kind', 'base_uom', 'description', 'provisional');
    expect(mats).toEqual([
      { code: 'CMP-LINER-4', kind: 'component', base_uom: 'EA', description: 'UHMWPE tibial liner size 4 <sterile>', provisional: false },
      { code: 'FG-KNEE-4', kind: 'finished', base_uom: 'EA', description: 'Total knee system size 4 & liner', provisional: false },
      { code: 'RAW-TI-ROD', kind: 'raw', base_uom: 'KG', description: 'Titanium rod Ti-6Al-4V ELI Ø 12 mm', provisional: false },
    ]);
    expect(await t.db('material_identifiers as i').join('materials as m', 'm.id', 'i.material_id').where({ 'm.code': 'FG-KNEE-4', 'i.scheme': 'gtin' }).pluck('i.value')).toEqual(['04012345000016']);

    expect(await lotOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7')).toMatchObject({ status: 'released', provisional: false, manufactured_at: '2026-02-11', expiry: null });
    expect(await lotOf(t.db, 'CMP-LINER-4', 'CMPLOT-A-3')).toMatchObject({ status: 'quarantine', manufactured_at: '2026-01-31', expiry: '2031-01-31' });
    const zeros = await lotOf(t.db, 'CMP-LINER-4', '000120034500067800');
    expect(zeros).toMatchObject({ status: 'quarantine' });
    expect(await t.db('serials').where({ lot_id: zeros?.id }).orderBy('serial_number').pluck('serial_number')).toEqual(['0001', '0002']);

    expect(await balancesOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7')).toEqual({ 'RM-01/raw': 250 });
    expect(await balancesOf(t.db, 'CMP-LINER-4', 'CMPLOT-A-3')).toEqual({ 'CMP-02/component': 500 });

    // the release of RAWLOT-A-7 went through the lot status rules, with an audit row naming the message
    const audit = await t.db('audit_log').where({ action: 'lot.release', entity_id: (await lotOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7'))?.id }).first();
    expect(audit).toMatchObject({ source_message_id: r.message.id, before: { status: 'quarantine' }, after: { status: 'released' } });
    expect(audit.reason).toContain('MaterialInformation MI-20260301-0001');
  });

  it('maps a V0700 production report into a transformation event, genealogy, stock states and serials', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('production-performance-v0700-default-ns.xml'));
    const res = processed(r);
    expect(res.summary).toMatchObject({ applied: 1, events: 1, lotLinks: 3, skipped: ['MaterialUse Sample at /ProductionPerformance/ProductionResponse/SegmentResponse/MaterialActual[4]'] });

    const ev = await t.db('trace_events').where({ source_message_id: r.message.id, type: 'TransformationEvent' }).first();
    expect(ev).toMatchObject({ biz_step: 'commissioning', event_time_zone_offset: '+01:00', biz_transactions: [{ type: 'prodorder', value: '4711' }], source_key: 'b2mml:mes::segment:PR-4711-01/SR-ASSEMBLY-10' });
    expect(ev.event_time.toISOString()).toBe('2026-03-02T06:30:00.000Z');
    const items = await t.db('trace_event_items as i').join('lots as l', 'l.id', 'i.lot_id').where({ event_id: ev.id }).orderBy('i.id').select('i.role', 'l.lot_number', 'i.quantity', 'i.uom', 'i.base_quantity');
    expect(items).toEqual([
      { role: 'input', lot_number: 'RAWLOT-A-7', quantity: 12.5, uom: 'KG', base_quantity: 12.5 },
      { role: 'input', lot_number: 'CMPLOT-A-3', quantity: 3, uom: 'PCE', base_quantity: 3 },
      { role: 'input', lot_number: '000120034500067800', quantity: 1, uom: 'EA', base_quantity: 1 },
      { role: 'output', lot_number: 'FGLOT-A-1', quantity: 4, uom: 'EA', base_quantity: 4 },
    ]);

    const fg = await lotOf(t.db, 'FG-KNEE-4', 'FGLOT-A-1');
    expect(fg).toMatchObject({ status: 'quarantine', provisional: false, manufactured_at: '2026-03-02' });
    const view = await getLotView(t.db, { material: 'FG-KNEE-4', lot: 'FGLOT-A-1' });
    expect(view?.inputs.map((i) => [i.material, i.lotNumber, i.quantity, i.uom])).toEqual([
      ['CMP-LINER-4', '000120034500067800', 1, 'EA'],
      ['CMP-LINER-4', 'CMPLOT-A-3', 3, 'EA'],
      ['RAW-TI-ROD', 'RAWLOT-A-7', 12.5, 'KG'],
    ]);
    expect(view?.balances).toEqual([{ location: 'TUT-ASSY-L2', stockState: 'pending_inspection', quantity: 4, uom: 'EA' }]);

    expect(await balancesOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7')).toEqual({ 'RM-01/raw': 237.5 });
    expect(await balancesOf(t.db, 'CMP-LINER-4', 'CMPLOT-A-3')).toEqual({ 'CMP-02/component': 497 });
    expect(await t.db('serials').where({ lot_id: fg?.id }).orderBy('serial_number').pluck('serial_number')).toEqual(['SN-0001', 'SN-0002', 'SN-0003', 'SN-0004']);
    expect(await t.db('serials').where({ serial_number: '0001' }).first('status')).toEqual({ status: 'consumed' });
    expect(await t.db('outbox_events').where({ source_message_id: r.message.id, type: 'production.reported' }).count<Array<{ count: number }>>('* as count')).toEqual([{ count: 1 }]);
  });

  it('applies the same production report once: a resend under a new message changes nothing', async () => {
    const before = await balancesOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7');
    const links = await t.db('lot_links').count<Array<{ count: string }>>('* as count');
    const res = processed(await runB2mml(t.db, b2mmlFixture('production-performance-v0700-default-ns.xml')));
    expect(res.summary).toMatchObject({ applied: 0, alreadyApplied: 1, events: 0, lotLinks: 0, ledgerRows: 0 });
    expect(await balancesOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7')).toEqual(before);
    expect(await t.db('lot_links').count<Array<{ count: string }>>('* as count')).toEqual(links);
  });

  it('releases a lot from a QualityTest: quality results, audit, outbox, pending_inspection stock becomes finished', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('quality-test-release.xml'));
    expect(processed(r).summary).toMatchObject({ qualityResults: 2, statusChanges: 1 });
    const fg = await lotOf(t.db, 'FG-KNEE-4', 'FGLOT-A-1');
    expect(fg?.status).toBe('released');
    const qr = await t.db('quality_results').where({ lot_id: fg?.id }).orderBy('test_code').select('test_code', 'test_name', 'result', 'value', 'unit', 'disposition', 'inspected_at');
    expect(qr).toEqual([
      { test_code: 'DIM-01', test_name: 'Articular surface profile', result: 'pass', value: '0.012', unit: 'MM', disposition: 'Pass', inspected_at: new Date('2026-03-02T11:10:00Z') },
      { test_code: 'STERIL-BI', test_name: 'Biological indicator, EO cycle 2231', result: 'pass', value: 'PASSED', unit: null, disposition: null, inspected_at: new Date('2026-03-02T12:40:00Z') },
    ]);
    expect(await balancesOf(t.db, 'FG-KNEE-4', 'FGLOT-A-1')).toEqual({ 'TUT-ASSY-L2/finished': 4 });
    expect(await t.db('audit_log').where({ action: 'lot.release', entity_id: fg?.id }).first('source_message_id', 'before', 'after')).toEqual({
      source_message_id: r.message.id,
      before: { status: 'quarantine' },
      after: { status: 'released' },
    });
    expect(await t.db('outbox_events').where({ source_message_id: r.message.id }).pluck('type')).toEqual(expect.arrayContaining(['lot.status_changed', 'lot.released']));
  });

  it('maps a V0401 SyncProductionPerformance in ISO-8859-1 with two steps: raw → WIP → finished, backward walk reaches the raw lot', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('sync-production-performance-v0401-two-steps.xml'));
    const res = processed(r);
    expect(res).toMatchObject({ messageType: 'SyncProductionPerformance', summary: { version: 'V0401', applied: 2, events: 2, lotLinks: 3 } });
    const ev = await t.db('trace_events').where({ source_key: 'b2mml:mes:MES-TUTTLINGEN:segment:PR-4800/SR-MACHINE-STEM' }).first('details');
    expect(ev.details.description).toBe('Stem sub-assembly then final hip assembly (Größe 5 / Größe 5)');

    // 8000 GRM of a material kept in KG
    expect(await balancesOf(t.db, 'RAW-TI-ROD', 'RAWLOT-A-7')).toEqual({ 'RM-01/raw': 237.5, 'TUT-L3/raw': -8 });
    // the finished lot's material is known only by GTIN: a provisional GTIN material
    const fg = await t.db('lots as l').join('materials as m', 'm.id', 'l.material_id').where({ 'l.lot_number': 'FGLOT-H-5' }).first('l.id', 'm.code', 'm.provisional');
    expect(fg).toMatchObject({ code: 'GTIN-04012345000023', provisional: true });
    expect(await backwardLots(t.db, fg.id)).toEqual(['HEADLOT-9', 'RAWLOT-A-7', 'WIPLOT-S-5']);
    // the intermediate went in and out again
    expect(await balancesOf(t.db, 'WIP-STEM-5', 'WIPLOT-S-5')).toEqual({});
    // HEADLOT-9 was never named before: provisional with an alert, the report is not rejected
    const head = await lotOf(t.db, 'CMP-HEAD-28', 'HEADLOT-9');
    expect(head?.provisional).toBe(true);
    expect(await t.db('alerts').where({ type: 'provisional_lot', subject_id: head?.id }).first('severity', 'source_message_id')).toEqual({ severity: 'warning', source_message_id: r.message.id });
    // the raw lot went negative at TUT-L3 (the WMS never said it moved there): a negative_balance alert
    expect(await t.db('alerts').where({ type: 'negative_balance', source_message_id: r.message.id }).pluck('message')).toEqual([expect.stringContaining('lot RAWLOT-A-7 (RAW-TI-ROD) at TUT-L3 (raw) is at -8 KG')]);
  });

  it('maps a V0500 ProcessProductionResponse read in the MES time zone: unknown consumed lot provisional, unlotted water skipped, yield and by-product outputs', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('process-production-response-v0500-unknown-consumed-lot.xml'), { timezone: 'Europe/Berlin' });
    const res = processed(r);
    expect(res.summary).toMatchObject({ applied: 1, alerts: 1, skipped: ['consumed PROCESS-WATER without a lot at /ProcessProductionResponse/DataArea/ProductionResponse/SegmentResponse/MaterialActual[2]'] });
    const ev = await t.db('trace_events').where({ source_message_id: r.message.id }).first('event_time', 'event_time_zone_offset');
    expect(ev).toEqual({ event_time: new Date('2026-03-04T08:00:00Z'), event_time_zone_offset: '+01:00' });
    const cocr = await lotOf(t.db, 'RAW-COCR-BAR', 'COCR-UNKNOWN-55');
    expect(cocr?.provisional).toBe(true);
    // two outputs: both linked to the input, no quantity shared out between them
    const links = await t.db('lot_links as k').join('lots as o', 'o.id', 'k.output_lot_id').where({ 'k.input_lot_id': cocr?.id }).orderBy('o.lot_number').select('o.lot_number', 'k.quantity');
    expect(links).toEqual([
      { lot_number: 'FGLOT-F-3', quantity: null },
      { lot_number: 'SCRAP-0304-1', quantity: null },
    ]);
    expect(await lotOf(t.db, 'FG-FEMUR-3', 'FGLOT-F-3')).toMatchObject({ status: 'quarantine', provisional: false });
    // a provisional consumed lot's negative stock raises no second alert
    expect(await t.db('alerts').where({ source_message_id: r.message.id }).pluck('type')).toEqual(['provisional_lot']);
  });

  it('rejects a lot from a SyncMaterialLot with a failed test result (property TestResult)', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('sync-material-lot-qa-reject.xml'));
    expect(processed(r).summary).toMatchObject({ qualityResults: 1, statusChanges: 1 });
    const lot = await lotOf(t.db, 'FG-FEMUR-3', 'FGLOT-F-3');
    expect(lot?.status).toBe('rejected');
    expect(await t.db('quality_results').where({ lot_id: lot?.id }).select('test_code', 'test_name', 'result', 'value')).toEqual([
      { test_code: 'SurfaceRoughness', test_name: 'Ra on condyle, limit 0.10 um', result: 'fail', value: 'FAIL' },
    ]);
    expect(await t.db('audit_log').where({ action: 'lot.reject', entity_id: lot?.id }).first('source_message_id')).toEqual({ source_message_id: r.message.id });
    expect(await t.db('outbox_events').where({ source_message_id: r.message.id }).pluck('type')).toEqual(expect.arrayContaining(['quality.failed', 'lot.rejected']));
  });

  it('refuses to release a rejected lot without an override: an input error naming the lot and both states', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('sync-material-lot-release-rejected-lot.xml'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe('input');
    expect(r.error.code).toBe('LB_ERR_LOT_STATUS_TRANSITION');
    expect(r.error.message).toContain('lot FG-FEMUR-3 / FGLOT-F-3 cannot go from rejected to released');
    expect(r.error.location).toMatchObject({ path: '/SyncMaterialLot/DataArea/MaterialLot/Status' });
    expect((await lotOf(t.db, 'FG-FEMUR-3', 'FGLOT-F-3'))?.status).toBe('rejected');
  });

  it('releases the rejected lot with an explicit ReleaseOverride, auditing the override reason', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('sync-material-lot-release-override.xml'));
    processed(r);
    const lot = await lotOf(t.db, 'FG-FEMUR-3', 'FGLOT-F-3');
    expect(lot?.status).toBe('released');
    const audit = await t.db('audit_log').where({ action: 'lot.status_override', entity_id: lot?.id }).first();
    expect(audit).toMatchObject({ source_message_id: r.message.id, before: { status: 'rejected' }, after: { status: 'released' } });
    expect(audit.reason).toContain('MRB-2026-031');
  });

  it('refuses to release a recalled lot (set by a recall) from a MES message', async () => {
    await t.db('lots').where({ lot_number: 'CMPLOT-A-3' }).update({ status: 'recalled' });
    const body = `<SyncMaterialLot xmlns="http://www.mesa.org/xml/B2MML-V0600"><ApplicationArea><BODID>BOD-RECALLED-1</BODID></ApplicationArea><DataArea><Sync/>
      <MaterialLot><ID>CMPLOT-A-3</ID><MaterialDefinitionID>CMP-LINER-4</MaterialDefinitionID><Status>Released</Status></MaterialLot>
      <MaterialLot><ID>CMPLOT-NEW-4</ID><MaterialDefinitionID>CMP-LINER-4</MaterialDefinitionID><Status>Quarantine</Status></MaterialLot></DataArea></SyncMaterialLot>`;
    const res = processed(await runB2mml(t.db, body));
    expect(res.recordErrors).toEqual([
      expect.objectContaining({ code: 'LB_ERR_LOT_STATUS_TRANSITION', location: expect.objectContaining({ index: 0, path: '/SyncMaterialLot/DataArea/MaterialLot[1]/Status' }) }),
    ]);
    expect(res.recordErrors?.[0].message).toContain('cannot go from recalled to released');
    expect((await lotOf(t.db, 'CMP-LINER-4', 'CMPLOT-A-3'))?.status).toBe('recalled');
    expect((await lotOf(t.db, 'CMP-LINER-4', 'CMPLOT-NEW-4'))?.status).toBe('quarantine');
  });
});

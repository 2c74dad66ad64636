/**
 * Every event shape the connectors write, exported as EPCIS 2.0 and validated as one document
 * against GS1's EPCIS 2.0 JSON Schema: real fixtures through the real hub (HTTP and MLLP ingest,
 * the BullMQ pipeline, the normalizers) and the stock CSV import, then GET /api/v1/epcis/events.
 *
 * Feeds: an HL7 DFT^P03 implant (ObjectEvent, bizStep consuming), master data, WMS receive/put-away/move/pick/
 * issue/ship/adjust/count (ObjectEvents, a serial, business references, a +14:00 and a −05:00
 * source offset) and two temperature readings (sensor elements, no items), the MES production
 * report of the README (TransformationEvent with inputs and outputs), a report whose two segments
 * produce only and consume only (TransformationEvents with one side), an MES lot status change
 * (inspecting), an X12 856 ASN with serials and its cancellation (ObjectEvent DELETE without
 * items), and an opening-stock CSV (ObjectEvent ADD over many lots, no location).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hl7Fixture, mllpPortOf, mllpSend, parseAck, waitAllSettled } from '../../helpers/hl7';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, ediVariant, postAndWait } from '../../helpers/edi';
import { importMasterDataCsv } from '../../../src/model/master-data/import/import-master-data';
import { importStockCsv } from '../../../src/model/stock/import-stock-csv';
import { epcisValidator, withEpcisSchema } from '../../helpers/epcis-schema';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');
const b2mml = (name: string): Buffer => fs.readFileSync(path.join(FIXTURES, 'b2mml', name));

describe('EPCIS 2.0 export of what the connectors write', () => {
  let h: TestHub;
  const json = (body: unknown): [string, Record<string, string>] => [JSON.stringify(body), { 'content-type': 'application/json' }];

  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0', LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
    // hospital usage first (creates the stem provisionally), then master data
    const [ack] = await mllpSend(mllpPortOf(h), hl7Fixture('transport/dft-p03-v282-single-implant.hl7'));
    expect(parseAck(ack).code).toBe('AA');
    await waitAllSettled(h);
    for (const m of [
      { code: 'HIP-STEM-12', description: 'Hip stem 12', kind: 'implant', baseUom: 'EA', serialControlled: true, implantable: true, riskClass: 'III', identifiers: [{ scheme: 'gtin', value: '04012345000115' }] },
      { code: 'RAW-TI6AL4V-BAR', description: 'Titanium bar', kind: 'raw', baseUom: 'KG', identifiers: [{ scheme: 'gtin', value: '04012345000207' }] },
      { code: 'HIP-KIT-12', description: 'Hip kit 12 (no GTIN)', kind: 'finished', baseUom: 'EA', identifiers: [] },
    ]) {
      const r = await h.api('POST', '/api/v1/materials', ...json(m));
      expect([200, 201]).toContain(r.status);
    }
    const wms = [
      { movementId: 'E-1', type: 'receive', occurredAt: '2025-05-20T09:00:00Z', location: 'RM-01', gtin: '04012345000207', lot: 'TI-24-0117', quantity: 50, uom: 'KG', reference: { po: 'PO-4500012345', asn: 'ASN-77' } },
      { movementId: 'E-2', type: 'putaway', occurredAt: '2025-05-20T10:00:00+14:00', location: 'RM-01', toLocation: 'RM-02', gtin: '04012345000207', lot: 'TI-24-0117', quantity: 5, uom: 'KG' },
      { movementId: 'E-3', type: 'move', occurredAt: '2025-05-20T11:00:00-05:00', location: 'RM-02', toLocation: 'RM-01', gtin: '04012345000207', lot: 'TI-24-0117', quantity: 5, uom: 'KG', reference: 'order:SO 991/a;customs:C-1' },
      { movementId: 'E-4', type: 'receive', occurredAt: '2025-06-03T08:00:00Z', location: 'FG-01', barcode: '(01)04012345000115(10)L2506B(21)S009001', quantity: 1 },
      { movementId: 'E-5', type: 'pick', occurredAt: '2025-06-03T09:00:00Z', location: 'FG-01', barcode: '(01)04012345000115(10)L2506B(21)S009001', quantity: 1 },
      { movementId: 'E-6', type: 'ship', occurredAt: '2025-06-03T10:00:00Z', location: 'FG-01', barcode: '(01)04012345000115(10)L2506B(21)S009001', quantity: 1, shipTo: '4098765432101' },
      { movementId: 'E-7', type: 'issue', occurredAt: '2025-06-04T10:00:00Z', location: 'RM-01', gtin: '04012345000207', lot: 'TI-24-0117', quantity: 0.5, uom: 'KG' },
      { movementId: 'E-8', type: 'adjust', occurredAt: '2025-06-04T11:00:00Z', location: 'RM-01', gtin: '04012345000207', lot: 'TI-24-0117', quantity: -0.25, uom: 'KG' },
      { movementId: 'E-9', type: 'count', occurredAt: '2025-06-05T07:00:00Z', location: 'RM-01', gtin: '04012345000207', lot: 'TI-24-0117', quantity: 30, uom: 'KG' },
      { readingId: 'T-1', type: 'temperature', sensor: 'S-COLD-1', location: 'RM-01', at: '2025-06-05T08:00:00+02:00', celsius: 21.5 },
      { readingId: 'T-2', type: 'temperature', sensor: 'urn:epc:id:giai:4012345.SENSOR7', location: 'FG-01', at: '2025-06-05T08:05:00Z', celsius: -3 },
    ];
    expect((await h.api('POST', '/api/v1/ingest/wms', ...json(wms))).status).toBe(202);
    await waitAllSettled(h);
    for (const f of ['production-performance-v0700-hip-stem-readme.xml', 'production-performance-v0700-one-sided-segments.xml', 'sync-material-lot-qa-reject.xml']) {
      expect((await h.api('POST', '/api/v1/ingest/mes', b2mml(f), { 'content-type': 'application/xml' })).status).toBe(202);
      await waitAllSettled(h);
    }
    expect((await postAndWait(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'))).status).toBe('processed');
    const cancel = ediVariant('x12', '856-serials-sln-crlf.x12', [['BSN*00*', 'BSN*01*'], [/000004711/g, '000004712'], ['GS*SH*MEDSUPPLY01*ACMEDEVICES*20260302*0930*4711', 'GS*SH*MEDSUPPLY01*ACMEDEVICES*20260302*0930*4712'], [/GE\*1\*4711/, 'GE*1*4712']]);
    const cancelled = await postAndWait(h, 'x12', cancel);
    expect([cancelled.status, cancelled.error]).toEqual(['processed', null]);
    // opening stock from CSV (master data first, as an operator does)
    for (const [kind, file] of [['materials', 'materials-case-box-gtins.csv'], ['parties', 'parties.csv'], ['locations', 'locations-children-first.csv']] as const) {
      expect((await importMasterDataCsv(h.hub.db, kind, path.join(FIXTURES, 'master-data', file), { actor: 'test' })).errors).toEqual([]);
    }
    const stock = await importStockCsv(h.hub.db, path.join(FIXTURES, 'master-data', 'stock-opening-small.csv'), { actor: 'cli:test' });
    expect(stock.errors).toEqual([]);
    const statuses = await h.hub.db('inbound_messages').select('connector_id', 'status');
    expect(statuses.filter((m: { status: string }) => m.status !== 'processed')).toEqual([]);
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  /** Every page of the export, following the Link header. */
  async function exportAll(q: string): Promise<any[]> {
    const docs: any[] = [];
    let url: string | null = `/api/v1/epcis/events?${q}`;
    while (url) {
      const r = await h.api('GET', url);
      expect(r.status).toBe(200);
      docs.push(r.json);
      const link = r.headers.get('link');
      url = link ? link.replace(/^<(.*)>; rel="next"$/, '$1') : null;
    }
    return docs;
  }

  withEpcisSchema('every event the connectors wrote is in the export, and every page validates against the EPCIS 2.0 JSON Schema', async () => {
    const validate = epcisValidator();
    const stored = await h.hub.db('trace_events').select('id', 'type', 'biz_step', 'action');
    for (const q of ['limit=1000', 'limit=1000&document=capture', 'limit=3']) {
      const docs = await exportAll(q);
      const events = docs.flatMap((d) => (d.type === 'EPCISDocument' ? d.epcisBody.eventList : d.epcisBody.queryResults.resultsBody.eventList));
      for (const d of docs) {
        validate(d);
        // the failing events with their errors, to read when this fails
        const bad = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
        expect({ q, bad }).toEqual({ q, bad: [] });
      }
      expect(events.map((e) => e.eventID).sort()).toEqual(stored.map((s: { id: string }) => `urn:uuid:${s.id}`).sort());
    }
    // the shapes this test is about are all there
    const shapes = new Set(stored.map((s: { type: string; biz_step: string; action: string | null }) => `${s.type} ${s.biz_step} ${s.action ?? '-'}`));
    for (const s of [
      'ObjectEvent consuming OBSERVE', 'ObjectEvent receiving OBSERVE', 'ObjectEvent storing OBSERVE', 'ObjectEvent picking OBSERVE', 'ObjectEvent shipping OBSERVE',
      'ObjectEvent dispensing OBSERVE', 'ObjectEvent other OBSERVE', 'ObjectEvent cycle_counting OBSERVE', 'ObjectEvent sensor_reporting OBSERVE',
      'TransformationEvent commissioning -', 'ObjectEvent inspecting OBSERVE', 'ObjectEvent void_shipping OBSERVE', 'ObjectEvent stock_taking ADD',
    ]) {
      expect({ s, present: shapes.has(s) }).toEqual({ s, present: true });
    }
  });

  it('a transformation with outputs only or inputs only carries its transformationID (the MES segment)', async () => {
    const [doc] = await exportAll('limit=1000&bizStep=commissioning');
    const tfs = (doc.epcisBody.queryResults.resultsBody.eventList as any[]).filter((e) => e.type === 'TransformationEvent');
    expect(tfs).toHaveLength(3);
    const pack = tfs.find((e) => e.outputQuantityList && !e.inputQuantityList && !e.inputEPCList);
    const scrap = tfs.find((e) => e.inputQuantityList && !e.outputQuantityList && !e.outputEPCList);
    expect(pack.transformationID).toBe('https://lotbridge.local/id/transformation/b2mml%3APR-8803-01%2FSR-PACK-20');
    expect(pack.outputQuantityList).toEqual([{ epcClass: 'https://lotbridge.local/id/material/HIP-KIT-12/lot/K2506A', quantity: 2 }]);
    expect(scrap.transformationID).toBe('https://lotbridge.local/id/transformation/b2mml%3APR-8803-01%2FSR-SCRAP-30');
    expect(scrap.inputQuantityList).toEqual([{ epcClass: 'https://id.gs1.org/01/04012345000207/10/TI-24-0117', quantity: 1.25, uom: 'KGM' }]);
    expect(scrap.eventTimeZoneOffset).toBe('-05:00');
  });

  it('sensor readings keep their device, time and unit; the +14:00 offset of a put-away stays as written', async () => {
    const [doc] = await exportAll('limit=1000');
    const events = doc.epcisBody.queryResults.resultsBody.eventList as any[];
    const readings = events.filter((e) => e.bizStep === 'https://ref.gs1.org/cbv/BizStep-sensor_reporting');
    expect(readings.map((e) => e.sensorElementList)).toEqual([
      [{ sensorMetadata: { time: '2025-06-05T06:00:00.000Z', deviceID: 'https://lotbridge.local/id/sensor/S-COLD-1' }, sensorReport: [{ type: 'Temperature', value: 21.5, uom: 'CEL' }] }],
      [{ sensorMetadata: { time: '2025-06-05T08:05:00.000Z', deviceID: 'urn:epc:id:giai:4012345.SENSOR7' }, sensorReport: [{ type: 'Temperature', value: -3, uom: 'CEL' }] }],
    ]);
    const putaway = events.find((e) => e.eventTime === '2025-05-19T20:00:00.000Z');
    expect(putaway).toEqual(expect.objectContaining({ eventTimeZoneOffset: '+14:00', readPoint: { id: 'https://lotbridge.local/id/location/RM-01' } }));
  });
});

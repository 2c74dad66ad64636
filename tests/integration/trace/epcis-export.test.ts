import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import { buildKneeGenealogy, GTIN, type GenealogyFixture } from '../../helpers/genealogy-fixture';
import { EPCIS_CONTEXT_URL } from '../../../src/epcis/epcis-export';
import { decodeGs1 } from '../../../src/gs1/gs1-decode';
import { epcisValidator, withEpcisSchema, EPCIS_CONTEXT_FILE } from '../../helpers/epcis-schema';


/** Every term the EPCIS context defines, at any nesting (scoped contexts), and its prefixes. */
function contextTerms(): Set<string> {
  const terms = new Set<string>();
  const walk = (ctx: unknown): void => {
    if (ctx && typeof ctx === 'object' && !Array.isArray(ctx)) {
      for (const [k, v] of Object.entries(ctx)) {
        terms.add(k);
        if (v && typeof v === 'object' && '@context' in (v as object)) walk((v as { '@context': unknown })['@context']);
      }
    }
  };
  walk((JSON.parse(fs.readFileSync(EPCIS_CONTEXT_FILE, 'utf8')) as { '@context': unknown })['@context']);
  return terms;
}

/** Every property name used anywhere in a JSON value. */
function keysOf(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => keysOf(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.add(k);
      if (k !== '@context') keysOf(x, out);
    }
  }
  return out;
}

describe('EPCIS 2.0 export', () => {
  let t: TestDatabase;
  let api: TestApi;
  let f: GenealogyFixture;
  const get = async (q: string) => api.request({ url: `/api/v1/epcis/events${q}`, headers: api.auth('auditor') });

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    f = await buildKneeGenealogy(t.db); // one TransformationEvent (F1 serial S2 + F2 → K1)
    const ev = async (row: Record<string, unknown>, items: Array<Record<string, unknown>>): Promise<string> => {
      const id = randomUUID();
      await t.db('trace_events').insert({ id, source_message_id: f.messageId, ordinal: 1000 + Math.floor(Math.random() * 1e6), event_time_zone_offset: '+01:00', biz_transactions: '[]', ...row });
      for (const i of items) await t.db('trace_event_items').insert({ event_id: id, ...i });
      return id;
    };
    // a WMS receipt of raw material without GTIN (private URI base), in kilograms, with a PO
    await ev({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'receiving', disposition: 'in_progress', event_time: '2026-02-20T07:00:00Z', location_id: f.locations.get('WH1'),
      biz_transactions: JSON.stringify([{ type: 'po', value: 'PO-4500012345' }, { type: 'desadv', value: 'ASN-77' }]) },
      [{ role: 'subject', material_id: f.materials.get('RAW-TI'), lot_id: f.lots.get('R1'), quantity: 100, uom: 'KG', base_quantity: 100 }]);
    // a shipment of a lot and a serial to a customer, with a non-CBV transaction type of the source
    await ev({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'shipping', disposition: 'in_transit', event_time: '2026-03-02T08:00:00Z', location_id: f.locations.get('WH1'),
      biz_transactions: JSON.stringify([{ type: 'wms-order', value: 'SO 991/a' }]) },
      [{ role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), quantity: 10, uom: 'EA' }, { role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), serial_id: f.serials.get('S1'), quantity: 1, uom: 'EA' }]);
    // a temperature reading: no items, a sensor element and a read point
    await ev({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'sensor_reporting', event_time: '2026-03-02T09:00:00Z', location_id: f.locations.get('WH1'),
      sensor_readings: JSON.stringify([{ sensorMetadata: { deviceID: 'T-17', time: '2026-03-02T09:00:00Z' }, sensorReport: [{ type: 'Temperature', value: 9.5, uom: 'CEL' }] }]) }, []);
    // a packing aggregation and a hospital usage transaction without a business transaction
    await ev({ type: 'AggregationEvent', action: 'ADD', biz_step: 'packing', event_time: '2026-03-01T13:00:00Z', location_id: f.locations.get('WH1') },
      [{ role: 'parent', material_id: f.materials.get('KIT-KNEE'), lot_id: f.lots.get('K1') }, { role: 'child', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F2'), quantity: 1, uom: 'EA' }]);
    await ev({ type: 'TransactionEvent', action: 'ADD', biz_step: 'dispensing', disposition: 'dispensed', event_time: '2026-03-05T09:30:00Z', location_id: f.locations.get('HOSP-A-OR1') },
      [{ role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), serial_id: f.serials.get('S1'), quantity: 1, uom: 'EA' }]);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  withEpcisSchema('answers an EPCISQueryDocument that the EPCIS 2.0 JSON Schema accepts, with the EPCIS context', async () => {
    const r = await get('');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/ld\+json/);
    const doc = r.json<any>();
    const validate = epcisValidator();
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(doc.type).toBe('EPCISQueryDocument');
    expect(doc['@context'][0]).toBe(EPCIS_CONTEXT_URL);
    const events = doc.epcisBody.queryResults.resultsBody.eventList as any[];
    expect(events.map((e) => e.type).sort()).toEqual(['AggregationEvent', 'ObjectEvent', 'ObjectEvent', 'ObjectEvent', 'TransactionEvent', 'TransformationEvent']);
    // every property is a term of the EPCIS context (or a JSON-LD keyword, or our lb: prefix declared in @context)
    const terms = contextTerms();
    const unknown = [...keysOf(doc)].filter((k) => !terms.has(k) && !k.startsWith('@') && !k.startsWith('lb:'));
    expect(unknown).toEqual([]);
    expect(doc['@context'][1]).toEqual({ lb: 'https://lotbridge.dev/epcis/' });
    // the capture form validates too
    const capture = (await get('?document=capture')).json<any>();
    expect(validate(capture)).toBe(true);
    expect(capture.type).toBe('EPCISDocument');
  });

  it('maps lots to GS1 Digital Link classes, serials to instances, CBV vocabularies to URIs, sensors and transactions', async () => {
    const events = (await get('')).json<any>().epcisBody.queryResults.resultsBody.eventList as any[];
    const receipt = events.find((e) => e.bizStep.endsWith('receiving'));
    expect(receipt).toEqual(expect.objectContaining({
      type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'https://ref.gs1.org/cbv/BizStep-receiving', disposition: 'https://ref.gs1.org/cbv/Disp-in_progress',
      eventTime: '2026-02-20T07:00:00.000Z', eventTimeZoneOffset: '+01:00',
      quantityList: [{ epcClass: 'https://lotbridge.local/id/material/RAW-TI/lot/TI-001', quantity: 100, uom: 'KGM' }],
      bizLocation: { id: 'https://lotbridge.local/id/location/WH1' },
      bizTransactionList: [
        { type: 'https://ref.gs1.org/cbv/BTT-po', bizTransaction: 'https://lotbridge.local/id/bt/po/PO-4500012345' },
        { type: 'https://ref.gs1.org/cbv/BTT-desadv', bizTransaction: 'https://lotbridge.local/id/bt/desadv/ASN-77' },
      ],
    }));
    expect(receipt.eventID).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const ship = events.find((e) => e.bizStep.endsWith('shipping'));
    expect(ship.quantityList).toEqual([{ epcClass: `https://id.gs1.org/01/${GTIN.KNEE}/10/FG-1`, quantity: 10 }]);
    expect(ship.epcList).toEqual([`https://id.gs1.org/01/${GTIN.KNEE}/21/SN-0001`]);
    expect(ship.bizTransactionList).toEqual([{ type: 'https://lotbridge.local/id/btt/wms-order', bizTransaction: 'https://lotbridge.local/id/bt/wms-order/SO%20991%2Fa' }]);
    const sensor = events.find((e) => e.bizStep.endsWith('sensor_reporting'));
    expect(sensor.sensorElementList).toEqual([{ sensorMetadata: { time: '2026-03-02T09:00:00.000Z', deviceID: 'https://lotbridge.local/id/sensor/T-17' }, sensorReport: [{ type: 'Temperature', value: 9.5, uom: 'CEL' }] }]);
    const tf = events.find((e) => e.type === 'TransformationEvent');
    expect(tf.inputEPCList).toEqual([`https://id.gs1.org/01/${GTIN.KNEE}/21/SN-0002`]);
    expect(tf.inputQuantityList).toEqual([{ epcClass: `https://id.gs1.org/01/${GTIN.KNEE}/10/FG-2`, quantity: 1 }]);
    expect(tf.outputQuantityList).toEqual([{ epcClass: `https://id.gs1.org/01/${GTIN.KIT}/10/K-1`, quantity: 1 }]);
    expect(tf.bizTransactionList).toEqual([{ type: 'https://ref.gs1.org/cbv/BTT-prodorder', bizTransaction: 'https://lotbridge.local/id/bt/prodorder/PO-4711' }]);
    const tx = events.find((e) => e.type === 'TransactionEvent');
    expect(tx.bizTransactionList).toEqual([{ type: 'https://lotbridge.local/id/btt/message', bizTransaction: `https://lotbridge.local/id/message/${f.messageId}` }]);
    expect(tx.bizLocation).toEqual({ id: 'https://lotbridge.local/id/location/HOSP-A-OR1' });
    const agg = events.find((e) => e.type === 'AggregationEvent');
    expect(agg.parentID).toBe(`https://id.gs1.org/01/${GTIN.KIT}/10/K-1`);
    expect(agg.childQuantityList).toEqual([{ epcClass: `https://id.gs1.org/01/${GTIN.KNEE}/10/FG-2`, quantity: 1 }]);
    expect(events.every((e) => e['lb:sourceMessage'] === `https://lotbridge.local/id/message/${f.messageId}`)).toBe(true);
    // ordered by eventTime
    const times = events.map((e) => e.eventTime);
    expect([...times].sort()).toEqual(times);
  });

  it('filters by lot, time and bizStep, and pages with a Link header', async () => {
    const byLot = (await get(`?gtin=${GTIN.KNEE}&lot=FG-1`)).json<any>().epcisBody.queryResults.resultsBody.eventList as any[];
    expect(byLot.map((e) => e.bizStep.replace(/^.*BizStep-/, '')).sort()).toEqual(['commissioning', 'dispensing', 'shipping']);
    const march = (await get('?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z')).json<any>().epcisBody.queryResults.resultsBody.eventList as any[];
    expect(march.map((e) => e.bizStep.replace(/^.*BizStep-/, ''))).toEqual(['shipping', 'sensor_reporting']);
    expect((await get('?bizStep=packing')).json<any>().epcisBody.queryResults.resultsBody.eventList).toHaveLength(1);
    const seen: string[] = [];
    let url = '?limit=2';
    for (let i = 0; i < 10 && url; i++) {
      const r = await get(url);
      const list = r.json<any>().epcisBody.queryResults.resultsBody.eventList as any[];
      expect(list.length).toBeLessThanOrEqual(2);
      seen.push(...list.map((e) => e.eventID));
      const link = r.headers.link;
      url = link ? link.replace(/^<\/api\/v1\/epcis\/events/, '').replace(/>; rel="next"$/, '') : '';
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });

  it('takes the EPCIS 2.0 REST binding\'s parameter names: a GS1 client pages with perPage and nextPageToken (the GS1-Next-Page-Token header), filters with GE_eventTime, LT_eventTime, EQ_bizStep', async () => {
    const ids = (r: { json: <T>() => T }): string[] => (r.json<any>().epcisBody.queryResults.resultsBody.eventList as any[]).map((e) => e.eventID);
    const all = ids(await get(''));
    const seen: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await get(`?perPage=2${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}`);
      expect(r.statusCode).toBe(200);
      const page = ids(r);
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page);
      token = r.headers['gs1-next-page-token'] as string | undefined;
      // the Link header names the next page in this route's own names
      if (token) {
        const next = new URLSearchParams(String(r.headers.link).replace(/^<[^?]*\?/, '').replace(/>; rel="next"$/, ''));
        expect([next.get('limit'), next.get('cursor'), next.has('perPage'), next.has('nextPageToken')]).toEqual(['2', token, false, false]);
      }
      if (!token) break;
    }
    expect(seen).toEqual(all);
    const march = (await get('?GE_eventTime=2026-03-02T00:00:00Z&LT_eventTime=2026-03-03T00:00:00Z')).json<any>().epcisBody.queryResults.resultsBody.eventList as any[];
    expect(march.map((e) => e.bizStep.replace(/^.*BizStep-/, ''))).toEqual(['shipping', 'sensor_reporting']);
    expect((await get('?EQ_bizStep=packing')).json<any>().epcisBody.queryResults.resultsBody.eventList).toHaveLength(1);
    // one parameter under both names is an error naming the alias
    for (const [qs, path] of [['?from=2026-03-01T00:00:00Z&GE_eventTime=2026-03-02T00:00:00Z', 'GE_eventTime'], ['?limit=5&perPage=2', 'perPage'], ['?cursor=a&nextPageToken=b', 'nextPageToken']]) {
      const r = await get(qs);
      expect([qs, r.statusCode, r.json<any>().error.code, r.json<any>().error.location?.path]).toEqual([qs, 400, 'LB_ERR_API_BAD_REQUEST', path]);
    }
  });

  it('rejects bad input: unknown lot 404, bad times and cursors 400, SQL-ish values as plain strings', async () => {
    const unknown = await get('?material=FG-KNEE&lot=NOPE');
    expect([unknown.statusCode, unknown.json<ApiErrorBody>().error.code]).toEqual([404, 'LB_ERR_LOT_NOT_FOUND']);
    expect((await get('?from=yesterday')).statusCode).toBe(400);
    expect((await get(`?cursor=${encodeURIComponent("' OR 1=1 --")}`)).json<ApiErrorBody>().error.code).toBe('LB_ERR_TRACE_CURSOR_INVALID');
    const sqlish = await get(`?bizStep=${encodeURIComponent("shipping' OR '1'='1")}`);
    expect(sqlish.statusCode).toBe(200);
    expect(sqlish.json<any>().epcisBody.queryResults.resultsBody.eventList).toEqual([]);
    const lotSql = await get(`?material=FG-KNEE&lot=${encodeURIComponent("FG-1' OR '1'='1")}`);
    expect(lotSql.statusCode).toBe(404);
    const noLot = await get('?material=FG-KNEE');
    expect([noLot.statusCode, noLot.json<ApiErrorBody>().error.location?.path]).toEqual([400, 'lot']);
    // cursors edited into values this API never writes, and a year PostgreSQL has no timestamp for: 400, not 500
    const cursor = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const q of [
      `?cursor=${cursor({ t: '1 2', id: randomUUID() })}`,
      `?cursor=${cursor({ t: '2026-03-02T08:00:00.000000Z', id: '-'.repeat(36) })}`,
      `?cursor=${cursor({ t: '2026-03-02T08:00:00.000000Z', id: 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz' })}`,
      '?to=0000-01-01T00:00:00Z',
      '?from=0000-12-31T23:59:59Z',
    ]) {
      const r = await get(q);
      expect({ q, status: r.statusCode }).toEqual({ q, status: 400 });
      expect(r.json<ApiErrorBody>().error.code).toMatch(/^LB_ERR_(TRACE_CURSOR_INVALID|API_BAD_REQUEST)$/);
    }
  });

  it('percent-encodes every character of a lot or serial that a GS1 Digital Link URI must encode (the URI decodes back to the lot)', async () => {
    // GS1 AI encodable character set 82 allows ! " % & ' ( ) * + , / : ; < = > ? in a lot or serial: all of them are percent-encoded in a Digital Link
    const lotNumber = `L(7)*!'+,/:;=?&%"<>`;
    await f.lot('ODD', 'FG-KNEE', lotNumber);
    await f.serial('ODDS', 'FG-KNEE', 'ODD', "S(2)!*'");
    const id = randomUUID();
    await t.db('trace_events').insert({ id, type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'shipping', event_time: '2026-04-01T06:00:00Z', event_time_zone_offset: '+02:00', biz_transactions: '[]', source_message_id: f.messageId, ordinal: 5000 });
    await t.db('trace_event_items').insert([
      { event_id: id, role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('ODD'), quantity: 3, uom: 'EA' },
      { event_id: id, role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('ODD'), serial_id: f.serials.get('ODDS'), quantity: 1, uom: 'EA' },
    ]);
    const r = await get(`?gtin=${GTIN.KNEE}&lot=${encodeURIComponent(lotNumber)}`);
    expect(r.statusCode).toBe(200);
    const [ev] = r.json<any>().epcisBody.queryResults.resultsBody.eventList as any[];
    expect(ev.quantityList).toEqual([{ epcClass: `https://id.gs1.org/01/${GTIN.KNEE}/10/L%287%29%2A%21%27%2B%2C%2F%3A%3B%3D%3F%26%25%22%3C%3E`, quantity: 3 }]);
    expect(ev.epcList).toEqual([`https://id.gs1.org/01/${GTIN.KNEE}/21/S%282%29%21%2A%27`]);
    expect(decodeGs1(ev.quantityList[0].epcClass)).toEqual(expect.objectContaining({ gtin: GTIN.KNEE, lot: lotNumber }));
    expect(decodeGs1(ev.epcList[0])).toEqual(expect.objectContaining({ gtin: GTIN.KNEE, serial: "S(2)!*'" }));
  });
});

/**
 * EPCIS 2.0 export: identifiers (base-unit GTINs, UDI-DIs, GLN extensions, read points naming
 * locations), count units, the bizStep filter, ship-to destinations, NUL bytes. Each case answered
 * wrongly before its fix.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type TestApi } from '../../helpers/api-app';
import { buildKneeGenealogy, type GenealogyFixture } from '../../helpers/genealogy-fixture';
import { epcisValidator, withEpcisSchema } from '../../helpers/epcis-schema';
import { normalizeGtin } from '../../../src/model/master-data/gs1-keys';

/** A case GTIN (indicator 1) and a GTIN used as UDI-DI, both with valid check digits. */
const CASE_GTIN = '19506000134359';
const UDI_DI = '09506000134406';

describe('EPCIS 2.0 export: identifiers, units, filters, destinations', () => {
  let t: TestDatabase;
  let api: TestApi;
  let f: GenealogyFixture;
  let ordinal = 20000;
  const get = async (q: string) => api.request({ url: `/api/v1/epcis/events${q}`, headers: api.auth('auditor') });
  const listOf = (r: { json: <T>() => T }): any[] => (r.json<any>().epcisBody.queryResults.resultsBody.eventList as any[]);
  const insert = async (row: Record<string, unknown>, items: Array<Record<string, unknown>> = []): Promise<string> => {
    const id = randomUUID();
    await t.db('trace_events').insert({ id, source_message_id: f.messageId, ordinal: ordinal++, biz_transactions: '[]', event_time_zone_offset: '+00:00', action: 'OBSERVE', ...row });
    for (const i of items) await t.db('trace_event_items').insert({ event_id: id, ...i });
    return id;
  };

  beforeAll(async () => {
    expect(normalizeGtin(CASE_GTIN).ok).toBe(true);
    expect(normalizeGtin(UDI_DI).ok).toBe(true);
    t = await createTestDatabase();
    api = await buildTestApi(t);
    f = await buildKneeGenealogy(t.db);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  withEpcisSchema('a material known only by its case GTIN: the base-unit quantity is not stated as a count of cases', async () => {
    // master data: a sterile drape sold in cases of 12; its only GTIN is the case's (as gtin_case + case_qty in the CSV import)
    const m = await f.material('DRAPE', { uom: 'EA' });
    await t.db('material_identifiers').insert({ material_id: m, scheme: 'gtin', value: CASE_GTIN, packaging_level: 'case', quantity_per_level: 12 });
    await f.lot('D1', 'DRAPE', 'D-1');
    // 24 drapes (2 cases) shipped: quantity 24 EA, base quantity 24
    await insert({ type: 'ObjectEvent', biz_step: 'shipping', event_time: '2026-06-01T08:00:00Z' },
      [{ role: 'subject', material_id: m, lot_id: f.lots.get('D1'), quantity: 24, uom: 'EA', base_quantity: 24 }]);
    const r = await get('?from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z');
    const doc = r.json<any>();
    const validate = epcisValidator();
    expect(validate(doc)).toBe(true);
    const [ev] = listOf(r);
    // wrong: { epcClass: https://id.gs1.org/01/19506000134359/10/D-1, quantity: 24 } = 24 cases = 288 drapes
    expect(ev.quantityList).not.toEqual([{ epcClass: `https://id.gs1.org/01/${CASE_GTIN}/10/D-1`, quantity: 24 }]);
    // the quantity is in the base unit, so the class is the base unit's (no each-level GTIN: the private base)
    expect(ev.quantityList).toEqual([{ epcClass: 'https://lotbridge.local/id/material/DRAPE/lot/D-1', quantity: 24 }]);
  });

  it('an AggregationEvent ADD or DELETE without a parent is left out and named (EPCIS requires parentID for them); OBSERVE without one is exported', async () => {
    const child = [{ role: 'child', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F2'), quantity: 1, uom: 'EA' }];
    const add = await insert({ type: 'AggregationEvent', action: 'ADD', biz_step: 'packing', event_time: '2026-07-15T08:00:00Z' }, child);
    const del = await insert({ type: 'AggregationEvent', action: 'DELETE', biz_step: 'unpacking', event_time: '2026-07-15T09:00:00Z' }, child);
    const observe = await insert({ type: 'AggregationEvent', action: 'OBSERVE', biz_step: 'stocking', event_time: '2026-07-15T10:00:00Z' }, child);
    const r = await get('?from=2026-07-15T00:00:00Z&to=2026-07-16T00:00:00Z');
    expect(r.statusCode).toBe(200);
    expect(listOf(r).map((e) => e.eventID)).toEqual([`urn:uuid:${observe}`]);
    expect(r.json<any>().epcisBody.queryResults.resultsBody['lb:omittedEvents']).toEqual([
      { 'lb:eventID': `urn:uuid:${add}`, 'lb:storedType': 'AggregationEvent', 'lb:reason': 'an AggregationEvent ADD without a parent (parentID is required for ADD and DELETE)' },
      { 'lb:eventID': `urn:uuid:${del}`, 'lb:storedType': 'AggregationEvent', 'lb:reason': 'an AggregationEvent DELETE without a parent (parentID is required for ADD and DELETE)' },
    ]);
    expect(r.headers['lotbridge-epcis-omitted']).toBe('2');
  });

  it('a material whose GTIN is recorded as its UDI-DI (scheme udi_di) is exported as a GS1 Digital Link, as ?gtin= finds it', async () => {
    const m = await f.material('CATH', { uom: 'EA' });
    await t.db('material_identifiers').insert({ material_id: m, scheme: 'udi_di', value: UDI_DI, packaging_level: 'each', quantity_per_level: 1 });
    await f.lot('CA1', 'CATH', 'CA-1');
    await insert({ type: 'ObjectEvent', biz_step: 'receiving', event_time: '2026-06-02T08:00:00Z' },
      [{ role: 'subject', material_id: m, lot_id: f.lots.get('CA1'), quantity: 5, uom: 'EA', base_quantity: 5 }]);
    // the lot filter resolves the UDI-DI as the material's GTIN ...
    const r = await get(`?gtin=${UDI_DI}&lot=CA-1`);
    expect(r.statusCode).toBe(200);
    const [ev] = listOf(r);
    // ... but the class was https://lotbridge.local/id/material/CATH/lot/CA-1
    expect(ev.quantityList).toEqual([{ epcClass: `https://id.gs1.org/01/${UDI_DI}/10/CA-1`, quantity: 5 }]);
  });

  it('bizStep filter finds the events the export writes with that bizStep (stored as CBV 1.x URN or in another case)', async () => {
    const urn = await insert({ type: 'ObjectEvent', biz_step: 'urn:epcglobal:cbv:bizstep:inspecting', event_time: '2026-06-03T08:00:00Z' });
    const upper = await insert({ type: 'ObjectEvent', biz_step: 'Inspecting', event_time: '2026-06-03T09:00:00Z' });
    const plain = await insert({ type: 'ObjectEvent', biz_step: 'inspecting', event_time: '2026-06-03T10:00:00Z' });
    const all = listOf(await get('?from=2026-06-03T00:00:00Z&to=2026-06-04T00:00:00Z'));
    // the export writes all three with the same CBV bizStep
    expect(all.map((e) => [e.eventID, e.bizStep])).toEqual([urn, upper, plain].map((id) => [`urn:uuid:${id}`, 'https://ref.gs1.org/cbv/BizStep-inspecting']));
    for (const q of ['inspecting', 'https://ref.gs1.org/cbv/BizStep-inspecting', 'urn:epcglobal:cbv:bizstep:inspecting']) {
      const found = listOf(await get(`?bizStep=${encodeURIComponent(q)}`)).map((e) => e.eventID);
      expect({ q, found }).toEqual({ q, found: [urn, upper, plain].map((id) => `urn:uuid:${id}`) });
    }
  });

  it('a NUL character in a text parameter is a 400 naming the parameter, not a 500', async () => {
    for (const [q, path] of [['bizStep=%00', 'bizStep'], ['material=FG-KNEE&lot=FG%001', 'lot'], ['material=FG%00&lot=FG-1', 'material']]) {
      const r = await get(`?${q}`);
      // was 500 LB_ERR_INTERNAL (PostgreSQL: invalid byte sequence for encoding "UTF8": 0x00)
      expect({ q, status: r.statusCode, code: r.json<any>().error?.code }).toEqual({ q, status: 400, code: 'LB_ERR_API_BAD_REQUEST' });
      expect(r.json<any>().error.location.path).toContain(path);
    }
  });

  it('a count in a base unit the connectors read as "each" (PCS, EACH) is exported as a count, not with a bogus uom or without its quantity', async () => {
    // the WMS connector reads EA, EACH, PCE, PC, PCS, UNIT, C62 as pieces (wms-mapping UOM_LEVELS); master data takes any base unit
    const pcs = await f.material('SWAB-PCS', { uom: 'PCS' });
    const each = await f.material('SWAB-EACH', { uom: 'EACH' });
    await f.lot('SP1', 'SWAB-PCS', 'SP-1');
    await f.lot('SE1', 'SWAB-EACH', 'SE-1');
    await insert({ type: 'ObjectEvent', biz_step: 'receiving', event_time: '2026-06-04T08:00:00Z' }, [
      { role: 'subject', material_id: pcs, lot_id: f.lots.get('SP1'), quantity: 10, uom: 'PCS', base_quantity: 10 },
      { role: 'subject', material_id: each, lot_id: f.lots.get('SE1'), quantity: 7, uom: 'EACH', base_quantity: 7 },
    ]);
    const [ev] = listOf(await get('?from=2026-06-04T00:00:00Z&to=2026-06-05T00:00:00Z'));
    // was [{…SP-1, quantity: 10, uom: 'PCS'} (no UN/CEFACT Rec. 20 code), {…SE-1} (quantity left out, "the unit has no UN/CEFACT Rec. 20 code")]
    expect(ev.quantityList).toEqual([
      { epcClass: 'https://lotbridge.local/id/material/SWAB-PCS/lot/SP-1', quantity: 10 },
      { epcClass: 'https://lotbridge.local/id/material/SWAB-EACH/lot/SE-1', quantity: 7 },
    ]);
    expect(ev['lb:notExported']).toBeUndefined();
  });

  it('a read point that is a location code (as the WMS writes the put-away source) names that location as the bizLocations do', async () => {
    const dock = await f.location('DOCK-1');
    await t.db('locations').where({ id: dock }).update({ gln: '9506000000015' });
    const shelf = await f.location('SHELF-1');
    // a receipt at DOCK-1, then a put-away DOCK-1 → SHELF-1 (apply-wms-movement: location = to, read_point = from.code)
    await insert({ type: 'ObjectEvent', biz_step: 'receiving', event_time: '2026-06-05T08:00:00Z', location_id: dock }, [{ role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), quantity: 1, uom: 'EA' }]);
    await insert({ type: 'ObjectEvent', biz_step: 'storing', event_time: '2026-06-05T09:00:00Z', location_id: shelf, read_point: 'DOCK-1' }, [{ role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), quantity: 1, uom: 'EA' }]);
    const [receipt, putaway] = listOf(await get('?from=2026-06-05T00:00:00Z&to=2026-06-06T00:00:00Z'));
    expect(receipt.bizLocation).toEqual({ id: 'https://id.gs1.org/414/9506000000015' });
    // was { id: 'https://lotbridge.local/id/readpoint/DOCK-1' }: the same dock under two identifiers
    expect(putaway.readPoint).toEqual({ id: 'https://id.gs1.org/414/9506000000015' });
    expect(putaway.bizLocation).toEqual({ id: 'https://lotbridge.local/id/location/SHELF-1' });
  });

  it('two sub-locations sharing their site\'s GLN are told apart (GLN extension, AI 254), not merged into one identifier', async () => {
    const site = await f.location('SITE-B', { kind: 'site' });
    const binA = await f.location('B-BIN-A', { kind: 'bin' });
    const binB = await f.location('B-BIN-B', { kind: 'bin' });
    // a site and its bins carrying the site's GLN (master data allows it: locations.gln is not unique)
    await t.db('locations').where({ id: site }).update({ gln: '9506000000022' });
    await t.db('locations').whereIn('id', [binA, binB]).update({ gln: '9506000000022', parent_id: site });
    for (const [loc, time] of [[site, '2026-06-06T08:00:00Z'], [binA, '2026-06-06T09:00:00Z'], [binB, '2026-06-06T10:00:00Z']]) {
      await insert({ type: 'ObjectEvent', biz_step: 'storing', event_time: time, location_id: loc }, [{ role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), quantity: 1, uom: 'EA' }]);
    }
    const evs = listOf(await get('?from=2026-06-06T00:00:00Z&to=2026-06-07T00:00:00Z'));
    // was https://id.gs1.org/414/9506000000022 for all three: bin A and bin B indistinguishable from each other and the site
    expect(evs.map((e) => e.bizLocation.id)).toEqual([
      'https://id.gs1.org/414/9506000000022',
      'https://id.gs1.org/414/9506000000022/254/B-BIN-A',
      'https://id.gs1.org/414/9506000000022/254/B-BIN-B',
    ]);
  });

  withEpcisSchema('a measurement type written as its GS1 Web Vocabulary URI is the CBV measurement type', async () => {
    await insert({ type: 'ObjectEvent', biz_step: 'sensor_reporting', event_time: '2026-06-07T08:00:00Z', location_id: f.locations.get('WH1'),
      sensor_readings: JSON.stringify([{ sensorMetadata: { deviceID: 'T-9' }, sensorReport: [{ type: 'https://gs1.org/voc/Temperature', value: 4, uom: 'CEL' }] }]) });
    const r = await get('?from=2026-06-07T00:00:00Z&to=2026-06-08T00:00:00Z');
    const validate = epcisValidator();
    expect(validate(r.json<any>())).toBe(true);
    const [ev] = listOf(r);
    // was { type: 'https://lotbridge.local/id/measurement/https%3A%2F%2Fgs1.org%2Fvoc%2FTemperature', … }: a private type for GS1's own
    expect(ev.sensorElementList[0].sensorReport).toEqual([{ type: 'Temperature', value: 4, uom: 'CEL' }]);
  });

  withEpcisSchema('a shipment\'s ship-to party (WMS ship details.shipTo) is exported as the destination, not dropped', async () => {
    await f.party('CUST-GLN', 'customer', 'Hospital A', '4098765432101');
    await f.party('CUST-9', 'customer', 'Hospital B');
    // as apply-wms-movement writes a ship: details.shipTo is the GLN or code of the customer (findOrCreateParty)
    for (const [shipTo, time] of [['4098765432101', '2026-06-08T08:00:00Z'], ['CUST-9', '2026-06-08T09:00:00Z']]) {
      await insert({ type: 'ObjectEvent', biz_step: 'shipping', disposition: 'in_transit', event_time: time, location_id: f.locations.get('WH1'), details: JSON.stringify({ wmsType: 'ship', shipTo }) },
        [{ role: 'subject', material_id: f.materials.get('FG-KNEE'), lot_id: f.lots.get('F1'), quantity: 1, uom: 'EA' }]);
    }
    const r = await get('?from=2026-06-08T00:00:00Z&to=2026-06-09T00:00:00Z');
    const validate = epcisValidator();
    validate(r.json<any>());
    expect(validate.errors ?? []).toEqual([]);
    const [toGln, toCode] = listOf(r);
    // was: no destinationList, nothing in lb:notExported — where the goods went was lost
    expect(toGln.destinationList).toEqual([{ type: 'https://ref.gs1.org/cbv/SDT-owning_party', destination: 'https://id.gs1.org/417/4098765432101' }]);
    expect(toCode.destinationList).toEqual([{ type: 'https://ref.gs1.org/cbv/SDT-owning_party', destination: 'https://lotbridge.local/id/party/CUST-9' }]);
  });
});

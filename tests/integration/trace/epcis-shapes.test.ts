/**
 * The shapes trace_events / trace_event_items permit but no connector writes (issue 7 §4), and what
 * the EPCIS 2.0 export makes of each (docs/trace.md, "Shapes the table holds"): mapped to
 * schema-valid EPCIS, refused by the database (migration 20260301002700), or left out of the
 * document and named in `lb:omittedEvents` with the LotBridge-EPCIS-Omitted header.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type TestApi } from '../../helpers/api-app';
import { buildKneeGenealogy, GTIN, type GenealogyFixture } from '../../helpers/genealogy-fixture';
import { epcisValidator, withEpcisSchema } from '../../helpers/epcis-schema';


describe('EPCIS 2.0 export of the shapes the table permits but no connector writes', () => {
  let t: TestDatabase;
  let api: TestApi;
  let f: GenealogyFixture;
  let ordinal = 9000;
  const ids: Record<string, string> = {};
  const get = async (q: string) => api.request({ url: `/api/v1/epcis/events${q}`, headers: api.auth('auditor') });
  const insert = async (row: Record<string, unknown>, items: Array<Record<string, unknown>> = []): Promise<string> => {
    const id = randomUUID();
    await t.db('trace_events').insert({ id, source_message_id: f.messageId, ordinal: ordinal++, biz_transactions: '[]', event_time: '2026-05-01T08:00:00Z', ...row });
    for (const i of items) await t.db('trace_event_items').insert({ event_id: id, ...i });
    return id;
  };
  /** Writes a row the constraints of 20260301002700 refuse, as a database from before them holds it. */
  const legacy = async (constraint: string, row: Record<string, unknown>): Promise<string> => {
    const def = (await t.db.raw<{ rows: Array<{ def: string }> }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = ?`, [constraint])).rows[0].def;
    await t.db.raw(`ALTER TABLE trace_events DROP CONSTRAINT ${constraint}`);
    try {
      return await insert(row);
    } finally {
      await t.db.raw(`ALTER TABLE trace_events ADD CONSTRAINT ${constraint} ${def.replace(/ NOT VALID$/, '').replace(/\?/g, '\\?')} NOT VALID`);
    }
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    f = await buildKneeGenealogy(t.db);
    const m = (code: string): string => f.materials.get(code)!;
    const wh = f.locations.get('WH1');
    await f.lot('LONG', 'FG-KNEE', 'LOT-WITH-MORE-THAN-20-CHARS');
    await f.lot('UNI', 'RAW-TI', 'TI ä/1');
    ids.txNoItems = await insert({ type: 'TransactionEvent', action: 'ADD', biz_step: 'dispensing', location_id: wh });
    ids.tfOutputsOnly = await insert({ type: 'TransformationEvent', biz_step: 'commissioning', event_time: '2026-05-01T08:01:00Z' }, [{ role: 'output', material_id: m('KIT-KNEE'), lot_id: f.lots.get('K1'), quantity: 2, uom: 'EA' }]);
    ids.noLocation = await insert({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'urn:epcglobal:cbv:bizstep:receiving', disposition: 'Quarantined Hold', read_point: 'x:<bad>', event_time: '2026-05-01T08:02:00Z' }, [
      // a quantity without a unit (the material's base unit, KG), a unit with no UN/CEFACT code, a lot without material_id
      { role: 'subject', material_id: m('RAW-TI'), lot_id: f.lots.get('UNI'), quantity: 3 },
      { role: 'subject', material_id: m('RAW-TI'), lot_id: f.lots.get('R1'), quantity: 7, uom: 'LITRE' },
      { role: 'subject', lot_id: f.lots.get('LONG'), quantity: 1, uom: 'EA' },
    ]);
    ids.sensors = await insert({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'sensor_reporting', location_id: wh, event_time: '2026-05-01T08:03:00Z',
      biz_transactions: JSON.stringify([{ value: 'untyped-1' }]),
      sensor_readings: JSON.stringify([{ sensorMetadata: { time: 'yesterday', deviceID: 'T 17' }, sensorReport: [{ type: 'temperature', value: '4.5', uom: '°C' }, { type: 'Humidity', value: 40, uom: 'percent-ish' }, { type: 'Temperature' }] }]) });
    ids.aggDeleteNoChildren = await insert({ type: 'AggregationEvent', action: 'DELETE', biz_step: 'unpacking', location_id: wh, event_time: '2026-05-01T08:04:00Z' }, [{ role: 'parent', material_id: m('KIT-KNEE'), lot_id: f.lots.get('K1') }]);
    ids.aggAddNoChildren = await insert({ type: 'AggregationEvent', action: 'ADD', biz_step: 'packing', location_id: wh, event_time: '2026-05-01T08:05:00Z' }, [{ role: 'parent', material_id: m('KIT-KNEE'), lot_id: f.lots.get('K1') }]);
    ids.assocNoParent = await insert({ type: 'AssociationEvent', action: 'ADD', biz_step: 'assembling', event_time: '2026-05-01T08:06:00Z' }, [{ role: 'child', material_id: m('FG-KNEE'), lot_id: f.lots.get('F1'), quantity: 1, uom: 'EA' }]);
    ids.tfEmpty = await insert({ type: 'TransformationEvent', biz_step: 'commissioning', event_time: '2026-05-01T08:07:00Z' }, [{ role: 'subject', material_id: m('FG-KNEE'), lot_id: f.lots.get('F1') }]);
    ids.legacyOffset = await legacy('trace_events_time_zone_offset_check', { type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'storing', event_time_zone_offset: '+15:00', event_time: '2026-05-01T08:08:00Z' });
    ids.legacyBts = await legacy('trace_events_biz_transactions_check', { type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'storing', biz_transactions: JSON.stringify({ po: 'PO-1' }), event_time: '2026-05-01T08:09:00Z' });
    ids.legacyAction = await legacy('trace_events_action_check', { type: 'ObjectEvent', action: 'observe', biz_step: 'storing', event_time: '2026-05-01T08:10:00Z' });
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  it('the database refuses the shapes that mean nothing (migration 20260301002700)', async () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['trace_events_action_check', { action: 'add' }],
      ['trace_events_time_zone_offset_check', { event_time_zone_offset: '+14:30' }],
      ['trace_events_time_zone_offset_check', { event_time_zone_offset: 'Z' }],
      ['trace_events_event_time_check', { event_time: '10000-01-01T00:00:00Z' }],
      ['trace_events_biz_transactions_check', { biz_transactions: JSON.stringify({ po: 'PO-1' }) }],
      ['trace_events_biz_transactions_check', { biz_transactions: JSON.stringify([{ type: 'po' }]) }],
      ['trace_events_biz_transactions_check', { biz_transactions: JSON.stringify([{ type: 'po', value: '' }]) }],
      ['trace_events_sensor_readings_check', { sensor_readings: JSON.stringify([{ sensorReport: [] }]) }],
      ['trace_events_sensor_readings_check', { sensor_readings: JSON.stringify([{ sensorReport: [{ value: 3 }] }]) }],
      ['trace_events_sensor_readings_check', { sensor_readings: JSON.stringify({ sensorReport: [{ type: 'Temperature' }] }) }],
    ];
    for (const [constraint, row] of bad) {
      await expect(insert({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'storing', ...row })).rejects.toThrow(constraint);
    }
    await expect(insert({ type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'storing' }, [{ role: 'subject', quantity: 1, uom: 'EA' }])).rejects.toThrow('trace_event_items_names_check');
  });

  withEpcisSchema('maps every other shape to schema-valid EPCIS, and names what it leaves out', async () => {
    const validate = epcisValidator();
    for (const q of ['?limit=1000', '?limit=1000&document=capture', '?from=2026-05-01T00:00:00Z&limit=2']) {
      const r = await get(q);
      expect(r.statusCode).toBe(200);
      const doc = r.json<any>();
      validate(doc);
      expect({ q, errors: (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`) }).toEqual({ q, errors: [] });
    }
    const r = await get('?from=2026-05-01T00:00:00Z&limit=1000');
    expect(r.headers['lotbridge-epcis-omitted']).toBe('4');
    const body = r.json<any>().epcisBody.queryResults.resultsBody;
    expect(body['lb:omittedEvents']).toEqual([
      { 'lb:eventID': `urn:uuid:${ids.aggAddNoChildren}`, 'lb:storedType': 'AggregationEvent', 'lb:reason': 'an AggregationEvent ADD without children' },
      { 'lb:eventID': `urn:uuid:${ids.assocNoParent}`, 'lb:storedType': 'AssociationEvent', 'lb:reason': 'an AssociationEvent without a parent' },
      { 'lb:eventID': `urn:uuid:${ids.tfEmpty}`, 'lb:storedType': 'TransformationEvent', 'lb:reason': 'a TransformationEvent with neither inputs nor outputs' },
      { 'lb:eventID': `urn:uuid:${ids.legacyAction}`, 'lb:storedType': 'ObjectEvent', 'lb:reason': 'action "observe" is none of ADD, OBSERVE, DELETE' },
    ]);
    const byId = new Map((body.eventList as any[]).map((e) => [e.eventID.slice('urn:uuid:'.length), e]));
    expect(byId.get(ids.txNoItems)).toEqual(expect.objectContaining({ epcList: [], bizTransactionList: [{ type: 'https://lotbridge.local/id/btt/message', bizTransaction: `https://lotbridge.local/id/message/${f.messageId}` }] }));
    expect(byId.get(ids.tfOutputsOnly)).toEqual(expect.objectContaining({ transformationID: `urn:uuid:${ids.tfOutputsOnly}`, outputQuantityList: [{ epcClass: `https://id.gs1.org/01/${GTIN.KIT}/10/K-1`, quantity: 2 }] }));
    const noLoc = byId.get(ids.noLocation);
    expect(noLoc.bizLocation).toBeUndefined();
    expect(noLoc).toEqual(expect.objectContaining({
      bizStep: 'https://ref.gs1.org/cbv/BizStep-receiving',
      disposition: 'https://lotbridge.local/id/disposition/Quarantined%20Hold',
      readPoint: { id: 'https://lotbridge.local/id/readpoint/x%3A%3Cbad%3E' },
      quantityList: [
        { epcClass: 'https://lotbridge.local/id/material/RAW-TI/lot/TI%20%C3%A4%2F1', quantity: 3, uom: 'KGM' },
        { epcClass: 'https://lotbridge.local/id/material/RAW-TI/lot/TI-001' },
        { epcClass: 'https://lotbridge.local/id/material/FG-KNEE/lot/LOT-WITH-MORE-THAN-20-CHARS', quantity: 1 },
      ],
      'lb:notExported': ['quantity 7 "LITRE" of https://lotbridge.local/id/material/RAW-TI/lot/TI-001: the unit has no UN/CEFACT Rec. 20 code'],
    }));
    const sensors = byId.get(ids.sensors);
    expect(sensors.sensorElementList).toEqual([{ sensorMetadata: { deviceID: 'https://lotbridge.local/id/sensor/T%2017' }, sensorReport: [{ type: 'Temperature', value: 4.5, uom: 'CEL' }, { type: 'https://lotbridge.local/id/measurement/Humidity' }, { type: 'Temperature' }] }]);
    expect(sensors.bizTransactionList).toEqual([{ bizTransaction: 'https://lotbridge.local/id/bt/untyped/untyped-1' }]);
    expect(sensors['lb:notExported']).toEqual(['sensor value 40 "percent-ish": the unit has no UN/CEFACT Rec. 20 code', 'sensor time "yesterday" is not a date-time']);
    expect(byId.get(ids.aggDeleteNoChildren)).toEqual(expect.objectContaining({ action: 'DELETE', parentID: `https://id.gs1.org/01/${GTIN.KIT}/10/K-1` }));
    expect(byId.get(ids.legacyOffset)).toEqual(expect.objectContaining({ eventTimeZoneOffset: '+00:00', 'lb:notExported': ['eventTimeZoneOffset "+15:00" is outside -14:00…+14:00; +00:00 given (eventTime is UTC)'] }));
    expect(byId.get(ids.legacyBts)['lb:notExported']).toEqual(['biz_transactions is not a list']);
    // paging covers omitted events too: every stored event is exported or named, once
    const seen: string[] = [];
    let url = '?from=2026-05-01T00:00:00Z&limit=2';
    for (let i = 0; i < 20 && url; i++) {
      const p = await get(url);
      const rb = p.json<any>().epcisBody.queryResults.resultsBody;
      seen.push(...rb.eventList.map((e: any) => e.eventID), ...(rb['lb:omittedEvents'] ?? []).map((o: any) => o['lb:eventID']));
      url = p.headers.link ? String(p.headers.link).replace(/^<\/api\/v1\/epcis\/events/, '').replace(/>; rel="next"$/, '') : '';
    }
    const stored = await t.db('trace_events').where('event_time', '>=', '2026-05-01T00:00:00Z').pluck('id');
    expect(seen.sort()).toEqual(stored.map((id: string) => `urn:uuid:${id}`).sort());
  });
});

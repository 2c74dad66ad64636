import { v7 as uuidv7 } from 'uuid';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import { upsertMaterial } from '../../../src/model/master-data/upsert-material';
import { upsertLocation } from '../../../src/model/master-data/upsert-location';
import type { LotView } from '../../../src/model/lots/get-lot-view';

const MSG = { receive: uuidv7(), make: uuidv7(), ship: uuidv7(), kit: uuidv7() };

describe('GET /api/v1/lots', () => {
  let t: TestDatabase;
  let api: TestApi;
  const lot = { fg: uuidv7(), raw: uuidv7(), kit: uuidv7(), other: uuidv7() };

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    const actor = { actor: 'setup' };
    const knee = await upsertMaterial(t.db, {
      code: 'IMP-KNEE-4',
      description: 'Knee implant, size 4',
      kind: 'implant',
      identifiers: [
        { scheme: 'gtin', value: '09506000134352' },
        { scheme: 'gtin', value: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 },
        { scheme: 'internal', value: 'MES-40017' },
      ],
    }, actor);
    const rod = await upsertMaterial(t.db, { code: 'RAW-TI-ROD', kind: 'raw', baseUom: 'KG' }, actor);
    const kit = await upsertMaterial(t.db, { code: 'KIT-KNEE', kind: 'finished' }, actor);
    const a01 = await upsertLocation(t.db, { code: 'WH1-COLD-A01', kind: 'bin' }, actor);
    const ship = await upsertLocation(t.db, { code: 'WH1-SHIP', kind: 'dock' }, actor);
    const stale = await upsertLocation(t.db, { code: 'WH1-OLD', kind: 'bin' }, actor);
    await t.db('lots').insert([
      { id: lot.fg, material_id: knee.record.id, lot_number: 'FGLOT-1', expiry: '2027-03-31', manufactured_at: '2026-03-01', status: 'released', source_message_id: MSG.make, ordinal: 2 },
      { id: lot.raw, material_id: rod.record.id, lot_number: 'RAWLOT-7', status: 'released' },
      { id: lot.kit, material_id: kit.record.id, lot_number: 'KIT-LOT-9', status: 'quarantine' },
      { id: lot.other, material_id: rod.record.id, lot_number: 'FGLOT-1', status: 'released' },
    ]);
    await t.db('inventory_balances').insert([
      { lot_id: lot.fg, location_id: a01.record.id, stock_state: 'finished', quantity: 20 },
      { lot_id: lot.fg, location_id: ship.record.id, stock_state: 'pending_shipment', quantity: 5 },
      { lot_id: lot.fg, location_id: stale.record.id, stock_state: 'finished', quantity: 0 },
    ]);
    const ev = { make: uuidv7(), receive: uuidv7(), ship: uuidv7(), kit: uuidv7() };
    await t.db('trace_events').insert([
      { id: ev.make, type: 'TransformationEvent', action: null, biz_step: 'commissioning', event_time: '2026-03-01T08:00:00Z', location_id: null, source_message_id: MSG.make, ordinal: 1 },
      { id: ev.receive, type: 'ObjectEvent', action: 'ADD', biz_step: 'receiving', disposition: 'in_progress', event_time: '2026-03-02T10:15:00Z', location_id: a01.record.id, source_message_id: MSG.receive, ordinal: 1 },
      { id: ev.ship, type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'staging_outbound', event_time: '2026-03-03T09:00:00Z', location_id: ship.record.id, source_message_id: MSG.ship, ordinal: 1 },
      { id: ev.kit, type: 'TransformationEvent', action: null, biz_step: 'assembling', event_time: '2026-03-04T09:00:00Z', source_message_id: MSG.kit, ordinal: 1 },
    ]);
    await t.db('trace_event_items').insert([
      { event_id: ev.make, role: 'input', lot_id: lot.raw, material_id: rod.record.id, quantity: 2, uom: 'KG' },
      { event_id: ev.make, role: 'output', lot_id: lot.fg, material_id: knee.record.id, quantity: 25, uom: 'EA' },
      { event_id: ev.receive, role: 'subject', lot_id: lot.fg, material_id: knee.record.id, quantity: 25, uom: 'EA' },
      { event_id: ev.ship, role: 'subject', lot_id: lot.fg, material_id: knee.record.id, quantity: 5, uom: 'EA' },
      { event_id: ev.kit, role: 'input', lot_id: lot.fg, material_id: knee.record.id, quantity: 1, uom: 'EA' },
      { event_id: ev.kit, role: 'output', lot_id: lot.kit, material_id: kit.record.id, quantity: 1, uom: 'EA' },
    ]);
    await t.db('lot_links').insert([
      { input_lot_id: lot.raw, output_lot_id: lot.fg, event_id: ev.make, quantity: 1.5, uom: 'KG', source_message_id: MSG.make, ordinal: 3 },
      { input_lot_id: lot.raw, output_lot_id: lot.fg, event_id: ev.make, quantity: 0.5, uom: 'KG', source_message_id: MSG.make, ordinal: 4 },
      { input_lot_id: lot.fg, output_lot_id: lot.kit, event_id: ev.kit, quantity: 1, uom: 'EA', source_message_id: MSG.kit, ordinal: 2 },
    ]);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  it('shows a lot found by its case GTIN with material, expiry, balances, genealogy, events and lineage', async () => {
    const r = await api.request({ url: '/api/v1/lots?gtin=19506000134359&lot=FGLOT-1', headers: api.auth('operator') });
    expect(r.statusCode).toBe(200);
    const v = r.json<LotView>();
    expect(v).toMatchObject({
      id: lot.fg,
      lotNumber: 'FGLOT-1',
      expiry: '2027-03-31',
      manufacturedAt: '2026-03-01',
      status: 'released',
      provisional: false,
      material: {
        code: 'IMP-KNEE-4',
        baseUom: 'EA',
        provisional: false,
        gtins: [
          { gtin: '09506000134352', packagingLevel: 'each', quantityPerLevel: 1 },
          { gtin: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 },
        ],
      },
      balances: [
        { location: 'WH1-COLD-A01', stockState: 'finished', quantity: 20, uom: 'EA' },
        { location: 'WH1-SHIP', stockState: 'pending_shipment', quantity: 5, uom: 'EA' },
      ],
      totalQuantity: 25,
      inputs: [{ id: lot.raw, lotNumber: 'RAWLOT-7', material: 'RAW-TI-ROD', quantity: 2, uom: 'KG' }],
      outputs: [{ id: lot.kit, lotNumber: 'KIT-LOT-9', material: 'KIT-KNEE', status: 'quarantine', quantity: 1, uom: 'EA' }],
      eventCount: 4,
    });
    expect(typeof v.balances[0].quantity).toBe('number');
    expect(v.events.map((e) => [e.bizStep, e.role, e.location, e.quantity])).toEqual([
      ['assembling', 'input', null, 1],
      ['staging_outbound', 'subject', 'WH1-SHIP', 5],
      ['receiving', 'subject', 'WH1-COLD-A01', 25],
      ['commissioning', 'output', null, 25],
    ]);
    expect(v.events[2]).toMatchObject({ type: 'ObjectEvent', action: 'ADD', disposition: 'in_progress', eventTime: '2026-03-02T10:15:00.000Z', sourceMessageId: MSG.receive });
    expect(v.sourceMessageIds).toEqual([MSG.receive, MSG.make, MSG.ship, MSG.kit].sort());
  });

  it('finds the same lot by the MES internal code, the primary code and the each GTIN (GTIN-13 form)', async () => {
    for (const q of ['material=MES-40017', 'material=IMP-KNEE-4', 'gtin=9506000134352', 'gtin=09506000134352&material=MES-40017']) {
      const r = await api.request({ url: `/api/v1/lots?${q}&lot=FGLOT-1`, headers: api.auth('auditor') });
      expect({ q, status: r.statusCode, id: r.json<LotView>().id }).toEqual({ q, status: 200, id: lot.fg });
    }
    const raw = await api.request({ url: '/api/v1/lots?material=RAW-TI-ROD&lot=FGLOT-1', headers: api.auth('operator') });
    expect(raw.json<LotView>().id).toBe(lot.other);
  });

  it('answers 404 LB_ERR_LOT_NOT_FOUND when no lot matches', async () => {
    for (const q of ['material=IMP-KNEE-4&lot=NOPE', 'gtin=09506000134369&lot=FGLOT-1', 'material=NOPE&lot=FGLOT-1', 'gtin=19506000134359&material=RAW-TI-ROD&lot=FGLOT-1']) {
      const r = await api.request({ url: `/api/v1/lots?${q}`, headers: api.auth('operator') });
      expect({ q, status: r.statusCode, code: r.json<ApiErrorBody>().error.code }).toEqual({ q, status: 404, code: 'LB_ERR_LOT_NOT_FOUND' });
    }
  });

  it('answers 400 when neither gtin nor material is given, the lot is missing or the GTIN is invalid', async () => {
    const neither = await api.request({ url: '/api/v1/lots?lot=FGLOT-1', headers: api.auth('operator') });
    expect(neither.statusCode).toBe(400);
    expect(neither.json<ApiErrorBody>().error.code).toBe('LB_ERR_API_BAD_REQUEST');
    const noLot = await api.request({ url: '/api/v1/lots?material=IMP-KNEE-4', headers: api.auth('operator') });
    expect(noLot.statusCode).toBe(400);
    const badGtin = await api.request({ url: '/api/v1/lots?gtin=19506000134358&lot=FGLOT-1', headers: api.auth('operator') });
    expect(badGtin.statusCode).toBe(400);
    expect(badGtin.json<ApiErrorBody>().error).toMatchObject({ code: 'LB_ERR_API_BAD_REQUEST', location: { path: 'gtin' } });
  });

  it('lets operator, auditor and admin read, and refuses an ingest key', async () => {
    for (const role of ['operator', 'auditor', 'admin'] as const) {
      expect((await api.request({ url: '/api/v1/lots?material=IMP-KNEE-4&lot=FGLOT-1', headers: api.auth(role) })).statusCode).toBe(200);
    }
    const ingest = await api.request({ url: '/api/v1/lots?material=IMP-KNEE-4&lot=FGLOT-1', headers: api.auth('ingest') });
    expect(ingest.statusCode).toBe(403);
    expect(ingest.json<ApiErrorBody>().error.code).toBe('LB_ERR_AUTH_FORBIDDEN');
  });
});

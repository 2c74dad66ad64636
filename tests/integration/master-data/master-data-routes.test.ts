import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import type { LocationRecord, MaterialRecord, Page, PartyRecord } from '../../../src/model/master-data/master-data.types';

type Err = ApiErrorBody;

describe('master data HTTP API', () => {
  let t: TestDatabase;
  let api: TestApi;
  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  const knee = {
    code: 'IMP-KNEE-4',
    description: 'Knee implant, size 4, sterile',
    kind: 'implant',
    implantable: true,
    riskClass: 'III',
    storageTempMinC: 15,
    storageTempMaxC: 25,
    identifiers: [
      { scheme: 'gtin', value: '09506000134352', packagingLevel: 'each', quantityPerLevel: 1 },
      { scheme: 'gtin', value: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 },
      { scheme: 'internal', value: 'MES-40017' },
    ],
  };

  it('POST /api/v1/materials answers 201 with the stored record, then 200 for an update', async () => {
    const created = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: knee });
    expect(created.statusCode).toBe(201);
    expect(created.headers['lotbridge-upsert']).toBe('created');
    expect(created.headers.location).toBe('/api/v1/materials/IMP-KNEE-4');
    expect(created.json<MaterialRecord>()).toMatchObject({ code: 'IMP-KNEE-4', kind: 'implant', provisional: false, identifiers: expect.arrayContaining([expect.objectContaining({ value: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 })]) });

    const updated = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: { code: 'IMP-KNEE-4', unitCost: 812.5 } });
    expect(updated.statusCode).toBe(200);
    expect(updated.headers['lotbridge-upsert']).toBe('updated');
    expect(updated.json<MaterialRecord>()).toMatchObject({ unitCost: 812.5, description: 'Knee implant, size 4, sterile' });
    const audit = await t.db('audit_log').where({ chain: 'admin', entity_type: 'material' }).orderBy('seq');
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['material.create', 'test-admin'], ['material.update', 'test-admin']]);
  });

  it('finds the material by code, by MES internal code and by the case GTIN', async () => {
    const byCode = await api.request({ url: '/api/v1/materials/IMP-KNEE-4', headers: api.auth('operator') });
    const byMes = await api.request({ url: '/api/v1/materials/MES-40017', headers: api.auth('auditor') });
    const byCase = await api.request({ url: '/api/v1/materials?gtin=19506000134359', headers: api.auth('operator') });
    expect(byCode.statusCode).toBe(200);
    expect(byMes.json<MaterialRecord>().id).toBe(byCode.json<MaterialRecord>().id);
    expect(byCase.json<Page<MaterialRecord>>()).toMatchObject({ total: 1, limit: 50, offset: 0, items: [{ id: byCode.json<MaterialRecord>().id }] });
  });

  it('answers 404 LB_ERR_API_NOT_FOUND for an unknown material and 400 for an invalid GTIN filter', async () => {
    const r = await api.request({ url: '/api/v1/materials/NOPE', headers: api.auth('operator') });
    expect(r.statusCode).toBe(404);
    expect(r.json<Err>().error.code).toBe('LB_ERR_API_NOT_FOUND');
    const g = await api.request({ url: '/api/v1/materials?gtin=19506000134358', headers: api.auth('operator') });
    expect(g.statusCode).toBe(400);
    expect(g.json<Err>().error).toMatchObject({ code: 'LB_ERR_API_BAD_REQUEST', location: { path: 'gtin' } });
  });

  it('refuses a POST from an auditor with 403 LB_ERR_AUTH_FORBIDDEN and changes nothing', async () => {
    const r = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('auditor'), payload: { ...knee, code: 'BY-AUDITOR' } });
    expect(r.statusCode).toBe(403);
    expect(r.json<Err>().error.code).toBe('LB_ERR_AUTH_FORBIDDEN');
    const o = await api.request({ method: 'POST', url: '/api/v1/locations', headers: api.auth('operator'), payload: { code: 'X' } });
    expect(o.statusCode).toBe(403);
    expect(await t.db('materials').where({ code: 'BY-AUDITOR' }).first()).toBeUndefined();
    const none = await api.request({ url: '/api/v1/materials', headers: {} });
    expect(none.statusCode).toBe(401);
  });

  it('answers 400 LB_ERR_API_BAD_REQUEST with the JSON pointer of a schema error', async () => {
    const r = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: { code: 'X', identifiers: [{ scheme: 'gtin', value: '123' }] } });
    expect(r.statusCode).toBe(400);
    expect(r.json<Err>().error).toMatchObject({ code: 'LB_ERR_API_BAD_REQUEST', location: { path: '/identifiers/0/value' } });
    const missing = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: { description: 'no code' } });
    expect(missing.json<Err>().error).toMatchObject({ code: 'LB_ERR_API_BAD_REQUEST', location: { path: '/code' } });
    const extra = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: { code: 'X', colour: 'red' } });
    expect(extra.json<Err>().error.location?.path).toBe('/colour');
    const bad = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: { code: 'X', identifiers: [{ scheme: 'gtin', value: '19506000134358' }] } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json<Err>().error).toMatchObject({ code: 'LB_ERR_MASTER_DATA_GTIN_INVALID', location: { path: '/identifiers/0/value' } });
    const taken = await api.request({ method: 'POST', url: '/api/v1/materials', headers: api.auth('admin'), payload: { code: 'X', identifiers: [{ scheme: 'internal', value: 'MES-40017' }] } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json<Err>().error.code).toBe('LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT');
  });

  it('creates parties and locations (parent, operating party) and lists them with limit/offset', async () => {
    const p = await api.request({ method: 'POST', url: '/api/v1/parties', headers: api.auth('admin'), payload: { gln: '9312345000029', code: 'OPS', name: 'Operations', role: 'internal' } });
    expect(p.statusCode).toBe(201);
    const again = await api.request({ method: 'POST', url: '/api/v1/parties', headers: api.auth('admin'), payload: { code: 'OPS', name: 'Operations Dept', role: 'internal' } });
    expect(again.statusCode).toBe(200);
    expect(again.json<PartyRecord>()).toMatchObject({ id: p.json<PartyRecord>().id, gln: '9312345000029', name: 'Operations Dept' });
    const badGln = await api.request({ method: 'POST', url: '/api/v1/parties', headers: api.auth('admin'), payload: { gln: '9312345000013', name: 'x', role: 'supplier' } });
    expect(badGln.json<Err>().error).toMatchObject({ code: 'LB_ERR_MASTER_DATA_GLN_INVALID', location: { path: '/gln' } });

    const wh = await api.request({ method: 'POST', url: '/api/v1/locations', headers: api.auth('admin'), payload: { code: 'WH1', kind: 'warehouse', partyGln: '9312345000029', temperatureZone: 'ambient' } });
    expect(wh.statusCode).toBe(201);
    for (const code of ['WH1-A01', 'WH1-A02', 'WH1-A03']) {
      const r = await api.request({ method: 'POST', url: '/api/v1/locations', headers: api.auth('admin'), payload: { code, kind: 'bin', parentCode: 'WH1', tempMinC: 2, tempMaxC: 8 } });
      expect(r.statusCode).toBe(201);
    }
    const orphan = await api.request({ method: 'POST', url: '/api/v1/locations', headers: api.auth('admin'), payload: { code: 'ORPHAN', parentCode: 'NOWHERE' } });
    expect(orphan.statusCode).toBe(422);
    expect(orphan.json<Err>().error).toMatchObject({ code: 'LB_ERR_MASTER_DATA_REFERENCE_UNKNOWN', location: { path: '/parentCode' } });
    const cycle = await api.request({ method: 'POST', url: '/api/v1/locations', headers: api.auth('admin'), payload: { code: 'WH1', parentCode: 'WH1-A01' } });
    expect(cycle.json<Err>().error).toMatchObject({ code: 'LB_ERR_MASTER_DATA_INVALID', location: { path: '/parentCode' } });

    const page = await api.request({ url: '/api/v1/locations?parent=WH1&limit=2&offset=1', headers: api.auth('auditor') });
    expect(page.statusCode).toBe(200);
    expect(page.json<Page<LocationRecord>>()).toMatchObject({ total: 3, limit: 2, offset: 1 });
    expect(page.json<Page<LocationRecord>>().items.map((l) => l.code)).toEqual(['WH1-A02', 'WH1-A03']);
    const one = await api.request({ url: '/api/v1/locations/WH1', headers: api.auth('operator') });
    expect(one.json<LocationRecord>()).toMatchObject({ code: 'WH1', partyGln: '9312345000029', partyCode: 'OPS', parentCode: null });
    const parties = await api.request({ url: '/api/v1/parties?role=internal', headers: api.auth('operator') });
    expect(parties.json<Page<PartyRecord>>()).toMatchObject({ total: 1, items: [{ code: 'OPS' }] });
    const byCode = await api.request({ url: '/api/v1/parties/OPS', headers: api.auth('operator') });
    expect(byCode.json<PartyRecord>().gln).toBe('9312345000029');
    const tooBig = await api.request({ url: '/api/v1/locations?limit=5000', headers: api.auth('operator') });
    expect(tooBig.statusCode).toBe(400);
  });
});

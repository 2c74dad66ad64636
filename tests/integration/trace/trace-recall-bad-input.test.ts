import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import { buildKneeGenealogy, GTIN } from '../../helpers/genealogy-fixture';
import type { TracePage } from '../../../src/trace/trace-page';

/** The trace/recall API's handling of bad input: each case here answered wrongly before its fix. */
describe('trace and recall API, bad input', () => {
  let t: TestDatabase;
  let api: TestApi;
  const get = async (path: string) => api.request({ url: path, headers: api.auth('operator') });

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    await buildKneeGenealogy(t.db);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  it('answers 400 with a code, not 500, to a NUL byte (%00) in any text query parameter or path id', async () => {
    const paths = [
      '/api/v1/trace/forward?material=RAW-TI&lot=TI-%00',
      '/api/v1/trace/forward?material=RAW%00&lot=TI-001',
      '/api/v1/trace/backward?serial=SN-%00',
      '/api/v1/trace/recall-impact?material=RAW-TI&lot=%00',
      '/api/v1/trace/forward?gtin=09506000134352&serial=SN%00',
      '/api/v1/lots?material=RAW-TI&lot=%00',
      '/api/v1/lots?material=%00&lot=TI-001',
      '/api/v1/recalls/RC-%00',
      '/api/v1/recalls/RC-%00/export?format=json',
    ];
    const got = [];
    for (const p of paths) {
      const r = await get(p);
      got.push({ p, status: r.statusCode, code: r.json<ApiErrorBody>().error.code });
    }
    expect(got).toEqual(paths.map((p) => ({ p, status: 400, code: 'LB_ERR_API_BAD_REQUEST' })));
  });

  it('answers 400, not 500, to a recall whose lot, serial or reason holds a NUL character, and changes nothing', async () => {
    const before = await t.db('lots').select('id', 'status').orderBy('id');
    const recallsBefore = Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n);
    for (const body of [
      { lots: [{ material: 'RAW-TI', lot: 'TI-\u0000' }], reason: 'x' },
      { lots: [{ material: 'RAW-TI', lot: 'TI-001' }], reason: 'fatigue\u0000' },
      { serials: ['SN-\u0000'], reason: 'x' },
    ]) {
      const r = await api.request({ method: 'POST', url: '/api/v1/recalls', headers: api.auth('operator'), payload: body });
      expect({ body, status: r.statusCode, code: r.json<ApiErrorBody>().error.code }).toEqual({ body, status: 400, code: 'LB_ERR_API_BAD_REQUEST' });
    }
    expect(await t.db('lots').select('id', 'status').orderBy('id')).toEqual(before);
    expect(Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(recallsBefore);
  });

  it('refuses a barcode whose lot or serial differs from lot=/serial= (as it refuses a differing gtin=), instead of tracing another lot than the one scanned', async () => {
    const barcode = encodeURIComponent(`(01)${GTIN.KNEE}(10)FG-1`);
    // the GTIN conflict is refused today
    const g = await get(`/api/v1/trace/forward?barcode=${barcode}&gtin=${GTIN.KIT}`);
    expect([g.statusCode, g.json<ApiErrorBody>().error.code]).toEqual([400, 'LB_ERR_API_BAD_REQUEST']);
    // the lot conflict: the scan says FG-1, the answer traced FG-2
    const l = await get(`/api/v1/trace/forward?barcode=${barcode}&lot=FG-2`);
    expect({ status: l.statusCode, lot: l.statusCode === 200 ? l.json<TracePage>().subject.lot : l.json<ApiErrorBody>().error.location?.path })
      .toEqual({ status: 400, lot: 'lot' });
    const sb = encodeURIComponent(`(01)${GTIN.KNEE}(21)SN-0001`);
    const s = await get(`/api/v1/trace/forward?barcode=${sb}&serial=SN-0002`);
    expect([s.statusCode, s.json<ApiErrorBody>().error.location?.path]).toEqual([400, 'serial']);
    // the same values are no conflict
    expect((await get(`/api/v1/trace/forward?barcode=${barcode}&lot=FG-1`)).statusCode).toBe(200);
    expect((await get(`/api/v1/trace/forward?barcode=${barcode}&gtin=${GTIN.KNEE}`)).statusCode).toBe(200);
  });

  it('refuses an invalid gtin= next to a barcode (as without one), instead of ignoring it', async () => {
    const barcode = encodeURIComponent(`(01)${GTIN.KNEE}(10)FG-1`);
    const alone = await get('/api/v1/trace/forward?gtin=abc&lot=FG-1');
    expect([alone.statusCode, alone.json<ApiErrorBody>().error.location?.path]).toEqual([400, 'gtin']);
    const r = await get(`/api/v1/trace/forward?barcode=${barcode}&gtin=abc`);
    expect([r.statusCode, r.json<ApiErrorBody>().error.location?.path]).toEqual([400, 'gtin']);
  });

  it('answers an invalid UTF-8 path (%C3%28) and an over-long path id in the API error envelope with a code, not Fastify\'s own body', async () => {
    for (const [path, status] of [['/api/v1/recalls/%C3%28', 400], ['/api/v1/recalls/%C3%28/export?format=json', 400], [`/api/v1/recalls/${'R'.repeat(101)}`, 400]] as const) {
      const r = await get(path);
      const body = r.json<Record<string, unknown>>();
      expect({ path, status: r.statusCode, code: (body.error as { code?: string } | undefined)?.code ?? body.code })
        .toEqual({ path, status, code: 'LB_ERR_API_BAD_REQUEST' });
    }
  });

  it('refuses a recall whose reason is only blanks (a missing reason in disguise), and opens none', async () => {
    const recallsBefore = Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n);
    for (const reason of ['   ', '\t\n', '\u00a0']) {
      const r = await api.request({ method: 'POST', url: '/api/v1/recalls', headers: api.auth('operator'), payload: { lots: [{ material: 'FG-KNEE', lot: 'FG-9' }], reason } });
      expect({ reason, status: r.statusCode, path: r.statusCode === 400 ? r.json<ApiErrorBody>().error.location?.path : undefined }).toEqual({ reason, status: 400, path: '/reason' });
    }
    expect(Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(recallsBefore);
  });

  it('answers 400, not 500, to an offset past PostgreSQL\'s bigint in GET /api/v1/recalls (and the other offset-paged lists)', async () => {
    for (const u of ['/api/v1/recalls?offset=1e20', '/api/v1/recalls?offset=9223372036854775807', '/api/v1/recalls?offset=99999999999999999999', '/api/v1/materials?offset=1e20', '/api/v1/parties?offset=1e20', '/api/v1/locations?offset=1e20']) {
      const r = await api.request({ url: u, headers: api.auth('admin') });
      expect({ u, status: r.statusCode, code: r.json<ApiErrorBody>().error?.code }).toEqual({ u, status: 400, code: 'LB_ERR_API_BAD_REQUEST' });
    }
    const ok = await api.request({ url: '/api/v1/recalls?offset=2147483648', headers: api.auth('operator') });
    expect([ok.statusCode, ok.json<{ items: unknown[] }>().items]).toEqual([200, []]);
  });

  it('answers 404 for a serial named with a lot it is not in, also when the serial has no lot (instead of tracing the unit as if lot= matched)', async () => {
    await t.db.transaction(async (trx) => {
      const kit = await trx('materials').where({ code: 'KIT-KNEE' }).first<{ id: string }>('id');
      await trx('serials').insert({ id: '0190f000-0000-7000-8000-00000000a001', material_id: kit!.id, lot_id: null, serial_number: 'REVIEW-LOTLESS-1' });
    });
    // a serial in another lot: 404 today
    const other = await get('/api/v1/trace/forward?material=FG-KNEE&lot=FG-2&serial=SN-0001');
    expect([other.statusCode, other.json<ApiErrorBody>().error.code]).toEqual([404, 'LB_ERR_LOT_NOT_FOUND']);
    // a serial in no lot, named with lot K-1 (which exists): the same
    const lotless = await get('/api/v1/trace/forward?material=KIT-KNEE&lot=K-1&serial=REVIEW-LOTLESS-1');
    expect({ status: lotless.statusCode, code: lotless.statusCode === 200 ? lotless.json<TracePage>().subject : lotless.json<ApiErrorBody>().error.code })
      .toEqual({ status: 404, code: 'LB_ERR_LOT_NOT_FOUND' });
    // without lot= the unit is traced as before
    expect((await get('/api/v1/trace/forward?material=KIT-KNEE&serial=REVIEW-LOTLESS-1')).statusCode).toBe(200);
  });
});

import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildKneeGenealogy, GTIN, type GenealogyFixture } from '../../helpers/genealogy-fixture';
import { resolveTraceSubject, type TraceQuery } from '../../../src/trace/trace-subject';
import { gs1CheckDigit } from '../../../src/model/master-data/gs1-keys';
import { isLotBridgeError } from '../../../src/errors';

const gtin = (body13: string): string => body13 + String(gs1CheckDigit(body13));

/**
 * How a trace names its lot: by material code or an internal identifier, by GTIN or UDI-DI (the
 * GTIN first when one number is both), trimmed, with the same 404 for an unknown material and an
 * unknown lot. On the knee genealogy plus identifiers added here.
 */
describe('trace subject: naming a lot', () => {
  let t: TestDatabase;
  let f: GenealogyFixture;
  /** A number that is RAW-TI's GTIN and RAW-PE's UDI-DI; a UDI-DI of RAW-PE only. */
  const SHARED = gtin('0950600013450');
  const PE_UDI = gtin('0950600013451');

  beforeAll(async () => {
    t = await createTestDatabase();
    f = await buildKneeGenealogy(t.db);
    await t.db('material_identifiers').insert([
      { material_id: f.materials.get('RAW-TI'), scheme: 'internal', value: 'TI-BAR-6AL4V' },
      { material_id: f.materials.get('RAW-TI'), scheme: 'gtin', value: SHARED, packaging_level: 'case' },
      { material_id: f.materials.get('RAW-PE'), scheme: 'udi_di', value: SHARED },
      { material_id: f.materials.get('RAW-PE'), scheme: 'udi_di', value: PE_UDI },
    ]);
  });
  afterAll(async () => {
    await t.destroy();
  });

  const lotOf = async (q: TraceQuery): Promise<string> => {
    try {
      const s = await resolveTraceSubject(t.db, q);
      return `${s.lotIds.map((id) => [...f.lots.entries()].find(([, v]) => v === id)?.[0]).join(',')}`;
    } catch (err) {
      if (isLotBridgeError(err)) return `${err.code}: ${err.message}`;
      throw err;
    }
  };

  it('finds a lot by material code, by an internal identifier and by GTIN, trimmed', async () => {
    expect(await lotOf({ material: 'RAW-TI', lot: 'TI-001' })).toBe('R1');
    expect(await lotOf({ material: ' TI-BAR-6AL4V ', lot: ' TI-001 ' })).toBe('R1');
    expect(await lotOf({ gtin: GTIN.KIT, lot: 'K-1' })).toBe('K1');
    // a GTIN-13 is the same GTIN as its 14-digit form
    expect(await lotOf({ gtin: GTIN.KIT.slice(1), lot: 'K-1' })).toBe('K1');
  });

  it('takes a material code before another material\'s internal identifier of the same text', async () => {
    // material PE-ALIAS has the code; RAW-PE has "PE-ALIAS" as its internal identifier; both have a lot PE-001
    await f.material('PE-ALIAS');
    await t.db('material_identifiers').where({ scheme: 'internal', value: 'PE-ALIAS' }).update({ material_id: f.materials.get('RAW-PE') });
    await f.lot('PA1', 'PE-ALIAS', 'PE-001');
    expect(await lotOf({ material: 'PE-ALIAS', lot: 'PE-001' })).toBe('PA1');
    expect(await lotOf({ material: 'PE-ALIAS', lot: 'PE-002' })).toBe('LB_ERR_LOT_NOT_FOUND: no lot PE-002 of material PE-ALIAS');
  });

  it('takes a UDI-DI for a GTIN, and the GTIN first when one number is both', async () => {
    expect(await lotOf({ gtin: PE_UDI, lot: 'PE-001' })).toBe('R2');
    // (the unique index on (scheme, value) lists 'gtin' before 'udi_di' too, so this holds without
    // the statement's ORDER BY as well; the ORDER BY makes it a rule rather than a plan's accident)
    expect(await lotOf({ gtin: SHARED, lot: 'TI-001' })).toBe('R1');
    // SHARED names RAW-TI (its GTIN), which has no lot PE-001
    expect(await lotOf({ gtin: SHARED, lot: 'PE-001' })).toBe(`LB_ERR_LOT_NOT_FOUND: no lot PE-001 of GTIN ${SHARED}`);
  });

  it('answers the same not-found for an unknown material, GTIN or lot, and a bad GTIN as a bad request', async () => {
    expect(await lotOf({ material: 'NOPE', lot: 'TI-001' })).toBe('LB_ERR_LOT_NOT_FOUND: no lot TI-001 of material NOPE');
    expect(await lotOf({ material: 'RAW-TI', lot: 'TI-002' })).toBe('LB_ERR_LOT_NOT_FOUND: no lot TI-002 of material RAW-TI');
    expect(await lotOf({ gtin: gtin('0950600099999'), lot: 'TI-001' })).toBe(`LB_ERR_LOT_NOT_FOUND: no lot TI-001 of GTIN ${gtin('0950600099999')}`);
    expect(await lotOf({ gtin: '09506000134351', lot: 'K-1' })).toBe('LB_ERR_API_BAD_REQUEST: gtin: GTIN "09506000134351" has check digit 1; expected 2');
    // a material code and a GTIN of different materials name no lot
    expect(await lotOf({ material: 'RAW-PE', gtin: GTIN.KIT, lot: 'K-1' })).toBe(`LB_ERR_LOT_NOT_FOUND: no lot K-1 of GTIN ${GTIN.KIT}`);
    expect(await lotOf({ material: 'KIT-KNEE', gtin: GTIN.KIT, lot: 'K-1' })).toBe('K1');
  });
});

import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { upsertMaterial } from '../../../src/model/master-data/upsert-material';
import { findMaterialByGtin } from '../../../src/model/master-data/find-material-by-gtin';
import { getMaterial } from '../../../src/model/master-data/get-material';
import { createProvisionalMaterial } from '../../../src/model/materials/create-provisional-material';
import type { MaterialInput } from '../../../src/model/master-data/master-data.types';
import { isLotBridgeError } from '../../../src/errors';

const KNEE: MaterialInput = {
  code: 'IMP-KNEE-4',
  description: 'Knee implant, size 4',
  kind: 'implant',
  implantable: true,
  serialControlled: true,
  riskClass: 'III',
  identifiers: [
    { scheme: 'gtin', value: '09506000134352', packagingLevel: 'each', quantityPerLevel: 1 },
    { scheme: 'gtin', value: '29506000134356', packagingLevel: 'box', quantityPerLevel: 5 },
    { scheme: 'gtin', value: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 },
    { scheme: 'internal', value: 'MES-40017' },
  ],
};

async function caught(p: Promise<unknown>): Promise<{ code: string; path?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isLotBridgeError(err)) {
      return { code: err.code, path: err.location?.path, message: err.message };
    }
    throw err;
  }
  throw new Error('expected a LotBridgeError');
}

describe('upsertMaterial', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('creates a material with GTINs per packaging level and writes an admin audit row', async () => {
    const r = await upsertMaterial(t.db, KNEE, { actor: 'alice' });
    expect(r.status).toBe('created');
    expect(r.record).toMatchObject({ code: 'IMP-KNEE-4', kind: 'implant', baseUom: 'EA', lotControlled: true, implantable: true, provisional: false });
    expect(r.record.identifiers).toEqual([
      { scheme: 'gtin', value: '09506000134352', packagingLevel: 'each', quantityPerLevel: 1 },
      { scheme: 'gtin', value: '29506000134356', packagingLevel: 'box', quantityPerLevel: 5 },
      { scheme: 'gtin', value: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 },
      { scheme: 'internal', value: 'MES-40017', packagingLevel: 'each', quantityPerLevel: 1 },
    ]);
    const audit = await t.db('audit_log').where({ chain: 'admin', entity_type: 'material', entity_id: r.record.id });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'alice', action: 'material.create', before: null });
    expect(audit[0].after).toMatchObject({ code: 'IMP-KNEE-4' });
    expect(audit[0].hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resolves the case GTIN and the MES internal code to the same material, with the pack size', async () => {
    const byCase = await findMaterialByGtin(t.db, '19506000134359');
    const byMes = await getMaterial(t.db, 'MES-40017');
    expect(byCase?.material.code).toBe('IMP-KNEE-4');
    expect(byCase).toMatchObject({ packagingLevel: 'case', quantityPerLevel: 10 });
    expect(byMes?.id).toBe(byCase?.material.id);
    // a GTIN-13 is left-padded to 14 digits
    expect((await findMaterialByGtin(t.db, '9506000134352'))?.material.id).toBe(byCase?.material.id);
  });

  it('answers unchanged and writes nothing when the same record is posted again', async () => {
    const before = await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' });
    const r = await upsertMaterial(t.db, KNEE, { actor: 'alice' });
    expect(r.status).toBe('unchanged');
    expect(await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' })).toEqual(before);
  });

  it('keeps omitted fields on update and replaces the identifier set when one is given', async () => {
    const r = await upsertMaterial(t.db, { code: 'IMP-KNEE-4', unitCost: 812.5 }, { actor: 'bob' });
    expect(r.status).toBe('updated');
    expect(r.record).toMatchObject({ description: 'Knee implant, size 4', riskClass: 'III', unitCost: 812.5 });
    expect(r.record.identifiers).toHaveLength(4);
    const audit = await t.db('audit_log').where({ chain: 'admin', action: 'material.update' }).orderBy('seq', 'desc').first();
    expect(audit).toMatchObject({ actor: 'bob' });
    expect(audit.before.unitCost).toBeNull();
    expect(audit.after.unitCost).toBe(812.5);
  });

  it('refuses a GTIN with a wrong check digit, naming the identifier', async () => {
    const e = await caught(upsertMaterial(t.db, { code: 'X-1', identifiers: [{ scheme: 'gtin', value: '09506000134353' }] }, { actor: 'a' }));
    expect(e).toMatchObject({ code: 'LB_ERR_MASTER_DATA_GTIN_INVALID', path: '/identifiers/0/value' });
    expect(e.message).toMatch(/expected 2/);
    expect(await t.db('materials').where({ code: 'X-1' }).first()).toBeUndefined();
  });

  it('refuses a GTIN that belongs to another confirmed material', async () => {
    const e = await caught(upsertMaterial(t.db, { code: 'OTHER', identifiers: [{ scheme: 'internal', value: 'O-1' }, { scheme: 'gtin', value: '19506000134359', packagingLevel: 'case', quantityPerLevel: 10 }] }, { actor: 'a' }));
    expect(e).toMatchObject({ code: 'LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT', path: '/identifiers/1/value' });
    expect(e.message).toMatch(/IMP-KNEE-4/);
  });

  it('adopts the provisional material a feed created for the GTIN: same id, so its lots and balances stay attached', async () => {
    const msg = '018f0000-0000-7000-8000-00000000a001';
    let ordinal = 0;
    const { row } = await createProvisionalMaterial(t.db, { gtin: '09506000134369', baseUom: 'EA' }, { sourceMessageId: msg, nextOrdinal: () => ++ordinal });
    expect(row).toMatchObject({ code: 'GTIN-09506000134369', provisional: true });
    const lotId = '018f0000-0000-7000-8000-00000000b001';
    await t.db('lots').insert({ id: lotId, material_id: row.id, lot_number: 'S-77', provisional: true });
    const locId = '018f0000-0000-7000-8000-00000000c001';
    await t.db('locations').insert({ id: locId, code: 'BIN-1', kind: 'bin' });
    await t.db('inventory_balances').insert({ lot_id: lotId, location_id: locId, stock_state: 'finished', quantity: 40 });

    const r = await upsertMaterial(
      t.db,
      { code: 'SUT-30', description: 'Suture 3-0', kind: 'consumable', identifiers: [{ scheme: 'gtin', value: '9506000134369' }, { scheme: 'internal', value: 'MES-50001' }] },
      { actor: 'alice' },
    );
    expect(r.status).toBe('adopted');
    expect(r.record).toMatchObject({ id: row.id, code: 'SUT-30', provisional: false, kind: 'consumable' });
    expect(await t.db('lots').where({ id: lotId }).first()).toMatchObject({ material_id: row.id });
    expect(await t.db('materials').where({ code: 'GTIN-09506000134369' }).first()).toBeUndefined();
    const audit = await t.db('audit_log').where({ action: 'material.adopt', entity_id: row.id }).first();
    expect(audit.before).toMatchObject({ code: 'GTIN-09506000134369', provisional: true });
    expect(audit.after).toMatchObject({ code: 'SUT-30', provisional: false });
    expect(audit.reason).toMatch(/adopted provisional material GTIN-09506000134369/);
  });

  it('drops a stock-less provisional material whose GTIN an existing material takes over, but refuses one with lots', async () => {
    let ordinal = 0;
    const lineage = { sourceMessageId: '018f0000-0000-7000-8000-00000000a002', nextOrdinal: () => ++ordinal };
    const empty = await createProvisionalMaterial(t.db, { gtin: '19506000134366', baseUom: 'EA' }, lineage);
    const r = await upsertMaterial(
      t.db,
      { code: 'SUT-30', identifiers: [{ scheme: 'gtin', value: '09506000134369' }, { scheme: 'gtin', value: '19506000134366', packagingLevel: 'case', quantityPerLevel: 12 }, { scheme: 'internal', value: 'MES-50001' }] },
      { actor: 'alice' },
    );
    expect(r.status).toBe('updated');
    expect(await t.db('materials').where({ id: empty.row.id }).first()).toBeUndefined();
    expect(await t.db('audit_log').where({ action: 'material.delete_provisional', entity_id: empty.row.id }).first()).toBeDefined();

    const withLot = await createProvisionalMaterial(t.db, { gtin: '09506000134390', baseUom: 'EA' }, lineage);
    await t.db('lots').insert({ id: '018f0000-0000-7000-8000-00000000b002', material_id: withLot.row.id, lot_number: 'P-1', provisional: true });
    const e = await caught(upsertMaterial(t.db, { code: 'GLV-M', identifiers: [{ scheme: 'gtin', value: '09506000134376' }] }, { actor: 'a' }).then(() =>
      upsertMaterial(t.db, { code: 'GLV-M', identifiers: [{ scheme: 'gtin', value: '09506000134376' }, { scheme: 'gtin', value: '09506000134390', packagingLevel: 'box', quantityPerLevel: 100 }] }, { actor: 'a' }),
    ));
    expect(e.code).toBe('LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT');
    expect(e.message).toMatch(/provisional material GTIN-09506000134390/);
    expect(await t.db('materials').where({ id: withLot.row.id }).first()).toMatchObject({ provisional: true });
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { importMasterDataCsv } from '../../../src/model/master-data/import/import-master-data';
import { getMaterial } from '../../../src/model/master-data/get-material';
import { findMaterialByGtin } from '../../../src/model/master-data/find-material-by-gtin';
import { getLocation } from '../../../src/model/master-data/get-location';
import { registerImportCommand } from '../../../src/cli/import.command';
import { silentLogger } from '../../../src/logging/logger';
import { isLotBridgeError } from '../../../src/errors';

const fixture = (name: string): string => path.join(__dirname, '../../fixtures/master-data', name);

describe('lotbridge import materials|locations|parties', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('a dry run checks every row and writes nothing', async () => {
    const r = await importMasterDataCsv(t.db, 'materials', fixture('materials-case-box-gtins.csv'), { actor: 'cli:test', dryRun: true });
    expect(r).toMatchObject({ rows: 3, created: 3, committed: false, dryRun: true, errors: [] });
    expect(await t.db('materials').count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('imports materials with each/box/case GTINs, internal codes, quoted commas and a decimal comma', async () => {
    const r = await importMasterDataCsv(t.db, 'materials', fixture('materials-case-box-gtins.csv'), { actor: 'cli:test' });
    expect(r).toMatchObject({ rows: 3, created: 3, updated: 0, committed: true, encoding: 'utf8', errors: [] });
    const knee = await getMaterial(t.db, 'IMP-KNEE-4');
    expect(knee).toMatchObject({ description: 'Knee implant, size 4, sterile', kind: 'implant', serialControlled: true, implantable: true, riskClass: 'III', unitCost: 812.5, storageTempMinC: 15 });
    expect(knee?.identifiers.map((i) => [i.scheme, i.value, i.packagingLevel, i.quantityPerLevel])).toEqual([
      ['gtin', '09506000134352', 'each', 1],
      ['gtin', '29506000134356', 'box', 5],
      ['gtin', '19506000134359', 'case', 10],
      ['internal', 'MES-40017', 'each', 1],
    ]);
    // a case GTIN and an MES internal code resolve to the same material
    expect((await findMaterialByGtin(t.db, '19506000134359'))?.material.id).toBe((await getMaterial(t.db, 'MES-40017'))?.id);
    const suture = await getMaterial(t.db, 'ERP-50001');
    expect(suture).toMatchObject({ code: 'SUT-30', description: 'Suture 3-0, absorbable, 70 cm', baseUom: 'EA', unitCost: 2.35, storageTempMinC: null, storageTempMaxC: 25 });
    expect(suture?.identifiers[0]).toMatchObject({ scheme: 'gtin', value: '09506000134369' });
    const audit = await t.db('audit_log').where({ chain: 'admin', action: 'material.create' });
    expect(audit).toHaveLength(3);
    expect(audit[0].reason).toMatch(/^import materials materials-case-box-gtins\.csv line 2$/);
    expect(audit[0].actor).toBe('cli:test');
  });

  it('answers unchanged for every row when the same file is imported again', async () => {
    const r = await importMasterDataCsv(t.db, 'materials', fixture('materials-case-box-gtins.csv'), { actor: 'cli:test' });
    expect(r).toMatchObject({ created: 0, updated: 0, unchanged: 3, committed: true });
  });

  it('replaces only the identifiers a row gives: empty identifier cells keep the stored ones', async () => {
    const f = path.join(os.tmpdir(), `lb-ids-${process.pid}.csv`);
    try {
      fs.writeFileSync(f, 'code,gtin_each,gtin_case,case_qty,internal_code\nIMP-KNEE-4,09506000134352,,,\n');
      expect(await importMasterDataCsv(t.db, 'materials', f, { actor: 'cli:test' })).toMatchObject({ unchanged: 1, committed: true });
      fs.writeFileSync(f, 'code,gtin_case,case_qty\nIMP-KNEE-4,19506000134359,12\n');
      expect(await importMasterDataCsv(t.db, 'materials', f, { actor: 'cli:test' })).toMatchObject({ updated: 1, committed: true });
    } finally {
      fs.rmSync(f, { force: true });
    }
    const knee = await getMaterial(t.db, 'IMP-KNEE-4');
    expect(knee?.identifiers.map((i) => [i.value, i.packagingLevel, i.quantityPerLevel])).toEqual([
      ['09506000134352', 'each', 1],
      ['29506000134356', 'box', 5],
      ['19506000134359', 'case', 12],
      ['MES-40017', 'each', 1],
    ]);
    fs.writeFileSync(f, 'code,gtin_case,case_qty\nIMP-KNEE-4,19506000134359,10\n');
    expect(await importMasterDataCsv(t.db, 'materials', f, { actor: 'cli:test' })).toMatchObject({ updated: 1 });
    fs.rmSync(f, { force: true });
  });

  it('reports every bad row with its line and column and imports nothing', async () => {
    const r = await importMasterDataCsv(t.db, 'materials', fixture('materials-bad-check-digit.csv'), { actor: 'cli:test' });
    expect(r.committed).toBe(false);
    expect(r.errors.map((e) => [e.code, e.location?.line, e.location?.column, e.location?.field])).toEqual([
      ['LB_ERR_IMPORT_CSV', 3, 5, 'gtin_case'],
      ['LB_ERR_IMPORT_CSV', 4, 3, 'kind'],
      ['LB_ERR_IMPORT_CSV', 5, 6, 'case_qty'],
    ]);
    expect(r.errors[0].message).toBe('line 3, column gtin_case: GTIN "19506000134350" has check digit 0; expected 9');
    expect(r.errors[0].details).toEqual({ cause: 'LB_ERR_MASTER_DATA_GTIN_INVALID' });
    expect(r.errors[2].message).toMatch(/"ten" is not a number/);
    expect(await t.db('materials').where({ code: 'OK-1' }).first()).toBeUndefined();
  });

  it('reports a database-level conflict with the line and the column of the identifier', async () => {
    const tmp = path.join(os.tmpdir(), `lb-conflict-${process.pid}.csv`);
    fs.writeFileSync(tmp, 'code,gtin_each,gtin_case,case_qty\nNEW-1,09506000134383,,\nNEW-2,09506000134390,19506000134359,10\n');
    try {
      const r = await importMasterDataCsv(t.db, 'materials', tmp, { actor: 'cli:test' });
      expect(r.committed).toBe(false);
      expect(r.created).toBe(1);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ code: 'LB_ERR_IMPORT_CSV', location: { line: 3, column: 3, field: 'gtin_case' }, details: { cause: 'LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT' } });
      expect(r.errors[0].message).toMatch(/already belongs to material IMP-KNEE-4/);
      expect(await t.db('materials').where({ code: 'NEW-1' }).first()).toBeUndefined();
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  });

  it('reads a Latin-1 file (auto-detected) and keeps its accents', async () => {
    const r = await importMasterDataCsv(t.db, 'materials', fixture('materials-latin1-description.csv'), { actor: 'cli:test' });
    expect(r).toMatchObject({ encoding: 'latin1', created: 1, committed: true });
    expect((await getMaterial(t.db, 'IMP-HIP-2'))?.description).toBe('Hüftpfanne Größe 2, stérile');
  });

  it('imports parties, then locations whose parents come later in the file', async () => {
    const p = await importMasterDataCsv(t.db, 'parties', fixture('parties.csv'), { actor: 'cli:test' });
    expect(p).toMatchObject({ created: 3, committed: true, errors: [] });
    const l = await importMasterDataCsv(t.db, 'locations', fixture('locations-children-first.csv'), { actor: 'cli:test' });
    expect(l).toMatchObject({ created: 3, committed: true, errors: [] });
    expect(await getLocation(t.db, 'WH1-COLD-A01')).toMatchObject({ parentCode: 'WH1-COLD', name: 'Cold room A, bin 01', temperatureZone: 'chilled', tempMinC: 2, tempMaxC: 8 });
    expect(await getLocation(t.db, 'WH1')).toMatchObject({ gln: '9312345000012', partyGln: '9312345000029', partyCode: 'LOTBRIDGE-OPS', kind: 'warehouse' });
  });

  it('runs through the CLI command: prints a summary, and fails with exit code 1 listing the errors', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const so = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    const se = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
    const program = new Command().exitOverride();
    registerImportCommand(program, async () => ({ db: t.db, logger: silentLogger(), close: async () => undefined }));
    try {
      await program.parseAsync(['node', 'lotbridge', 'import', 'parties', fixture('parties.csv'), '--actor', 'cli:ops']);
      let failure: unknown;
      await program.parseAsync(['node', 'lotbridge', 'import', 'materials', fixture('materials-bad-check-digit.csv')]).catch((e: unknown) => {
        failure = e;
      });
      expect(isLotBridgeError(failure) && failure.code).toBe('LB_ERR_IMPORT_CSV');
      expect(isLotBridgeError(failure) && failure.message).toMatch(/3 error\(s\); nothing was imported/);
    } finally {
      so.mockRestore();
      se.mockRestore();
    }
    expect(out.join('')).toMatch(/imported 3 parties from parties\.csv \(utf8\): 0 created, 0 updated, 0 adopted \(provisional → confirmed\), 3 unchanged/);
    expect(err.join('')).toMatch(/LB_ERR_IMPORT_CSV: line 4, column kind: "implnt" is not one of raw, component/);
  });
});

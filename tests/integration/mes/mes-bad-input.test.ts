import type { HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { b2mmlFixture, balancesOf, lotOf, processed, runB2mml } from './mes-test-data';

type Rejected = Extract<HandlerRun, { ok: false }>['error'];

describe('MES (B2MML) bad input: a clear code and an XPath-like location, nothing half-written', () => {
  let t: TestDatabase;
  const count = async (table: string): Promise<number> => Number((await t.db(table).count<Array<{ n: number }>>({ n: '*' }))[0].n);
  const rejected = async (payload: Buffer | string): Promise<Rejected> => {
    const r = await runB2mml(t.db, payload);
    if (r.ok) {
      throw new Error(`expected a rejection, got ${JSON.stringify(r.result)}`);
    }
    expect(r.error.kind).toBe('input');
    return r.error;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    processed(await runB2mml(t.db, b2mmlFixture('material-information-v0600-prefixed-bom.xml')));
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('names the line and column of XML that is not well-formed', async () => {
    const e = await rejected(b2mmlFixture('bad-not-well-formed.xml'));
    expect(e.code).toBe('LB_ERR_B2MML_NOT_WELL_FORMED');
    expect(e.location).toMatchObject({ line: 9 });
    expect(e.message).toMatch(/Unexpected close tag \(line 9, column \d+\)/);
  });

  it('refuses a DOCTYPE with entity declarations before parsing (line 2)', async () => {
    const e = await rejected(b2mmlFixture('bad-doctype-entity.xml'));
    expect(e.code).toBe('LB_ERR_B2MML_DOCTYPE');
    expect(e.location).toEqual({ line: 2, column: 1 });
  });

  it('refuses an ENTITY declaration even without a DOCTYPE, but not the text "<!DOCTYPE" inside a comment or CDATA', async () => {
    const e = await rejected('<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML">\n<!ENTITY x "y">\n<ID>MI-E</ID></MaterialInformation>');
    expect(e.code).toBe('LB_ERR_B2MML_DOCTYPE');
    expect(e.location).toEqual({ line: 2, column: 1 });
    const ok = await runB2mml(
      t.db,
      '<!-- <!DOCTYPE x> in a comment --><MaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><ID>MI-CDATA</ID><MaterialLot><ID>CD-1</ID><Description><![CDATA[<!DOCTYPE is text here]]></Description><MaterialDefinitionID>CMP-LINER-4</MaterialDefinitionID></MaterialLot></MaterialInformation>',
    );
    expect(processed(ok).summary).toMatchObject({ lots: 1 });
  });

  it('rejects an unknown root element, a foreign namespace and a release before V0401', async () => {
    const root = await rejected(b2mmlFixture('bad-unknown-root.xml'));
    expect(root.code).toBe('LB_ERR_B2MML_UNKNOWN_ROOT');
    expect(root.location).toMatchObject({ path: '/ProductionSchedule', line: 2 });
    const ns = await rejected(b2mmlFixture('bad-foreign-namespace.xml'));
    expect(ns.code).toBe('LB_ERR_B2MML_NAMESPACE');
    expect(ns.message).toContain('urn:example:erp:materials');
    const v = await rejected(b2mmlFixture('bad-release-v0300.xml'));
    expect(v.code).toBe('LB_ERR_B2MML_VERSION');
    const verb = await rejected('<GetMaterialLot xmlns="http://www.mesa.org/xml/B2MML"><ApplicationArea/></GetMaterialLot>');
    expect(verb.code).toBe('LB_ERR_B2MML_UNKNOWN_ROOT');
    expect(verb.message).toContain('Get request');
  });

  it('rejects nesting deeper than the cap while parsing, and a document over the size cap', async () => {
    const deep = `<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML">${'<X>'.repeat(200_000)}${'</X>'.repeat(200_000)}</MaterialInformation>`;
    const e = await rejected(deep);
    expect(e.code).toBe('LB_ERR_B2MML_TOO_DEEP');
    expect(e.details).toEqual({ maxDepth: 64 });
    const big = `<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><ID>BIG</ID><Description>${'x'.repeat(11 * 1024 * 1024)}</Description></MaterialInformation>`;
    const t2 = await rejected(big);
    expect(t2.code).toBe('LB_ERR_B2MML_TOO_LARGE');
  });

  it('rejects a lot without material at its path', async () => {
    const e = await rejected(b2mmlFixture('bad-lot-without-material.xml'));
    expect(e.code).toBe('LB_ERR_B2MML_LOT_NO_MATERIAL');
    expect(e.location).toMatchObject({ path: '/SyncMaterialLot/DataArea/MaterialLot', line: 9, index: 0 });
    expect(await t.db('lots').where({ lot_number: 'ORPHAN-LOT-1' })).toEqual([]);
  });

  it('rejects a production report whose quantity unit does not convert, writing nothing of it', async () => {
    const before = { events: await count('trace_events'), links: await count('lot_links'), ledger: await count('inventory_ledger') };
    const e = await rejected(b2mmlFixture('bad-unit-does-not-convert.xml'));
    expect(e.code).toBe('LB_ERR_B2MML_UOM');
    expect(e.location).toEqual({ path: '/ProductionPerformance/ProductionResponse/SegmentResponse/MaterialActual[1]/Quantity/UnitOfMeasure', line: 13 });
    expect(e.message).toContain(`unit "KG" does not convert to CMP-LINER-4's base unit EA`);
    expect({ events: await count('trace_events'), links: await count('lot_links'), ledger: await count('inventory_ledger') }).toEqual(before);
    expect(await lotOf(t.db, 'FG-KNEE-4', 'FGLOT-UOM-1')).toBeUndefined();
  });

  it('rejects a lot that expires before its manufacture date and maps the good lot beside it', async () => {
    const r = await runB2mml(t.db, b2mmlFixture('bad-expiry-before-manufacture.xml'));
    const res = processed(r);
    expect(res.recordErrors).toEqual([
      {
        code: 'LB_ERR_B2MML_EXPIRY_BEFORE_MANUFACTURE',
        message: 'lot CMPLOT-BAD-9 expires on 2025-02-01, before its manufacture date 2026-02-01 (at /MaterialInformation/MaterialLot[2], line 10)',
        location: { path: '/MaterialInformation/MaterialLot[2]', line: 10, index: 1 },
        details: { lot: 'CMPLOT-BAD-9', expiry: '2025-02-01', manufacturedAt: '2026-02-01' },
      },
    ]);
    expect(await lotOf(t.db, 'CMP-LINER-4', 'CMPLOT-GOOD-8')).toMatchObject({ expiry: '2031-02-01' });
    expect(await lotOf(t.db, 'CMP-LINER-4', 'CMPLOT-BAD-9')).toBeUndefined();
  });

  it('rejects a produced lot id that collides with a lot of another material', async () => {
    const e = await rejected(b2mmlFixture('bad-produced-lot-collision.xml'));
    expect(e.code).toBe('LB_ERR_B2MML_LOT_COLLISION');
    expect(e.message).toContain('produced lot RAWLOT-A-7 of FG-KNEE-4 collides with existing lot RAWLOT-A-7 of material RAW-TI-ROD');
    expect(e.location).toMatchObject({ path: '/ProductionPerformance/ProductionResponse/SegmentResponse/MaterialActual[2]/MaterialLotID' });
    expect(await balancesOf(t.db, 'CMP-LINER-4', 'CMPLOT-A-3')).toEqual({ 'CMP-02/component': 500 });
  });

  it.each([
    ['a MaterialUse that is neither consumed nor produced', 'bad-material-use.xml', 'LB_ERR_B2MML_MATERIAL_USE', '/ProductionPerformance/ProductionResponse/SegmentResponse/MaterialActual/MaterialUse'],
  ])('rejects %s', async (_case, file, code, path) => {
    const e = await rejected(b2mmlFixture(file));
    expect(e.code).toBe(code);
    expect(e.location).toMatchObject({ path });
  });

  const lotDoc = (inner: string): string =>
    `<MaterialLot xmlns="http://www.mesa.org/xml/B2MML-V0600"><ID>L-X</ID><MaterialDefinitionID>CMP-LINER-4</MaterialDefinitionID>${inner}</MaterialLot>`;
  it.each([
    ['a quantity with a decimal comma', '<Quantity><QuantityString>12,5</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity>', 'LB_ERR_B2MML_QUANTITY', '/MaterialLot/Quantity/QuantityString'],
    ['a negative quantity', '<Quantity><QuantityString>-3</QuantityString></Quantity>', 'LB_ERR_B2MML_QUANTITY', '/MaterialLot/Quantity/QuantityString'],
    ['an expiry on 30 February', '<ExpirationDate>2029-02-30</ExpirationDate>', 'LB_ERR_B2MML_DATE', '/MaterialLot/ExpirationDate'],
    ['a status nobody maps', '<Status>Relased</Status>', 'LB_ERR_B2MML_STATUS', '/MaterialLot/Status'],
    ['a ReleaseOverride property without a reason', '<MaterialLotProperty><ID>ReleaseOverride</ID><Value><ValueString></ValueString></Value></MaterialLotProperty>', 'LB_ERR_B2MML_REQUIRED', '/MaterialLot/MaterialLotProperty'],
  ])('rejects a MaterialLot with %s', async (_case, inner, code, path) => {
    const e = await rejected(lotDoc(inner));
    expect(e.code).toBe(code);
    expect(e.location).toMatchObject({ path, index: 0 });
    expect(await t.db('lots').where({ lot_number: 'L-X' })).toEqual([]);
  });

  it('rejects a document with nothing to map, and a MaterialInformation whose every lot is bad', async () => {
    const e = await rejected('<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><ID>MI-EMPTY</ID></MaterialInformation>');
    expect(e.code).toBe('LB_ERR_B2MML_EMPTY');
    const all = await rejected('<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><ID>MI-ALL-BAD</ID><MaterialLot><ID>A</ID></MaterialLot><MaterialLot><ID>B</ID></MaterialLot></MaterialInformation>');
    expect(all.code).toBe('LB_ERR_B2MML_ALL_RECORDS_REJECTED');
    expect(all.details?.errors).toHaveLength(2);
  });

  it('lists a MaterialDefinition with a bad GTIN at its own index and path, and maps the rest', async () => {
    const r = await runB2mml(
      t.db,
      `<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><ID>MI-DEF-GTIN</ID>
        <MaterialDefinition><ID>CMP-SCREW-6</ID><Description>Bone screw 6.5 mm</Description></MaterialDefinition>
        <MaterialDefinition><ID>CMP-SCREW-7</ID><GTIN>04012345000031</GTIN></MaterialDefinition>
        <MaterialLot><ID>SCREW-LOT-1</ID><MaterialDefinitionID>CMP-SCREW-6</MaterialDefinitionID></MaterialLot></MaterialInformation>`,
    );
    const res = processed(r);
    expect(res.recordErrors).toEqual([expect.objectContaining({ code: 'LB_ERR_B2MML_REQUIRED', location: expect.objectContaining({ index: 1, path: '/MaterialInformation/MaterialDefinition[2]' }) })]);
    expect(await t.db('materials').where({ code: 'CMP-SCREW-6' }).first('description', 'provisional')).toEqual({ description: 'Bone screw 6.5 mm', provisional: false });
    expect(await lotOf(t.db, 'CMP-SCREW-6', 'SCREW-LOT-1')).toBeDefined();
  });

  it('rejects bytes that are not UTF-8 in a document that declares none', async () => {
    const body = Buffer.concat([Buffer.from('<MaterialLot xmlns="http://www.mesa.org/xml/B2MML">\n<ID>L-'), Buffer.from([0xe9]), Buffer.from('</ID></MaterialLot>')]);
    const e = await rejected(body);
    expect(e.code).toBe('LB_ERR_INGEST_ENCODING');
    expect(e.location).toMatchObject({ line: 2 });
  });
});

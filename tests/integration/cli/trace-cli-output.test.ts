import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type TestApi } from '../../helpers/api-app';
import { GenealogyFixture } from '../../helpers/genealogy-fixture';
import { fetchFullTrace, traceCsv, traceTree, type HubClient } from '../../../src/cli/trace.command';

/**
 * What `lotbridge trace forward|backward` builds from the API's pages (fetchFullTrace, traceTree,
 * traceCsv), against the real HTTP API: a trace too big for one page, and names a CSV must quote.
 */
describe('trace command output', () => {
  let t: TestDatabase;
  let api: TestApi;
  let client: HubClient;

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    client = { url: () => api.url, key: () => api.keys.operator };
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  it('takes the summary of the last page: a trace of 1,202 lots over two pages says 1,202 lots and complete', async () => {
    // R-BIG → 1,200 component lots (one level, more than the 1,000 lots walked ahead for the first
    // page's summary) → one of them into a finished lot at depth 2
    const g = new GenealogyFixture(t.db);
    await g.material('RAW-BIG', { kind: 'raw' });
    await g.material('CMP-BIG', { kind: 'component' });
    await g.material('FG-BIG');
    await g.lot('R', 'RAW-BIG', 'RB-1');
    await g.lot('F', 'FG-BIG', 'FB-1');
    const comps = Array.from({ length: 1200 }, (_, i) => ({ id: randomUUID(), material_id: g.materials.get('CMP-BIG'), lot_number: `CB-${String(i).padStart(4, '0')}`, status: 'released', source_message_id: g.messageId, ordinal: 100 + i }));
    await t.db('lots').insert(comps);
    await t.db('lot_links').insert(comps.map((c, i) => ({ input_lot_id: g.lots.get('R'), output_lot_id: c.id, quantity: 1, uom: 'EA', source_message_id: g.messageId, ordinal: 2000 + i })));
    await t.db('lot_links').insert({ input_lot_id: comps[0].id, output_lot_id: g.lots.get('F'), quantity: 1, uom: 'EA', source_message_id: g.messageId, ordinal: 5000 });

    const full = await fetchFullTrace(client, { material: 'RAW-BIG', lot: 'RB-1', maxRows: '100000' }, 'forward');
    expect(full.pages).toBe(2);
    expect(full.tables.lots).toHaveLength(1202);
    expect(full.summary).toEqual({ lots: 1202, links: 1201, maxDepth: 2, depthLimited: false, revisits: 0, complete: true });
    expect(traceTree(full).split('\n')[0]).toBe('forward trace: 1202 lot(s), 1201 link(s), depth 2');
  });

  it('writes names with commas, quotes and line breaks as quoted CSV cells that read back unchanged', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('FG-Q');
    await g.lot('L', 'FG-Q', 'Q,1');
    await g.party('CUST-Q', 'hospital', 'Klinik "Süd", Haus 2\nOP-Trakt', '4012345000047');
    await g.location('WH-Q', { name: 'Lager, Halle "B"' });
    await g.balance('L', 'WH-Q', 'finished', 2);
    await g.shipment('SQ-1', 'outbound', 'CUST-Q', 'delivered');
    await g.shipLine('SQ-1', 'L', 'FG-Q', 3);
    const full = await fetchFullTrace(client, { material: 'FG-Q', lot: 'Q,1', maxRows: '100000' }, 'forward');
    const rows = parseCsv(traceCsv(full));
    const head = rows[0];
    const ship = rows.find((r) => r[0] === 'shipment')!;
    const cell = (r: string[], c: string): string => r[head.indexOf(c)];
    expect([cell(ship, 'lot'), cell(ship, 'partyName'), cell(ship, 'party'), cell(ship, 'quantity')]).toEqual(['Q,1', 'Klinik "Süd", Haus 2\nOP-Trakt', '4012345000047', '3']);
    expect(rows.filter((r) => r[0] === 'lot').map((r) => cell(r, 'lot'))).toEqual(['Q,1']);
    expect(rows.every((r) => r.length === head.length)).toBe(true);
    // the tree keeps one line per entry: a line break in a name is printed as a space
    const tree = traceTree(full).split('\n');
    expect(tree).toContain('     · shipped 3 EA to Klinik "Süd", Haus 2 OP-Trakt (SQ-1, delivered)');
    expect(tree).toHaveLength(4); // header, lot, on hand, shipment
  });

  it('prints a serial without a lot as the tree\'s root with its own shipment and implant, the lot made of it below, and CSV rows at depth 0', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('FG-Z', { kind: 'implant' });
    await g.material('KIT-Z');
    await g.lot('KZ', 'KIT-Z', 'KZ-1');
    await g.party('CUST-Z', 'hospital', 'Klinik Nord', '4012345000054');
    await g.party('SUP-Z', 'supplier', 'Pumpenwerk AG', '4012345000061');
    await g.location('WH-Z', { name: 'Lager Z' });
    await g.location('OR-Z', { kind: 'operating_room', party: 'CUST-Z', name: 'Klinik Nord OP 2' });
    await g.serial('Z1', 'FG-Z', null, 'SN-Z1');
    await g.shipment('IN-Z', 'inbound', 'SUP-Z', 'received');
    await g.shipLine('IN-Z', null, 'FG-Z', 1, 'Z1');
    await g.shipment('SZ-1', 'outbound', 'CUST-Z', 'delivered', { from: 'WH-Z' });
    await g.shipLine('SZ-1', null, 'FG-Z', 1, 'Z1');
    await g.usage(null, 'FG-Z', 'OR-Z', 'CUST-Z', 1, '2026-04-02T10:45:00Z', { serial: 'Z1', procedureRef: 'hmac-proc-z1-0123456789' });
    await g.transformation([{ lot: null, material: 'FG-Z', quantity: 1, serial: 'Z1' }], [{ lot: 'KZ', material: 'KIT-Z', quantity: 1 }]);
    await g.balance('KZ', 'WH-Z', 'finished', 1);

    const fwd = await fetchFullTrace(client, { serial: 'SN-Z1', maxRows: '100000' }, 'forward');
    expect(traceTree(fwd).split('\n')).toEqual([
      'forward trace: 1 lot(s), 1 link(s), depth 1',
      'FG-Z / serial SN-Z1  [active]  (no lot)',
      '│    · shipped 1 EA to Klinik Nord (SZ-1, delivered) serial SN-Z1',
      '│    · used 1 EA at Klinik Nord 2026-04-02 procedure ref hmac-proc-z1…',
      '└─ KIT-Z / KZ-1  [released]  exp 2030-12-31',
      '        · on hand 1 EA at WH-Z (finished)',
    ]);
    const rows = parseCsv(traceCsv(fwd));
    const head = rows[0];
    const cells = (r: string[], ...cols: string[]): string[] => cols.map((c) => r[head.indexOf(c)]);
    expect(rows.slice(1).map((r) => cells(r, 'table', 'depth', 'material', 'lot', 'party', 'serial', 'quantity'))).toEqual([
      ['lot', '1', 'KIT-Z', 'KZ-1', '', '', ''],
      ['on_hand', '1', 'KIT-Z', 'KZ-1', '', '', '1'],
      ['shipment', '0', 'FG-Z', '', '4012345000054', 'SN-Z1', '1'],
      ['consumption', '0', 'FG-Z', '', '4012345000054', 'SN-Z1', '1'],
    ]);

    const back = await fetchFullTrace(client, { serial: 'SN-Z1', maxRows: '100000' }, 'backward');
    expect(traceTree(back).split('\n')).toEqual([
      'backward trace: 0 lot(s), 0 link(s), depth 0',
      'FG-Z / serial SN-Z1  [active]  (no lot)',
      '     · received 1 EA from Pumpenwerk AG (IN-Z, received) serial SN-Z1',
    ]);
  });
});

/** RFC 4180 CSV (CRLF rows, quoted cells with "" for a quote) into rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  return rows;
}

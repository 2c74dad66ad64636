import { prepareValue } from 'pg/lib/utils';
import { pgArrayLiteral, withArrayLiterals } from '../../../src/db/pg-array-literal';

/** What the pg driver itself sends for an array parameter. */
const driver = (values: unknown[]): unknown => prepareValue(values);

describe('pgArrayLiteral', () => {
  it('writes what the pg driver writes, character for character, for every kind of element', () => {
    const cases: unknown[][] = [
      [],
      ['0192f3a4-5b6c-7d8e-9f00-112233445566', null, '0192f3a4-5b6c-7d8e-9f00-112233445567'],
      ['', ' ', 'NULL', 'null', 'a,b', '{x}', 'say "hi"', 'back\\slash', '\\"', 'tab\there', 'line\nbreak', 'Müller^Zoë', '𝄞 emoji'],
      ['{"lot":"L-1","note":"a \\"quoted\\" \\\\ text","n":1.5,"u":"ü"}', JSON.stringify({ bizTransactions: [{ type: 'po', id: 'PO"7' }] })],
      [0, -1, 1.25, 1e21, Number.NaN, Number.POSITIVE_INFINITY, 12345678901234567890n, true, false],
      [new Date('2026-11-27T09:30:00.123Z'), null, new Date(0)],
      [Buffer.from([0, 1, 254, 255]), new Uint8Array([7, 8]), null],
      [{ a: 1, b: 'x"y' }, ['nested', null], [[1, 2], [3, 4]]],
      [{ toPostgres: () => 'custom \\ "value"' }],
    ];
    for (const values of cases) {
      expect(pgArrayLiteral(values)).toBe(driver(values));
    }
  });

  it('refuses undefined elements, as knex refuses undefined bindings, naming the element', () => {
    expect(() => pgArrayLiteral(['a', undefined])).toThrow('element 1 is undefined');
  });

  it('replaces only array bindings', () => {
    const d = new Date(0);
    const buf = Buffer.from('x');
    expect(withArrayLiterals([['a'], 'b', 3, null, d, buf])).toEqual(['{"a"}', 'b', 3, null, d, buf]);
  });
});

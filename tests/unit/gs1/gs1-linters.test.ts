import { gs1Linters } from '../../../src/gs1/gs1-linters';
import type { Gs1ImplementedLinterName } from '../../../src/gs1/ai-table.generated';

const ctx = { now: new Date('2026-03-01T00:00:00Z') };
const ok = (name: Gs1ImplementedLinterName, data: string): boolean => gs1Linters[name].lint(data, ctx) === undefined;

describe('gs1Linters', () => {
  it.each<[Gs1ImplementedLinterName, string[], string[]]>([
    ['csum', ['09506000134352', '106141412345678908', '96385074'], ['09506000134353', '1', '0950600013435X']],
    ['csumalpha', ['1987654Ad4X4bL5ttr2310c2K', '12345678901234567890123NT', '22'], ['1987654Ad4X4bL5ttr2310cXK', '33', '2']],
    ['gcppos1', ['0614', '1234ABC'], ['061', '06A4']],
    ['gcppos2', ['10614', '01234ABC'], ['1061', '106A4']],
    ['hasnondigit', ['123A'], ['1234']],
    ['hh', ['00', '23'], ['24', '1']],
    ['mi', ['00', '59'], ['60']],
    ['ss', ['59'], ['60']],
    ['hhmi', ['2359', '0000'], ['2400', '2360', '123']],
    ['hyphen', ['-'], ['+', '']],
    ['importeridx', ['A', 'z', '-', '_', '0'], ['#', 'AB']],
    ['iso5218', ['0', '1', '2', '9'], ['3']],
    ['latitude', ['1800000000', '0000000000'], ['1800000001', '123']],
    ['longitude', ['3600000000'], ['3600000001']],
    ['mediatype', ['01', '10', '80', '99'], ['00', '11', '79']],
    ['nonzero', ['0001'], ['0000']],
    ['nozeroprefix', ['1', '10'], ['01']],
    ['pcenc', ['abc', 'a%20b'], ['a%2', 'a%zz']],
    ['pieceoftotal', ['0102', '0202', '0510'], ['0201', '0002', '0100', '012']],
    ['posinseqslash', ['1/2', '2/2', '9/10'], ['3/2', '0/2', '1/02', '12', '/2']],
    ['winding', ['0', '1', '9'], ['2']],
    ['yesno', ['0', '1'], ['2']],
    ['zero', ['0'], ['1']],
    ['yymmd0', ['260200', '280229', '261231'], ['260229', '261301', '260132']],
    ['yymmdd', ['260228'], ['260200', '260230']],
    ['yyyymmdd', ['20240229', '20000229'], ['21000229', '20241300', '20240100']],
  ])('%s accepts %j and rejects %j', (name, good, bad) => {
    for (const g of good) expect([g, ok(name, g)]).toEqual([g, true]);
    for (const b of bad) expect([b, ok(name, b)]).toEqual([b, false]);
  });

  it('raises check-digit, date and invalid-value codes as the linter kind says', () => {
    expect(gs1Linters.csum.code).toBe('LB_ERR_GS1_CHECK_DIGIT');
    expect(gs1Linters.yymmd0.code).toBe('LB_ERR_GS1_DATE');
    expect(gs1Linters.pieceoftotal.code).toBe('LB_ERR_GS1_INVALID_VALUE');
  });
});

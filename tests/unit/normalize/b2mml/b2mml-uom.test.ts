import { canonicalUom, uomFactor } from '../../../../src/normalize/b2mml/b2mml-uom';

describe('B2MML units of measure', () => {
  it.each([
    ['KG', 'KG', 1],
    ['GRM', 'KG', 0.001],
    ['KGM', 'G', 1000],
    ['PCE', 'EA', 1],
    ['C62', 'EA', 1],
    ['ML', 'L', 0.001],
    ['CMT', 'MM', 10],
    ['box', 'BOX', 1],
  ])('converts %s to %s by %s', (from, to, f) => {
    expect(uomFactor(from, to)).toBeCloseTo(f, 12);
  });

  it.each([
    ['KG', 'EA'],
    ['L', 'KG'],
    ['BOX', 'EA'],
  ])('does not convert %s to %s', (from, to) => {
    expect(uomFactor(from, to)).toBeUndefined();
  });

  it('names units canonically', () => {
    expect(canonicalUom(' kgm ')).toBe('KG');
    expect(canonicalUom('PCE')).toBe('EA');
    expect(canonicalUom('Box')).toBe('BOX');
  });
});

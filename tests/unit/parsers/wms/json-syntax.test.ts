import { findJsonSyntaxError, topLevelArrayElementOffsets } from '../../../../src/parsers/wms';

describe('findJsonSyntaxError', () => {
  it.each([
    ['{"a":1}', undefined],
    ['[1, -2.5e3, "x\\u00e9", true, false, null, {"b": []}]', undefined],
    ['{"a": ', 6],
    ['{"a" 1}', 5],
    ['[1,2,]', 5],
    ['{"a":1,}', 7],
    ['{"a":1}}', 7],
    ['{"a": tru}', 6],
    ['{"a": 01}', 7],
    ['{"a": "x\ny"}', 8],
    ['{"a": "never closed', 6],
    ["{'a': 1}", 1],
    ['{"a": -}', 7],
  ])('finds the first error of %j at offset %p', (text, offset) => {
    const p = findJsonSyntaxError(text);
    expect(p?.offset).toBe(offset);
    if (offset !== undefined) {
      expect(() => JSON.parse(text)).toThrow();
    }
  });

  it('does not overflow the stack on deeply nested input', () => {
    expect(findJsonSyntaxError('['.repeat(200000))?.message).toMatch(/expected a value but found the end/);
  });
});

describe('topLevelArrayElementOffsets', () => {
  it('finds where each element of the top-level array starts, skipping strings and nested values', () => {
    const text = '[ {"a":"],["} ,\n [1,[2]], "x" ,3]';
    expect(topLevelArrayElementOffsets(text).map((o) => text[o])).toEqual(['{', '[', '"', '3']);
    expect(topLevelArrayElementOffsets('[]')).toEqual([]);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { allErrorCodes, errorCatalog } from '../../../src/errors/codes';
import { LotBridgeError, classifyError } from '../../../src/errors/lotbridge-error';

const doc = fs.readFileSync(path.join(__dirname, '../../../docs/errors.md'), 'utf8');
/** Rows of the table in docs/errors.md: | `LB_ERR_…` | kind | http | meaning | fix | */
const documented = new Map(
  [...doc.matchAll(/^\|\s*`(LB_ERR_[A-Z0-9_]+)`\s*\|\s*(\w+)\s*\|\s*(\d{3})\s*\|([^|]*)\|([^|]*)\|/gm)].map((m) => [m[1], { kind: m[2], http: Number(m[3]), meaning: m[4].trim(), fix: m[5].trim() }]),
);

describe('error-code catalog', () => {
  it('documents every code in docs/errors.md with the same kind and HTTP status, and a fix', () => {
    for (const code of allErrorCodes) {
      const row = documented.get(code);
      expect({ code, documented: Boolean(row) }).toEqual({ code, documented: true });
      expect({ code, kind: row!.kind, http: row!.http }).toEqual({ code, kind: errorCatalog[code].kind, http: errorCatalog[code].http });
      expect(row!.fix.length).toBeGreaterThan(10);
    }
  });

  it('documents no code that the catalog does not have', () => {
    const extra = [...documented.keys()].filter((c) => !(c in errorCatalog));
    expect(extra).toEqual([]);
  });

  it('names every code LB_ERR_<AREA>[_<WHAT>]', () => {
    for (const code of allErrorCodes) {
      expect(code).toMatch(/^LB_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    }
  });

  it('classifies errors by who must act', () => {
    expect(classifyError(new LotBridgeError('LB_ERR_WMS_QUANTITY', 'x'))).toBe('input');
    expect(classifyError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe('transient');
    expect(classifyError(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe('transient');
    expect(classifyError(new TypeError('cannot read properties of undefined'))).toBe('defect');
  });
});

/**
 * hl7-standard 1.0.4 against our parser. Where hl7-standard is correct (standard delimiters,
 * no escapes, one terminator style) it is an independent oracle: every value must agree. The
 * second block records, as measurements, the gaps that made us write our own segment splitter
 * (docs/connectors/hl7-parsing.md); if an upgrade closes one, its test fails and the decision
 * can be revisited.
 */
import HL7 from 'hl7-standard';
import { parseHl7Message } from '../../../../src/parsers/hl7';
import { fixture } from './hl7-test-helpers';

/** hl7-standard's value of one component (subcomponents joined with &), undefined when empty. */
function theirs(h: HL7, name: string, occurrence: number, field: number, component: number, repetition: number): string | undefined {
  const v = h.get(`${name}.${field}.${component}`, occurrence - 1, repetition - 1);
  if (Array.isArray(v)) {
    return v.join('&') || undefined;
  }
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const PLAIN_FIXTURES = ['dft-p03-v282-ft1-prt-udi.hl7', 'dft-p03-v251-obx-zsu.hl7', 'oms-o05-orc-rqd.hl7', 'mfn-m16-itm-ivt-ilt.hl7', 'adt-a01.hl7', 'adt-a01-lf-line-ends.hl7', 'adt-a01-crlf-line-ends.hl7'];

describe('hl7-standard 1.0.4 as an oracle on plain messages', () => {
  it.each(PLAIN_FIXTURES)('agrees with our parser on every field, repetition and component of %s', (name) => {
    const text = fixture(name);
    const ours = parseHl7Message(text);
    const h = new HL7(text);
    h.transform();
    expect(h.getSegments().sort((a, b) => a.index - b.index).map((s) => s.type)).toEqual(ours.segments.map((s) => s.name));
    let compared = 0;
    for (const seg of ours.segments) {
      for (let f = seg.name === 'MSH' ? 3 : 1; f <= seg.fieldCount; f++) {
        seg.field(f).forEach((rep, r) => {
          rep.forEach((comp, c) => {
            const mine = comp.join('&') || undefined;
            expect({ at: `${seg.name}[${seg.occurrence}]-${f}(${r + 1}).${c + 1}`, value: theirs(h, seg.name, seg.occurrence, f, c + 1, r + 1) }).toEqual({
              at: `${seg.name}[${seg.occurrence}]-${f}(${r + 1}).${c + 1}`,
              value: mine,
            });
            compared += 1;
          });
        });
      }
    }
    expect(compared).toBeGreaterThan(20);
  });

  it('splits the batch fixture into the same three messages', () => {
    const h = new HL7(fixture('batch-fhs-bhs-3-messages.hl7'));
    h.transform();
    expect(h.container.map((m) => m.get('MSH.10'))).toEqual(['B-0001', 'B-0002', 'B-0003']);
  });
});

describe('hl7-standard 1.0.4 gaps our layer closes (measured)', () => {
  const transformed = (text: string): HL7 => {
    const h = new HL7(text);
    h.transform();
    return h;
  };

  it('does not decode escape sequences', () => {
    const text = fixture('adt-a08-escaped-delimiters.hl7');
    expect(transformed(text).get('PID.5.1')).toBe('O\\E\\Brien\\S\\Jr');
    expect(parseHl7Message(text).get('PID', 1, 5)).toBe('O\\Brien^Jr');
  });

  it('ignores MSH-1/MSH-2: a custom-delimiter message comes back as one wrong segment', () => {
    const text = fixture('dft-p03-custom-delimiters.hl7');
    expect(Object.keys(transformed(text).transformed)).toEqual(['FT1']);
    expect(parseHl7Message(text).segments).toHaveLength(5);
  });

  it('refuses MLLP framing', () => {
    expect(() => transformed(fixture('adt-a01-mllp-framed.hl7', 'latin1'))).toThrow('Expected raw data to be HL7');
  });

  it('merges a segment ended by the minority terminator into the one before when CR and LF are mixed', () => {
    const mixed = fixture('adt-a01.hl7').replace('\rPV1', '\nPV1');
    expect(Object.keys(transformed(mixed).transformed)).toEqual(['MSH', 'EVN', 'PID']);
    expect(parseHl7Message(mixed).segment('PV1')?.get(19)).toBe('V-998877');
  });

  it('silently drops a truncated segment and a segment without fields, and reads no error from a short MSH', () => {
    expect(Object.keys(transformed(fixture('dft-p03-truncated-segment.hl7')).transformed)).toEqual(['MSH', 'EVN', 'PID', 'FT1', 'PRT']);
    expect(Object.keys(transformed(`${fixture('adt-a01.hl7')}ZSU\r`).transformed)).not.toContain('ZSU');
    expect(transformed(fixture('msh-short.hl7')).get('MSH.10')).toBeNull();
  });

  it('reads a field with subcomponents but no components as repetitions', () => {
    const h = transformed('MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rZLT|LOT-1&LOT-2\r');
    expect(h.transformed.ZLT[0].data['ZLT.1']).toEqual(['LOT-1', 'LOT-2']);
    expect(parseHl7Message('MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rZLT|LOT-1&LOT-2\r').segment('ZLT')?.field(1)).toEqual([[['LOT-1', 'LOT-2']]]);
  });
});

import { readMsh } from '../../../../src/parsers/hl7';
import { fixture } from './hl7-test-helpers';

describe('readMsh', () => {
  it('reads every header field the connector needs', () => {
    const h = readMsh(fixture('dft-p03-v282-ft1-prt-udi.hl7'));
    expect(h).toMatchObject({
      found: true,
      delimitersRead: true,
      sendingApplication: 'ORIS',
      sendingFacility: 'STMARY',
      receivingApplication: 'LOTBRIDGE',
      receivingFacility: 'MEDTECH',
      dateTime: '20260315143012+0100',
      messageType: 'DFT',
      triggerEvent: 'P03',
      messageStructure: 'DFT_P03',
      controlId: 'ORIS-20260315-000417',
      processingId: 'P',
      version: '2.8.2',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      charset: 'UNICODE UTF-8',
      line: 1,
    });
    expect(h.error).toBeUndefined();
    expect(h.rawFields[4]).toBe('STMARY^1.2.276.0.76.3.1.999.1^ISO');
  });

  it('reads through MLLP framing and custom delimiters', () => {
    expect(readMsh(fixture('adt-a01-mllp-framed.hl7', 'latin1'))).toMatchObject({ controlId: 'HIS-A01-77812', version: '2.5' });
    expect(readMsh(fixture('dft-p03-custom-delimiters.hl7'))).toMatchObject({ delimiters: { field: '#', component: '$' }, triggerEvent: 'P03', controlId: 'ORIS-CUSTOM-0001' });
    // a cut MLLP block still gives its header
    expect(readMsh(fixture('adt-a01-mllp-framed.hl7', 'latin1').slice(0, -2))).toMatchObject({ controlId: 'HIS-A01-77812' });
  });

  it('returns what a short MSH has and the error', () => {
    const h = readMsh(fixture('msh-short.hl7'));
    expect(h).toMatchObject({ found: true, delimitersRead: true });
    expect(h.controlId).toBeUndefined();
    expect(h.error?.code).toBe('LB_ERR_HL7_REQUIRED_FIELD');
    const partial = readMsh('MSH|^~\\&|HIS|STMARY|LOTBRIDGE||20260301||ADT^A01|CTRL-9\r');
    expect(partial).toMatchObject({ sendingApplication: 'HIS', controlId: 'CTRL-9', triggerEvent: 'A01' });
    expect(partial.error?.message).toBe('MSH is short (it ends after field 10): MSH-11 (processing id), MSH-12 (version id) are missing (segment MSH, field 11, line 1)');
  });

  it('returns defaults and LB_ERR_HL7_MSH_MISSING without MSH', () => {
    const h = readMsh(fixture('missing-msh.hl7'));
    expect(h).toMatchObject({ found: false, delimitersRead: false, rawFields: [] });
    expect(h.delimiters.field).toBe('|');
    expect(h.error?.code).toBe('LB_ERR_HL7_MSH_MISSING');
  });

  it('still reads fields when the encoding characters are unusable', () => {
    const h = readMsh('MSH|^~|HIS|STMARY|LB|MT|20260301||ADT^A01|C-1|P|2.5\r');
    expect(h.error?.code).toBe('LB_ERR_HL7_ENCODING_CHARACTERS');
    expect(h).toMatchObject({ delimitersRead: false, controlId: 'C-1', version: '2.5' });
  });

  it('finds the first MSH of a batch file', () => {
    expect(readMsh(fixture('batch-fhs-bhs-3-messages.hl7'))).toMatchObject({ controlId: 'B-0001', line: 3 });
  });
});

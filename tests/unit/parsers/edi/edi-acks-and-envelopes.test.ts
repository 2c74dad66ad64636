import { ediFixture } from '../../../helpers/edi';
import { readEdifactMessage } from '../../../../src/parsers/edifact/edifact-read';
import { buildContrl } from '../../../../src/parsers/edifact/edifact-contrl';
import { readX12Message } from '../../../../src/parsers/x12/x12-read';
import { buildX12Ack } from '../../../../src/parsers/x12/x12-ack';

const now = new Date('2026-03-06T09:00:00Z');
const lines = (raw: string, term: string, el: string): string[][] =>
  raw.split(term).map((s) => s.replace(/^[\r\n]+/, '')).filter((s) => s.length > 0).map((s) => s.split(el));

describe('EDIFACT DTM format 718 (date range CCYYMMDD-CCYYMMDD)', () => {
  it('a DESADV with a delivery window DTM+2:…:718 is read, not rejected; the window start is the expected date', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-delivery-window-718.edi'));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic.messages[0].issues.map((i) => i.error.message)).toEqual([]);
    expect(r.messages[0].doc).toMatchObject({ kind: 'asn', asnNumber: 'DES-77131', expectedAt: '2026-03-09' });
  });

  it('an impossible date inside a 718 range is still LB_ERR_EDIFACT_DATE at DTM C507 component 2', () => {
    const bad = Buffer.from(ediFixture('edifact', 'desadv-delivery-window-718.edi').toString('latin1').replace('20260311:718', '20260345:718'), 'latin1');
    const r = readEdifactMessage(bad);
    const issue = r.ic.messages[0].issues[0];
    expect(issue.error.code).toBe('LB_ERR_EDIFACT_DATE');
    expect(issue.note).toEqual({ tag: 'DTM', position: 4, code: '12', element: { position: 1, component: 2 } });
  });
});

describe('EDIFACT UNG groups', () => {
  it('a wrong UNE count rejects the messages of its own group only, not those of the next group', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-two-groups-first-une-count-wrong.edi'));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic.messages.map((m) => [m.ref, m.issues.map((i) => i.code)])).toEqual([['1', ['29']], ['2', []]]);
    expect(r.messages[1].doc).toMatchObject({ kind: 'asn', asnNumber: 'DES-77133' });
  });

  it('the CONTRL of a grouped interchange reports each group with UCF and its messages under it', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-two-groups-first-une-count-wrong.edi'));
    const ack = buildContrl(r.ic, { controlRef: 42, now });
    const segs = lines(ack.raw, "'", '+').map((s) => s.join('+'));
    expect(segs.slice(segs.findIndex((s) => s.startsWith('UCI')), -2)).toEqual([
      'UCI+DSP00032+4012345000009:14+0614141000012:14+7',
      'UCF+G0001+4012345000009:14+0614141000012:14+4+29+UNE+1',
      'UCM+1+DESADV:D:96A:UN:EAN005+4+29',
      'UCF+G0002+4012345000009:14+0614141000012:14+7',
      'UCM+2+DESADV:D:96A:UN:EAN005+7',
    ]);
    expect(ack.status).toBe('partial');
    const unh = segs.findIndex((s) => s.startsWith('UNH'));
    const untAt = segs.findIndex((s) => s.startsWith('UNT'));
    expect(segs[untAt]).toBe(`UNT+${untAt - unh + 1}+1`);
  });
});

describe('X12 997 AK9 counts', () => {
  it('AK902 repeats the GE01 count the partner sent, AK903 the sets received (GE01 3, one set: AK9*R*3*1*0*5)', () => {
    const r = readX12Message(ediFixture('x12', '856-ge-count-says-three.x12'));
    expect(r.ic.envelopeError).toBeUndefined();
    const ack = buildX12Ack(r.ic, { type: '997', interchangeControlNumber: 7, groupControlNumber: 8, now });
    expect(lines(ack.raw, '~', '*').find((s) => s[0] === 'AK9')).toEqual(['AK9', 'R', '3', '1', '0', '5']);
  });
});

describe('X12 ISA fixed widths', () => {
  it('an ISA06 one character short and an ISA08 one long (106 characters in all) is LB_ERR_X12_ISA_LENGTH naming ISA06, TA1 022', () => {
    const r = readX12Message(ediFixture('x12', '856-isa-sender-short-receiver-long.x12'));
    expect(r.ic.envelopeError?.ta1).toBe('022');
    expect(r.ic.envelopeError?.error).toMatchObject({ code: 'LB_ERR_X12_ISA_LENGTH', location: { segment: 'ISA', field: 'ISA06' } });
    const ack = buildX12Ack(r.ic, { type: '997', interchangeControlNumber: 7, groupControlNumber: 8, now });
    expect(lines(ack.raw, '~', '*').find((s) => s[0] === 'TA1')).toEqual(['TA1', '000005015', '260305', '1410', 'R', '022']);
  });
});

describe('EDIFACT ISO 9735 syntax error codes', () => {
  it('a segment between UNT and the next UNH is code 33 (invalid occurrence outside message), not 14', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-stray-segment-between-messages.edi'));
    expect(r.ic.envelopeError).toMatchObject({ code: '33', tag: 'FTX' });
    const uci = lines(buildContrl(r.ic, { controlRef: 43, now }).raw, "'", '+').find((s) => s[0] === 'UCI');
    expect(uci).toEqual(['UCI', 'DSP00033', '4012345000009:14', '0614141000012:14', '4', '33', 'FTX']);
  });

  it('a second message with the same UNH 0062 reference in one interchange is rejected with 26 (duplicate detected)', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-two-messages-same-reference.edi'));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic.messages.map((m) => m.issues.map((i) => i.code))).toEqual([[], ['26']]);
    expect(r.ic.messages[1].issues[0].error).toMatchObject({ code: 'LB_ERR_EDIFACT_UNT_MISMATCH', location: { segment: 'UNH', field: '0062' } });
    const segs = lines(buildContrl(r.ic, { controlRef: 44, now }).raw, "'", '+').map((s) => s.join('+'));
    expect(segs.filter((s) => /^(UCI|UCM|UCS|UCD)/.test(s))).toEqual([
      'UCI+DSP00034+4012345000009:14+0614141000012:14+7',
      'UCM+1+DESADV:D:96A:UN:EAN005+7',
      'UCM+1+DESADV:D:96A:UN:EAN005+4+26',
      'UCS+1',
      'UCD+26+1',
    ]);
  });
});

describe('X12 DTM with DTM05/DTM06 (R020305: DTM02, DTM03 or DTM05 is required, not DTM02 alone)', () => {
  it('an 856 with a delivery window DTM*067****RD8*… and an expiry DTM*036****D8*… is read, not rejected as "DTM02 empty"', () => {
    const r = readX12Message(ediFixture('x12', '856-dtm05-rd8-window-d8-expiry.x12'));
    expect(r.sets[0].set.issues.map((i) => i.error.message)).toEqual([]);
    expect(r.sets[0].doc).toMatchObject({ kind: 'asn', asnNumber: 'ASN-20260220-RD8', expectedAt: '2026-02-23', items: [expect.objectContaining({ lot: 'DR-2402', expiry: '2026-02-28' })] });
  });

  it('a bad date in DTM06 is LB_ERR_X12_DATE with AK4 at element 6 (code 8)', () => {
    const bad = Buffer.from(ediFixture('x12', '856-dtm05-rd8-window-d8-expiry.x12').toString('latin1').replace('D8*20260228', 'D8*20260230'), 'latin1');
    const r = readX12Message(bad);
    const issue = r.sets[0].set.issues[0];
    expect(issue.error).toMatchObject({ code: 'LB_ERR_X12_DATE', location: { segment: 'DTM', field: 'DTM06' } });
    expect(issue.segment).toEqual({ segmentId: 'DTM', position: 12, code: '8', elements: [{ position: 6, code: '8', value: '20260230' }] });
  });
});

describe('EDIFACT UNG without UNE', () => {
  it('a group closed by the next UNG instead of its UNE is named (LB_ERR_EDIFACT_TRUNCATED, UCF 4 13 UNE), not reported as a wrong UNZ count', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-two-groups-first-une-missing.edi'));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic.messages.map((m) => [m.ref, m.issues.map((i) => i.code)])).toEqual([['1', ['13']], ['2', []]]);
    expect(r.ic.messages[0].issues[0].error).toMatchObject({ code: 'LB_ERR_EDIFACT_TRUNCATED', message: expect.stringContaining('G0001') });
    const segs = lines(buildContrl(r.ic, { controlRef: 45, now }).raw, "'", '+').map((s) => s.join('+'));
    expect(segs.filter((s) => /^(UCI|UCF|UCM)/.test(s))).toEqual([
      'UCI+DSP00035+4012345000009:14+0614141000012:14+7',
      'UCF+G0001+4012345000009:14+0614141000012:14+4+13+UNE',
      'UCM+1+DESADV:D:96A:UN:EAN005+4+13',
      'UCF+G0002+4012345000009:14+0614141000012:14+7',
      'UCM+2+DESADV:D:96A:UN:EAN005+7',
    ]);
  });
});

describe('EDIFACT groups and messages mixed', () => {
  it('a message outside any UNG group in an interchange that uses groups is UCI 4 with code 30 (groups and messages mixed) at its UNH', () => {
    const r = readEdifactMessage(ediFixture('edifact', 'desadv-group-and-loose-message-mixed.edi'));
    expect(r.ic.envelopeError).toMatchObject({ code: '30', tag: 'UNH' });
    const uci = lines(buildContrl(r.ic, { controlRef: 46, now }).raw, "'", '+').find((s) => s[0] === 'UCI');
    expect(uci).toEqual(['UCI', 'DSP00036', '4012345000009:14', '0614141000012:14', '4', '30', 'UNH']);
  });
});

import { parseHl7Message, splitHl7Batch } from '../../../../src/parsers/hl7';
import { fixture, thrown } from './hl7-test-helpers';

describe('splitHl7Batch', () => {
  it('splits FHS/BHS/3×MSH/BTS/FTS into three messages with their line and segment offsets', () => {
    const batch = splitHl7Batch(fixture('batch-fhs-bhs-3-messages.hl7'));
    expect(batch.errors).toEqual([]);
    expect(batch.messages.map((m) => ({ firstLine: m.firstLine, firstSegment: m.firstSegment, segmentCount: m.segmentCount, batch: m.batch }))).toEqual([
      { firstLine: 3, firstSegment: 3, segmentCount: 3, batch: 1 },
      { firstLine: 6, firstSegment: 6, segmentCount: 3, batch: 1 },
      { firstLine: 9, firstSegment: 9, segmentCount: 4, batch: 1 },
    ]);
    const parsed = batch.messages.map((m) => parseHl7Message(m.text, { firstLine: m.firstLine }));
    expect(parsed.map((p) => [p.header.controlId, `${p.header.messageType}^${p.header.triggerEvent}`, p.get('PID', 1, 5)])).toEqual([
      ['B-0001', 'ADT^A01', 'Eins'],
      ['B-0002', 'ADT^A08', 'Zwei'],
      ['B-0003', 'DFT^P03', 'Drei'],
    ]);
    // segment indexes are the message's own, lines the file's
    expect(parsed[2].segment('FT1')?.location(10)).toMatchObject({ segmentIndex: 4, line: 12, path: 'FT1[1]-10' });
    expect(batch.messages[0].text).toBe('MSH|^~\\&|HIS|STMARY|LOTBRIDGE|MEDTECH|20260302231000||ADT^A01^ADT_A01|B-0001|P|2.5\rEVN|A01|20260302231000\rPID|1||P1001^^^STMARY^MR||Eins^Anna');
    expect([batch.fileHeader?.get(11), batch.batchHeaders.map((b) => b.get(11)), batch.batchTrailers.map((b) => b.get(1)), batch.fileTrailer?.get(1)]).toEqual([
      'FILE-0303',
      ['BATCH-0303-1'],
      ['3'],
      '1',
    ]);
  });

  it('works with LF terminators and keeps them in the message texts', () => {
    const batch = splitHl7Batch(fixture('batch-fhs-bhs-3-messages.hl7').replace(/\r/g, '\n'));
    expect(batch.messages.map((m) => m.firstLine)).toEqual([3, 6, 9]);
    expect(batch.messages[1].text.split('\n')).toHaveLength(3);
  });

  it('reports count mismatches and unclosed envelopes but still splits (LB_ERR_HL7_BATCH)', () => {
    const text = fixture('batch-fhs-bhs-3-messages.hl7').replace('BTS|3', 'BTS|4').replace('FTS|1\r', '');
    const batch = splitHl7Batch(text);
    expect(batch.messages).toHaveLength(3);
    expect(batch.errors.map((e) => [e.code, e.message, e.location?.path])).toEqual([
      ['LB_ERR_HL7_BATCH', 'BTS-1 says 4 but batch 1 holds 3 messages (segment BTS, field 1, line 13)', 'BTS[1]-1'],
      ['LB_ERR_HL7_BATCH', 'the file header FHS has no FTS trailer: the file may be cut short (segment FHS, line 1)', 'FHS[1]'],
    ]);
    const unclosed = splitHl7Batch(fixture('batch-fhs-bhs-3-messages.hl7').replace('BTS|3\r', ''));
    expect(unclosed.errors.map((e) => e.message)).toEqual(['batch 1 is not closed by a BTS (segment BHS, line 2)']);
  });

  it('gives a single message for a text without envelope, and refuses a text without MSH', () => {
    const single = splitHl7Batch(fixture('adt-a01.hl7'));
    expect(single.messages.map((m) => [m.firstLine, m.segmentCount, m.batch])).toEqual([[1, 4, 0]]);
    expect(single.errors).toEqual([]);
    expect(thrown(() => splitHl7Batch(fixture('missing-msh.hl7'))).code).toBe('LB_ERR_HL7_MSH_MISSING');
    const stray = splitHl7Batch(`EVN|A01\r${fixture('adt-a01.hl7')}`);
    expect(stray.errors.map((e) => e.message)).toEqual(['line 1 ("EVN") stands outside any message: messages start with MSH (segment EVN, line 1)']);
  });
});

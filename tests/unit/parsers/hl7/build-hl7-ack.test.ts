import { LotBridgeError } from '../../../../src/errors';
import {
  buildHl7Ack,
  checkHl7MessageType,
  checkHl7Version,
  hl7AckRequested,
  parseHl7Message,
  readHl7DateTime,
  readMsh,
  type BuildHl7AckOptions,
} from '../../../../src/parsers/hl7';
import { fixture, thrown } from './hl7-test-helpers';

const NOW = new Date('2026-04-02T07:16:00Z');
const base: Omit<BuildHl7AckOptions, 'inbound'> = { controlId: 'LB-ACK-1', now: NOW };
const lines = (text: string): string[] => text.split('\r');

function badDateError(text = fixture('dft-p03-bad-date-2024-13-45.hl7')): LotBridgeError {
  const msg = parseHl7Message(text);
  return thrown(() => readHl7DateTime(msg.segment('PRT', 2)!, 18, { zone: 'Europe/Berlin' }));
}

describe('buildHl7Ack: original mode', () => {
  it('answers AA with swapped applications, MSH-9 ACK^<trigger>^ACK, a new control id and the inbound MSH-10 in MSA-2', () => {
    const ack = buildHl7Ack({ ...base, inbound: parseHl7Message(fixture('dft-p03-v251-obx-zsu.hl7')), timeZone: 'Europe/Berlin' });
    expect(ack.text).toBe('MSH|^~\\&|LOTBRIDGE|MEDTECH|SUPPLYTRK|CITYHOSP|20260402091600+0200||ACK^P03^ACK|LB-ACK-1|P|2.5.1\rMSA|AA|ST-88121\r');
    expect([ack.code, ack.mode, ack.controlId, ack.version]).toEqual(['AA', 'original', 'LB-ACK-1', '2.5.1']);
  });

  it('copies HD components of applications and facilities as written, and MSH-18', () => {
    const inbound = fixture('dft-p03-v282-ft1-prt-udi.hl7').replace('|AL|NE|', '|||');
    const msh = lines(buildHl7Ack({ ...base, inbound }).text)[0];
    expect(msh).toBe('MSH|^~\\&|LOTBRIDGE|MEDTECH^4012345000009^GLN|ORIS^Surgery^L|STMARY^1.2.276.0.76.3.1.999.1^ISO|20260402071600+0000||ACK^P03^ACK|LB-ACK-1|P|2.8.2||||||UNICODE UTF-8');
  });

  it('answers AE with a v2.5+ ERR: ERR-2 location, ERR-3 table 0357 code, ERR-4 severity, ERR-5 and ERR-8 with our code', () => {
    const err = badDateError();
    const ack = buildHl7Ack({ ...base, inbound: fixture('dft-p03-bad-date-2024-13-45.hl7'), errors: [err] });
    expect(ack.code).toBe('AE');
    expect(lines(ack.text).slice(1)).toEqual([
      'MSA|AE|ORIS-20260315-000418',
      'ERR||PRT^2^18|102^Data type error^HL70357|E|LB_ERR_HL7_DATE^^99LB|||LB_ERR_HL7_DATE: PRT-18 "2024-13-45" is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) (segment PRT #2, field 18, line 7)',
      '',
    ]);
    // the ERR reads back to the same values
    const back = parseHl7Message(ack.text);
    expect([back.get('ERR', 1, 2), back.get('ERR', 1, 2, 2), back.get('ERR', 1, 2, 3), back.get('ERR', 1, 3), back.get('ERR', 1, 8)]).toEqual([
      'PRT',
      '2',
      '18',
      '102',
      `LB_ERR_HL7_DATE: ${err.message}`,
    ]);
  });

  it('writes ERL repetition, component and subcomponent, and one ERR per problem', () => {
    const ack = buildHl7Ack({
      ...base,
      inbound: fixture('adt-a01.hl7'),
      errors: [
        { code: 'LB_ERR_GS1_CHECK_DIGIT', message: 'GTIN 04012345000116 has a wrong check digit', location: { segment: 'PID', occurrence: 1, field: '3', repetition: 2, component: 4, subcomponent: 2 } },
        { hl7Code: 101, severity: 'W', message: 'PV1-44 admit time is empty', location: { segment: 'PV1', field: '44' } },
      ],
    });
    expect(lines(ack.text).slice(1, 4)).toEqual([
      'MSA|AE|HIS-A01-77812',
      'ERR||PID^1^3^2^4^2|102^Data type error^HL70357|E|LB_ERR_GS1_CHECK_DIGIT^^99LB|||LB_ERR_GS1_CHECK_DIGIT: GTIN 04012345000116 has a wrong check digit',
      'ERR||PV1^1^44|101^Required field missing^HL70357|W||||PV1-44 admit time is empty',
    ]);
  });

  it('escapes ERR and MSA text with the message delimiters', () => {
    const header = parseHl7Message(fixture('dft-p03-v282-ft1-prt-udi.hl7')).header;
    const err = thrown(() => checkHl7MessageType(header, ['OMS^O05']));
    const ack = buildHl7Ack({ ...base, inbound: fixture('dft-p03-v251-obx-zsu.hl7'), errors: [err], text: 'see ERR | C:\\temp & more' });
    const [, msa, errSeg] = lines(ack.text);
    expect(msa).toBe('MSA|AR|ST-88121|see ERR \\F\\ C:\\E\\temp \\T\\ more');
    expect(errSeg).toBe(
      'ERR||MSH^1^9|200^Unsupported message type^HL70357|E|LB_ERR_HL7_MESSAGE_TYPE^^99LB|||LB_ERR_HL7_MESSAGE_TYPE: MSH-9 "DFT\\S\\P03" is not a supported message type (OMS\\S\\O05) (segment MSH, field 9, line 1)',
    );
  });

  it('writes ERR-1 (segment^sequence^field^code as CE in subcomponents) and MSA-3 for v2.4 and older', () => {
    const v24 = fixture('dft-p03-bad-date-2024-13-45.hl7').replace('|P|2.8.2', '|P|2.4');
    const ack = buildHl7Ack({ ...base, inbound: v24, errors: [badDateError(v24)] });
    const [msh, msa, errSeg] = lines(ack.text);
    expect(msh).toContain('|ACK^P03^ACK|LB-ACK-1|P|2.4');
    // MSA-3 is ST of 80 characters before v2.5: the text is cut there
    const msa3 = msa.split('|')[3];
    expect([msa3.length, msa3.startsWith('LB_ERR_HL7_DATE: PRT-18 "2024-13-45" is not an HL7 date/time'), msa3.endsWith('...')]).toEqual([80, true, true]);
    expect(errSeg).toBe(
      'ERR|PRT^2^18^102&Data type error&HL70357&LB_ERR_HL7_DATE&PRT-18 "2024-13-45" is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) (segment PRT #2, field 18, line 7)&99LB',
    );
    const back = parseHl7Message(ack.text);
    expect([back.get('ERR', 1, 1, 1), back.get('ERR', 1, 1, 4, 1), back.get('ERR', 1, 1, 4, 4)]).toEqual(['PRT', '102', 'LB_ERR_HL7_DATE']);
  });

  it('puts several problems in ERR-1 repetitions before v2.5, and uses the MSH-9 form of the version', () => {
    const v23 = fixture('adt-a01.hl7').replace('|P|2.5', '|P|2.3');
    const ack = buildHl7Ack({ ...base, inbound: v23, errors: [{ hl7Code: 101, message: 'x', location: { segment: 'PID', field: '8' } }, { message: 'y' }] });
    const [msh, , errSeg] = lines(ack.text);
    expect(msh).toContain('|ACK^A01|LB-ACK-1|P|2.3');
    expect(errSeg).toBe('ERR|PID^1^8^101&Required field missing&HL70357~^^^207&Application internal error&HL70357');
    expect(lines(buildHl7Ack({ ...base, inbound: fixture('adt-a01.hl7').replace('|P|2.5', '|P|2.1') }).text)[0]).toContain('||ACK|LB-ACK-1|P|2.1');
  });

  it('sends MSA-3 only before v2.7 (it was withdrawn in 2.7)', () => {
    expect(lines(buildHl7Ack({ ...base, inbound: fixture('dft-p03-v251-obx-zsu.hl7'), text: 'stored' }).text)[1]).toBe('MSA|AA|ST-88121|stored');
    const v282 = fixture('dft-p03-v282-ft1-prt-udi.hl7').replace('|AL|NE|', '|||');
    expect(lines(buildHl7Ack({ ...base, inbound: v282, text: 'stored' }).text)[1]).toBe('MSA|AA|ORIS-20260315-000417');
  });

  it('answers AR for an unsupported version, echoing MSH-12 and writing ERR as v2.5.1 does', () => {
    const msg = parseHl7Message(fixture('adt-a01-unknown-version-2.99.hl7'));
    const ack = buildHl7Ack({ ...base, inbound: msg, errors: [thrown(() => checkHl7Version(msg.header))] });
    const [msh, msa, errSeg] = lines(ack.text);
    expect(msh).toBe('MSH|^~\\&|LOTBRIDGE|MEDTECH|HIS|STMARY|20260402071600+0000||ACK^A01^ACK|LB-ACK-1|P|2.99');
    expect(msa).toBe('MSA|AR|HIS-A01-99001');
    expect(errSeg).toMatch(/^ERR\|\|MSH\^1\^12\|203\^Unsupported version id\^HL70357\|E\|LB_ERR_HL7_VERSION\^\^99LB\|\|\|LB_ERR_HL7_VERSION: MSH-12 "2\.99"/);
  });

  it('answers AR for transient errors and AE for defects, AA when there are only warnings', () => {
    const inbound = fixture('adt-a01.hl7');
    const transient = new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'PostgreSQL is unreachable');
    expect(buildHl7Ack({ ...base, inbound, errors: [transient] }).code).toBe('AR');
    expect(lines(buildHl7Ack({ ...base, inbound, errors: [transient] }).text)[2]).toBe(
      'ERR|||207^Application internal error^HL70357|E|LB_ERR_SERVICE_UNAVAILABLE^^99LB|||LB_ERR_SERVICE_UNAVAILABLE: PostgreSQL is unreachable',
    );
    expect(buildHl7Ack({ ...base, inbound, errors: [new LotBridgeError('LB_ERR_INTERNAL', 'bug')] }).code).toBe('AE');
    expect(buildHl7Ack({ ...base, inbound, errors: [{ severity: 'W', message: 'lot unknown, created provisionally' }] }).code).toBe('AA');
    expect(buildHl7Ack({ ...base, inbound, status: 'rejected' }).code).toBe('AR');
  });
});

describe('buildHl7Ack: enhanced mode and unreadable messages', () => {
  it('answers CA/CE/CR in the inbound custom delimiters when MSH-15/MSH-16 are set', () => {
    const inbound = parseHl7Message(fixture('dft-p03-custom-delimiters.hl7'));
    const ca = buildHl7Ack({ ...base, inbound });
    expect(ca.text).toBe('MSH#$*@!#LOTBRIDGE#MEDTECH#ORIS$Surgery#STMARY#20260402071600+0000##ACK$P03$ACK#LB-ACK-1#P#2.8.2\rMSA#CA#ORIS-CUSTOM-0001\r');
    expect([ca.code, ca.mode]).toEqual(['CA', 'enhanced']);
    const ce = buildHl7Ack({ ...base, inbound, errors: [{ code: 'LB_ERR_HL7_NUMBER', message: 'FT1-10 "1#5$" is not a number', location: inbound.segment('FT1')!.location(10) }] });
    expect(ce.code).toBe('CE');
    expect(lines(ce.text)[2]).toBe('ERR##FT1$1$10#102$Data type error$HL70357#E#LB_ERR_HL7_NUMBER$$99LB###LB_ERR_HL7_NUMBER: FT1-10 "1@F@5@S@" is not a number');
    expect(buildHl7Ack({ ...base, inbound, status: 'rejected' }).code).toBe('CR');
    expect(buildHl7Ack({ ...base, inbound, mode: 'original' }).code).toBe('AA');
    expect(parseHl7Message(ce.text).get('ERR', 1, 8)).toBe('LB_ERR_HL7_NUMBER: FT1-10 "1#5$" is not a number');
  });

  it('builds an AR from a text without MSH, with default header values', () => {
    const inbound = fixture('missing-msh.hl7');
    let parseError: LotBridgeError | undefined;
    try {
      parseHl7Message(inbound);
    } catch (e) {
      parseError = e as LotBridgeError;
    }
    const ack = buildHl7Ack({ ...base, inbound, errors: [parseError!] });
    expect(lines(ack.text)).toEqual([
      'MSH|^~\\&|LOTBRIDGE||||20260402071600+0000||ACK^^ACK|LB-ACK-1|P|2.5.1',
      'MSA|AR',
      'ERR||MSH^1|100^Segment sequence error^HL70357|E|LB_ERR_HL7_MSH_MISSING^^99LB|||LB_ERR_HL7_MSH_MISSING: the text starts with "EVN", not with an MSH segment (line 1)',
      '',
    ]);
    expect(ack.code).toBe('AR');
  });

  it('builds an AR from a short MSH with whatever it holds, adding readMsh\'s error when none is given', () => {
    const ack = buildHl7Ack({ ...base, inbound: readMsh('MSH|^~\\&|HIS|STMARY|LOTBRIDGE||20260301||ADT^A01|CTRL-9\r'), defaults: { version: '2.3', sendingFacility: 'MEDTECH' } });
    expect(lines(ack.text)).toEqual([
      'MSH|^~\\&|LOTBRIDGE|MEDTECH|HIS|STMARY|20260402071600+0000||ACK^A01|LB-ACK-1|P|2.3',
      'MSA|AR|CTRL-9|LB_ERR_HL7_REQUIRED_FIELD: MSH is short (it ends after field 10): MSH-11 (pro...',
      'ERR|MSH^1^11^101&Required field missing&HL70357&LB_ERR_HL7_REQUIRED_FIELD&MSH is short (it ends after field 10): MSH-11 (processing id), MSH-12 (version id) are missing (segment MSH, field 11, line 1)&99LB',
      '',
    ]);
  });

  it('leaves ERR-2 out when the error points at a line that is no segment', () => {
    const inbound = fixture('dft-p03-truncated-segment.hl7');
    const parseError = thrown(() => parseHl7Message(inbound));
    const ack = buildHl7Ack({ ...base, inbound, errors: [parseError] });
    expect(ack.code).toBe('AE');
    expect(lines(ack.text)[2]).toMatch(/^ERR\|\|\|100\^Segment sequence error\^HL70357\|E\|LB_ERR_HL7_SEGMENT_INVALID\^\^99LB\|\|\|LB_ERR_HL7_SEGMENT_INVALID: line 6 \(starting "PR", 2 characters\) is not a segment/);
  });

  it('generates a 20-character control id when none is given', () => {
    const a = buildHl7Ack({ inbound: fixture('adt-a01.hl7') });
    const b = buildHl7Ack({ inbound: fixture('adt-a01.hl7') });
    expect(a.controlId).toMatch(/^LB[0-9A-Z]{18}$/);
    expect(a.controlId).not.toBe(b.controlId);
    expect(lines(a.text)[0].split('|')[9]).toBe(a.controlId);
  });
});

describe('hl7AckRequested', () => {
  it('follows MSH-15/MSH-16 (AL, NE, ER, SU) and always acknowledges in original mode', () => {
    const h = (accept?: string, application?: string): ReturnType<typeof readMsh> => ({ ...readMsh(fixture('adt-a01.hl7')), acceptAckType: accept, applicationAckType: application });
    expect(hl7AckRequested(h(), 'accept', 'accepted')).toBe(true);
    expect(hl7AckRequested(h('AL', 'NE'), 'accept', 'accepted')).toBe(true);
    expect(hl7AckRequested(h('AL', 'NE'), 'application', 'error')).toBe(false);
    expect(hl7AckRequested(h('ER', 'AL'), 'accept', 'accepted')).toBe(false);
    expect(hl7AckRequested(h('ER', 'AL'), 'accept', 'rejected')).toBe(true);
    expect(hl7AckRequested(h('NE', 'SU'), 'application', 'accepted')).toBe(true);
    expect(hl7AckRequested(h('NE', 'SU'), 'application', 'error')).toBe(false);
  });
});

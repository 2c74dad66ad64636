import {
  checkHl7MessageType,
  checkHl7Version,
  HL7_V2_VERSIONS,
  parseHl7DateTime,
  parseHl7Message,
  parseHl7Number,
  readHl7DateTime,
  readHl7Number,
  readMsh,
  requireHl7Value,
  type Hl7DateTime,
} from '../../../../src/parsers/hl7';
import { fixture, thrown } from './hl7-test-helpers';

const BERLIN = { zone: 'Europe/Berlin' };

function instant(text: string, zone = 'Europe/Berlin', type?: 'DT' | 'DTM'): Pick<Hl7DateTime, 'utc' | 'offset' | 'explicitOffset' | 'precision' | 'local'> {
  const r = parseHl7DateTime(text, { zone, type });
  if ('problem' in r) {
    throw new Error(r.problem);
  }
  return { utc: r.utc, offset: r.offset, explicitOffset: r.explicitOffset, precision: r.precision, local: r.local };
}

describe('parseHl7DateTime', () => {
  it.each([
    ['20260315101500+0100', { utc: '2026-03-15T09:15:00.000Z', offset: '+01:00', explicitOffset: true, precision: 'second', local: '2026-03-15T10:15:00' }],
    ['20260315101500-0530', { utc: '2026-03-15T15:45:00.000Z', offset: '-05:30', explicitOffset: true, precision: 'second', local: '2026-03-15T10:15:00' }],
    ['20260402091500', { utc: '2026-04-02T07:15:00.000Z', offset: '+02:00', explicitOffset: false, precision: 'second', local: '2026-04-02T09:15:00' }],
    ['20260115091500.25', { utc: '2026-01-15T08:15:00.250Z', offset: '+01:00', explicitOffset: false, precision: 'fraction', local: '2026-01-15T09:15:00.25' }],
    ['202601150915', { utc: '2026-01-15T08:15:00.000Z', offset: '+01:00', explicitOffset: false, precision: 'minute', local: '2026-01-15T09:15' }],
    ['2026011509', { utc: '2026-01-15T08:00:00.000Z', offset: '+01:00', explicitOffset: false, precision: 'hour', local: '2026-01-15T09' }],
    ['20300531', { utc: '2030-05-30T22:00:00.000Z', offset: '+02:00', explicitOffset: false, precision: 'day', local: '2030-05-31' }],
    ['203005', { utc: '2030-04-30T22:00:00.000Z', offset: '+02:00', explicitOffset: false, precision: 'month', local: '2030-05' }],
    ['2030', { utc: '2029-12-31T23:00:00.000Z', offset: '+01:00', explicitOffset: false, precision: 'year', local: '2030' }],
    ['20280229', { utc: '2028-02-28T23:00:00.000Z', offset: '+01:00', explicitOffset: false, precision: 'day', local: '2028-02-29' }],
    // DST gap (02:30 does not exist on 2026-03-29 in Berlin) and overlap (02:30 twice on 2026-10-25)
    ['20260329023000', { utc: '2026-03-29T01:30:00.000Z', offset: '+02:00', explicitOffset: false, precision: 'second', local: '2026-03-29T02:30:00' }],
    ['20261025023000', { utc: '2026-10-25T00:30:00.000Z', offset: '+02:00', explicitOffset: false, precision: 'second', local: '2026-10-25T02:30:00' }],
  ])('reads %s (default zone Europe/Berlin)', (text, expected) => {
    expect(instant(text)).toEqual(expected);
  });

  it('keeps years below 100 as written', () => {
    expect(instant('00500101+0000')).toMatchObject({ utc: '0050-01-01T00:00:00.000Z', local: '0050-01-01' });
  });

  it('reads values without offset in the zone given', () => {
    expect(instant('20260701120000', 'America/New_York')).toMatchObject({ utc: '2026-07-01T16:00:00.000Z', offset: '-04:00' });
    expect(instant('20260701120000', 'UTC')).toMatchObject({ utc: '2026-07-01T12:00:00.000Z', offset: '+00:00' });
  });

  it.each([
    ['2024-13-45', 'is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])'],
    ['20241345', 'is not a valid date: month 13 does not exist'],
    ['20230229', 'is not a valid date: day 29 does not exist in February 2023'],
    ['20260431', 'is not a valid date: day 31 does not exist in April 2026'],
    ['20260315250000', 'is not a valid time of day'],
    ['20260315106000', 'is not a valid time of day'],
    ['20260315101500+1500', 'has an impossible UTC offset +1500'],
    // no zone is more than 14 hours from UTC (and EPCIS's eventTimeZoneOffset stops at ±14:00)
    ['20260315101500+1430', 'has an impossible UTC offset +1430'],
    ['20260315101500-1401', 'has an impossible UTC offset -1401'],
    ['2026031', 'is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])'],
    ['20260315T1015', 'is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])'],
  ])('refuses %s', (text, problem) => {
    expect(parseHl7DateTime(text, BERLIN)).toEqual({ problem });
  });

  it('accepts only a date for DT', () => {
    expect(instant('20280229', 'UTC', 'DT')).toMatchObject({ local: '2028-02-29', precision: 'day' });
    expect(parseHl7DateTime('20280229120000', { zone: 'UTC', type: 'DT' })).toEqual({ problem: 'is a date/time, not a date (DT: YYYY[MM[DD]])' });
    expect(parseHl7DateTime('20280229+0100', { zone: 'UTC', type: 'DT' })).toEqual({ problem: 'is a date/time, not a date (DT: YYYY[MM[DD]])' });
  });
});

describe('readHl7DateTime / readHl7Number / requireHl7Value on segments', () => {
  it('reads PRT-17/18 dates and FT1-4 (DR: its first component) of the DFT fixture', () => {
    const msg = parseHl7Message(fixture('dft-p03-v282-ft1-prt-udi.hl7'));
    const prt = msg.segment('PRT', 1)!;
    expect(readHl7DateTime(prt, 18, BERLIN)).toEqual({
      text: '20300531',
      utc: '2030-05-30T22:00:00.000Z',
      offset: '+02:00',
      explicitOffset: false,
      precision: 'day',
      local: '2030-05-31',
    });
    expect(readHl7DateTime(prt, 17, { ...BERLIN, type: 'DT' })?.local).toBe('2025-06-01');
    expect(readHl7DateTime(msg.segment('PRT', 2)!, 17, BERLIN)).toBeUndefined();
    expect(readHl7DateTime(msg.segment('FT1', 1)!, 4, { ...BERLIN, component: 1 })?.utc).toBe('2026-03-15T09:15:00.000Z');
  });

  it('names the value and its location for the bad expiry 2024-13-45 (LB_ERR_HL7_DATE)', () => {
    const msg = parseHl7Message(fixture('dft-p03-bad-date-2024-13-45.hl7'));
    expect(readHl7DateTime(msg.segment('PRT', 1)!, 18, BERLIN)?.local).toBe('2030-05-31');
    const err = thrown(() => readHl7DateTime(msg.segment('PRT', 2)!, 18, BERLIN));
    expect(err.code).toBe('LB_ERR_HL7_DATE');
    expect(err.message).toBe('PRT-18 "2024-13-45" is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) (segment PRT #2, field 18, line 7)');
    expect(err.location).toEqual({ segment: 'PRT', segmentIndex: 7, occurrence: 2, field: '18', line: 7, path: 'PRT[2]-18' });
    expect(err.details).toEqual({ value: '2024-13-45' });
  });

  it('reports a component location when the reader was told the component', () => {
    const msg = parseHl7Message(fixture('adt-a01.hl7').replace('20260301120000', '20260230120000'));
    const err = thrown(() => readHl7DateTime(msg.segment('EVN')!, 2, { ...BERLIN, component: 1 }));
    expect(err.message).toBe('EVN-2.1 "20260230120000" is not a valid date: day 30 does not exist in February 2026 (segment EVN, field 2, component 1, line 2)');
    expect(err.location).toMatchObject({ field: '2', component: 1, path: 'EVN[1]-2.1' });
  });

  it('names the value and its location for the bad quantity abc (LB_ERR_HL7_NUMBER)', () => {
    const msg = parseHl7Message(fixture('dft-p03-bad-quantity-abc.hl7'));
    expect(readHl7Number(msg.segment('FT1', 1)!, 10)).toBe(1);
    const err = thrown(() => readHl7Number(msg.segment('FT1', 2)!, 10));
    expect(err.code).toBe('LB_ERR_HL7_NUMBER');
    expect(err.message).toBe('FT1-10 "abc" is not a number (NM: an optional sign, digits and an optional decimal point) (segment FT1 #2, field 10, line 5)');
    expect(err.location).toEqual({ segment: 'FT1', segmentIndex: 5, occurrence: 2, field: '10', line: 5, path: 'FT1[2]-10' });
  });

  it.each([
    ['2', 2],
    ['-1.5', -1.5],
    ['+0.25', 0.25],
    ['.5', 0.5],
    ['007', 7],
    [' 12 ', 12],
  ])('reads NM %j as %p', (text, n) => {
    expect(parseHl7Number(text)).toBe(n);
  });

  it.each(['abc', '1,5', '1e3', '1.2.3', '10 EA', '-', ''])('refuses NM %j', (text) => {
    expect(parseHl7Number(text)).toHaveProperty('problem');
  });

  it('treats empty and the HL7 null "" as absent, and required values as errors (LB_ERR_HL7_REQUIRED_FIELD)', () => {
    const msg = parseHl7Message('MSH|^~\\&|A|B|C|D|20260101||DFT^P03|1|P|2.5\rFT1|1|||""||||||""\r');
    const ft1 = msg.segment('FT1')!;
    expect(readHl7Number(ft1, 10)).toBeUndefined();
    expect(readHl7DateTime(ft1, 4, BERLIN)).toBeUndefined();
    expect(ft1.get(10)).toBe('""');
    const err = thrown(() => readHl7Number(ft1, 10, { required: true }));
    expect(err.code).toBe('LB_ERR_HL7_REQUIRED_FIELD');
    expect(err.message).toBe('FT1-10 is required but null ("") (segment FT1, field 10, line 2)');
    expect(thrown(() => requireHl7Value(ft1, 7, { component: 1 })).message).toBe('FT1-7.1 is required but empty (segment FT1, field 7, component 1, line 2)');
    expect(requireHl7Value(ft1, 1)).toBe('1');
  });
});

describe('checkHl7Version / checkHl7MessageType', () => {
  it('accepts every published version and refuses MSH-12 2.99 with its location (LB_ERR_HL7_VERSION)', () => {
    for (const v of HL7_V2_VERSIONS) {
      expect(checkHl7Version({ ...readMsh(fixture('adt-a01.hl7')), version: v })).toBe(v);
    }
    expect(HL7_V2_VERSIONS[0]).toBe('2.1');
    expect(HL7_V2_VERSIONS.slice(-2)).toEqual(['2.8.2', '2.9']);
    const msg = parseHl7Message(fixture('adt-a01-unknown-version-2.99.hl7'));
    const err = thrown(() => checkHl7Version(msg.header));
    expect(err.code).toBe('LB_ERR_HL7_VERSION');
    expect(err.message).toMatch(/^MSH-12 "2\.99" is not an HL7 v2 version \(2\.1, 2\.2, .*, 2\.9\) \(segment MSH, field 12, line 1\)$/);
    expect(err.location).toEqual({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: '12', line: 1, path: 'MSH[1]-12' });
  });

  it('reads MSH-9 and refuses one without trigger or outside the supported list (LB_ERR_HL7_MESSAGE_TYPE)', () => {
    const header = parseHl7Message(fixture('dft-p03-v282-ft1-prt-udi.hl7')).header;
    expect(checkHl7MessageType(header)).toEqual({ type: 'DFT', trigger: 'P03', structure: 'DFT_P03' });
    expect(checkHl7MessageType(header, ['DFT^P03', 'OMS^O05'])).toEqual({ type: 'DFT', trigger: 'P03', structure: 'DFT_P03' });
    const unsupported = thrown(() => checkHl7MessageType(header, ['OMS^O05']));
    expect(unsupported.code).toBe('LB_ERR_HL7_MESSAGE_TYPE');
    expect(unsupported.message).toBe('MSH-9 "DFT^P03" is not a supported message type (OMS^O05) (segment MSH, field 9, line 1)');
    const noTrigger = thrown(() => checkHl7MessageType(readMsh('MSH|^~\\&|A|B|C|D|20260101||ADT|1|P|2.5\r')));
    expect(noTrigger.message).toBe('MSH-9 "ADT" is not a message type with a trigger event (type^trigger, e.g. DFT^P03) (segment MSH, field 9, line 1)');
  });
});

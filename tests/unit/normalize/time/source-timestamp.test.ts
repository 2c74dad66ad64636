import { isTimestampProblem, parseCalendarDate, parseSourceTimestamp, type SourceInstant } from '../../../../src/normalize/time/source-timestamp';

function instant(text: string, zone = 'UTC'): [string, string, boolean] {
  const r = parseSourceTimestamp(text, zone);
  if (isTimestampProblem(r)) {
    throw new Error(r.problem);
  }
  const i: SourceInstant = r;
  return [i.utc.toISOString(), i.offset, i.explicitOffset];
}

describe('parseSourceTimestamp', () => {
  it.each([
    ['2026-03-01T10:15:00Z', 'UTC', ['2026-03-01T10:15:00.000Z', '+00:00', true]],
    ['2026-03-01T11:15:00+01:00', 'UTC', ['2026-03-01T10:15:00.000Z', '+01:00', true]],
    ['2026-03-01T04:45:00.250-05:30', 'UTC', ['2026-03-01T10:15:00.250Z', '-05:30', true]],
    ['2026-03-01T11:15:00+0100', 'UTC', ['2026-03-01T10:15:00.000Z', '+01:00', true]],
    ['2026-03-01 11:15', 'Europe/Berlin', ['2026-03-01T10:15:00.000Z', '+01:00', false]],
    ['2026-07-01T12:00:00', 'Europe/Berlin', ['2026-07-01T10:00:00.000Z', '+02:00', false]],
    ['2026-07-01T12:00:00', 'America/New_York', ['2026-07-01T16:00:00.000Z', '-04:00', false]],
    ['2026-03-29T02:30:00', 'Europe/Berlin', ['2026-03-29T01:30:00.000Z', '+02:00', false]],
    ['2026-10-25T02:30:00', 'Europe/Berlin', ['2026-10-25T00:30:00.000Z', '+02:00', false]],
    ['2028-02-29T00:00:00Z', 'UTC', ['2028-02-29T00:00:00.000Z', '+00:00', true]],
    // years 0000-0099 stay themselves (Date.UTC alone reads them as 1900-1999); local time then is
    // the zone's local mean time (Berlin +00:53:28, offsets kept to the minute)
    ['0050-06-01T12:00:00Z', 'UTC', ['0050-06-01T12:00:00.000Z', '+00:00', true]],
    ['0000-02-29T00:00:00+01:00', 'UTC', ['0000-02-28T23:00:00.000Z', '+01:00', true]],
    ['0099-12-31T23:59:59', 'UTC', ['0099-12-31T23:59:59.000Z', '+00:00', false]],
    ['0075-07-01T12:00:00', 'Europe/Berlin', ['0075-07-01T11:07:00.000Z', '+00:53', false]],
  ])('reads %s in %s', (text, zone, expected) => {
    expect(instant(text, zone)).toEqual(expected);
  });

  it.each([
    ['2026-02-30T10:00:00Z', /day 30 does not exist in February 2026/],
    ['2026-13-01T10:00:00Z', /month 13 does not exist/],
    ['2026-03-01T24:00:00Z', /not a valid time of day/],
    ['2026-03-01T10:60:00Z', /not a valid time of day/],
    ['2026-03-01T10:00:00+15:00', /impossible UTC offset/],
    // no zone is more than 14 hours from UTC (and EPCIS's eventTimeZoneOffset stops at ±14:00)
    ['2026-03-01T10:00:00+14:30', /impossible UTC offset/],
    ['2026-03-01T10:00:00-1401', /impossible UTC offset/],
    ['2026-03-01', /has no time of day/],
    ['01.03.2026 10:00', /not an ISO-8601 timestamp/],
  ])('refuses %s', (text, problem) => {
    const r = parseSourceTimestamp(text, 'UTC');
    expect(isTimestampProblem(r) ? r.problem : 'accepted').toMatch(problem);
  });
});

describe('parseCalendarDate', () => {
  it('accepts real dates and refuses impossible ones', () => {
    expect(parseCalendarDate('2027-03-31')).toBe('2027-03-31');
    expect(parseCalendarDate('2028-02-29')).toBe('2028-02-29');
    expect(parseCalendarDate('2026-02-29')).toEqual({ problem: '"2026-02-29" is not a valid date: day 29 does not exist in February 2026' });
    expect(isTimestampProblem(parseCalendarDate('270331'))).toBe(true);
  });
});

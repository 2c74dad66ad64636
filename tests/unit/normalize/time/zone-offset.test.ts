import { zoneOffsetMinutes } from '../../../../src/normalize/time/source-timestamp';

describe('zoneOffsetMinutes', () => {
  it('answers each zone\'s offset, also minute by minute across DST transitions and with zones interleaved', () => {
    // Europe/Berlin: +60 until 2026-03-29 01:00Z, then +120; America/New_York: -300 until 2026-03-08 07:00Z, then -240
    expect(zoneOffsetMinutes('Europe/Berlin', new Date('2026-03-29T00:59:59.999Z'))).toBe(60);
    expect(zoneOffsetMinutes('Europe/Berlin', new Date('2026-03-29T01:00:00.000Z'))).toBe(120);
    expect(zoneOffsetMinutes('America/New_York', new Date('2026-03-08T06:59:30Z'))).toBe(-300);
    expect(zoneOffsetMinutes('America/New_York', new Date('2026-03-08T07:00:00Z'))).toBe(-240);
    expect(zoneOffsetMinutes('Asia/Kolkata', new Date('2026-03-29T01:00:00Z'))).toBe(330);
    const start = Date.parse('2026-10-25T00:30:00Z'); // Berlin back to +60 at 01:00Z
    const seen: number[] = [];
    for (let s = 0; s < 3600; s += 7) {
      const at = new Date(start + s * 1000);
      const berlin = zoneOffsetMinutes('Europe/Berlin', at);
      expect(zoneOffsetMinutes('UTC', at)).toBe(0);
      expect(berlin).toBe(at.getTime() < Date.parse('2026-10-25T01:00:00Z') ? 120 : 60);
      seen.push(berlin);
    }
    expect(new Set(seen)).toEqual(new Set([120, 60]));
    // back in time to a minute answered before
    expect(zoneOffsetMinutes('Europe/Berlin', new Date('2026-03-29T00:59:00Z'))).toBe(60);
  });
});

import { LotBridgeError, type ErrorCode } from '../../errors';
import { isCalendarDate, isClockTime, isoDate } from '../edi/edi-text';
import type { X12ElementNote, X12Set, X12SegmentNote } from './x12-envelope';
import { components, type X12Delimiters, type X12Segment } from './x12-tokenizer';

/** A content error of a transaction set, with its 997 AK3/AK4 note in `details.x12`. */
export function x12ContentError(code: ErrorCode, message: string, note: X12SegmentNote, line?: number): LotBridgeError {
  const el = note.elements[0];
  return new LotBridgeError(code, message, {
    location: {
      segment: note.segmentId,
      ...(el ? { field: `${note.segmentId}${String(el.position).padStart(2, '0')}${el.component ? `-${el.component}` : ''}` } : {}),
      ...(line ? { line } : {}),
      path: `set segment ${note.position}`,
    },
    details: { x12: note },
  });
}

/**
 * Reads the segments of one transaction set with typed element getters; every failure is a
 * LotBridgeError that carries the segment's position in the set and the AK3/AK4 codes.
 */
export class X12SetReader {
  constructor(
    readonly set: X12Set,
    readonly d: X12Delimiters,
  ) {}

  /** Position of a segment in the set (ST = 1). */
  pos(s: X12Segment): number {
    return this.set.segments.indexOf(s) + 1;
  }

  el(s: X12Segment, n: number): string {
    return (s.elements[n] ?? '').trim();
  }

  comp(s: X12Segment, n: number): string[] {
    return components(s.elements[n], this.d).map((c) => c.trim());
  }

  fail(code: ErrorCode, message: string, s: X12Segment, segCode: string, element?: X12ElementNote, loopId?: string): LotBridgeError {
    return x12ContentError(code, message, { segmentId: s.id, position: this.pos(s), code: segCode, elements: element ? [element] : [], ...(loopId ? { loopId } : {}) }, s.line);
  }

  /** A segment the set lacks (AK3 code 3 at the position where it was expected). */
  missing(code: ErrorCode, id: string, position: number, message: string): LotBridgeError {
    return x12ContentError(code, message, { segmentId: id, position, code: '3', elements: [] });
  }

  required(s: X12Segment, n: number, what: string): string {
    const v = this.el(s, n);
    if (v === '') {
      throw this.fail('LB_ERR_X12_ELEMENT_MISSING', `${s.id}${String(n).padStart(2, '0')} (${what}) is empty (segment ${s.id} at position ${this.pos(s)}, line ${s.line})`, s, '8', { position: n, code: '1' });
    }
    return v;
  }

  /** A decimal number (X12 R / N type). */
  number(s: X12Segment, n: number, what: string, opts: { required?: boolean } = {}): number | undefined {
    const v = opts.required ? this.required(s, n, what) : this.el(s, n);
    if (v === '') return undefined;
    if (!/^-?(\d+\.?\d*|\.\d+)$/.test(v)) {
      throw this.fail('LB_ERR_X12_NUMBER', `${s.id}${String(n).padStart(2, '0')} (${what}) ${JSON.stringify(v)} is not a number (segment ${s.id} at position ${this.pos(s)}, line ${s.line})`, s, '8', { position: n, code: '6', value: v });
    }
    return Number(v);
  }

  /** A CCYYMMDD date as YYYY-MM-DD. */
  date(s: X12Segment, n: number, what: string, opts: { required?: boolean } = {}): string | undefined {
    const v = opts.required ? this.required(s, n, what) : this.el(s, n);
    if (v === '') return undefined;
    if (!isCalendarDate(v)) {
      throw this.fail('LB_ERR_X12_DATE', `${s.id}${String(n).padStart(2, '0')} (${what}) ${JSON.stringify(v)} is not a calendar date CCYYMMDD (segment ${s.id} at position ${this.pos(s)}, line ${s.line})`, s, '8', { position: n, code: '8', value: v });
    }
    return isoDate(v);
  }

  /** An HHMM[SS] time as HH:MM[:SS]. */
  time(s: X12Segment, n: number, what: string): string | undefined {
    const v = this.el(s, n);
    if (v === '') return undefined;
    if (!isClockTime(v)) {
      throw this.fail('LB_ERR_X12_DATE', `${s.id}${String(n).padStart(2, '0')} (${what}) ${JSON.stringify(v)} is not a time HHMM[SS] (segment ${s.id} at position ${this.pos(s)}, line ${s.line})`, s, '8', { position: n, code: '9', value: v });
    }
    return `${v.slice(0, 2)}:${v.slice(2, 4)}${v.length >= 6 ? `:${v.slice(4, 6)}` : ''}`;
  }

  /**
   * The date of a DTM: DTM02 (CCYYMMDD) with DTM03 time, or — DTM02 being conditional (R020305) —
   * DTM05 format qualifier with DTM06: D8 CCYYMMDD, RD8 CCYYMMDD-CCYYMMDD (a window: its first day),
   * DT CCYYMMDDHHMM. Returns YYYY-MM-DD and, when given, the time HH:MM[:SS].
   */
  dtm(s: X12Segment, what: string): { date: string; time?: string } {
    if (this.el(s, 2) !== '' || this.el(s, 5) === '') {
      const date = this.date(s, 2, what, { required: true }) as string;
      const time = this.time(s, 3, 'time');
      return { date, ...(time ? { time } : {}) };
    }
    const fmt = this.el(s, 5);
    const v = this.required(s, 6, `${what}, format ${fmt}`);
    const bad = (code: string): LotBridgeError =>
      this.fail('LB_ERR_X12_DATE', `DTM06 (${what}) ${JSON.stringify(v)} is not a valid ${fmt} date-time period (segment ${s.id} at position ${this.pos(s)}, line ${s.line})`, s, '8', { position: 6, code, value: v });
    if (fmt === 'D8') {
      if (!isCalendarDate(v)) throw bad('8');
      return { date: isoDate(v) };
    }
    if (fmt === 'RD8') {
      const m = /^(\d{8})-(\d{8})$/.exec(v);
      if (!m || !isCalendarDate(m[1]) || !isCalendarDate(m[2]) || m[2] < m[1]) throw bad('8');
      return { date: isoDate(m[1]) };
    }
    if (fmt === 'DT') {
      if (!/^\d{12}$/.test(v) || !isCalendarDate(v.slice(0, 8))) throw bad('8');
      if (!isClockTime(v.slice(8))) throw bad('9');
      return { date: isoDate(v.slice(0, 8)), time: `${v.slice(8, 10)}:${v.slice(10, 12)}` };
    }
    throw this.fail('LB_ERR_X12_ELEMENT_INVALID', `DTM05 date/time format qualifier ${JSON.stringify(fmt)} is not one LotBridge reads (D8, RD8, DT) (segment ${s.id} at position ${this.pos(s)}, line ${s.line})`, s, '8', { position: 5, code: '7', value: fmt });
  }

  /** Qualifier/value pairs from element `from` on (LIN03/04, 05/06, …; SLN09/10 …). */
  pairs(s: X12Segment, from: number): Array<{ q: string; v: string; n: number }> {
    const out: Array<{ q: string; v: string; n: number }> = [];
    for (let n = from; n + 1 < s.elements.length; n += 2) {
      const q = this.el(s, n);
      const v = this.el(s, n + 1);
      if (q !== '' && v !== '') out.push({ q, v, n: n + 1 });
    }
    return out;
  }
}

import { LotBridgeError, type ErrorCode } from '../../errors';
import { centuryOf, isCalendarDate, isClockTime, isoDate } from '../edi/edi-text';
import type { EdifactMessage, EdifactNote } from './edifact-envelope';
import type { EdifactDelimiters, EdifactSegment } from './edifact-tokenizer';

/** A content error of a message, with its CONTRL UCS/UCD note in `details.edifact`. */
export function edifactContentError(code: ErrorCode, message: string, note: EdifactNote, line?: number): LotBridgeError {
  return new LotBridgeError(code, message, {
    location: {
      segment: note.tag,
      ...(note.element ? { field: `${note.tag}${String(note.element.position).padStart(2, '0')}${note.element.component ? `-${note.element.component}` : ''}` } : {}),
      ...(line ? { line } : {}),
      path: `message segment ${note.position}`,
    },
    details: { edifact: note },
  });
}

/** Typed access to one message's segments; failures carry the UCS position and UCD element. */
export class EdifactReader {
  constructor(
    readonly msg: EdifactMessage,
    readonly d: EdifactDelimiters,
  ) {}

  pos(s: EdifactSegment): number {
    return this.msg.segments.indexOf(s) + 1;
  }

  el(s: EdifactSegment, n: number, c = 0): string {
    return (s.elements[n]?.[c] ?? '').trim();
  }

  fail(code: ErrorCode, message: string, s: EdifactSegment, syntaxCode: string, element?: { position: number; component?: number }): LotBridgeError {
    return edifactContentError(code, message, { tag: s.tag, position: this.pos(s), code: syntaxCode, ...(element ? { element } : {}) }, s.line);
  }

  missing(code: ErrorCode, tag: string, position: number, message: string): LotBridgeError {
    return edifactContentError(code, message, { tag, position, code: '13' });
  }

  required(s: EdifactSegment, n: number, c: number, what: string): string {
    const val = this.el(s, n, c);
    if (val === '') {
      throw this.fail('LB_ERR_EDIFACT_SEGMENT_MISSING', `${s.tag} element ${n}${c > 0 ? ` component ${c + 1}` : ''} (${what}) is empty (segment ${this.pos(s)} of message ${this.msg.ref}, line ${s.line})`, s, '13', { position: n, ...(c > 0 ? { component: c + 1 } : {}) });
    }
    return val;
  }

  /** A number written with the interchange's decimal mark (either . or , is accepted, as ISO 9735 allows). */
  number(s: EdifactSegment, n: number, c: number, what: string, opts: { required?: boolean } = {}): number | undefined {
    const raw = opts.required ? this.required(s, n, c, what) : this.el(s, n, c);
    if (raw === '') return undefined;
    const norm = raw.replace(',', '.');
    if (!/^-?(\d+\.?\d*|\.\d+)$/.test(norm)) {
      throw this.fail('LB_ERR_EDIFACT_NUMBER', `${s.tag} ${what} ${JSON.stringify(raw)} is not a number (segment ${this.pos(s)} of message ${this.msg.ref}, line ${s.line})`, s, '37', { position: n, component: c + 1 });
    }
    return Number(norm);
  }

  /**
   * A DTM C507 (qualifier:value:format) as YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]; formats 102, 203,
   * 204, 101 (YYMMDD), 718 (period CCYYMMDD-CCYYMMDD: its first day). @throws LB_ERR_EDIFACT_DATE for an impossible date.
   */
  dtm(s: EdifactSegment): { qualifier: string; value: string } {
    const q = this.el(s, 1, 0);
    const raw = this.required(s, 1, 1, `date (qualifier ${q})`);
    const fmt = this.el(s, 1, 2) || (raw.length === 8 ? '102' : raw.length === 12 ? '203' : raw.length === 6 ? '101' : '102');
    const bad = (): LotBridgeError =>
      this.fail('LB_ERR_EDIFACT_DATE', `DTM ${q} value ${JSON.stringify(raw)} is not a valid date for format ${fmt} (segment ${this.pos(s)} of message ${this.msg.ref}, line ${s.line})`, s, '12', { position: 1, component: 2 });
    if (fmt === '718') {
      // a period CCYYMMDD-CCYYMMDD (delivery window): both ends must be dates; the start is returned
      const m = /^(\d{8})-(\d{8})$/.exec(raw);
      if (!m || !isCalendarDate(m[1]) || !isCalendarDate(m[2]) || m[2] < m[1]) throw bad();
      return { qualifier: q, value: isoDate(m[1]) };
    }
    const date = fmt === '101' ? (/^\d{6}$/.test(raw) ? centuryOf(raw) : '') : raw.slice(0, 8);
    if (!/^\d+$/.test(raw) || !isCalendarDate(date)) throw bad();
    if (fmt === '102' || fmt === '101') {
      if (raw.length !== (fmt === '101' ? 6 : 8)) throw bad();
      return { qualifier: q, value: isoDate(date) };
    }
    if (fmt === '203' || fmt === '204') {
      const t = raw.slice(8);
      if (t.length !== (fmt === '203' ? 4 : 6) || !isClockTime(t)) throw bad();
      return { qualifier: q, value: `${isoDate(date)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${fmt === '204' ? t.slice(4, 6) : '00'}` };
    }
    if (raw.length < 8) throw bad();
    return { qualifier: q, value: isoDate(date) };
  }
}

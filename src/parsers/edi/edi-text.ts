import { LotBridgeError } from '../../errors';

/**
 * Decodes EDI bytes as text. A UTF-8 byte order mark is dropped. X12 is an ASCII syntax: bytes that
 * are not valid UTF-8 are read as ISO-8859-1 (one character per byte), so a Latin-1 partner name
 * never blocks the envelope. EDIFACT passes its UNB syntax identifier's charset as `charset`.
 * @param payload - the bytes as received
 * @param charset - a Node/WHATWG charset label to decode with; undefined = UTF-8, else Latin-1
 */
export function decodeEdiText(payload: Buffer, charset?: string): { text: string; charset: string; bom: boolean } {
  let bytes = payload;
  let bom = false;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
    bom = true;
  }
  if (charset !== undefined) {
    try {
      return { text: new TextDecoder(charset, { fatal: true }).decode(bytes), charset, bom };
    } catch (err) {
      throw new LotBridgeError('LB_ERR_INGEST_ENCODING', `the bytes are not valid ${charset}`, { cause: err });
    }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), charset: 'utf-8', bom };
  } catch {
    return { text: bytes.toString('latin1'), charset: 'iso-8859-1', bom };
  }
}

/** 1-based line of a character offset (counting LF). */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        this.starts.push(i + 1);
      }
    }
  }

  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

/** True for a real calendar date CCYYMMDD (or YYMMDD when `short`). */
export function isCalendarDate(v: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (!m) {
    return false;
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) {
    return false;
  }
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= days;
}

/** CCYYMMDD → YYYY-MM-DD (assumes {@link isCalendarDate}). */
export function isoDate(v: string): string {
  return `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`;
}

/** YYMMDD → CCYYMMDD (a two-digit year is 2000-2099 below 70, else 1900s). */
export function centuryOf(yymmdd: string): string {
  const yy = Number(yymmdd.slice(0, 2));
  return `${yy < 70 ? '20' : '19'}${yymmdd}`;
}

/** True for a valid clock time HHMM[SS[d..]]. */
export function isClockTime(v: string): boolean {
  const m = /^(\d{2})(\d{2})(\d{2}(\d+)?)?$/.exec(v);
  if (!m) {
    return false;
  }
  return Number(m[1]) < 24 && Number(m[2]) < 60 && (m[3] === undefined || Number(m[3].slice(0, 2)) < 60);
}

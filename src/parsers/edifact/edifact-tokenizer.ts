import { LotBridgeError } from '../../errors';
import { LineIndex } from '../edi/edi-text';

/** The service characters of an interchange (UNA, or the defaults of its syntax level). */
export interface EdifactDelimiters {
  component: string;
  element: string;
  decimal: string;
  /** Release (escape) character; null when the interchange has none. */
  release: string | null;
  /** Repetition separator (syntax version 4); null when none. */
  repetition: string | null;
  segment: string;
}

/** One segment: tag and its data elements, each a list of components (release characters resolved). */
export interface EdifactSegment {
  tag: string;
  /** elements[0] is the tag; elements[n][m] is component m+1 of element n. */
  elements: string[][];
  /** Repetitions of an element (syntax 4), as [element][repetition][component]; only filled when the interchange declares a repetition separator. */
  repeats?: string[][][];
  /** 1-based position in the interchange (UNA not counted; UNB = 1). */
  position: number;
  line: number;
}

/** One interchange (UNB … UNZ) as read. */
export interface EdifactRawInterchange {
  delimiters: EdifactDelimiters;
  hasUna: boolean;
  segments: EdifactSegment[];
  start: number;
  end: number;
  truncated: boolean;
  warnings: string[];
  /** Set for an interchange after the first that could not be tokenized (read on its own, it throws this). */
  fatal?: LotBridgeError;
}

/** Default service characters (ISO 9735): level A/B/C… with `'` `+` `:` `?`, level Y/B with the IS control characters. */
export const DEFAULT_DELIMITERS: EdifactDelimiters = { component: ':', element: '+', decimal: '.', release: '?', repetition: null, segment: "'" };
const LEVEL_B_DELIMITERS: EdifactDelimiters = { component: '\x1f', element: '\x1d', decimal: '.', release: null, repetition: '\x1e', segment: '\x1c' };

function ws(c: string | undefined): boolean {
  return c === '\r' || c === '\n' || c === ' ' || c === '\t' || c === '\uFEFF';
}

/**
 * Reads a UNA at `pos` (9 characters: UNA + component, element, decimal, release, repetition or
 * space, terminator). A space as release means none; a space as repetition (syntax 3) means none.
 */
function readUna(text: string, pos: number, line: number): EdifactDelimiters {
  const s = text.slice(pos, pos + 9);
  if (s.length < 9) {
    throw new LotBridgeError('LB_ERR_EDIFACT_UNA', `the UNA service string advice is ${s.length} characters long, not 9`, { location: { segment: 'UNA', line } });
  }
  const d: EdifactDelimiters = {
    component: s[3],
    element: s[4],
    decimal: s[5],
    release: s[6] === ' ' ? null : s[6],
    repetition: s[7] === ' ' ? null : s[7],
    segment: s[8],
  };
  const chars = [d.component, d.element, d.segment, ...(d.release ? [d.release] : []), ...(d.repetition ? [d.repetition] : [])];
  if (chars.some((c, i) => chars.indexOf(c) !== i) || chars.some((c) => /[A-Za-z0-9]/.test(c))) {
    throw new LotBridgeError('LB_ERR_EDIFACT_UNA', `the UNA declares colliding or alphanumeric service characters ${JSON.stringify(s.slice(3))}`, { location: { segment: 'UNA', line } });
  }
  if (d.decimal !== '.' && d.decimal !== ',') {
    throw new LotBridgeError('LB_ERR_EDIFACT_UNA', `the UNA decimal mark ${JSON.stringify(d.decimal)} is neither "." nor ","`, { location: { segment: 'UNA', field: 'UNA3', line } });
  }
  return d;
}

/**
 * Splits decoded EDIFACT text into interchanges and segments, resolving release characters. Line
 * breaks and spaces after a segment terminator are skipped. Several interchanges (each with its own
 * optional UNA) are read one after another.
 * @throws LotBridgeError LB_ERR_EDIFACT_NOT_EDIFACT, LB_ERR_EDIFACT_UNA, LB_ERR_EDIFACT_RELEASE, LB_ERR_INGEST_EMPTY
 */
export function tokenizeEdifact(text: string): EdifactRawInterchange[] {
  const lines = new LineIndex(text);
  const out: EdifactRawInterchange[] = [];
  let pos = 0;
  const skipWs = (): void => {
    while (pos < text.length && ws(text[pos])) pos++;
  };
  skipWs();
  if (pos >= text.length) {
    throw new LotBridgeError('LB_ERR_INGEST_EMPTY', 'the body holds no EDIFACT interchange (only whitespace)', { location: { line: 1 } });
  }
  while (pos < text.length) {
    const start = pos;
    let d = DEFAULT_DELIMITERS;
    let hasUna = false;
    try {
      if (text.startsWith('UNA', pos)) {
        d = readUna(text, pos, lines.lineOf(pos));
        hasUna = true;
        pos += 9;
        skipWs();
      } else if (text.startsWith('UNB\x1d', pos)) {
        d = LEVEL_B_DELIMITERS;
      }
      if (!text.startsWith('UNB', pos)) {
        const line = lines.lineOf(pos);
        if (out.length === 0) {
          throw new LotBridgeError('LB_ERR_EDIFACT_NOT_EDIFACT', `the text does not start with UNA or UNB (it starts with ${JSON.stringify(text.slice(pos, pos + 3))})`, { location: { line } });
        }
        out[out.length - 1].warnings.push(`text after UNZ at line ${line} is not an interchange and was ignored`);
        break;
      }
      const segments: EdifactSegment[] = [];
      let truncated = true;
      const warnings: string[] = [];
      while (pos < text.length) {
        while (pos < text.length && (text[pos] === '\r' || text[pos] === '\n') && text[pos] !== d.segment) pos++;
        if (pos >= text.length) break;
        const segStart = pos;
        const elements: string[][] = [];
        const repeats: string[][][] = [];
        let comps: string[] = [];
        let reps: string[][] = [];
        let cur = '';
        let ended = false;
        for (; pos < text.length; pos++) {
          const c = text[pos];
          if (d.release !== null && c === d.release) {
            if (pos + 1 >= text.length) {
              throw new LotBridgeError('LB_ERR_EDIFACT_RELEASE', `the release character ${JSON.stringify(d.release)} stands at the end of the data (line ${lines.lineOf(pos)}): it releases nothing`, {
                location: { segment: elements[0]?.[0] ?? cur.slice(0, 3), line: lines.lineOf(pos) },
              });
            }
            pos++;
            cur += text[pos];
          } else if (c === d.component) {
            comps.push(cur);
            cur = '';
          } else if (d.repetition !== null && c === d.repetition && elements.length > 0) {
            comps.push(cur);
            reps.push(comps);
            comps = [];
            cur = '';
          } else if (c === d.element || c === d.segment) {
            comps.push(cur);
            reps.push(comps);
            elements.push(reps[0]);
            repeats.push(reps);
            comps = [];
            reps = [];
            cur = '';
            if (c === d.segment) {
              pos++;
              ended = true;
              break;
            }
          } else {
            cur += c;
          }
        }
        if (!ended) {
          // the text ended inside a segment (no terminator)
          comps.push(cur);
          reps.push(comps);
          elements.push(reps[0]);
          repeats.push(reps);
        }
        const tag = (elements[0]?.[0] ?? '').replace(/^[\s]+/, '');
        if (elements[0]) elements[0][0] = tag;
        if (tag === '' && elements.length <= 1) continue;
        segments.push({ tag, elements, ...(d.repetition ? { repeats } : {}), position: segments.length + 1, line: lines.lineOf(segStart) });
        if (tag === 'UNZ') {
          truncated = !ended;
          break;
        }
        if (!ended) break;
      }
      out.push({ delimiters: d, hasUna, segments, start, end: pos, truncated, warnings });
    } catch (err) {
      // a later interchange that cannot be read (bad UNA, cut after a release character) must not
      // take the complete ones before it down: it is kept as its own (unreadable) part of the file
      if (out.length === 0 || !(err instanceof LotBridgeError)) throw err;
      out.push({ delimiters: d, hasUna, segments: [], start, end: text.length, truncated: true, warnings: [], fatal: err });
      break;
    }
    skipWs();
  }
  return out;
}

/** Syntax identifiers (UNB S001 0001) and the charsets their bytes are decoded with. */
export const EDIFACT_CHARSETS: Record<string, { charset: string; check?: RegExp }> = {
  UNOA: { charset: 'latin1', check: /^[A-Z0-9 .,\-()/='+:?!"%&*;<>\r\n]*$/ },
  UNOB: { charset: 'latin1', check: /^[\x20-\x7e\r\n\x1c-\x1f]*$/ },
  UNOC: { charset: 'iso-8859-1' },
  UNOD: { charset: 'iso-8859-2' },
  UNOE: { charset: 'iso-8859-5' },
  UNOF: { charset: 'iso-8859-7' },
  UNOG: { charset: 'iso-8859-3' },
  UNOH: { charset: 'iso-8859-4' },
  UNOI: { charset: 'iso-8859-6' },
  UNOJ: { charset: 'iso-8859-8' },
  UNOK: { charset: 'iso-8859-9' },
  UNOW: { charset: 'utf-8' },
  UNOY: { charset: 'utf-8' },
};

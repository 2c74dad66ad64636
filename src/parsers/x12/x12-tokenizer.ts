import { LotBridgeError } from '../../errors';
import { LineIndex } from '../edi/edi-text';

/** The separators an interchange declares in its ISA. */
export interface X12Delimiters {
  /** ISA position 4 (after `ISA`). */
  element: string;
  /** ISA16. */
  component: string;
  /** ISA11 from version 00402 on; null before (ISA11 is then the standards id `U`). */
  repetition: string | null;
  /** The character after ISA16. */
  segment: string;
}

/** One segment as read: id and elements (elements[0] is the id, elements[n] is XXnn). */
export interface X12Segment {
  id: string;
  elements: string[];
  /** 1-based position inside the interchange (ISA = 1). */
  position: number;
  /** 1-based line where the segment starts. */
  line: number;
}

/** One interchange (ISA … IEA) as read, before its envelope is checked. */
export interface X12RawInterchange {
  delimiters: X12Delimiters;
  segments: X12Segment[];
  /** Length of the ISA segment in characters, terminator included (106 when well-formed). */
  isaLength: number;
  /** Character offsets of the interchange in the decoded text. */
  start: number;
  end: number;
  /** True when the text ended before IEA. */
  truncated: boolean;
  /** Things a partner should fix that did not stop the read (tabs or NBSP in the ISA padding, …). */
  warnings: string[];
  /** Set when the ISA cannot be read (separators collide, too short to hold 16 elements). */
  fatal?: LotBridgeError;
}

/** Character offsets of the interchanges in a text (for splitting a file that holds several). */
export interface X12FileScan {
  interchanges: X12RawInterchange[];
}

const ISA_WIDTHS = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];

function isWhitespace(c: string): boolean {
  return c === ' ' || c === '\r' || c === '\n' || c === '\t' || c === '\u00a0' || c === '\uFEFF';
}

/**
 * Reads the ISA at `start`: walks to the 16th element separator rather than trusting fixed offsets
 * (tabs or non-breaking spaces in the padding, or a short field, would shift them), then takes ISA16
 * and the segment terminator from the characters after it.
 */
function readIsa(text: string, start: number, lines: LineIndex): { delimiters?: X12Delimiters; elements: string[]; end: number; warnings: string[]; fatal?: LotBridgeError } {
  const warnings: string[] = [];
  const line = lines.lineOf(start);
  const el = text[start + 3];
  if (el === undefined || /[A-Za-z0-9 ]/.test(el)) {
    return { elements: [], end: text.length, warnings, fatal: new LotBridgeError('LB_ERR_X12_SEPARATORS', `the ISA element separator ${JSON.stringify(el ?? '')} (position 4) is a letter, digit or space, or missing`, { location: { segment: 'ISA', field: 'ISA00', line }, details: { ta1: '026' } }) };
  }
  let seps = 0;
  let i = start + 3;
  for (; i < text.length && seps < 16; i++) {
    if (text[i] === el) {
      seps++;
      if (seps === 16) break;
    }
  }
  if (seps < 16 || i + 2 >= text.length) {
    return {
      elements: text.slice(start, Math.min(text.length, start + 106)).split(el),
      end: text.length,
      warnings,
      fatal: new LotBridgeError('LB_ERR_X12_ISA_LENGTH', `the ISA holds ${seps} of its 16 element separators before the text ends: it is shorter than 106 characters`, {
        location: { segment: 'ISA', line },
        details: { ta1: '022' },
      }),
    };
  }
  const component = text[i + 1];
  const segment = text[i + 2];
  const isaText = text.slice(start, i + 2);
  const elements = isaText.split(el);
  const version = elements[12] ?? '';
  const repRaw = elements[11] ?? '';
  const repetition = version >= '00402' && repRaw.length === 1 && !/[A-Za-z0-9 ]/.test(repRaw) ? repRaw : null;
  const delimiters: X12Delimiters = { element: el, component, repetition, segment };
  const chars = [el, component, segment, ...(repetition ? [repetition] : [])];
  const collide = chars.some((c, k) => chars.indexOf(c) !== k);
  if (collide || /[A-Za-z0-9 ]/.test(component) || /[A-Za-z0-9 ]/.test(segment)) {
    return {
      delimiters,
      elements,
      end: i + 3,
      warnings,
      fatal: new LotBridgeError(
        'LB_ERR_X12_SEPARATORS',
        `the ISA separators collide or are data characters: element ${JSON.stringify(el)}, repetition ${JSON.stringify(repetition ?? repRaw)} (ISA11), component ${JSON.stringify(component)} (ISA16), segment terminator ${JSON.stringify(segment)}`,
        { location: { segment: 'ISA', field: collide && component === el ? 'ISA16' : 'ISA16', line }, details: { ta1: component === el || collide ? '027' : '026' } },
      ),
    };
  }
  if (/[\t\u00a0]/.test(isaText)) {
    warnings.push('the ISA padding holds tabs or non-breaking spaces; fixed-width fields are padded with spaces');
  }
  return { delimiters, elements, end: i + 3, warnings };
}

/**
 * Splits decoded X12 text into interchanges and segments. Leading whitespace, a BOM and CR/LF (or
 * other whitespace) after segment terminators are skipped. Several interchanges in one text are
 * read one after another, each with its own separators.
 * @param text - decoded text
 * @throws LotBridgeError LB_ERR_X12_NOT_X12 when the text does not start with ISA (after whitespace)
 */
export function tokenizeX12(text: string): X12FileScan {
  const lines = new LineIndex(text);
  const interchanges: X12RawInterchange[] = [];
  let pos = 0;
  const skipWs = (): void => {
    while (pos < text.length && isWhitespace(text[pos])) pos++;
  };
  skipWs();
  if (pos >= text.length) {
    throw new LotBridgeError('LB_ERR_INGEST_EMPTY', 'the body holds no X12 interchange (only whitespace)', { location: { line: 1 } });
  }
  while (pos < text.length) {
    if (!text.startsWith('ISA', pos)) {
      const line = lines.lineOf(pos);
      if (interchanges.length === 0) {
        throw new LotBridgeError('LB_ERR_X12_NOT_X12', `the text does not start with an ISA segment (it starts with ${JSON.stringify(text.slice(pos, pos + 3))})`, { location: { line } });
      }
      // text after the last IEA that is no interchange: reported on the last interchange
      interchanges[interchanges.length - 1].warnings.push(`text after IEA at line ${line} is not an interchange and was ignored`);
      break;
    }
    const start = pos;
    const isa = readIsa(text, start, lines);
    const segments: X12Segment[] = [{ id: 'ISA', elements: isa.elements, position: 1, line: lines.lineOf(start) }];
    if (isa.fatal || !isa.delimiters) {
      interchanges.push({
        delimiters: isa.delimiters ?? { element: text[start + 3] ?? '*', component: ':', repetition: null, segment: '~' },
        segments,
        isaLength: isa.end - start,
        start,
        end: isa.end,
        truncated: isa.end >= text.length,
        warnings: isa.warnings,
        fatal: isa.fatal,
      });
      pos = isa.end;
      // after an unreadable ISA, look for the next interchange
      const next = text.indexOf('ISA', pos);
      if (next < 0) break;
      pos = next;
      continue;
    }
    const d = isa.delimiters;
    pos = isa.end;
    let truncated = true;
    let position = 1;
    while (pos < text.length) {
      // whitespace after a terminator (CR/LF, or spaces) belongs to no segment
      while (pos < text.length && (text[pos] === '\r' || text[pos] === '\n') && text[pos] !== d.segment) pos++;
      if (pos >= text.length) break;
      let endAt = text.indexOf(d.segment, pos);
      const last = endAt < 0;
      if (last) endAt = text.length;
      let raw = text.slice(pos, endAt);
      if (d.segment !== '\r' && d.segment !== '\n') {
        raw = raw.replace(/[\r\n]+$/, '');
      }
      const segStart = pos;
      pos = last ? text.length : endAt + 1;
      if (raw.trim() === '') continue;
      const elements = raw.split(d.element);
      const id = elements[0].trim();
      position++;
      segments.push({ id, elements, position, line: lines.lineOf(segStart) });
      if (id === 'IEA') {
        truncated = last;
        break;
      }
    }
    interchanges.push({ delimiters: d, segments, isaLength: isa.end - start, start, end: pos, truncated, warnings: isa.warnings });
    skipWs();
  }
  return { interchanges };
}

/** The fixed width of ISA01…ISA16. */
export const ISA_ELEMENT_WIDTHS: readonly number[] = ISA_WIDTHS;

/** Splits an element into its components. */
export function components(value: string | undefined, d: X12Delimiters): string[] {
  return (value ?? '').split(d.component);
}

/** Splits an element into its repetitions (one when the interchange declares no repetition separator). */
export function repetitions(value: string | undefined, d: X12Delimiters): string[] {
  return d.repetition ? (value ?? '').split(d.repetition) : [value ?? ''];
}

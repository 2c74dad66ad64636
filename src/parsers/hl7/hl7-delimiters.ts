/** The separators and escape character of one HL7 v2 message, as MSH-1 and MSH-2 declare them. */
export interface Hl7Delimiters {
  /** MSH-1, usually `|`. */
  readonly field: string;
  /** MSH-2 first character, usually `^`. */
  readonly component: string;
  /** MSH-2 second character, usually `~`. */
  readonly repetition: string;
  /** MSH-2 third character, usually `\`. */
  readonly escape: string;
  /** MSH-2 fourth character, usually `&`. */
  readonly subcomponent: string;
  /** MSH-2 fifth character (v2.7 and later), usually `#`; undefined when MSH-2 has four characters. */
  readonly truncation?: string;
}

/** `|^~\&`, the delimiters nearly every sender uses. */
export const DEFAULT_HL7_DELIMITERS: Hl7Delimiters = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
});

/** MSH-2 as written for these delimiters: `^~\&` (and the truncation character when there is one). */
export function encodingCharactersOf(d: Hl7Delimiters): string {
  return `${d.component}${d.repetition}${d.escape}${d.subcomponent}${d.truncation ?? ''}`;
}

/** Why MSH-1/MSH-2 (or FHS/BHS-1/2) cannot be used as delimiters. */
export interface DelimiterProblem {
  /** What is wrong, to follow "MSH ". */
  problem: string;
  /** 1 for the field separator, 2 for the encoding characters. */
  field: 1 | 2;
}

/**
 * Reads the delimiters from the start of an MSH, FHS or BHS segment: the character after the
 * segment id is the field separator, the characters up to the next field separator are the
 * encoding characters (four, or five from v2.7 with the truncation character). All must differ,
 * none may be a letter, digit, space, CR or LF.
 * @param segmentText - the segment as written, starting with its id
 * @returns the delimiters, or why they cannot be read
 */
export function readDelimiters(segmentText: string): Hl7Delimiters | DelimiterProblem {
  const field = segmentText.charAt(3);
  if (field === '' || !isDelimiterChar(field)) {
    return { field: 1, problem: field === '' ? 'has no field separator (MSH-1)' : `has field separator ${JSON.stringify(field)}, which cannot be a delimiter` };
  }
  const end = segmentText.indexOf(field, 4);
  const enc = end < 0 ? segmentText.slice(4) : segmentText.slice(4, end);
  if (enc.length < 4 || enc.length > 5) {
    return { field: 2, problem: `has encoding characters ${JSON.stringify(enc)}; MSH-2 needs 4 characters (5 from v2.7), e.g. ^~\\&` };
  }
  const all = field + enc;
  for (let i = 0; i < all.length; i++) {
    const c = all[i];
    if (!isDelimiterChar(c) || all.indexOf(c) !== i) {
      return { field: 2, problem: `has encoding characters ${JSON.stringify(enc)}: each delimiter must be a distinct character that is not a letter, digit or space` };
    }
  }
  return { field, component: enc[0], repetition: enc[1], escape: enc[2], subcomponent: enc[3], ...(enc.length === 5 ? { truncation: enc[4] } : {}) };
}

/**
 * True when {@link readDelimiters} returned a problem.
 * @param r - its result
 */
export function isDelimiterProblem(r: Hl7Delimiters | DelimiterProblem): r is DelimiterProblem {
  return 'problem' in r;
}

function isDelimiterChar(c: string): boolean {
  const code = c.charCodeAt(0);
  // printable, not alphanumeric, not space; control characters (CR, LF, MLLP bytes) are out too
  return code > 0x20 && code !== 0x7f && !/[A-Za-z0-9]/.test(c);
}

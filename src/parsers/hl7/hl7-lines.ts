/** One segment line of an HL7 text: its text without terminator and where it starts. */
export interface Hl7Line {
  /** The line without its terminator. */
  text: string;
  /** 1-based line number (CR, LF and CRLF each end one line). */
  line: number;
  /** Character offset of the line in the text. */
  start: number;
}

/**
 * Splits HL7 text into segment lines. HL7 ends segments with CR; files and some senders use LF
 * or CRLF, and a message may mix them, so each of CR, LF and CRLF ends a line. Blank and
 * whitespace-only lines are skipped but counted.
 * @param text - the text, framing removed
 * @param firstLine - the number of the first line (for a message inside a batch file)
 */
export function splitHl7Lines(text: string, firstLine = 1): Hl7Line[] {
  const out: Hl7Line[] = [];
  const len = text.length;
  let line = firstLine;
  let start = 0;
  for (let i = 0; i <= len; i++) {
    const c = i < len ? text.charCodeAt(i) : 10;
    if (c !== 13 && c !== 10) {
      continue;
    }
    if (i > start) {
      const t = text.slice(start, i);
      if (t.trim() !== '') {
        out.push({ text: t, line, start });
      }
    }
    if (c === 13 && text.charCodeAt(i + 1) === 10) {
      i += 1;
    }
    line += 1;
    start = i + 1;
  }
  return out;
}

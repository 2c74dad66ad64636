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
  let nextCr = text.indexOf('\r');
  let nextLf = text.indexOf('\n');
  for (;;) {
    if (nextCr !== -1 && nextCr < start) {
      nextCr = text.indexOf('\r', start);
    }
    if (nextLf !== -1 && nextLf < start) {
      nextLf = text.indexOf('\n', start);
    }
    const end = nextCr === -1 ? nextLf : nextLf === -1 ? nextCr : Math.min(nextCr, nextLf);
    const stop = end === -1 ? len : end;
    if (stop > start) {
      const t = text.slice(start, stop);
      if (t.charCodeAt(0) > 32 || t.trim() !== '') {
        out.push({ text: t, line, start });
      }
    }
    if (end === -1) {
      return out;
    }
    start = text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
    line += 1;
  }
}

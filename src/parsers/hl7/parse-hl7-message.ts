import { LotBridgeError } from '../../errors';
import { hl7CharsetEncoding } from './hl7-charset';
import { isDelimiterProblem, readDelimiters } from './hl7-delimiters';
import type { Hl7HexDecoding } from './hl7-escape';
import { splitHl7Lines } from './hl7-lines';
import { describeHl7Location, hl7Location } from './hl7-location';
import { Hl7Message } from './hl7-message';
import { Hl7Segment } from './hl7-segment';
import { mshHeaderOf, mshMissingError } from './read-msh';
import { stripMllpFraming } from './strip-mllp-framing';

/** Options of {@link parseHl7Message}. */
export interface ParseHl7Options {
  /** Number of the text's first line, so locations point into a batch file (default 1). */
  firstLine?: number;
}

const BATCH_SEGMENTS = new Set(['FHS', 'BHS', 'BTS', 'FTS']);

/**
 * Parses one HL7 v2 message (decoded text; see `decodeHl7Buffer` for bytes). Accepts MLLP
 * framing, CR, LF or CRLF segment terminators (mixed too) and the delimiters MSH-1/MSH-2
 * declare. Throws a LotBridgeError with the location when the text is not one message:
 * LB_ERR_HL7_FRAMING, LB_ERR_HL7_MSH_MISSING, LB_ERR_HL7_ENCODING_CHARACTERS,
 * LB_ERR_HL7_REQUIRED_FIELD (short MSH), LB_ERR_HL7_SEGMENT_INVALID (a line that is no segment),
 * LB_ERR_HL7_BATCH (a second MSH, or batch segments). Field values are not validated here; read
 * them with the typed readers (`readHl7DateTime`, `readHl7Number`, …).
 * @param text - the message
 * @param opts - parse options
 */
export function parseHl7Message(text: string, opts: ParseHl7Options = {}): Hl7Message {
  const { text: body, framed } = stripMllpFraming(text);
  const lines = splitHl7Lines(body, opts.firstLine ?? 1);
  const first = lines[0];
  if (!first || !first.text.startsWith('MSH')) {
    throw mshMissingError(first?.text.slice(0, 3), first?.line);
  }
  const d = readDelimiters(first.text);
  if (isDelimiterProblem(d)) {
    const location = hl7Location({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: d.field, line: first.line });
    throw new LotBridgeError('LB_ERR_HL7_ENCODING_CHARACTERS', `MSH ${d.problem} ${describeHl7Location(location)}`, { location });
  }
  const hexDecoding = hexDecodingOf(new Hl7Segment(first.text, d, { index: 1, occurrence: 1, line: first.line }).get(18));
  const segments: Hl7Segment[] = [];
  const counts = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const { text: raw, line } = lines[i];
    const index = i + 1;
    if (!isSegmentStart(raw, d.field)) {
      // only the first characters are quoted: a line cut out of a PID value would be patient data
      const shown = raw.length > 3 ? `${raw.slice(0, 3)}…` : raw;
      const location = hl7Location({ segment: raw.slice(0, 3), segmentIndex: index, line });
      throw new LotBridgeError(
        'LB_ERR_HL7_SEGMENT_INVALID',
        `line ${line} (starting ${JSON.stringify(shown)}, ${raw.length} characters) is not a segment: a segment starts with a 3-character id (A-Z, 0-9) and "${d.field}"; ` +
          `the message was cut short or a value holds an unescaped line break (segment ${index} of the message, line ${line})`,
        { location, details: { segmentIndex: index } },
      );
    }
    const name = raw.slice(0, 3);
    if ((name === 'MSH' && i > 0) || BATCH_SEGMENTS.has(name)) {
      const location = hl7Location({ segment: name, segmentIndex: index, line });
      throw new LotBridgeError(
        'LB_ERR_HL7_BATCH',
        `segment ${index} (line ${line}) is ${name === 'MSH' ? 'a second MSH' : `a batch segment ${name}`}: the text holds more than one message; split it with splitHl7Batch`,
        { location },
      );
    }
    const occurrence = (counts.get(name) ?? 0) + 1;
    counts.set(name, occurrence);
    segments.push(new Hl7Segment(raw, d, { index, occurrence, line }, hexDecoding));
  }
  const header = mshHeaderOf(segments[0]);
  if (header.error) {
    throw header.error;
  }
  return new Hl7Message(body, d, segments, header, framed);
}

/** True when the line starts with a segment id: [A-Z][A-Z0-9]{2}, then the field separator or the end. */
function isSegmentStart(raw: string, fieldSeparator: string): boolean {
  if (raw.length < 3 || (raw.length > 3 && raw[3] !== fieldSeparator)) {
    return false;
  }
  const a = raw.charCodeAt(0);
  if (a < 65 || a > 90) {
    return false;
  }
  for (let k = 1; k < 3; k++) {
    const c = raw.charCodeAt(k);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) {
      return false;
    }
  }
  return true;
}

function hexDecodingOf(msh18: string | undefined): Hl7HexDecoding {
  return (msh18 && hl7CharsetEncoding(msh18)?.hexDecoding) || 'auto';
}

import { LotBridgeError } from '../../errors';
import { DEFAULT_HL7_DELIMITERS, isDelimiterProblem, readDelimiters, type Hl7Delimiters } from './hl7-delimiters';
import { splitHl7Lines } from './hl7-lines';
import { describeHl7Location, hl7Location } from './hl7-location';
import { Hl7Segment } from './hl7-segment';
import { stripMllpFraming } from './strip-mllp-framing';

/**
 * What an MSH says, as far as it could be read. Values are unescaped; HD fields (applications,
 * facilities) give their namespace id, or the universal id when the namespace id is empty.
 */
export interface MshHeader {
  /** True when an MSH segment was found. */
  found: boolean;
  /** MSH-1/MSH-2, or `|^~\&` when they could not be read. */
  delimiters: Hl7Delimiters;
  /** True when the delimiters came from the message (false: defaults). */
  delimitersRead: boolean;
  /** MSH fields as written (escaped), by field number: `[1]` field separator, `[2]` encoding characters. `[]` when no MSH. */
  rawFields: readonly string[];
  /** MSH-3 */
  sendingApplication?: string;
  /** MSH-4 */
  sendingFacility?: string;
  /** MSH-5 */
  receivingApplication?: string;
  /** MSH-6 */
  receivingFacility?: string;
  /** MSH-7 (its first component: the DTM), as written. */
  dateTime?: string;
  /** MSH-9.1, e.g. `DFT`. */
  messageType?: string;
  /** MSH-9.2, e.g. `P03`. */
  triggerEvent?: string;
  /** MSH-9.3, e.g. `DFT_P03` (v2.3.1+). */
  messageStructure?: string;
  /** MSH-10 */
  controlId?: string;
  /** MSH-11.1: P, T or D. */
  processingId?: string;
  /** MSH-12.1, e.g. `2.5.1`. */
  version?: string;
  /** MSH-15: AL, NE, ER, SU (enhanced mode when MSH-15 or MSH-16 is set). */
  acceptAckType?: string;
  /** MSH-16 */
  applicationAckType?: string;
  /** MSH-18, first repetition, e.g. `UNICODE UTF-8`. */
  charset?: string;
  /** 1-based line of the MSH in the text. */
  line?: number;
  /** Why the header is unusable (missing MSH, bad delimiters, a required field missing); undefined when it is complete. */
  error?: LotBridgeError;
}

/** MSH fields every version requires (v2.1–2.9): type, control id, processing id, version. */
const REQUIRED_MSH_FIELDS: ReadonlyArray<[number, string]> = [
  [9, 'message type'],
  [10, 'message control id'],
  [11, 'processing id'],
  [12, 'version id'],
];

/**
 * Reads the MSH of a message that may be broken: MLLP framing, a missing or short MSH, bad
 * delimiters. Returns what could be read, and in `error` why the header is unusable
 * (LB_ERR_HL7_MSH_MISSING, LB_ERR_HL7_ENCODING_CHARACTERS, LB_ERR_HL7_REQUIRED_FIELD). Never throws.
 * The MSH is the first segment starting with `MSH`, so it also finds the first message of a batch.
 * @param text - the message as received (decoded text)
 */
export function readMsh(text: string): MshHeader {
  const lines = splitHl7Lines(stripMllpFraming(text, false).text);
  const msh = lines.find((l) => l.text.startsWith('MSH'));
  if (!msh) {
    const first = lines[0];
    return {
      found: false,
      delimiters: DEFAULT_HL7_DELIMITERS,
      delimitersRead: false,
      rawFields: [],
      error: mshMissingError(first?.text.slice(0, 3), first?.line),
    };
  }
  const d = readDelimiters(msh.text);
  if (isDelimiterProblem(d)) {
    // still read what the field separator allows, with default encoding characters
    const fs = d.field === 2 ? msh.text.charAt(3) : DEFAULT_HL7_DELIMITERS.field;
    const delimiters = { ...DEFAULT_HL7_DELIMITERS, field: fs };
    const header = mshHeaderOf(new Hl7Segment(msh.text, delimiters, { index: 1, occurrence: 1, line: msh.line }), false);
    header.error = new LotBridgeError('LB_ERR_HL7_ENCODING_CHARACTERS', `MSH ${d.problem} (segment MSH, field ${d.field}, line ${msh.line})`, {
      location: hl7Location({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: d.field, line: msh.line }),
    });
    return header;
  }
  return mshHeaderOf(new Hl7Segment(msh.text, d, { index: 1, occurrence: 1, line: msh.line }), true);
}

/**
 * The header of a parsed MSH segment, with `error` set when a required field is missing.
 * @param msh - the MSH segment
 * @param delimitersRead - whether its delimiters came from the message
 */
export function mshHeaderOf(msh: Hl7Segment, delimitersRead = true): MshHeader {
  const raw: string[] = [];
  for (let n = 1; n <= msh.fieldCount; n++) {
    raw[n] = msh.rawField(n) ?? '';
  }
  const hd = (n: number): string | undefined => msh.get(n, 1) ?? msh.get(n, 2);
  const header: MshHeader = {
    found: true,
    delimiters: msh.delimiters,
    delimitersRead,
    rawFields: raw,
    sendingApplication: hd(3),
    sendingFacility: hd(4),
    receivingApplication: hd(5),
    receivingFacility: hd(6),
    dateTime: msh.get(7),
    messageType: msh.get(9, 1),
    triggerEvent: msh.get(9, 2),
    messageStructure: msh.get(9, 3),
    controlId: msh.get(10),
    processingId: msh.get(11),
    version: msh.get(12),
    acceptAckType: msh.get(15),
    applicationAckType: msh.get(16),
    charset: msh.get(18),
    line: msh.line,
  };
  for (const key of Object.keys(header) as (keyof MshHeader)[]) {
    if (header[key] === undefined) {
      delete header[key];
    }
  }
  const missing = REQUIRED_MSH_FIELDS.filter(([n]) => !msh.get(n));
  if (missing.length > 0) {
    const [first] = missing[0];
    const location = msh.location(first);
    const list = missing.map(([n, what]) => `MSH-${n} (${what})`).join(', ');
    header.error = new LotBridgeError(
      'LB_ERR_HL7_REQUIRED_FIELD',
      `${msh.fieldCount < 12 ? `MSH is short (it ends after field ${msh.fieldCount})` : 'MSH leaves required fields empty'}: ${list} ${missing.length === 1 ? 'is' : 'are'} missing ${describeHl7Location(location)}`,
      { location, details: { missingFields: missing.map(([n]) => n) } },
    );
  }
  return header;
}

/**
 * LB_ERR_HL7_MSH_MISSING for a text whose first segment is not MSH.
 * @param firstSegment - the id the text starts with, if any
 * @param line - its line
 */
export function mshMissingError(firstSegment: string | undefined, line: number | undefined): LotBridgeError {
  const batch = firstSegment === 'FHS' || firstSegment === 'BHS';
  const what = firstSegment ? `starts with ${JSON.stringify(firstSegment)}` : 'is empty';
  return new LotBridgeError(
    'LB_ERR_HL7_MSH_MISSING',
    `the text ${what}, not with an MSH segment${batch ? ': it is a batch file, split it into messages first' : ''}${line !== undefined && firstSegment ? ` (line ${line})` : ''}`,
    { location: { segment: 'MSH', ...(line !== undefined ? { line } : {}) } },
  );
}

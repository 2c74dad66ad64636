import { LotBridgeError } from '../../errors';
import { DEFAULT_HL7_DELIMITERS, isDelimiterProblem, readDelimiters, type Hl7Delimiters } from './hl7-delimiters';
import { splitHl7Lines, type Hl7Line } from './hl7-lines';
import { describeHl7Location, hl7Location } from './hl7-location';
import { Hl7Segment } from './hl7-segment';
import { mshMissingError } from './read-msh';
import { stripMllpFraming } from './strip-mllp-framing';

/** One message of a batch file: its text as written and where it starts in the file. */
export interface Hl7BatchMessage {
  /** The message, from its MSH to the end of its last segment, terminators as written. */
  text: string;
  /** 1-based line of its MSH in the file (pass as `firstLine` to parseHl7Message). */
  firstLine: number;
  /** 1-based position of its MSH among the file's segments (FHS and BHS count). */
  firstSegment: number;
  /** Number of segments in the message. */
  segmentCount: number;
  /** 1-based number of the batch (BHS) it belongs to; 0 outside any BHS. */
  batch: number;
}

/** A batch file split into messages, with its envelope and what is wrong with the envelope. */
export interface Hl7Batch {
  /** The messages, in file order. */
  messages: Hl7BatchMessage[];
  /** FHS, when the file has one. */
  fileHeader?: Hl7Segment;
  /** FTS, when the file has one. */
  fileTrailer?: Hl7Segment;
  /** Every BHS, in order. */
  batchHeaders: Hl7Segment[];
  /** Every BTS, in order. */
  batchTrailers: Hl7Segment[];
  /**
   * Envelope problems (LB_ERR_HL7_BATCH): counts in BTS-1/FTS-1 that do not match, unclosed
   * batches, segments outside any message. The messages are split all the same.
   */
  errors: LotBridgeError[];
}

const ENVELOPE = new Set(['FHS', 'BHS', 'BTS', 'FTS']);

/**
 * Splits an HL7 batch file (`FHS`, `BHS`, messages, `BTS`, `FTS`; each envelope segment
 * optional) into message texts. A text that is a single message gives one message. Terminators
 * may be CR, LF or CRLF. Throws LB_ERR_HL7_MSH_MISSING when the text holds no MSH, and
 * LB_ERR_HL7_ENCODING_CHARACTERS when FHS/BHS delimiters are unusable; envelope inconsistencies
 * are returned in `errors`.
 * @param text - the file's text (decoded)
 */
export function splitHl7Batch(text: string): Hl7Batch {
  const { text: body } = stripMllpFraming(text);
  const lines = splitHl7Lines(body);
  const out: Hl7Batch = { messages: [], batchHeaders: [], batchTrailers: [], errors: [] };
  let d: Hl7Delimiters = DEFAULT_HL7_DELIMITERS;
  let current: { first: Hl7Line; last: Hl7Line; firstSegment: number; count: number; batch: number } | undefined;
  let batch = 0;
  let openBatch = false;
  let inBatchCount = 0;
  const close = (): void => {
    if (current) {
      out.messages.push({
        text: body.slice(current.first.start, current.last.start + current.last.text.length),
        firstLine: current.first.line,
        firstSegment: current.firstSegment,
        segmentCount: current.count,
        batch: current.batch,
      });
      current = undefined;
    }
  };
  const envelope = (line: Hl7Line, index: number, name: string, occurrence: number): Hl7Segment => {
    if (name === 'FHS' || name === 'BHS') {
      const r = readDelimiters(line.text);
      if (isDelimiterProblem(r)) {
        const location = hl7Location({ segment: name, segmentIndex: index, occurrence, field: r.field, line: line.line });
        throw new LotBridgeError('LB_ERR_HL7_ENCODING_CHARACTERS', `${name} ${r.problem.replace('MSH-', `${name}-`)} ${describeHl7Location(location)}`, { location });
      }
      d = r;
    }
    return new Hl7Segment(line.text, d, { index, occurrence, line: line.line });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const name = line.text.slice(0, 3);
    const isEnvelope = ENVELOPE.has(name) && (line.text.length === 3 || !/[A-Za-z0-9]/.test(line.text[3]));
    if (name === 'MSH') {
      close();
      current = { first: line, last: line, firstSegment: i + 1, count: 1, batch: openBatch ? batch : 0 };
      if (openBatch) {
        inBatchCount += 1;
      }
    } else if (isEnvelope) {
      close();
      if (name === 'FHS') {
        out.fileHeader = envelope(line, i + 1, name, 1);
      } else if (name === 'BHS') {
        if (openBatch) {
          out.errors.push(batchError(`batch ${batch} is not closed by a BTS before the next BHS`, hl7Location({ segment: 'BHS', segmentIndex: i + 1, occurrence: batch + 1, line: line.line })));
        }
        batch += 1;
        openBatch = true;
        inBatchCount = 0;
        out.batchHeaders.push(envelope(line, i + 1, name, batch));
      } else if (name === 'BTS') {
        const bts = envelope(line, i + 1, name, out.batchTrailers.length + 1);
        out.batchTrailers.push(bts);
        if (!openBatch) {
          out.errors.push(batchError('BTS closes no batch: there is no BHS before it', bts.location()));
        }
        checkCount(out, bts, 1, inBatchCount, `batch ${batch} holds ${inBatchCount} message${inBatchCount === 1 ? '' : 's'}`);
        openBatch = false;
      } else {
        const fts = envelope(line, i + 1, name, 1);
        out.fileTrailer = fts;
        checkCount(out, fts, 1, out.batchHeaders.length, `the file holds ${out.batchHeaders.length} batch${out.batchHeaders.length === 1 ? '' : 'es'}`);
      }
    } else if (current) {
      current.last = line;
      current.count += 1;
    } else {
      out.errors.push(batchError(`line ${line.line} (${JSON.stringify(line.text.slice(0, 3))}) stands outside any message: messages start with MSH`, hl7Location({ segment: name, segmentIndex: i + 1, line: line.line })));
    }
  }
  close();
  if (openBatch) {
    out.errors.push(batchError(`batch ${batch} is not closed by a BTS`, out.batchHeaders[out.batchHeaders.length - 1].location()));
  }
  if (out.fileHeader && !out.fileTrailer) {
    out.errors.push(batchError('the file header FHS has no FTS trailer: the file may be cut short', out.fileHeader.location()));
  }
  if (out.messages.length === 0) {
    throw mshMissingError(lines[0]?.text.slice(0, 3), lines[0]?.line);
  }
  return out;
}

function checkCount(out: Hl7Batch, seg: Hl7Segment, field: number, actual: number, what: string): void {
  const written = seg.get(field);
  if (written !== undefined && Number(written) !== actual) {
    const location = seg.location(field);
    out.errors.push(batchError(`${seg.name}-${field} says ${written} but ${what}`, location));
  }
}

function batchError(message: string, location: ReturnType<typeof hl7Location>): LotBridgeError {
  return new LotBridgeError('LB_ERR_HL7_BATCH', `${message} ${describeHl7Location(location)}`, { location });
}

export { parseHl7Message, type ParseHl7Options } from './parse-hl7-message';
export { Hl7Message, type Hl7SegmentSelector, type Hl7SegmentGroup, type Hl7GroupOptions } from './hl7-message';
export { Hl7Segment, type Hl7Field, type Hl7Repetition, type Hl7SegmentPosition } from './hl7-segment';
export { readMsh, type MshHeader } from './read-msh';
export { splitHl7Batch, type Hl7Batch, type Hl7BatchMessage } from './split-hl7-batch';
export { stripMllpFraming, type UnframedHl7 } from './strip-mllp-framing';
export { splitHl7Lines, type Hl7Line } from './hl7-lines';
export { DEFAULT_HL7_DELIMITERS, encodingCharactersOf, readDelimiters, type Hl7Delimiters } from './hl7-delimiters';
export { escapeHl7, unescapeHl7, type Hl7HexDecoding } from './hl7-escape';
export { hl7Location, hl7Path, describeHl7Location, type Hl7Location, type Hl7Position } from './hl7-location';
export {
  parseHl7DateTime,
  readHl7DateTime,
  parseHl7Number,
  readHl7Number,
  requireHl7Value,
  readHl7Value,
  readHl7Component,
  type Hl7DateTime,
  type Hl7DateTimeOptions,
  type Hl7DatePrecision,
  type Hl7ValueRef,
  type Hl7ValueProblem,
} from './hl7-field-readers';
export { HL7_V2_VERSIONS, isHl7Version, compareHl7Versions, checkHl7Version, checkHl7MessageType, type Hl7Version, type Hl7MessageType } from './hl7-version';
export { decodeHl7Buffer, decodeHl7Bytes, hl7CharsetEncoding, msh18OfMimeCharset, SUPPORTED_HL7_CHARSETS, type DecodedHl7, type DecodeHl7Options, type Hl7Encoding } from './hl7-charset';
export { HL7_ERROR_CODES, hl7ErrorCodeFor, type Hl7ErrorCode } from './hl7-error-codes';
export {
  buildHl7Ack,
  hl7AckRequested,
  formatHl7Time,
  generateControlId,
  clipHl7Text,
  isHl7Acknowledgment,
  encodeHl7Ack,
  hl7AckMimeCharset,
  type BuildHl7AckOptions,
  type Hl7Ack,
  type Hl7AckCode,
  type Hl7AckProblem,
  type Hl7AckStatus,
  type Hl7ErrorSeverity,
} from './build-hl7-ack';

import type { ErrorCode } from '../../errors';

/** HL7 table 0357 (message error condition codes) values LotBridge sends in ERR-3 / ERR-1.4. */
export const HL7_ERROR_CODES = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  206: 'Application record locked',
  207: 'Application internal error',
} as const;

/** A table 0357 code. */
export type Hl7ErrorCode = keyof typeof HL7_ERROR_CODES;

/** Our codes whose table 0357 code is not "207 application internal error". */
const BY_LB_CODE: Partial<Record<ErrorCode, Hl7ErrorCode>> = {
  LB_ERR_HL7_MSH_MISSING: 100,
  LB_ERR_HL7_SEGMENT_INVALID: 100,
  LB_ERR_HL7_FRAMING: 100,
  LB_ERR_HL7_BATCH: 100,
  LB_ERR_HL7_REQUIRED_FIELD: 101,
  LB_ERR_HL7_ENCODING_CHARACTERS: 102,
  LB_ERR_HL7_DATE: 102,
  LB_ERR_HL7_NUMBER: 102,
  LB_ERR_INGEST_ENCODING: 102,
  LB_ERR_HL7_CHARSET: 103,
  LB_ERR_HL7_MESSAGE_TYPE: 200,
  LB_ERR_HL7_VERSION: 203,
  LB_ERR_GS1_EMPTY: 102,
  LB_ERR_GS1_UNKNOWN_AI: 102,
  LB_ERR_GS1_LENGTH: 102,
  LB_ERR_GS1_CHARSET: 102,
  LB_ERR_GS1_CHECK_DIGIT: 102,
  LB_ERR_GS1_DATE: 102,
  LB_ERR_GS1_SYNTAX: 102,
  LB_ERR_GS1_ASSOCIATION: 102,
  LB_ERR_GS1_DUPLICATE_AI: 102,
  LB_ERR_GS1_INVALID_VALUE: 102,
  LB_ERR_MASTER_DATA_REFERENCE_UNKNOWN: 204,
};

/**
 * The table 0357 code for one of our error codes: HL7 syntax and value errors map to 100–103,
 * MSH-9 and MSH-12 to 200 and 203, GS1 barcode errors inside a field to 102, unknown master
 * data to 204, everything else (including transient and defect errors) to 207.
 * @param code - a LotBridge error code (any string: codes of other modules fall back to 207)
 */
export function hl7ErrorCodeFor(code: string): Hl7ErrorCode {
  return BY_LB_CODE[code as ErrorCode] ?? 207;
}

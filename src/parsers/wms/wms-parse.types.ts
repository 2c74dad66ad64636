import type { LotBridgeError } from '../../errors';

/** How a WMS body is written. */
export type WmsSyntax = 'json' | 'ndjson' | 'csv';

/** One record of a WMS body, before validation, with where it sits in the body. */
export interface WmsParsedRecord {
  /** 0-based position of the record in the body (bad NDJSON lines and CSV rows count too). */
  index: number;
  /** 1-based line where the record starts. */
  line?: number;
  /** The record: a parsed JSON value, or an object built from a CSV row. */
  value: unknown;
}

/** The records of a readable WMS body and the records that could not be read. */
export interface WmsParseResult {
  syntax: WmsSyntax;
  /** True when the body is one JSON object (not an array, NDJSON or CSV). */
  single: boolean;
  records: WmsParsedRecord[];
  /** Records that could not be read (a bad NDJSON line, a CSV row with too many fields), with their location. */
  errors: LotBridgeError[];
}

/** A WMS body as stored: bytes plus what the transport said about them. */
export interface WmsBodyInput {
  payload: Buffer;
  /** Stored format: `json` (one object, an array or NDJSON) or `csv`. */
  format: string;
  contentType?: string | null;
  /** Declared charset, when known (`charset=` of the Content-Type). */
  encoding?: string | null;
}

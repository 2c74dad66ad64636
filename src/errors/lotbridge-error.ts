import type { ErrorCode } from './codes';
import { errorCatalog } from './codes';

/** Who must act on an error: the sender (`input`), time/ops (`transient`), or a developer (`defect`). */
export type ErrorKind = 'input' | 'transient' | 'defect';

/** Where in a message an error sits; structured so consoles can point at it. */
export interface MessageLocation {
  /** Segment id (HL7 MSH, X12 ISA, EDIFACT UNB). */
  segment?: string;
  /** Field / element position, e.g. "9" or "9.1". */
  field?: string;
  /** 1-based line number in the payload (CSV, NDJSON, JSON text). */
  line?: number;
  /** 1-based column, where known. */
  column?: number;
  /** JSON pointer or record path, e.g. "/2/quantity" or "[3].quantity". */
  path?: string;
  /** 0-based index of the record inside a multi-record message. */
  index?: number;
  /** Character position inside a scanned barcode or text. */
  position?: number;
}

/** The JSON shape of an error in receipts, message views and API answers. */
export interface LotBridgeErrorJson {
  code: ErrorCode;
  message: string;
  location?: MessageLocation;
  details?: Record<string, unknown>;
}

export interface LotBridgeErrorInfo {
  /** Overrides the catalog's kind for this code (rarely needed). */
  kind?: ErrorKind;
  location?: MessageLocation;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type LotBridge throws on purpose. Codes come from the catalog in codes.ts. */
export class LotBridgeError extends Error {
  readonly kind: ErrorKind;
  readonly location?: MessageLocation;
  readonly details?: Record<string, unknown>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    info: LotBridgeErrorInfo = {},
  ) {
    super(message, { cause: info.cause });
    this.name = 'LotBridgeError';
    this.kind = info.kind ?? errorCatalog[code].kind;
    this.location = info.location;
    this.details = info.details;
  }

  /** HTTP status for API answers, from the catalog. */
  get httpStatus(): number {
    return errorCatalog[this.code].http;
  }

  toJSON(): LotBridgeErrorJson {
    const out: LotBridgeErrorJson = { code: this.code, message: this.message };
    if (this.location && Object.keys(this.location).length > 0) {
      out.location = this.location;
    }
    if (this.details) {
      out.details = this.details;
    }
    return out;
  }

  /** The error again from its JSON form (a stored message's error); an unknown code becomes LB_ERR_INTERNAL. */
  static fromJSON(json: LotBridgeErrorJson): LotBridgeError {
    const code = (json.code in errorCatalog ? json.code : 'LB_ERR_INTERNAL') as ErrorCode;
    return new LotBridgeError(code, json.message, { location: json.location, details: json.details });
  }
}

/** True for a LotBridgeError, also across module copies (checks the name, not only the class). */
export function isLotBridgeError(err: unknown): err is LotBridgeError {
  return (
    err instanceof LotBridgeError ||
    (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'LotBridgeError' && 'code' in err)
  );
}

const TRANSIENT_PG_CODES = new Set([
  '08000', '08003', '08006', '08001', '08004', '57P01', '57P02', '57P03', '53300', '40001', '40P01', '55P03',
]);
const TRANSIENT_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * Classifies any thrown value: LotBridgeErrors keep their kind; connection, serialization
 * and deadlock errors from PostgreSQL/Redis/network are transient; everything else is a defect.
 */
export function classifyError(err: unknown): ErrorKind {
  if (isLotBridgeError(err)) {
    return err.kind;
  }
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && (TRANSIENT_PG_CODES.has(code) || TRANSIENT_NET_CODES.has(code))) {
    return 'transient';
  }
  const msg = typeof e?.message === 'string' ? e.message : '';
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Knex: Timeout acquiring a connection|Connection is closed|ECONNREFUSED/i.test(msg)) {
    return 'transient';
  }
  return 'defect';
}

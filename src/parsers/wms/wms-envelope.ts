import { LotBridgeError } from '../../errors';
import type { WmsParseResult } from './wms-parse.types';

/** What the envelope of a WMS body says: its message type and, for one record, its id and sender. */
export interface WmsEnvelope {
  /** `movement:<type>`, `count`, `temperature` for one record; `batch` for arrays, NDJSON and CSV. */
  messageType: string;
  /** movementId or readingId of a single-record body. */
  id?: string;
  /** `sender`, else `warehouse`, of a single-record body. */
  sender?: string;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * The envelope of a parsed WMS body. Pure; never throws.
 * @param parsed - the body's records
 */
export function wmsEnvelopeOf(parsed: WmsParseResult): WmsEnvelope {
  const value = parsed.single ? parsed.records[0]?.value : undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { messageType: 'batch' };
  }
  const v = value as Record<string, unknown>;
  const type = text(v.type);
  const id = text(v.movementId) ?? text(v.readingId);
  const sender = text(v.sender) ?? text(v.warehouse);
  const messageType = type === undefined ? 'unknown' : type === 'count' || type === 'temperature' ? type : `movement:${type}`;
  return { messageType, ...(id === undefined ? {} : { id }), ...(sender === undefined ? {} : { sender }) };
}

/**
 * The one error that stands for a body none of whose records could be read: the record's own
 * error for one record, else LB_ERR_WMS_ALL_RECORDS_REJECTED located at the first error, with all
 * of them in `details.errors`.
 * @param errors - the record errors, in body order
 * @param total - how many records the body has
 */
export function allRecordsRejected(errors: LotBridgeError[], total: number): LotBridgeError {
  if (total === 1 && errors.length === 1) {
    return errors[0];
  }
  const first = errors[0];
  return new LotBridgeError('LB_ERR_WMS_ALL_RECORDS_REJECTED', `all ${total} records were rejected; the first: ${first?.message ?? 'unknown'}`, {
    location: first?.location,
    details: { errors: errors.map((e) => e.toJSON()) },
  });
}

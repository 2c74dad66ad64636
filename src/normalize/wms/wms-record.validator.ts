import type { ErrorObject } from 'ajv';
import { LotBridgeError, type ErrorCode, type MessageLocation } from '../../errors';
import type { WmsParsedRecord } from '../../parsers/wms';
import { parseReferenceText } from '../../parsers/wms';
import { describeAjvErrors, schemaRegistry } from '../../schemas/registry';
import { isTimestampProblem, parseSourceTimestamp, type SourceInstant } from '../time/source-timestamp';
import { identifyWmsItem, type RecordErrorFactory } from './wms-item';
import {
  WMS_MOVEMENT_TYPES,
  WMS_RECORD_SCHEMA_ID,
  WMS_RECORD_TYPES,
  type StockState,
  type WmsMovementType,
  type WmsRecord,
  type WmsRecordType,
} from './wms-record.types';

/** Options of {@link validateWmsRecord}. */
export interface WmsValidateOptions {
  /** IANA zone for timestamps without an offset. */
  timezone: string;
  /** True when the body is one JSON object: paths are then `/quantity` rather than `/2/quantity`. */
  single: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** The ajv error worth showing first: a concrete one, not the if/anyOf wrappers around it. */
function firstConcreteError(errors: ErrorObject[]): ErrorObject | undefined {
  return errors.find((e) => !['if', 'anyOf', 'allOf', 'oneOf', 'then', 'else'].includes(e.keyword)) ?? errors[0];
}

function referenceOf(v: unknown): Record<string, string> {
  if (typeof v === 'string') {
    return parseReferenceText(v);
  }
  const out: Record<string, string> = {};
  if (isObject(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (typeof val === 'string' && val.trim() !== '') {
        out[k.toLowerCase()] = val.trim();
      }
    }
  }
  return out;
}

/**
 * Validates one WMS record and reads it into a typed record. Specific problems get specific codes,
 * each located at the record (`index`, `line`) and field (`path` like `/2/quantity`, `field`):
 * unknown type → LB_ERR_WMS_UNKNOWN_TYPE; missing, non-numeric or negative quantity →
 * LB_ERR_WMS_QUANTITY; impossible date or timestamp → LB_ERR_WMS_DATE; no location →
 * LB_ERR_WMS_LOCATION_REQUIRED; bad barcode → its LB_ERR_GS1_* code; no item →
 * LB_ERR_WMS_ITEM_UNIDENTIFIED; anything else the schema refuses → LB_ERR_WMS_RECORD_INVALID.
 * @param rec - the parsed record with its index and line
 * @param opts - time zone and body shape
 * @throws LotBridgeError (kind input) for the first problem of the record
 */
export function validateWmsRecord(rec: WmsParsedRecord, opts: WmsValidateOptions): WmsRecord {
  const base: MessageLocation = rec.line === undefined ? { index: rec.index } : { index: rec.index, line: rec.line };
  const prefix = opts.single ? '' : `/${rec.index}`;
  const fail = recordErrorFactory(base, prefix);

  const v = rec.value;
  if (!isObject(v)) {
    throw fail('LB_ERR_WMS_RECORD_INVALID', undefined, `is ${Array.isArray(v) ? 'an array' : `a JSON ${v === null ? 'null' : typeof v}`}, not a record object`);
  }
  if (v.type === undefined || v.type === '') {
    throw fail('LB_ERR_WMS_RECORD_INVALID', 'type', `has no type (one of ${WMS_RECORD_TYPES.join(', ')})`);
  }
  if (typeof v.type !== 'string' || !(WMS_RECORD_TYPES as readonly string[]).includes(v.type)) {
    throw fail('LB_ERR_WMS_UNKNOWN_TYPE', 'type', `type ${JSON.stringify(v.type)} is not one of ${WMS_RECORD_TYPES.join(', ')}`);
  }
  const type = v.type as WmsRecordType;

  if (type !== 'temperature') {
    const q = v.quantity;
    if (q === undefined || q === null || q === '') {
      throw fail('LB_ERR_WMS_QUANTITY', 'quantity', `quantity is missing (a ${type} needs one)`);
    }
    if (typeof q !== 'number' || !Number.isFinite(q)) {
      throw fail('LB_ERR_WMS_QUANTITY', 'quantity', `quantity ${JSON.stringify(q)} is not a number`);
    }
    if (type === 'count' && q < 0) {
      throw fail('LB_ERR_WMS_QUANTITY', 'quantity', `a count cannot be negative (quantity ${q})`);
    }
    if (type !== 'count' && type !== 'adjust' && q <= 0) {
      throw fail('LB_ERR_WMS_QUANTITY', 'quantity', `quantity ${q} must be greater than 0 for a ${type} (use adjust for a correction)`);
    }
  }

  const timeField = type === 'temperature' ? 'at' : 'occurredAt';
  const rawTime = v[timeField];
  if (rawTime === undefined || rawTime === '') {
    throw fail('LB_ERR_WMS_RECORD_INVALID', timeField, `${timeField} is missing`);
  }
  if (typeof rawTime !== 'string') {
    throw fail('LB_ERR_WMS_DATE', timeField, `${timeField} ${JSON.stringify(rawTime)} is not an ISO-8601 timestamp string`);
  }
  const instant = parseSourceTimestamp(rawTime, opts.timezone);
  if (isTimestampProblem(instant)) {
    throw fail('LB_ERR_WMS_DATE', timeField, `${timeField} ${instant.problem}`);
  }

  if (str(v.location) === undefined) {
    throw fail('LB_ERR_WMS_LOCATION_REQUIRED', 'location', `a ${type} needs a location`);
  }
  if ((type === 'move' || type === 'putaway') && str(v.toLocation) === undefined) {
    throw fail('LB_ERR_WMS_LOCATION_REQUIRED', 'toLocation', `a ${type} needs a toLocation`);
  }
  if (type === 'temperature' && (typeof v.celsius !== 'number' || !Number.isFinite(v.celsius))) {
    throw fail('LB_ERR_WMS_RECORD_INVALID', 'celsius', v.celsius === undefined ? 'celsius is missing' : `celsius ${JSON.stringify(v.celsius)} is not a number`);
  }

  const item = type === 'temperature' ? undefined : identifyWmsItem(v, fail);

  const validate = schemaRegistry().get(WMS_RECORD_SCHEMA_ID);
  if (!validate(v)) {
    const e = firstConcreteError(validate.errors ?? []);
    const missing = e?.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : undefined;
    const pointer = `${e?.instancePath ?? ''}${missing === undefined ? '' : `/${missing}`}`;
    throw fail('LB_ERR_WMS_RECORD_INVALID', pointer.split('/')[1] || undefined, describeAjvErrors(e ? [e] : []), {
      location: { path: `${prefix}${pointer}` || '/' },
      details: { errors: describeAjvErrors(validate.errors) },
    });
  }

  return build(type, v, { at: base, pathPrefix: prefix }, instant, item);
}

/**
 * Builds the errors of one record: located at the record (index, line) and a field of it.
 * @param at - index and line of the record
 * @param prefix - JSON-pointer prefix of its fields (`/2`, or `` for a single-object body)
 */
export function recordErrorFactory(at: MessageLocation, prefix: string): RecordErrorFactory {
  const where = `record ${at.index ?? 0}${at.line === undefined ? '' : ` (line ${at.line})`}`;
  return (code: ErrorCode, field, message, extra = {}) =>
    new LotBridgeError(code, `${where}: ${message}`, {
      location: { ...at, path: field === undefined ? prefix || '/' : `${prefix}/${field}`, ...(field === undefined ? {} : { field }), ...extra.location },
      details: extra.details,
      cause: extra.cause,
    });
}

function build(
  type: WmsRecordType,
  v: Record<string, unknown>,
  where: { at: MessageLocation; pathPrefix: string },
  occurredAt: SourceInstant,
  item: ReturnType<typeof identifyWmsItem> | undefined,
): WmsRecord {
  const sender = str(v.sender) ?? str(v.warehouse);
  const common = { ...where, location: str(v.location) as string, ...(sender === undefined ? {} : { sender }) };
  if (type === 'temperature') {
    return { ...common, kind: 'temperature', id: str(v.readingId) as string, sensor: str(v.sensor) as string, occurredAt, celsius: v.celsius as number };
  }
  const stock = {
    ...common,
    id: str(v.movementId) as string,
    occurredAt,
    item: item as NonNullable<typeof item>,
    quantity: v.quantity as number,
    ...(str(v.uom) === undefined ? {} : { uom: str(v.uom) }),
    ...(v.stockState === undefined ? {} : { stockState: v.stockState as StockState }),
    reference: referenceOf(v.reference),
  };
  if (type === 'count') {
    return { ...stock, kind: 'count' };
  }
  if (!(WMS_MOVEMENT_TYPES as readonly string[]).includes(type)) {
    throw new LotBridgeError('LB_ERR_INTERNAL', `record type ${type} has no reader`);
  }
  return {
    ...stock,
    kind: 'movement',
    type: type as WmsMovementType,
    ...(str(v.toLocation) === undefined ? {} : { toLocation: str(v.toLocation) }),
    ...(v.toStockState === undefined ? {} : { toStockState: v.toStockState as StockState }),
    ...(str(v.shipTo) === undefined ? {} : { shipTo: str(v.shipTo) }),
  };
}

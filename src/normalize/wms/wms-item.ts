import { LotBridgeError, isLotBridgeError, type ErrorCode, type MessageLocation } from '../../errors';
import { decodeGs1 } from '../../gs1/gs1-decode';
import { normalizeGtin } from '../../model/master-data/gs1-keys';
import { parseCalendarDate, isTimestampProblem } from '../time/source-timestamp';
import type { WmsItem } from './wms-record.types';

/** Builds the error of one field of one record. */
export type RecordErrorFactory = (code: ErrorCode, field: string | undefined, message: string, extra?: { location?: MessageLocation; details?: Record<string, unknown>; cause?: unknown }) => LotBridgeError;

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * The item a WMS record names: from its GS1 `barcode` ((01) GTIN, (10) lot, (17) expiry, (21) serial)
 * and/or its `gtin`, `lot`, `expiry`, `serial` fields, which must agree with the barcode when both
 * are given. A bad barcode keeps the GS1 error code; no GTIN or no lot is LB_ERR_WMS_ITEM_UNIDENTIFIED.
 * @param v - the record
 * @param fail - builds an error located at a field of this record
 */
export function identifyWmsItem(v: Record<string, unknown>, fail: RecordErrorFactory): WmsItem {
  const barcode = text(v.barcode);
  let decoded: ReturnType<typeof decodeGs1> | undefined;
  if (barcode !== undefined) {
    try {
      decoded = decodeGs1(barcode);
    } catch (err) {
      if (!isLotBridgeError(err)) {
        throw err;
      }
      throw fail(err.code, 'barcode', `barcode ${JSON.stringify(barcode)}: ${err.message}`, {
        location: err.location?.position !== undefined ? { position: err.location.position } : undefined,
        details: { ...(err.details ?? {}), ...(err.location?.path ? { ai: err.location.path } : {}) },
        cause: err,
      });
    }
  }

  let gtin = decoded?.gtin;
  const gtinField = text(v.gtin);
  if (gtinField !== undefined) {
    if (!/^(\d{8}|\d{12,14})$/.test(gtinField)) {
      throw fail('LB_ERR_WMS_RECORD_INVALID', 'gtin', `gtin ${JSON.stringify(gtinField)} must be 8, 12, 13 or 14 digits`);
    }
    const g = normalizeGtin(gtinField);
    if (!g.ok) {
      throw fail('LB_ERR_GS1_CHECK_DIGIT', 'gtin', g.reason);
    }
    if (gtin !== undefined && gtin !== g.gtin) {
      throw fail('LB_ERR_WMS_RECORD_INVALID', 'gtin', `gtin ${g.gtin} disagrees with the barcode's (01) ${gtin}`);
    }
    gtin = g.gtin;
  }

  const agree = (field: 'lot' | 'expiry' | 'serial', fromBarcode: string | undefined, ai: string): string | undefined => {
    const given = text(v[field]);
    if (given !== undefined && fromBarcode !== undefined && given !== fromBarcode) {
      throw fail('LB_ERR_WMS_RECORD_INVALID', field, `${field} ${JSON.stringify(given)} disagrees with the barcode's (${ai}) ${JSON.stringify(fromBarcode)}`);
    }
    return given ?? fromBarcode;
  };
  const lot = agree('lot', decoded?.lot, '10');
  const expiry = agree('expiry', decoded?.expiry, '17');
  const serial = agree('serial', decoded?.serial, '21');
  if (expiry !== undefined) {
    const d = parseCalendarDate(expiry);
    if (isTimestampProblem(d)) {
      throw fail('LB_ERR_WMS_DATE', 'expiry', `expiry ${d.problem}`);
    }
  }

  if (gtin === undefined || lot === undefined) {
    const what = gtin === undefined ? (lot === undefined ? 'no GTIN and no lot' : 'no GTIN') : 'no lot';
    const field = barcode !== undefined ? 'barcode' : gtin === undefined ? 'gtin' : 'lot';
    throw fail(
      'LB_ERR_WMS_ITEM_UNIDENTIFIED',
      field,
      `the record names ${what}: give a GS1 barcode with (01) and (10), or gtin + lot${barcode !== undefined ? ` (the barcode carries ${decoded?.elements.map((e) => `(${e.ai})`).join('') ?? 'nothing'})` : ''}`,
    );
  }
  return { gtin, lot, ...(expiry !== undefined ? { expiry } : {}), ...(serial !== undefined ? { serial } : {}) };
}

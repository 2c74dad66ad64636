import type { Db } from '../db/knex';
import { LotBridgeError, isLotBridgeError } from '../errors';
import { decodeGs1 } from '../gs1/gs1-decode';
import { normalizeGtin } from '../model/master-data/gs1-keys';
import { findMaterialIdByCode } from '../model/master-data/get-material';
import { rawNamed } from '../db/named-statement';

/** How a caller names what to trace: the parameters of `GET /api/v1/lots`, plus serial and barcode. */
export interface TraceQuery {
  /** GTIN of the material at any packaging level. */
  gtin?: string;
  /** Material code (primary or internal identifier). */
  material?: string;
  /** Lot number. */
  lot?: string;
  /** Serial number (UDI-PI); with gtin or material when the number is not unique across materials. */
  serial?: string;
  /** A scanned GS1 element string: `(01)…(10)…` or `(01)…(21)…`, raw scanner output or a Digital Link URI. */
  barcode?: string;
}

/** A resolved trace subject. */
export interface TraceSubject {
  /** The lot(s) the trace starts from (one, except none for an unlotted serial). */
  lotIds: string[];
  /** The serial, when the subject is one unit. */
  serialId?: string;
  /** What was asked, normalized (gtin, material, lot, serial), for answers and cursors. */
  asked: { gtin?: string; material?: string; lot?: string; serial?: string };
}

function bad(message: string, path: string): LotBridgeError {
  return new LotBridgeError('LB_ERR_API_BAD_REQUEST', message, { location: { path } });
}

async function materialOf(db: Db, gtin: string | undefined, material: string | undefined): Promise<string | undefined | null> {
  let materialId: string | undefined;
  if (gtin) {
    const g = normalizeGtin(gtin);
    if (!g.ok) {
      throw bad(`gtin: ${g.reason}`, 'gtin');
    }
    const row = await db('material_identifiers')
      .whereIn('scheme', ['gtin', 'udi_di'])
      .where({ value: g.gtin })
      .orderByRaw("scheme = 'gtin' DESC")
      .first<{ material_id: string } | undefined>('material_id');
    if (!row) {
      return null;
    }
    materialId = row.material_id;
  }
  if (material) {
    const byCode = await findMaterialIdByCode(db, material);
    if (!byCode || (materialId && byCode !== materialId)) {
      return null;
    }
    materialId = byCode;
  }
  return materialId;
}

/**
 * The id of lot `lot` of the material named by `gtin` (a GTIN or UDI-DI identifier, the GTIN first)
 * or by `material` (its code, else an internal identifier), as {@link materialOf} and a lot look-up
 * find it, in one prepared statement; undefined when the material or the lot is unknown.
 */
async function lotIdOf(db: Db, gtin: string | undefined, material: string | undefined, lot: string): Promise<string | undefined> {
  if (gtin) {
    const g = normalizeGtin(gtin);
    if (!g.ok) {
      throw bad(`gtin: ${g.reason}`, 'gtin');
    }
    const r = await rawNamed<{ rows: Array<{ id: string }> }>(db, `SELECT l.id FROM lots l
       WHERE l.lot_number = ? AND l.material_id = (SELECT mi.material_id FROM material_identifiers mi
              WHERE mi.scheme IN ('gtin', 'udi_di') AND mi.value = ? ORDER BY mi.scheme = 'gtin' DESC LIMIT 1)`, [lot.trim(), g.gtin]);
    return r.rows[0]?.id;
  }
  const code = material!.trim();
  const r = await rawNamed<{ rows: Array<{ id: string }> }>(db, `SELECT l.id FROM lots l
     WHERE l.lot_number = ? AND l.material_id = coalesce((SELECT m.id FROM materials m WHERE m.code = ?),
           (SELECT mi.material_id FROM material_identifiers mi WHERE mi.scheme = 'internal' AND mi.value = ? LIMIT 1))`, [lot.trim(), code, code]);
  return r.rows[0]?.id;
}

/**
 * Reads a barcode into gtin/lot/serial. GS1 errors keep their code and name the AI (location.path
 * `(17)`, position); the message is prefixed with `barcode:`.
 */
export function readTraceBarcode(barcode: string): { gtin?: string; lot?: string; serial?: string } {
  let d;
  try {
    d = decodeGs1(barcode);
  } catch (err) {
    if (isLotBridgeError(err)) {
      throw new LotBridgeError(err.code, `barcode: ${err.message}`, {
        location: { ...err.location, path: `barcode${err.location?.path ? ` ${err.location.path}` : ''}` },
        details: { ...err.details, ai: err.location?.path?.replace(/[()]/g, '') },
        cause: err,
      });
    }
    throw err;
  }
  if (!d.gtin) {
    throw bad('barcode: the barcode carries no GTIN, AI (01); a trace needs (01) with (10) lot or (21) serial', 'barcode (01)');
  }
  if (!d.lot && !d.serial) {
    throw bad(`barcode: GTIN ${d.gtin} has neither a lot, AI (10), nor a serial, AI (21)`, 'barcode (10)');
  }
  return { gtin: d.gtin, lot: d.lot, serial: d.serial };
}

function notFound(asked: TraceSubject['asked']): LotBridgeError {
  const what = asked.gtin ? `GTIN ${asked.gtin}` : asked.material ? `material ${asked.material}` : 'any material';
  const msg = asked.serial && !asked.lot ? `no serial ${asked.serial} of ${what}` : `no lot ${asked.lot} of ${what}${asked.serial ? ` with serial ${asked.serial}` : ''}`;
  return new LotBridgeError(asked.serial && !asked.lot ? 'LB_ERR_SERIAL_NOT_FOUND' : 'LB_ERR_LOT_NOT_FOUND', msg, { details: { ...asked } });
}

/**
 * Resolves a trace query to its lot(s) and serial.
 * @param db - knex instance or transaction
 * @param q - the query parameters
 * @throws LotBridgeError 400 LB_ERR_API_BAD_REQUEST (nothing named, bad GTIN), LB_ERR_GS1_* (malformed
 *   barcode, naming the AI), 404 LB_ERR_LOT_NOT_FOUND / LB_ERR_SERIAL_NOT_FOUND, 409 LB_ERR_API_CONFLICT
 *   (a serial number shared by several materials and no gtin/material given)
 */
export async function resolveTraceSubject(db: Db, q: TraceQuery): Promise<TraceSubject> {
  let { gtin, lot, serial } = q;
  const material = q.material;
  if (q.barcode !== undefined) {
    const b = readTraceBarcode(q.barcode);
    if (gtin !== undefined) {
      // a gtin= next to a barcode is checked as without one: invalid is an error, not ignored
      const given = normalizeGtin(gtin);
      if (!given.ok) {
        throw bad(`gtin: ${given.reason}`, 'gtin');
      }
      if (given.gtin !== b.gtin) {
        throw bad(`barcode GTIN ${b.gtin} differs from gtin=${gtin}`, 'gtin');
      }
    }
    // a lot= or serial= that differs from the scanned one would trace another lot or unit than the
    // one scanned: refused like a differing gtin=
    if (lot !== undefined && b.lot !== undefined && lot.trim() !== b.lot) {
      throw bad(`barcode lot ${b.lot} differs from lot=${lot}`, 'lot');
    }
    if (serial !== undefined && b.serial !== undefined && serial.trim() !== b.serial) {
      throw bad(`barcode serial ${b.serial} differs from serial=${serial}`, 'serial');
    }
    gtin = b.gtin;
    lot = lot ?? b.lot;
    serial = serial ?? b.serial;
  }
  const asked = { gtin, material, lot, serial };
  if (!lot && !serial) {
    throw bad('name what to trace: gtin=… or material=… with lot=… (or serial=…), or barcode=(01)…(10)…', 'lot');
  }
  if (lot && !gtin && !material) {
    throw bad('name the lot with gtin=… or material=…, and lot=…', 'gtin');
  }
  if (lot && !serial && (gtin ? !material : material)) {
    // the common case (a lot by GTIN or by material code) in one statement, not two or three
    const id = await lotIdOf(db, gtin, material, lot);
    if (!id) {
      throw notFound(asked);
    }
    return { lotIds: [id], asked };
  }
  const materialId = gtin || material ? await materialOf(db, gtin, material) : undefined;
  if (materialId === null) {
    throw notFound(asked);
  }
  if (serial) {
    const rows = await db('serials')
      .where({ serial_number: serial.trim() })
      .modify((b) => {
        if (materialId) b.where({ material_id: materialId });
      })
      .select<Array<{ id: string; lot_id: string | null; material_id: string }>>('id', 'lot_id', 'material_id')
      .limit(10);
    if (rows.length === 0) {
      throw notFound(asked);
    }
    if (rows.length > 1) {
      throw new LotBridgeError('LB_ERR_API_CONFLICT', `serial ${serial} exists for ${rows.length} materials: add gtin=… or material=…`, { location: { path: 'serial' } });
    }
    const s = rows[0];
    if (lot) {
      const lotRow = await db('lots').where({ material_id: s.material_id, lot_number: lot.trim() }).first<{ id: string } | undefined>('id');
      // the serial must be in that lot: a serial in no lot is not in lot=… either
      if (!lotRow || s.lot_id !== lotRow.id) {
        throw notFound(asked);
      }
    }
    return { lotIds: s.lot_id ? [s.lot_id] : [], serialId: s.id, asked };
  }
  const row = await db('lots').where({ material_id: materialId, lot_number: lot!.trim() }).first<{ id: string } | undefined>('id');
  if (!row) {
    throw notFound(asked);
  }
  return { lotIds: [row.id], asked };
}

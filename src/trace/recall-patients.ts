import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import type { PhiProtector } from '../security/phi';
import { csvCell } from './recall-impact';

/** One use of a recalled unit at the hospital, with the patient and encounter it was used for. */
export interface RecallPatientUsage {
  usageId: string;
  material: string;
  lot: string | null;
  serial: string | null;
  usedAt: string;
  location: string;
  quantity: number;
  uom: string;
  procedureCode: string | null;
  /** The pseudonymous procedure reference every other answer carries (keyed HMAC). */
  procedureRef: string | null;
  /** PID-3 as the hospital sent it: `<id>^<assigning authority>^<identifier type>` (null when it sent none). */
  patient: string | null;
  /** PV1-19 as the hospital sent it: `<visit number>^<assigning authority>` (null when it sent none). */
  encounter: string | null;
  /** The message the usage came from. */
  sourceMessageId: string;
}

/** A recall's export for one hospital: its own patients and encounters, in clear. */
export interface RecallPatientsExport {
  recall: { id: string; recallNumber: string; class: string | null; reason: string };
  hospital: { id: string; code: string | null; gln: string | null; name: string | null };
  usages: RecallPatientUsage[];
}

/**
 * The usages at one hospital of the units a recall affects — the lots it recalled or put on hold,
 * and the serials it named — each with the patient identifier (PID-3) and encounter (PV1-19)
 * decrypted. Everywhere else (traces, the recall's impact, its CSV/JSON export, EPCIS) they stay
 * encrypted and only the keyed procedure reference is shown: this export is for sending to that
 * hospital, which already holds the identifiers. The same rule as the impact's consumption picks
 * the usages, but on the data as it is now (a usage reported after the recall opened is included).
 * @param db - knex instance
 * @param phi - the hub's PHI protector (its key decrypts; an old key from LOTBRIDGE_PHI_OLD_KEYS too)
 * @param recall - the recall (id, number, class, reason)
 * @param hospitalKey - the hospital party's GLN or code
 * @throws LotBridgeError LB_ERR_API_NOT_FOUND when no party has that GLN or code
 */
export async function recallPatientsOf(
  db: Db, phi: PhiProtector, recall: RecallPatientsExport['recall'], hospitalKey: string,
): Promise<RecallPatientsExport> {
  const party = await db('parties').where({ gln: hospitalKey }).orWhere({ code: hospitalKey }).orderByRaw('(gln = ?) DESC NULLS LAST', [hospitalKey])
    .first<{ id: string; code: string | null; gln: string | null; name: string | null } | undefined>('id', 'code', 'gln', 'name');
  if (!party) {
    throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no hospital (party) has GLN or code ${hospitalKey}`, { location: { path: 'hospital' } });
  }
  const r = await db.raw<{ rows: Array<{
    id: string; material: string; lot: string | null; serial: string | null; used_at: Date; location: string; quantity: string; uom: string;
    procedure_code: string | null; procedure_ref_hmac: string | null; patient_enc: Buffer | null; encounter_enc: Buffer | null; source_message_id: string;
  }> }>(
    `SELECT u.id, m.code AS material, l.lot_number AS lot, sr.serial_number AS serial, u.used_at, loc.code AS location, u.quantity, u.uom,
            u.procedure_code, u.procedure_ref_hmac, u.patient_enc, u.encounter_enc, u.source_message_id
       FROM device_usages u
       JOIN locations loc ON loc.id = u.location_id JOIN materials m ON m.id = u.material_id
       LEFT JOIN lots l ON l.id = u.lot_id LEFT JOIN serials sr ON sr.id = u.serial_id
      WHERE u.party_id = ?
        AND (u.lot_id IN (SELECT rl.lot_id FROM recall_lots rl WHERE rl.recall_id = ?)
             OR u.serial_id IN (SELECT rs.serial_id FROM recall_serials rs WHERE rs.recall_id = ?))
      ORDER BY u.used_at, u.id`,
    [party.id, recall.id, recall.id],
  );
  return {
    recall,
    hospital: party,
    usages: r.rows.map((u) => ({
      usageId: u.id, material: u.material, lot: u.lot, serial: u.serial, usedAt: u.used_at.toISOString(), location: u.location,
      quantity: Number(u.quantity), uom: u.uom, procedureCode: u.procedure_code, procedureRef: u.procedure_ref_hmac,
      patient: u.patient_enc ? phi.decryptText(u.patient_enc) : null,
      encounter: u.encounter_enc ? phi.decryptText(u.encounter_enc) : null,
      sourceMessageId: u.source_message_id,
    })),
  };
}

const CSV_COLUMNS = ['recall', 'hospital', 'material', 'lot', 'serial', 'usedAt', 'location', 'quantity', 'uom', 'procedureCode', 'patient', 'encounter', 'procedureRef', 'usageId'] as const;

/** The export as CSV (RFC 4180, CRLF; a cell a spreadsheet would run as a formula gets a leading apostrophe). */
export function recallPatientsCsv(x: RecallPatientsExport): string {
  const hospital = x.hospital.gln ?? x.hospital.code ?? '';
  const lines = [CSV_COLUMNS.join(',')];
  for (const u of x.usages) {
    const row: Record<(typeof CSV_COLUMNS)[number], unknown> = { ...u, recall: x.recall.recallNumber, hospital };
    lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

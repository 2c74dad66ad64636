import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';

/** A row of `edi_partners`. */
export interface DbEdiPartnerRow {
  id: string;
  standard: 'x12' | 'edifact';
  qualifier: string;
  interchange_id: string;
  name: string | null;
  party_id: string | null;
  party_gln: string | null;
  ack_type: '997' | '999' | 'CONTRL';
  versions: Record<string, string> | null;
  separators: Record<string, string> | null;
  outbound_destination: Record<string, unknown> | null;
  /** Encrypted (PHI key) `{"headers":{…}}` sent with outbound deliveries; never shown. */
  outbound_secrets?: Buffer | null;
  /** The names of those headers, lower-case. */
  outbound_secret_headers?: string[] | null;
  our_qualifier: string | null;
  our_id: string | null;
  receiving_location: string | null;
  ack_overdue_minutes: number;
  provisional: boolean;
  active: boolean;
  next_interchange_control: string | number;
  next_group_control: string | number;
  created_at: Date;
  updated_at: Date;
}

/** The key a partner is found by: the interchange sender as the envelope names it. */
export interface PartnerKey {
  standard: 'x12' | 'edifact';
  qualifier: string;
  interchangeId: string;
}

/**
 * Finds the trading partner that sent an interchange. An unknown sender is created as a provisional
 * partner when `unknown` is `accept` (`created` true: the caller raises the alert), else rejected
 * with LB_ERR_EDI_PARTNER_UNKNOWN. `record` (used to answer a rejected sender) finds or creates an
 * inactive record that only holds the control numbers of our answers; it never makes the sender a partner.
 * @param db - the transaction
 * @param key - standard, qualifier and id of the interchange sender
 * @param unknown - LOTBRIDGE_EDI_UNKNOWN_PARTNERS, or `record`
 */
export async function resolvePartner(
  db: Knex,
  key: PartnerKey,
  unknown: 'accept' | 'reject' | 'record',
): Promise<{ row: DbEdiPartnerRow; created: boolean }> {
  const where = { standard: key.standard, qualifier: key.qualifier, interchange_id: key.interchangeId };
  const found = (await db<DbEdiPartnerRow>('edi_partners').where(where).first()) ?? (await db<DbEdiPartnerRow>('edi_partners').where({ standard: key.standard, qualifier: '', interchange_id: key.interchangeId }).first());
  if (found && (found.active || unknown === 'record')) {
    return { row: found, created: false };
  }
  if (found && unknown === 'accept') {
    const [row] = await db<DbEdiPartnerRow>('edi_partners').where({ id: found.id }).update({ active: true, provisional: true, updated_at: db.fn.now() }).returning('*');
    return { row, created: true };
  }
  if (unknown === 'reject') {
    throw new LotBridgeError(
      'LB_ERR_EDI_PARTNER_UNKNOWN',
      `interchange sender ${key.qualifier ? `${key.qualifier}:` : ''}${key.interchangeId} is no configured ${key.standard === 'x12' ? 'X12' : 'EDIFACT'} trading partner`,
      { location: { segment: key.standard === 'x12' ? 'ISA' : 'UNB', field: key.standard === 'x12' ? 'ISA06' : 'UNB02' }, details: { ...key } },
    );
  }
  const [inserted] = await db<DbEdiPartnerRow>('edi_partners')
    .insert({ id: uuidv7(), ...where, name: key.interchangeId, ack_type: key.standard === 'x12' ? '997' : 'CONTRL', provisional: true, active: unknown === 'accept' })
    .onConflict(['standard', 'qualifier', 'interchange_id'])
    .ignore()
    .returning('*');
  const row = inserted ?? (await db<DbEdiPartnerRow>('edi_partners').where(where).first());
  if (!row) {
    throw new LotBridgeError('LB_ERR_INTERNAL', `partner ${key.interchangeId} vanished after its insert`);
  }
  return { row, created: inserted !== undefined };
}

/**
 * Takes the next outbound interchange and group control numbers of a partner (row-locked, so
 * concurrent acks never share one). A number that a row of edi_outbound_messages already holds (an
 * admin set the counter back) is skipped: control numbers are never reused.
 * @param db - the transaction
 * @param partnerId - the partner
 */
export async function allocateControlNumbers(db: Knex, partnerId: string): Promise<{ interchange: number; group: number }> {
  for (let tries = 0; tries < 10_000; tries++) {
    const r = await db.raw<{ rows: Array<{ icn: string; gcn: string }> }>(
      `UPDATE edi_partners p
          SET next_interchange_control = CASE WHEN o.icn >= 999999999 THEN 1 ELSE o.icn + 1 END,
              next_group_control = CASE WHEN o.gcn >= 999999999 THEN 1 ELSE o.gcn + 1 END,
              updated_at = now()
         FROM (SELECT id, next_interchange_control AS icn, next_group_control AS gcn FROM edi_partners WHERE id = ? FOR UPDATE) o
        WHERE p.id = o.id
        RETURNING o.icn, o.gcn`,
      [partnerId],
    );
    const row = r.rows[0];
    if (!row) {
      throw new LotBridgeError('LB_ERR_EDI_PARTNER_NOT_FOUND', `no EDI partner ${partnerId}`);
    }
    const icn = Number(row.icn);
    const used = await db('edi_outbound_messages').where({ partner_id: partnerId, control_number: String(icn).padStart(9, '0') }).first('id');
    if (!used) {
      return { interchange: icn, group: Number(row.gcn) };
    }
  }
  throw new LotBridgeError('LB_ERR_INTERNAL', `partner ${partnerId}: no unused control number found`);
}

/** The highest outbound control number used for a partner (0 when none). */
export async function highestUsedControlNumber(db: Knex, partnerId: string): Promise<number> {
  const r = await db('edi_outbound_messages').where({ partner_id: partnerId }).max<{ max: string | null }>('control_number as max').first();
  return r?.max ? Number(r.max) : 0;
}

import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbAlertRow, RowLineage } from '../../db/tables';

/** An alert to open. */
export interface NewAlert {
  type: string;
  severity: DbAlertRow['severity'];
  subjectType: string;
  subjectId: string | null;
  message: string;
  details: Record<string, unknown> | null;
  /** At most one open alert per key (`INSERT … ON CONFLICT DO NOTHING` on the partial unique index). */
  dedupKey: string;
}

/**
 * Opens an alert unless one with the same dedup key is open.
 * @param db - the transaction
 * @param alert - the alert
 * @param lineage - message and ordinal of the row
 * @returns the new alert's id, or undefined when an open alert with that key exists
 */
export async function openAlert(db: Knex, alert: NewAlert, lineage: RowLineage): Promise<string | undefined> {
  const id = uuidv7();
  const rows = await db('alerts')
    .insert({
      id,
      type: alert.type,
      severity: alert.severity,
      subject_type: alert.subjectType,
      subject_id: alert.subjectId,
      message: alert.message.slice(0, 2000),
      details: alert.details === null ? null : JSON.stringify(alert.details),
      dedup_key: alert.dedupKey,
      source_message_id: lineage.sourceMessageId,
      ordinal: lineage.nextOrdinal(),
    })
    .onConflict(db.raw("(dedup_key) WHERE status = 'open' AND dedup_key IS NOT NULL"))
    .ignore()
    .returning('id');
  return rows.length > 0 ? id : undefined;
}

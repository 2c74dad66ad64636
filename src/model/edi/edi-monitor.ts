import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { Logger } from '../../logging/logger';

/**
 * The EDI watch, run periodically by `lotbridge start`:
 *  - `partner_ack_missing`: a document we sent (850/856/ORDERS/DESADV) that the partner has not
 *    acknowledged (997/999/CONTRL) within its `ack_overdue_minutes`;
 *  - `shipment_late`: an inbound ASN still in transit after its expected delivery date.
 * One open alert per document / shipment (dedup key); an `alert.opened` outbox event each.
 * @returns how many alerts it opened
 */
export async function runEdiMonitor(db: Knex, now = new Date()): Promise<{ ackMissing: number; late: number }> {
  return db.transaction(async (trx) => {
    const ack = await trx.raw<{ rows: Array<{ id: string; subject_id: string; message: string }> }>(
      `INSERT INTO alerts (id, type, severity, subject_type, subject_id, message, details, dedup_key)
       SELECT gen_random_uuid(), 'partner_ack_missing', 'warning', 'party', p.id::text,
              'partner ' || p.interchange_id || ' has not acknowledged our ' || o.type || ' ' || o.control_number || ' (sent ' || to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC) within ' || p.ack_overdue_minutes || ' minutes',
              jsonb_build_object('outboundMessageId', o.id, 'partnerId', p.id, 'type', o.type, 'controlNumber', o.control_number, 'sentAt', o.created_at),
              'partner_ack_missing:' || o.id
         FROM edi_outbound_messages o JOIN edi_partners p ON p.id = o.partner_id
        WHERE o.type IN ('850', '856', 'ORDERS', 'DESADV') AND o.acknowledged_at IS NULL
          AND o.created_at < ?::timestamptz - make_interval(mins => p.ack_overdue_minutes)
       ON CONFLICT (dedup_key) WHERE status = 'open' AND dedup_key IS NOT NULL DO NOTHING
       RETURNING id, subject_id, message`,
      [now],
    );
    const late = await trx.raw<{ rows: Array<{ id: string; subject_id: string; message: string }> }>(
      `INSERT INTO alerts (id, type, severity, subject_type, subject_id, message, details, dedup_key)
       SELECT gen_random_uuid(), 'shipment_late', 'warning', 'shipment', s.id::text,
              'ASN ' || s.shipment_number || ' expected ' || to_char(s.expected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' has not arrived',
              jsonb_build_object('asnNumber', s.shipment_number, 'expectedAt', s.expected_at, 'partnerId', s.edi_partner_id),
              'shipment_late:' || s.id
         FROM shipments s
        WHERE s.direction = 'inbound' AND s.status = 'in_transit' AND s.delivered_at IS NULL AND s.expected_at IS NOT NULL
          AND (s.expected_at AT TIME ZONE 'UTC')::date < (?::timestamptz AT TIME ZONE 'UTC')::date
       ON CONFLICT (dedup_key) WHERE status = 'open' AND dedup_key IS NOT NULL DO NOTHING
       RETURNING id, subject_id, message`,
      [now],
    );
    const events = [...ack.rows.map((r) => ({ ...r, type: 'partner_ack_missing', subjectType: 'party' })), ...late.rows.map((r) => ({ ...r, type: 'shipment_late', subjectType: 'shipment' }))];
    if (events.length > 0) {
      await trx('outbox_events').insert(events.map((e) => ({ event_id: uuidv7(), type: 'alert.opened', payload: JSON.stringify({ alertId: e.id, type: e.type, severity: 'warning', subjectType: e.subjectType, subjectId: e.subject_id, message: e.message }) })));
    }
    return { ackMissing: ack.rows.length, late: late.rows.length };
  });
}

/** Runs {@link runEdiMonitor} every `intervalMs` (first run after one interval); `stop()` waits for a run in progress. */
export function startEdiMonitor(db: Knex, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = runEdiMonitor(db)
      .then((r) => {
        if (r.ackMissing + r.late > 0) logger.warn(r, 'EDI watch opened alerts');
      })
      .catch((err: unknown) => logger.warn({ err }, 'EDI watch failed; it runs again at the next interval'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

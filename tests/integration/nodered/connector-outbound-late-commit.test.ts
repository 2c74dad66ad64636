/**
 * The poll that turns connector events (HL7 application ACKs, EDI acks and documents) into
 * deliveries must not miss an event whose transaction commits long after it began: the event's
 * created_at is the transaction's start, earlier than the polls that ran while it was open. Each
 * poll therefore looks back to the oldest transaction open in the database before it. Real
 * PostgreSQL; no destination is configured, so each event found becomes a `skipped` delivery row.
 */
import { v7 as uuidv7 } from 'uuid';
import { ConnectorOutbound } from '../../../src/delivery/connector-outbound';
import { silentLogger } from '../../../src/logging/logger';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('connector deliveries: an event whose transaction commits late', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  }, 60_000);
  afterAll(async () => {
    await t?.destroy();
  });

  const outbound = (): ConnectorOutbound =>
    new ConnectorOutbound({
      db: t.db,
      enqueue: () => Promise.reject(new Error('no destination is configured: nothing may be queued')),
      instances: [],
      logger: silentLogger(),
      pollMs: 50,
      lookbackMs: 0, // no allowance for clock skew: only the open transaction keeps the window open
    });
  const ackEvent = (eventId: string, controlId: string): Record<string, unknown> => ({
    event_id: eventId,
    type: 'hl7.application_ack',
    payload: JSON.stringify({ connectorId: 'hl7', to: 'ORIS|STMARYS', code: 'AA', acknowledges: controlId, raw: `MSH|^~\\&|LOTBRIDGE|ACME|ORIS|STMARYS|20260301101600||ACK|A${controlId}|P|2.8.2\rMSA|AA|${controlId}\r` }),
  });

  it('is found after the commit although polls ran (and moved on) while its transaction was open', async () => {
    const o = outbound();
    const eventId = uuidv7();
    const trx = await t.db.transaction();
    try {
      await trx('outbox_events').insert(ackEvent(eventId, 'LATE-1'));
      await pause(200);
      expect(await o.tick()).toBe(0); // not committed: invisible
      await pause(200);
      expect(await o.tick()).toBe(0); // a later poll: its window must still reach back to the event
      await trx.commit();
    } catch (err) {
      await trx.rollback();
      throw err;
    }
    expect(await o.tick()).toBe(1);
    const d = await t.db('deliveries').where({ idempotency_key: `outbox:${eventId}` }).first();
    expect(d).toMatchObject({ status: 'skipped', event_type: 'hl7.application_ack' });
    expect(d.error_message).toContain('no applicationAckDestinations entry for sender ORIS|STMARYS');
    expect(await o.tick()).toBe(0); // one delivery per event: not taken again
  });

  it('moves its window on once no transaction is open: an old event left without a delivery is not read again and again', async () => {
    const o = outbound();
    expect(await o.tick()).toBeGreaterThanOrEqual(0); // the first poll reads everything not yet delivered
    // an event committed with a created_at long past (as if its delivery row had been lost): the
    // window has moved past it, so later polls leave it alone (a restart's first poll reads it)
    const eventId = uuidv7();
    await t.db('outbox_events').insert({ ...ackEvent(eventId, 'OLD-1'), created_at: new Date(Date.now() - 3_600_000) });
    await pause(50);
    expect(await o.tick()).toBe(0);
    expect(await outbound().tick()).toBe(1); // a fresh poller (a restart) finds it
  });
});

import { createDb, type Db } from '../../../src/db/knex';
import { createMllpClient } from '../../../src/transport/mllp';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { hl7HubEnv, mllpFrame, mllpPortOf, parseAck, RawMllpPeer, singleImplantDft, waitFor } from '../../helpers/hl7';

/*
 * Graceful stop of a hub with MLLP traffic in flight: the listener stops reading, every frame it
 * has read is stored and answered before the sockets close, and nothing is answered that was
 * not stored. The database is read after the hub has stopped, through a pool of the test's own.
 */
describe('hl7 over MLLP: graceful stop', () => {
  let h: TestHub | undefined;
  let db: Db | undefined;
  const cfg = hl7HubEnv();

  afterEach(async () => {
    await db?.destroy();
    db = undefined;
    await h?.stop();
    h = undefined;
  });
  afterAll(() => cfg.cleanup());

  it('settles in-flight ACKs: every AA answered is stored once, every message stored accepted was answered, the rest are refused unanswered', async () => {
    h = await startTestHub({ env: cfg.env });
    const port = mllpPortOf(h);
    const connections = 4;
    const burst = 12;
    type Result = { controlId: string; ack?: ReturnType<typeof parseAck>; error?: string };
    const settled: Result[] = [];
    let answered = 0;
    let n = 0;
    // each connection keeps pipelining bursts of messages until the hub refuses it
    const senders = Array.from({ length: connections }, async () => {
      const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs: 20000 });
      for (let round = 0; round < 200; round++) {
        const msgs = Array.from({ length: burst }, () => singleImplantDft(n++, { controlIdPrefix: 'STOP' }));
        const res = await Promise.all(msgs.map((m) => client.send(m.payload).then(
          (a): Result => {
            answered++;
            return { controlId: m.controlId, ack: parseAck(a) };
          },
          (err: { code?: string }): Result => ({ controlId: m.controlId, error: err.code ?? String(err) }),
        )));
        settled.push(...res);
        if (res.some((r) => r.error)) break;
      }
      await client.close().catch(() => undefined);
    });
    await waitFor('a first stretch of answers', () => answered >= 100, 15000, 1);
    const hub = h;
    await hub.hub.stop();
    await Promise.all(senders);

    const acked = settled.filter((r): r is Required<Pick<Result, 'controlId' | 'ack'>> => r.ack !== undefined);
    const refused = settled.filter((r) => r.error !== undefined);
    expect(acked.length).toBeGreaterThanOrEqual(100);
    expect(refused.length).toBeGreaterThan(0); // the stop came while messages were arriving
    expect(acked.every((r) => r.ack.code === 'AA' && r.ack.controlId === r.controlId)).toBe(true);
    expect([...new Set(refused.map((r) => r.error))].filter((c) => c !== 'LB_ERR_MLLP_CONNECTION_CLOSED' && c !== 'LB_ERR_MLLP_CONNECT')).toEqual([]);

    db = createDb({ url: hub.databaseUrl, poolMax: 2 });
    const rows = await db('inbound_messages').where('control_id', 'like', 'STOP-%').select('control_id', 'status');
    const stored = new Map<string, number>();
    for (const r of rows) stored.set(r.control_id as string, (stored.get(r.control_id as string) ?? 0) + 1);
    // every AA names a message stored exactly once
    for (const r of acked) expect(stored.get(r.controlId)).toBe(1);
    // every message stored (accepted) was answered: nothing is stored behind the sender's back
    const ackedIds = new Set(acked.map((r) => r.controlId));
    expect(rows.filter((r) => r.status !== 'rejected' && !ackedIds.has(r.control_id as string))).toEqual([]);
    expect(rows.filter((r) => r.status === 'rejected')).toEqual([]);
    // each ACK sent is kept on its message (written in the background; the stop drains it)
    const kept = await db('message_acks').join('inbound_messages', 'inbound_messages.id', 'message_acks.message_id').where('inbound_messages.control_id', 'like', 'STOP-%').select('inbound_messages.control_id', 'message_acks.ack');
    expect(kept).toHaveLength(acked.length);
    expect(kept.every((k) => (k.ack as { code: string }).code === 'AA')).toBe(true);
  });

  it('stores a frame cut by the stop as rejected truncated (server-stop) without answering it, so the sender resends it', async () => {
    h = await startTestHub({ env: cfg.env });
    const port = mllpPortOf(h);
    const done = singleImplantDft(900, { controlIdPrefix: 'STOP-CUT' });
    const cut = singleImplantDft(901, { controlIdPrefix: 'STOP-CUT' });
    const peer = await RawMllpPeer.connect(port);
    await peer.write(mllpFrame(done.payload));
    await peer.waitAnswers(1);
    await peer.write(Buffer.concat([Buffer.from([0x0b]), cut.payload.subarray(0, 200)]));
    await new Promise((r) => setTimeout(r, 150));
    const hub = h;
    await hub.hub.stop();
    await peer.closed;
    expect(peer.answers.map((a) => parseAck(a).controlId)).toEqual([done.controlId]);

    db = createDb({ url: hub.databaseUrl, poolMax: 2 });
    const rows = await db('inbound_messages').where('control_id', 'like', 'STOP-CUT-%').orWhere({ error_code: 'LB_ERR_MLLP_FRAME_TRUNCATED' }).orderBy('id').select('control_id', 'status', 'error_code', 'error_message', 'size_bytes');
    expect(rows).toHaveLength(2);
    expect(rows[0].control_id).toBe(done.controlId);
    expect(['queued', 'processed']).toContain(rows[0].status);
    expect(rows[1]).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_MLLP_FRAME_TRUNCATED', size_bytes: 200 });
    expect(rows[1].error_message).toMatch(/server stopped/);
  });
});

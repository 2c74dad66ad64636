import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import { anchorAuditChains, ANCHOR_CHAIN } from '../../../src/audit/anchor-audit-chains';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log';

/**
 * The audit log's guarantees on real PostgreSQL: append-only even for the table's owner, and every
 * way around the triggers (replica mode as superuser: edit, delete, reorder, truncate the tail, drop
 * an anchor) found by `GET /api/v1/audit/verify` with the row named.
 */
describe('audit chain', () => {
  let t: TestDatabase;
  let api: TestApi;
  const seqOf = async (chain: string, chainSeq: number): Promise<number> => Number((await t.db('audit_log').where({ chain, chain_seq: chainSeq }).first<{ seq: number }>('seq'))!.seq);
  /** Runs SQL the way a superuser gets around triggers: session_replication_role = replica. */
  const asSuperuser = async (sql: string, bindings: Array<string | number> = []): Promise<void> => {
    await t.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(sql, bindings);
    });
  };
  const verify = async (query = ''): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await api.request({ url: `/api/v1/audit/verify${query}`, headers: api.auth('auditor') });
    return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
  };

  beforeEach(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t); // writes 4 api_key.created rows (chain admin)
    for (let i = 0; i < 6; i++) {
      await t.db('audit_log').insert({ chain: 'pipeline:wms:00', actor: 'connector:wms', action: 'message.processed', entity_type: 'inbound_message', entity_id: `m${i}`, after: JSON.stringify({ i }) });
      await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: `L${i}`, before: JSON.stringify({ status: 'released' }), after: JSON.stringify({ status: 'on_hold' }), reason: 'r' });
    }
  });
  afterEach(async () => {
    await api.close();
    await t.destroy();
  });

  it('refuses UPDATE, DELETE and TRUNCATE on audit_log and audit_anchors, even for the owner', async () => {
    await anchorAuditChains(t.db);
    for (const sql of [
      "UPDATE audit_log SET actor = 'x' WHERE chain = 'recall'",
      "DELETE FROM audit_log WHERE chain = 'recall'",
      'TRUNCATE audit_log',
      'UPDATE audit_anchors SET max_seq = 0',
      'DELETE FROM audit_anchors',
      'TRUNCATE audit_anchors',
    ]) {
      await expect(t.db.raw(sql)).rejects.toThrow(/append-only: (UPDATE|DELETE|TRUNCATE) refused/);
    }
    const owner = await t.db.raw<{ rows: Array<{ owner: string; me: string }> }>("SELECT tableowner AS owner, current_user AS me FROM pg_tables WHERE tablename = 'audit_log'");
    expect(owner.rows[0].owner).toBe(owner.rows[0].me); // refused for the owner itself
  });

  it('answers {"ok":true,"rows":N} for an intact log, to auditors and admins only', async () => {
    const v = await verify();
    expect(v).toEqual({ status: 200, body: { ok: true, rows: 16 } });
    const admin = await api.request({ url: '/api/v1/audit/verify', headers: api.auth('admin') });
    expect(admin.statusCode).toBe(200);
    for (const role of ['operator', 'ingest'] as const) {
      const r = await api.request({ url: '/api/v1/audit/verify', headers: api.auth(role) });
      expect([r.statusCode, r.json<ApiErrorBody>().error.code]).toEqual([403, 'LB_ERR_AUTH_FORBIDDEN']);
    }
  });

  it('keeps seq in chain order when transactions append to one chain at once (no false "reordered")', async () => {
    await Promise.all(Array.from({ length: 6 }, (_, w) => t.db.transaction(async (trx) => {
      for (let b = 0; b < 3; b++) {
        await trx.raw(`INSERT INTO audit_log (chain, actor, action, entity_type, entity_id)
          SELECT 'pipeline:wms:01', 'connector:wms', 'message.processed', 'inbound_message', ? || '-' || g FROM generate_series(1, 50) g`, [`w${w}b${b}`]);
      }
    })));
    const rows = await t.db('audit_log').where({ chain: 'pipeline:wms:01' }).orderBy('chain_seq').select('seq');
    expect(rows).toHaveLength(900);
    expect(rows.every((r, i) => i === 0 || Number(r.seq) > Number(rows[i - 1].seq))).toBe(true);
    expect((await verify()).body).toEqual({ ok: true, rows: 916 });
  });

  it('detects a row edited behind the triggers and names it', async () => {
    const seq = await seqOf('recall', 3);
    await asSuperuser("UPDATE audit_log SET after = '{\"status\":\"released\"}' WHERE seq = ?", [seq]);
    const v = await verify();
    expect(v.body).toEqual({ ok: false, firstBrokenRow: seq, reason: `row seq ${seq} (chain recall #3): its content does not match its hash (edited)` });
  });

  it('detects an edit that also recomputes the row hash: the next row no longer links to it', async () => {
    const seq = await seqOf('recall', 2);
    const next = await seqOf('recall', 3);
    await asSuperuser("UPDATE audit_log SET reason = 'forged' WHERE seq = ?", [seq]);
    await asSuperuser('UPDATE audit_log a SET hash = lotbridge_audit_digest(a) WHERE seq = ?', [seq]);
    const v = await verify();
    expect(v.body).toEqual({ ok: false, firstBrokenRow: next, reason: expect.stringContaining(`row seq ${next} (chain recall #3): prev_hash does not match`) });
  });

  it('detects a deleted row and names the gap', async () => {
    const gone = await seqOf('pipeline:wms:00', 3);
    const prev = await seqOf('pipeline:wms:00', 2);
    const next = await seqOf('pipeline:wms:00', 4);
    await asSuperuser('DELETE FROM audit_log WHERE seq = ?', [gone]);
    const v = await verify();
    expect(v.body).toEqual({
      ok: false,
      firstBrokenRow: next,
      reason: `row seq ${next} (chain pipeline:wms:00 #4): chain row #3 is missing (deleted between seq ${prev} and seq ${next})`,
    });
  });

  it('detects reordered rows (seq values swapped) and names the row out of order', async () => {
    const a = await seqOf('recall', 4);
    const b = await seqOf('recall', 5);
    await asSuperuser('UPDATE audit_log SET seq = -1 WHERE seq = ?', [a]);
    await asSuperuser('UPDATE audit_log SET seq = ? WHERE seq = ?', [a, b]);
    await asSuperuser('UPDATE audit_log SET seq = ? WHERE seq = -1', [b]);
    const v = await verify();
    // seq is hashed (digest version 2): both rows fail their hashes, and the one out of order says so
    expect(v.body).toEqual({
      ok: false, firstBrokenRow: a,
      reason: `row seq ${a} (chain recall #5): its content does not match its hash (edited); its seq is not after the seq of chain row #4 (seq ${b}): rows were reordered (and 1 more break)`,
    });
  });

  it('detects reordered rows (chain positions swapped) by their hashes', async () => {
    const a = await seqOf('recall', 4);
    const b = await seqOf('recall', 5);
    await asSuperuser('UPDATE audit_log SET chain_seq = -1 WHERE seq = ?', [a]);
    await asSuperuser('UPDATE audit_log SET chain_seq = 4 WHERE seq = ?', [b]);
    await asSuperuser('UPDATE audit_log SET chain_seq = 5 WHERE seq = ?', [a]);
    const v = await verifyAuditLog(t.db);
    const c = await seqOf('recall', 6);
    // both moved rows fail their hashes; the row after them no longer links to its predecessor
    expect(v.breaks.map((x) => [x.seq, x.problem])).toEqual([[a, 'hash'], [b, 'hash'], [c, 'link']]);
    expect((await verify()).body).toEqual(expect.objectContaining({ ok: false, firstBrokenRow: a }));
  });

  it('detects text moved across a field boundary, and NULL turned into empty text (digest version 2)', async () => {
    // each edit leaves the |-joined text of digest version 1 as it was
    await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:a|b', action: 'c', entity_type: 'lot', entity_id: 'L7|x' });
    const seq = await seqOf('recall', 7);
    const edits = [
      "UPDATE audit_log SET actor = 'operator:a', action = 'b|c' WHERE seq = ?",
      "UPDATE audit_log SET entity_type = 'lot|L7', entity_id = 'x' WHERE seq = ?",
      "UPDATE audit_log SET entity_id = 'L7|x', reason = '' WHERE seq = ?", // reason NULL → ''
    ];
    const row = await t.db('audit_log').where({ seq }).first();
    expect(row).toEqual(expect.objectContaining({ reason: null }));
    for (const sql of edits) {
      await asSuperuser(sql, [seq]);
      expect((await verify()).body).toEqual({ ok: false, firstBrokenRow: seq, reason: `row seq ${seq} (chain recall #7): its content does not match its hash (edited)` });
      await asSuperuser("UPDATE audit_log SET actor = 'operator:a|b', action = 'c', entity_type = 'lot', entity_id = 'L7|x', reason = NULL WHERE seq = ?", [seq]);
      expect((await verify()).body).toEqual({ ok: true, rows: 17 });
    }
  });

  it('detects seq values swapped between rows of different chains (each chain still in order)', async () => {
    const a = await seqOf('pipeline:wms:00', 3);
    const b = await seqOf('recall', 3);
    expect(b).toBe(a + 1); // written one after the other: the swap keeps both chains' seq increasing
    await asSuperuser('UPDATE audit_log SET seq = -1 WHERE seq = ?', [a]);
    await asSuperuser('UPDATE audit_log SET seq = ? WHERE seq = ?', [a, b]);
    await asSuperuser('UPDATE audit_log SET seq = ? WHERE seq = -1', [b]);
    const v = await verifyAuditLog(t.db);
    expect(v.breaks.map((x) => [x.seq, x.chain, x.problem])).toEqual([[a, 'recall', 'hash'], [b, 'pipeline:wms:00', 'hash']]);
  });

  it('detects a digest version changed on a row: alone (the version is hashed) and with the hash recomputed by version 1 (a downgrade)', async () => {
    const seq = await seqOf('recall', 4);
    const next = await seqOf('recall', 5);
    await asSuperuser('UPDATE audit_log SET digest_version = 1 WHERE seq = ?', [seq]);
    expect((await verifyAuditLog(t.db)).breaks.map((x) => [x.seq, x.problem])).toEqual([[seq, 'hash']]);
    // now a consistent version 1 row: its own hash matches, but version 1 after version 2 rows is refused
    await asSuperuser('UPDATE audit_log a SET hash = lotbridge_audit_digest_v1(a) WHERE seq = ?', [seq]);
    const v = await verifyAuditLog(t.db);
    expect(v.breaks.map((x) => [x.seq, x.problem])).toEqual([[seq, 'version'], [next, 'link']]);
    expect(v.breaks[0].reason).toBe(`row seq ${seq} (chain recall #4): digest version 1 after a version 2 row of its chain (downgraded)`);
  });

  it('detects the first row of a chain downgraded to digest version 1 (written after version 2 was introduced)', async () => {
    const seq = await seqOf('recall', 1);
    await asSuperuser('UPDATE audit_log SET digest_version = 1 WHERE seq = ?', [seq]);
    await asSuperuser('UPDATE audit_log a SET hash = lotbridge_audit_digest(a) WHERE seq = ?', [seq]);
    const v = await verifyAuditLog(t.db);
    expect(v.breaks.map((x) => [x.seq, x.problem])).toEqual([[seq, 'version'], [await seqOf('recall', 2), 'link']]);
    expect(v.breaks[0].reason).toMatch(new RegExp(`^row seq ${seq} \\(chain recall #1\\): digest version 1, but written after version 2 was introduced \\(seq > \\d+\\) \\(downgraded\\)$`));
  });

  it('writes digest version 2 whatever the insert says', async () => {
    await t.db('audit_log').insert({ chain: 'admin', actor: 'cli', action: 'x', entity_type: 'y', digest_version: 1 });
    const rows = await t.db('audit_log').distinct('digest_version');
    expect(rows).toEqual([{ digest_version: 2 }]);
    expect((await verify()).body).toEqual({ ok: true, rows: 17 });
  });

  it('detects a truncated tail once the chain heads were anchored, naming the missing row', async () => {
    const anchor = await anchorAuditChains(t.db);
    expect(anchor).toEqual(expect.objectContaining({ chains: 3 }));
    expect((await verify()).body).toEqual({ ok: true, rows: 17 }); // + the anchor's own row
    const last = await seqOf('recall', 6);
    const before = await seqOf('recall', 5);
    await asSuperuser("DELETE FROM audit_log WHERE chain = 'recall' AND chain_seq >= 5");
    const v = await verify();
    expect(v.body).toEqual({ ok: false, firstBrokenRow: last, reason: `row seq ${last} (chain recall #6), anchored by audit anchor #${anchor!.id}, is missing: the chain now ends at #4 (tail truncated)` });
    expect(before).toBeLessThan(last);
  });

  it('detects a truncated tail that was written over again (the anchored head has another hash now)', async () => {
    await anchorAuditChains(t.db);
    const last = await seqOf('recall', 6);
    await asSuperuser("DELETE FROM audit_log WHERE chain = 'recall' AND chain_seq = 6");
    await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:eve', action: 'lot.on_hold', entity_type: 'lot', entity_id: 'Lx' });
    const v = await verify();
    expect(v.body).toEqual(expect.objectContaining({ ok: false, reason: expect.stringContaining(`row seq ${last} (chain recall #6), anchored by audit anchor`) }));
  });

  it('detects a truncated tail after the chain grew past it again and was anchored anew (every anchored head is checked, not only the newest)', async () => {
    const first = await anchorAuditChains(t.db); // recall chain anchored at #6
    const oldHead = await seqOf('recall', 6);
    await asSuperuser("DELETE FROM audit_log WHERE chain = 'recall' AND chain_seq >= 5");
    // ordinary work goes on: three more recall rows (#5–#7, chained to #4) and the hub's next anchor
    for (const id of ['L7', 'L8', 'L9']) await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: id });
    const second = await anchorAuditChains(t.db);
    expect(second!.id).toBeGreaterThan(first!.id);
    const v = await verify();
    expect(v.body).toEqual({
      ok: false,
      firstBrokenRow: oldHead,
      reason: `row seq ${oldHead} (chain recall #6), anchored by audit anchor #${first!.id}, is missing: the chain has another row #6 now, seq ${await seqOf('recall', 6)} (rows replaced)`,
    });
  });

  it('detects a deleted anchor, and an anchor row deleted from the log', async () => {
    const a1 = await anchorAuditChains(t.db);
    await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: 'L9' });
    const a2 = await anchorAuditChains(t.db);
    expect(a2!.id).toBeGreaterThan(a1!.id);
    await asSuperuser('DELETE FROM audit_anchors WHERE id = ?', [a1!.id]);
    const v = await verifyAuditLog(t.db);
    expect(v.ok).toBe(false);
    expect(v.breaks.map((b) => b.reason)).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`records audit anchor #${a1!.id}, which is missing from audit_anchors`)),
      `audit anchor #${a2!.id}: its prev_hash does not match the anchor before it (anchors removed)`,
    ]));
    const logRow = await t.db('audit_log').where({ chain: ANCHOR_CHAIN, entity_id: String(a2!.id) }).first<{ seq: number }>('seq');
    await asSuperuser('DELETE FROM audit_log WHERE seq = ?', [logRow!.seq]);
    expect((await verifyAuditLog(t.db)).breaks.map((b) => b.reason)).toContain(`audit anchor #${a2!.id} has no row in chain ${ANCHOR_CHAIN} of the log (deleted)`);
  });

  it('detects an anchor edited behind the triggers (its own hash: fixed-width prev_hash, integers, then heads, so "|" cannot move a field)', async () => {
    const a = await anchorAuditChains(t.db);
    await asSuperuser(`UPDATE audit_anchors SET heads = jsonb_set(heads, '{0,chain_seq}', '99') WHERE id = ?`, [a!.id]);
    const v = await verifyAuditLog(t.db);
    expect(v.breaks.map((b) => b.reason)).toContain(`audit anchor #${a!.id}: its content does not match its hash (edited)`);
  });

  it('with ?anchor=<hash> kept elsewhere: detects the newest anchor deleted together with the tail it anchored', async () => {
    const a1 = await anchorAuditChains(t.db);
    for (const id of ['L7', 'L8']) await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: id });
    const a2 = await anchorAuditChains(t.db);
    expect((await verify(`?anchor=${a2!.hash.toUpperCase()}`)).body).toEqual({ ok: true, rows: 20 });
    const v = await verifyAuditLog(t.db, { anchor: a2!.hash });
    expect(v.anchor).toEqual({ id: a2!.id, hash: a2!.hash, at: a2!.at, chains: 4 });

    // the newest anchor, its log row and the rows only it anchored: gone without a trace inside the database
    await asSuperuser('DELETE FROM audit_anchors WHERE id = ?', [a2!.id]);
    await asSuperuser('DELETE FROM audit_log WHERE chain = ? AND entity_id = ?', [ANCHOR_CHAIN, String(a2!.id)]);
    await asSuperuser("DELETE FROM audit_log WHERE chain = 'recall' AND chain_seq >= 7");
    expect((await verify()).body).toEqual({ ok: true, rows: 17 });
    expect((await verify(`?anchor=${a1!.hash}`)).body).toEqual({ ok: true, rows: 17 });
    expect((await verify(`?anchor=${a2!.hash}`)).body).toEqual({
      ok: false, firstBrokenRow: 0,
      reason: `the audit anchor with hash ${a2!.hash} (kept outside the database) is not in audit_anchors: anchors were deleted or rewritten, and the rows they anchored may be gone with them (newest anchor now #${a1!.id} of ${a1!.at})`,
    });
  });

  it('answers 400 to an anchor that is not 64 hex digits', async () => {
    const r = await verify('?anchor=abc');
    expect(r.status).toBe(400);
  });

  it('anchors only when a chain moved since the last anchor (unless forced)', async () => {
    expect(await anchorAuditChains(t.db)).toBeDefined();
    expect(await anchorAuditChains(t.db)).toBeUndefined();
    expect(await anchorAuditChains(t.db, { force: true })).toBeDefined();
    await t.db('audit_log').insert({ chain: 'admin', actor: 'cli', action: 'api_key.revoked', entity_type: 'api_key', entity_id: 'k' });
    const a = await anchorAuditChains(t.db);
    expect(a).toEqual(expect.objectContaining({ chains: 4 })); // admin, pipeline:wms:00, recall, audit:anchor
    expect((await verify()).body).toEqual(expect.objectContaining({ ok: true }));
  });
});

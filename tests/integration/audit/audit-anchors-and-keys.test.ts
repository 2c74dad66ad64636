import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { anchorAuditChains, ANCHOR_CHAIN } from '../../../src/audit/anchor-audit-chains';
import { verifyAnswer, verifyAuditLog } from '../../../src/audit/verify-audit-log';
import { createApiKey, ensureBootstrapKey, revokeApiKey } from '../../../src/security/api-keys';

/** Audit chain: verify's answer names a row whenever one is known, and operator actions on keys are audited. */
describe('audit chain: anchors named by their log rows, key changes audited', () => {
  let t: TestDatabase;
  const asSuperuser = async (sql: string, bindings: Array<string | number> = []): Promise<void> => {
    await t.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(sql, bindings);
    });
  };
  const seqOfAnchorRow = async (anchorId: number): Promise<number> =>
    Number((await t.db('audit_log').where({ chain: ANCHOR_CHAIN, entity_id: String(anchorId) }).first<{ seq: number }>('seq'))!.seq);

  beforeEach(async () => {
    t = await createTestDatabase();
    for (let i = 0; i < 4; i++) {
      await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: `L${i}` });
    }
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('names the deleted anchor log row as firstBrokenRow (its seq is known from the next anchor), not 0', async () => {
    const a1 = await anchorAuditChains(t.db);
    await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: 'L9' });
    await anchorAuditChains(t.db);
    const deleted = await seqOfAnchorRow(a1!.id);
    await asSuperuser('DELETE FROM audit_log WHERE seq = ?', [deleted]);
    const answer = verifyAnswer(await verifyAuditLog(t.db));
    expect(answer).toEqual(expect.objectContaining({ ok: false, firstBrokenRow: deleted }));
  });

  it('names the log row of an anchor edited behind the triggers as firstBrokenRow, not 0', async () => {
    await anchorAuditChains(t.db);
    await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: 'L9' });
    const a2 = await anchorAuditChains(t.db);
    await asSuperuser('UPDATE audit_anchors SET max_seq = 1 WHERE id = ?', [a2!.id]);
    const answer = verifyAnswer(await verifyAuditLog(t.db));
    expect(answer).toEqual({ ok: false, firstBrokenRow: await seqOfAnchorRow(a2!.id), reason: `audit anchor #${a2!.id}: its content does not match its hash (edited)` });
  });

  it('audits the bootstrap admin key being un-revoked and raised to admin (a key change like any other)', async () => {
    const value = 'lb_boot_0123456789abcdefghij';
    const k = await createApiKey(t.db, { name: 'bootstrap-admin', role: 'operator', value });
    await revokeApiKey(t.db, k.id);
    const before = Number((await t.db('audit_log').where({ chain: 'admin' }).count<Array<{ n: number }>>({ n: '*' }))[0].n);
    await ensureBootstrapKey(t.db, value);
    expect(await t.db('api_keys').where({ id: k.id }).first('role', 'revoked_at')).toEqual({ role: 'admin', revoked_at: null });
    const rows = await t.db('audit_log').where({ chain: 'admin', entity_type: 'api_key', entity_id: k.id }).where('seq', '>', 0).orderBy('seq').select('action', 'before', 'after');
    expect(Number((await t.db('audit_log').where({ chain: 'admin' }).count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBeGreaterThan(before);
    expect(rows[rows.length - 1]).toEqual(expect.objectContaining({ before: expect.objectContaining({ role: 'operator', revoked: true }), after: expect.objectContaining({ role: 'admin', revoked: false }) }));
  });

  it('writes one audit row per key revoked by name, naming each key by id', async () => {
    const a = await createApiKey(t.db, { name: 'shared-name', role: 'operator' });
    const b = await createApiKey(t.db, { name: 'shared-name', role: 'admin' });
    expect(await revokeApiKey(t.db, 'shared-name')).toBe(2);
    const rows = await t.db('audit_log').where({ action: 'api_key.revoked' }).orderBy('seq').select('entity_id');
    expect(rows.map((r: { entity_id: string }) => r.entity_id).sort()).toEqual([a.id, b.id].sort());
  });
});

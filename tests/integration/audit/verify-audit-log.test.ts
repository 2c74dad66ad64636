import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log';

describe('audit verify', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    for (let i = 0; i < 5; i++) {
      await t.db('audit_log').insert({ chain: 'pipeline:wms', actor: 'connector:wms', action: 'message.processed', entity_type: 'inbound_message', entity_id: `m${i}`, after: JSON.stringify({ i }) });
      await t.db('audit_log').insert({ chain: 'admin', actor: 'ana', action: 'material.updated', entity_type: 'material', entity_id: `M${i}`, before: JSON.stringify({ d: 'old' }), after: JSON.stringify({ d: 'new' }) });
    }
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('finds an untouched log intact, chain by chain', async () => {
    expect(await verifyAuditLog(t.db)).toEqual({ ok: true, rows: 10, chains: 2, anchors: 0, breaks: [] });
    expect((await verifyAuditLog(t.db, { chain: 'admin' })).rows).toBe(5);
  });

  it('names the row whose content was changed behind the triggers, and the link that broke after a deletion', async () => {
    // only someone who can disable triggers can do this; verify is how it is found
    await t.db.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    await t.db.raw("UPDATE audit_log SET after = '{\"d\":\"forged\"}' WHERE chain = 'admin' AND chain_seq = 3");
    await t.db.raw("DELETE FROM audit_log WHERE chain = 'pipeline:wms' AND chain_seq = 2");
    await t.db.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    const v = await verifyAuditLog(t.db);
    expect(v.ok).toBe(false);
    expect(v.breaks).toEqual([
      expect.objectContaining({ chain: 'pipeline:wms', chainSeq: 3, problem: 'sequence' }),
      expect.objectContaining({ chain: 'admin', chainSeq: 3, problem: 'hash' }),
    ]);
  });
});

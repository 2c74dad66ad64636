import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { migrateLatest, migrationConfig, migrationNames } from '../../../src/db/migrations';
import { anchorAuditChains } from '../../../src/audit/anchor-audit-chains';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log';

/** The by-hand check of docs/architecture.md ("Audit hash chain"), verbatim. */
const BY_HAND = `
SELECT chain,
       count(*)                                              AS rows,
       bool_and(hash_ok)                                     AS hashes_ok,
       bool_and(prev_hash = coalesce(prev, repeat('0', 64))) AS links_ok,
       bool_and(chain_seq = rn)                              AS no_gaps,
       bool_and(version_ok)                                  AS versions_ok
FROM (
  SELECT a.chain, a.chain_seq, a.prev_hash,
         coalesce(a.hash = lotbridge_audit_digest(a), false) AS hash_ok,
         a.digest_version = 2 OR (a.seq <= lotbridge_audit_v2_from()
           AND coalesce(lag(a.digest_version) OVER w, 1) = 1) AS version_ok,
         lag(a.hash)  OVER w                                 AS prev,
         row_number() OVER w                                 AS rn
  FROM audit_log a
  WINDOW w AS (PARTITION BY a.chain ORDER BY a.chain_seq)
) v
GROUP BY chain ORDER BY chain;`;

/**
 * A log written with digest version 1 (before migration 20260301002800), then upgraded: the old
 * rows keep version 1 and verify with it, new rows are version 2 and chain on to the old heads.
 */
describe('audit digest upgrade (version 1 rows, then version 2)', () => {
  let t: TestDatabase;
  const asSuperuser = async (sql: string, bindings: Array<string | number> = []): Promise<void> => {
    await t.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(sql, bindings);
    });
  };
  const seqOf = async (chain: string, chainSeq: number): Promise<number> => Number((await t.db('audit_log').where({ chain, chain_seq: chainSeq }).first<{ seq: number }>('seq'))!.seq);

  beforeEach(async () => {
    t = await createTestDatabase({ migrate: false });
    const upTo = migrationNames.indexOf('20260301002800_audit_digest_v2');
    expect(upTo).toBeGreaterThan(0);
    for (let i = 0; i < upTo; i++) await t.db.migrate.up(migrationConfig);
    for (let i = 1; i <= 3; i++) {
      await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:a|b', action: 'lot.on_hold', entity_type: 'lot', entity_id: `L${i}`, reason: i === 2 ? null : 'r|s' });
    }
    await t.db('audit_log').insert({ chain: 'admin', actor: 'cli', action: 'api_key.created', entity_type: 'api_key', entity_id: 'k1' });
    await anchorAuditChains(t.db);
    await migrateLatest(t.db);
    for (let i = 4; i <= 5; i++) {
      await t.db('audit_log').insert({ chain: 'recall', actor: 'operator:ana', action: 'lot.on_hold', entity_type: 'lot', entity_id: `L${i}` });
    }
    await t.db('audit_log').insert({ chain: 'pipeline:wms:00', actor: 'connector:wms', action: 'message.processed', entity_type: 'inbound_message', entity_id: 'm1' });
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('keeps the old rows at version 1, writes new rows at version 2 chained to the old heads, and verifies both', async () => {
    const recall = await t.db('audit_log').where({ chain: 'recall' }).orderBy('chain_seq').select('chain_seq', 'digest_version', 'prev_hash', 'hash');
    expect(recall.map((r) => [r.chain_seq, r.digest_version])).toEqual([[1, 1], [2, 1], [3, 1], [4, 2], [5, 2]]);
    expect(recall[3].prev_hash).toBe(recall[2].hash);
    const v2From = Number((await t.db.raw<{ rows: Array<{ m: string }> }>('SELECT lotbridge_audit_v2_from() AS m')).rows[0].m);
    expect(v2From).toBe(await seqOf('audit:anchor', 1)); // the last row written before the migration
    expect(await verifyAuditLog(t.db)).toEqual(expect.objectContaining({ ok: true, rows: 8, chains: 4, breaks: [] }));
    const byHand = await t.db.raw<{ rows: Array<{ chain: string; hashes_ok: boolean; links_ok: boolean; no_gaps: boolean; versions_ok: boolean }> }>(BY_HAND);
    expect(byHand.rows.map((r) => [r.chain, r.hashes_ok, r.links_ok, r.no_gaps, r.versions_ok])).toEqual([
      ['admin', true, true, true, true], ['audit:anchor', true, true, true, true], ['pipeline:wms:00', true, true, true, true], ['recall', true, true, true, true],
    ]);
  });

  it('still finds an edit of a version 1 row, and a version 2 row downgraded after version 1 rows of its chain', async () => {
    const old = await seqOf('recall', 2);
    await asSuperuser("UPDATE audit_log SET entity_id = 'L9' WHERE seq = ?", [old]);
    expect((await verifyAuditLog(t.db)).breaks.map((b) => [b.seq, b.problem])).toEqual([[old, 'hash']]);
    await asSuperuser("UPDATE audit_log SET entity_id = 'L2' WHERE seq = ?", [old]);

    // recall #4 follows version 1 rows: only the cut-off (written after the upgrade) gives it away
    const seq = await seqOf('recall', 4);
    await asSuperuser('UPDATE audit_log SET digest_version = 1 WHERE seq = ?', [seq]);
    await asSuperuser('UPDATE audit_log a SET hash = lotbridge_audit_digest(a) WHERE seq = ?', [seq]);
    const v = await verifyAuditLog(t.db);
    expect(v.breaks.map((b) => [b.seq, b.problem])).toEqual([[seq, 'version'], [await seqOf('recall', 5), 'link']]);
    const byHand = await t.db.raw<{ rows: Array<{ chain: string; versions_ok: boolean }> }>(BY_HAND);
    expect(byHand.rows.find((r) => r.chain === 'recall')!.versions_ok).toBe(false);
  });
});

import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { migrateDown, migrateLatest, migrationStatus } from '../../../src/db/migrations';

const canonicalTables = [
  'inbound_messages', 'message_dedup', 'parties', 'locations', 'materials', 'material_identifiers', 'lots', 'serials',
  'inventory_balances', 'inventory_ledger', 'trace_events', 'trace_event_items', 'lot_links', 'quality_results',
  'shipments', 'shipment_lines', 'purchase_orders', 'po_lines', 'reorder_policies', 'alerts', 'recalls', 'recall_lots',
  'audit_log', 'outbox_events', 'api_keys', 'users',
  'device_usages', 'demand_history', 'supply_requisitions', 'message_acks', 'audit_anchors', 'recall_serials',
  'console_sessions', 'console_jobs', 'console_login_attempts',
  'edi_partners', 'edi_outbound_messages', 'invoices', 'supplier_stock_snapshots',
  'deliveries', 'outbox_relay_position',
];

async function tables(t: TestDatabase): Promise<string[]> {
  const r = await t.db.raw<{ rows: Array<{ tablename: string }> }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_%' AND tablename NOT LIKE 'inbound_messages_%'",
  );
  return r.rows.map((x) => x.tablename).sort();
}

describe('migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('creates every canonical table on the way up and removes them all on the way down, twice', async () => {
    for (let round = 0; round < 2; round++) {
      await migrateLatest(t.db);
      expect(await tables(t)).toEqual([...canonicalTables].sort());
      expect((await migrationStatus(t.db)).pending).toEqual([]);
      await migrateDown(t.db, true);
      expect(await tables(t)).toEqual([]);
    }
    await migrateLatest(t.db);
  });

  it('makes audit_log append-only and hash-chains each row to the previous one of its chain', async () => {
    await t.db('audit_log').insert({ chain: 'test', actor: 'tester', action: 'create', entity_type: 'lot', entity_id: 'a', after: { q: 1 } });
    await t.db('audit_log').insert({ chain: 'test', actor: 'tester', action: 'update', entity_type: 'lot', entity_id: 'a', after: { q: 2 } });
    await t.db('audit_log').insert({ chain: 'other', actor: 'tester', action: 'create', entity_type: 'lot', entity_id: 'b' });
    const rows = await t.db('audit_log').where({ chain: 'test' }).orderBy('chain_seq');
    expect(rows.map((r) => r.chain_seq)).toEqual([1, 2]);
    expect(rows[0].prev_hash).toBe('0'.repeat(64));
    expect(rows[1].prev_hash).toBe(rows[0].hash);
    expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
    await expect(t.db('audit_log').update({ actor: 'mallory' })).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(t.db('audit_log').delete()).rejects.toThrow(/append-only: DELETE refused/);
    await expect(t.db.raw('TRUNCATE audit_log')).rejects.toThrow(/append-only: TRUNCATE refused/);
    const check = await t.db.raw<{ rows: Array<{ ok: boolean }> }>('SELECT bool_and(hash = lotbridge_audit_digest(a)) AS ok FROM audit_log a');
    expect(check.rows[0].ok).toBe(true);
  });

  it('stores a duplicate row in inbound_messages partitions by month and keeps the dedup key unique', async () => {
    const base = { connector_id: 'wms', connector_kind: 'wms', format: 'json', dedup_key: 'k', sha256: 'a'.repeat(64), size_bytes: 1, status: 'received' };
    await t.db('inbound_messages').insert({ ...base, id: '018f0000-0000-7000-8000-000000000001', received_at: new Date() });
    await t.db('inbound_messages').insert({ ...base, id: '018f0000-0000-7000-8000-000000000002', received_at: new Date('2019-01-05T00:00:00Z') });
    const parts = await t.db.raw<{ rows: Array<{ tableoid: string }> }>('SELECT tableoid::regclass::text AS tableoid FROM inbound_messages ORDER BY received_at');
    expect(parts.rows.map((r) => r.tableoid)).toEqual(['inbound_messages_default', expect.stringMatching(/^inbound_messages_\d{6}$/)]);
    await t.db('message_dedup').insert({ dedup_key: 'k', message_id: '018f0000-0000-7000-8000-000000000001', connector_id: 'wms' });
    await expect(t.db('message_dedup').insert({ dedup_key: 'k', message_id: '018f0000-0000-7000-8000-000000000002', connector_id: 'wms' })).rejects.toThrow(/duplicate key/);
  });
});

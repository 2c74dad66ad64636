import { randomUUID } from 'node:crypto';
import { createDb } from '../../../src/db/knex';
import { named, rawNamed } from '../../../src/db/named-statement';
import { storeInboundMessages } from '../../../src/ingest/message-store';
import { LOTS_BY_KEY_SQL } from '../../../src/model/lots/find-or-create-lots-batch';
import { LOCK_MESSAGES_SKIP_LOCKED_SQL, LOCK_MESSAGES_SQL } from '../../../src/pipeline/process-message';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';

/** Named prepared statements: parsed once per connection, then only bound and executed (real PostgreSQL). */
describe('named statements', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('one name per text, stable', () => {
    expect(named('SELECT 1').name).toBe(named('SELECT 1').name);
    expect(named('SELECT 1').name).not.toBe(named('SELECT 2').name);
    expect(named('SELECT 1').name).toMatch(/^lb_[0-9a-f]{24}$/);
  });

  it('a statement run twice on one connection is prepared once and gives its results each time', async () => {
    const db = createDb({ url: t.url, poolMax: 1 });
    try {
      const sql = 'SELECT x * 2 AS y FROM unnest(?::int[]) AS x ORDER BY x';
      expect((await rawNamed<{ rows: Array<{ y: number }> }>(db, sql, [[1, 2]])).rows.map((r) => r.y)).toEqual([2, 4]);
      expect((await rawNamed<{ rows: Array<{ y: number }> }>(db, sql, [[3]])).rows.map((r) => r.y)).toEqual([6]);
      const prepared = await db.raw<{ rows: Array<{ name: string }> }>('SELECT name FROM pg_prepared_statements');
      expect(prepared.rows.map((r) => r.name)).toContain(named(sql).name);
    } finally {
      await db.destroy();
    }
  });

  it('the intake statement is prepared: group commits of different sizes reuse it', async () => {
    const db = createDb({ url: t.url, poolMax: 1 });
    try {
      const m = (i: number) => ({
        connectorId: 'wms', connectorKind: 'wms', format: 'json', transport: 'http', dedupKey: `named-test:${i}`,
        payload: Buffer.from(`{"i":${i}}`), sizeBytes: 7, envelope: {}, receivedAt: new Date(),
      });
      const one = await storeInboundMessages(db, [m(1)]);
      const three = await storeInboundMessages(db, [m(2), m(3), m(2)]);
      expect(one.map((o) => o.kind)).toEqual(['stored']);
      expect(three.map((o) => o.kind)).toEqual(['stored', 'stored', 'duplicate']);
      const prepared = await db.raw<{ rows: Array<{ name: string; statement: string }> }>("SELECT name, statement FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO inbound_messages%'");
      expect(prepared.rows).toHaveLength(1);
    } finally {
      await db.destroy();
    }
  });
  it('keeps working when a newer hub adds columns while this process runs (rolling upgrade): the statements list their columns', async () => {
    const db = createDb({ url: t.url, poolMax: 1 });
    try {
      const [stored] = await storeInboundMessages(db, [{ connectorId: 'wms', connectorKind: 'wms', format: 'json', transport: 'http', dedupKey: 'named-test:upgrade', payload: Buffer.from('{}'), sizeBytes: 2, envelope: {}, receivedAt: new Date() }]);
      const material = randomUUID();
      await db('materials').insert({ id: material, code: 'NAMED-UPGRADE', description: 'named statement test' });
      await db('lots').insert({ id: randomUUID(), material_id: material, lot_number: 'L-UPG-1' });
      const run = async (): Promise<{ messages: string[]; lots: string[] }> =>
        db.transaction(async (trx) => ({
          messages: (await rawNamed<{ rows: Array<{ id: string }> }>(trx, LOCK_MESSAGES_SQL, [[stored.id]])).rows.map((r) => r.id),
          lots: (await rawNamed<{ rows: Array<{ lot_number: string }> }>(trx, LOTS_BY_KEY_SQL, [[material], ['L-UPG-1']])).rows.map((r) => r.lot_number),
        }));
      const skipLocked = async (): Promise<string[]> =>
        db.transaction(async (trx) => (await rawNamed<{ rows: Array<{ id: string }> }>(trx, LOCK_MESSAGES_SKIP_LOCKED_SQL, [[stored.id]])).rows.map((r) => r.id));
      const star = 'SELECT * FROM lots WHERE material_id = ANY(?::uuid[])';
      expect(await run()).toMatchObject({ messages: [stored.id], lots: ['L-UPG-1'] });
      expect(await skipLocked()).toEqual([stored.id]);
      expect((await rawNamed<{ rows: unknown[] }>(db, star, [[material]])).rows).toHaveLength(1);

      // another hub's migration, on another connection, while this pool's statements stay prepared
      const other = createDb({ url: t.url, poolMax: 1 });
      try {
        await other.raw('ALTER TABLE inbound_messages ADD COLUMN named_test_col int');
        await other.raw('ALTER TABLE lots ADD COLUMN named_test_col int');
      } finally {
        await other.destroy();
      }
      expect(await run()).toMatchObject({ messages: [stored.id], lots: ['L-UPG-1'] });
      expect(await skipLocked()).toEqual([stored.id]);
      // what a statement returning a table's row type would do instead
      await expect(rawNamed(db, star, [[material]])).rejects.toThrow(/cached plan must not change result type/);
    } finally {
      await db.destroy();
      await t.db.raw('ALTER TABLE inbound_messages DROP COLUMN IF EXISTS named_test_col');
      await t.db.raw('ALTER TABLE lots DROP COLUMN IF EXISTS named_test_col');
    }
  });
});

import { createDb } from '../../../src/db/knex';
import { named, rawNamed } from '../../../src/db/named-statement';
import { storeInboundMessages } from '../../../src/ingest/message-store';
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
});

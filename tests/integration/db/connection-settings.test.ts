import { createDb } from '../../../src/db/knex';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';

/** What every connection of the hub's pools is opened with (real PostgreSQL). */
describe('connection settings of the pools', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await t.destroy();
  });

  const show = async (db: ReturnType<typeof createDb>, name: string): Promise<string> => (await db.raw<{ rows: Array<Record<string, string>> }>(`SHOW ${name}`)).rows[0][name];

  it('API pool: JIT off, commits synchronous (a receipt means the bytes are on disk)', async () => {
    const db = createDb({ url: t.url, poolMax: 2 });
    try {
      expect(await show(db, 'jit')).toBe('off');
      expect(await show(db, 'synchronous_commit')).toBe('on');
      expect(await show(db, 'application_name')).toBe('lotbridge');
    } finally {
      await db.destroy();
    }
  });

  it('pipeline pool: JIT off, commits asynchronous', async () => {
    const db = createDb({ url: t.url, poolMax: 2, asyncCommit: true });
    try {
      expect(await show(db, 'jit')).toBe('off');
      expect(await show(db, 'synchronous_commit')).toBe('off');
      expect(await show(db, 'application_name')).toBe('lotbridge-worker');
    } finally {
      await db.destroy();
    }
  });
});

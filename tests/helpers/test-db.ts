import { randomBytes } from 'node:crypto';
import { createDb, dropDatabase, ensureDatabase, type Db } from '../../src/db/knex';

export { dropDatabase };
import { migrateLatest } from '../../src/db/migrations';

/** Server the tests use; override with TEST_DATABASE_URL (any database name; it is replaced). */
export const TEST_PG_SERVER = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** URL of this run's own database. */
  url: string;
  name: string;
  db: Db;
  /** Closes the pool and drops the database. */
  destroy(): Promise<void>;
}

/** A database of its own for this test file (`lotbridge_t_<random>`), migrated unless `migrate: false`. */
export async function createTestDatabase(opts: { migrate?: boolean; poolMax?: number } = {}): Promise<TestDatabase> {
  const name = `lotbridge_t_${randomBytes(6).toString('hex')}`;
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/${name}`;
  const url = u.toString();
  await ensureDatabase(url);
  const db = createDb({ url, poolMax: opts.poolMax ?? 10 });
  if (opts.migrate !== false) {
    await migrateLatest(db);
  }
  return {
    url,
    name,
    db,
    async destroy(): Promise<void> {
      await db.destroy();
      await dropDatabase(url);
    },
  };
}

import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { withArrayLiterals } from './pg-array-literal';

const names = new Map<string, string>();

/**
 * Driver options that run a raw statement as a named prepared statement: PostgreSQL parses and
 * plans it once per pool connection, and each later run only binds and executes it. Measured on
 * the HL7 path (docs/architecture.md, "Prepared statements"): parse and plan were a third of the
 * PostgreSQL time of the intake and batch statements, more than their execution at small batches.
 *
 * Only for statements whose text never varies (unnest arrays instead of IN lists or VALUES rows):
 * each distinct text becomes a statement kept on every connection. The name is a digest of the
 * text, so two call sites with the same text share one statement.
 *
 * List the output columns: never `SELECT *`, `t.*` or `RETURNING *` of a table. A column that a
 * newer hub's migration adds while this process runs would change such a statement's result type,
 * and PostgreSQL then refuses it ("cached plan must not change result type") on every connection
 * that prepared it, until the process restarts (tests/integration/db/named-statement.test.ts).
 *
 *     await db.raw(SQL, bindings).options(named(SQL));
 */
export function named(sql: string): { name: string } {
  let name = names.get(sql);
  if (name === undefined) {
    name = `lb_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    names.set(sql, name);
  }
  return { name };
}

/**
 * `q.raw(sql, bindings)` as a named prepared statement (see `named`): for statements whose text never
 * varies. Array bindings (the unnest columns) are sent as array literals written by pgArrayLiteral.
 */
export function rawNamed<T = unknown>(q: Knex | Knex.Transaction, sql: string, bindings: readonly unknown[]): Knex.Raw<T> {
  return q.raw<T>(sql, withArrayLiterals(bindings) as unknown as Knex.RawBinding[]).options(named(sql));
}

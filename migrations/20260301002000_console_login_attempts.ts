import type { Knex } from 'knex';

/**
 * Console login throttling in the database instead of each process's memory: every hub behind a
 * load balancer (and a restarted one) sees the same count, and a burst of parallel guesses is
 * counted one by one (the row is taken before the password is checked).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_login_attempts', (t) => {
    t.text('username_key').notNullable().comment('the user name as typed, lower-case');
    t.text('address').notNullable().comment('the client address');
    t.integer('attempts').notNullable().comment('attempts since first_at without a successful login');
    t.timestamp('first_at', { useTz: true }).notNullable();
    t.primary(['username_key', 'address']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('console_login_attempts');
}

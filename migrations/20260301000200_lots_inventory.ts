import type { Knex } from 'knex';

/** Lots, serials, stock balances and the balance ledger that makes "balance as of T" answerable. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('lots', (t) => {
    t.uuid('id').primary();
    t.uuid('material_id').notNullable().references('materials.id');
    t.text('lot_number').notNullable();
    t.date('manufactured_at');
    t.date('expiry');
    t.text('status').notNullable().defaultTo('released');
    t.boolean('provisional').notNullable().defaultTo(false);
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['material_id', 'lot_number']);
    t.unique(['source_message_id', 'ordinal']);
    t.index(['lot_number']);
    t.index(['expiry']);
  });
  await knex.raw(`ALTER TABLE lots ADD CONSTRAINT lots_status_check CHECK (status IN
    ('quarantine','released','on_hold','rejected','recalled','expired'))`);

  await knex.schema.createTable('serials', (t) => {
    t.uuid('id').primary();
    t.uuid('material_id').notNullable().references('materials.id');
    t.uuid('lot_id').references('lots.id');
    t.text('serial_number').notNullable();
    t.text('status').notNullable().defaultTo('active');
    t.uuid('location_id').references('locations.id');
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['material_id', 'serial_number']);
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.raw(`ALTER TABLE serials ADD CONSTRAINT serials_status_check CHECK (status IN
    ('active','shipped','consumed','implanted','scrapped','recalled','returned'))`);

  await knex.schema.createTable('inventory_balances', (t) => {
    t.bigIncrements('id');
    t.uuid('lot_id').notNullable().references('lots.id');
    t.uuid('location_id').notNullable().references('locations.id');
    t.text('stock_state').notNullable();
    t.decimal('quantity', 18, 4).notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['lot_id', 'location_id', 'stock_state']);
    t.index(['location_id']);
  });
  const states = `('raw','component','wip','finished','pending_inspection','pending_shipment','in_transit')`;
  await knex.raw(`ALTER TABLE inventory_balances ADD CONSTRAINT inventory_balances_state_check CHECK (stock_state IN ${states})`);

  // Every balance change, with the business time it happened at. The balance is the sum of the
  // ledger; a count "as of T" books (count − sum(ledger ≤ T)) at T, so later movements still apply.
  await knex.schema.createTable('inventory_ledger', (t) => {
    t.bigIncrements('id');
    t.uuid('event_id').notNullable();
    t.uuid('lot_id').notNullable().references('lots.id');
    t.uuid('location_id').notNullable().references('locations.id');
    t.text('stock_state').notNullable();
    t.decimal('delta', 18, 4).notNullable();
    t.timestamp('event_time', { useTz: true }).notNullable();
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.index(['lot_id', 'location_id', 'stock_state', 'event_time']);
    t.index(['event_id']);
  });
  await knex.raw(`ALTER TABLE inventory_ledger ADD CONSTRAINT inventory_ledger_state_check CHECK (stock_state IN ${states})`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('inventory_ledger');
  await knex.schema.dropTableIfExists('inventory_balances');
  await knex.schema.dropTableIfExists('serials');
  await knex.schema.dropTableIfExists('lots');
}

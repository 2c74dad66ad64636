import type { Knex } from 'knex';

/** Alerts (one open alert per dedup key) and recalls with their lots. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('alerts', (t) => {
    t.uuid('id').primary();
    t.text('type').notNullable();
    t.text('severity').notNullable().defaultTo('warning');
    t.text('subject_type').notNullable().comment('lot | location | material | shipment | message | sensor');
    t.text('subject_id');
    t.text('message').notNullable();
    t.jsonb('details');
    t.text('status').notNullable().defaultTo('open');
    t.text('dedup_key');
    t.timestamp('opened_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('closed_at', { useTz: true });
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.unique(['source_message_id', 'ordinal']);
    t.index(['type', 'status']);
  });
  await knex.raw(`CREATE UNIQUE INDEX alerts_open_dedup_idx ON alerts (dedup_key) WHERE status = 'open' AND dedup_key IS NOT NULL`);
  await knex.raw(`ALTER TABLE alerts ADD CONSTRAINT alerts_type_check CHECK (type IN
    ('below_rop','excess','expiring','expired','temp_excursion','shipment_late','asn_discrepancy','udi_mismatch',
     'provisional_lot','control_id_collision','partner_ack_missing','message_failed','negative_balance','recalled_lot_movement'))`);
  await knex.raw(`ALTER TABLE alerts ADD CONSTRAINT alerts_severity_check CHECK (severity IN ('info','warning','critical'))`);
  await knex.raw(`ALTER TABLE alerts ADD CONSTRAINT alerts_status_check CHECK (status IN ('open','acknowledged','closed'))`);

  await knex.schema.createTable('recalls', (t) => {
    t.uuid('id').primary();
    t.text('recall_number').notNullable().unique();
    t.text('reason').notNullable();
    t.text('class').comment('I | II | III');
    t.text('status').notNullable().defaultTo('open');
    t.jsonb('impact');
    t.text('opened_by');
    t.timestamp('opened_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('closed_at', { useTz: true });
  });
  await knex.schema.createTable('recall_lots', (t) => {
    t.uuid('recall_id').notNullable().references('recalls.id').onDelete('CASCADE');
    t.uuid('lot_id').notNullable().references('lots.id');
    t.text('previous_status');
    t.primary(['recall_id', 'lot_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('recall_lots');
  await knex.schema.dropTableIfExists('recalls');
  await knex.schema.dropTableIfExists('alerts');
}

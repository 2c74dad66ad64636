import type { Knex } from 'knex';

/** EPCIS-style trace events, their items, lot genealogy and quality results. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('trace_events', (t) => {
    t.uuid('id').primary();
    t.text('type').notNullable().comment('EPCIS event type');
    t.text('action').comment('ADD | OBSERVE | DELETE (none for transformation)');
    t.text('biz_step').notNullable().comment('CBV bizStep, e.g. receiving, shipping');
    t.text('disposition');
    t.timestamp('event_time', { useTz: true }).notNullable();
    t.text('event_time_zone_offset').notNullable().defaultTo('+00:00');
    t.timestamp('record_time', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.uuid('location_id').references('locations.id');
    t.text('read_point');
    t.jsonb('biz_transactions').notNullable().defaultTo('[]');
    t.jsonb('sensor_readings');
    t.jsonb('details');
    t.text('source_key').unique().comment('idempotency key of the source record, e.g. wms:<connector>:<movementId>');
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.index(['event_time']);
    t.index(['location_id', 'event_time']);
  });
  await knex.raw(`ALTER TABLE trace_events ADD CONSTRAINT trace_events_type_check CHECK (type IN
    ('ObjectEvent','AggregationEvent','TransformationEvent','TransactionEvent','AssociationEvent'))`);

  await knex.schema.createTable('trace_event_items', (t) => {
    t.bigIncrements('id');
    t.uuid('event_id').notNullable().references('trace_events.id').onDelete('CASCADE');
    t.text('role').notNullable();
    t.uuid('material_id').references('materials.id');
    t.uuid('lot_id').references('lots.id');
    t.uuid('serial_id').references('serials.id');
    t.decimal('quantity', 18, 4);
    t.text('uom');
    t.decimal('base_quantity', 18, 4);
    t.index(['lot_id']);
    t.index(['event_id']);
  });
  await knex.raw(`ALTER TABLE trace_event_items ADD CONSTRAINT trace_event_items_role_check CHECK (role IN
    ('input','output','child','parent','subject'))`);

  await knex.schema.createTable('lot_links', (t) => {
    t.bigIncrements('id');
    t.uuid('input_lot_id').notNullable().references('lots.id');
    t.uuid('output_lot_id').notNullable().references('lots.id');
    t.uuid('event_id').references('trace_events.id');
    t.decimal('quantity', 18, 4);
    t.text('uom');
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.index(['input_lot_id']);
    t.index(['output_lot_id']);
  });
  await knex.raw(`ALTER TABLE lot_links ADD CONSTRAINT lot_links_not_self CHECK (input_lot_id <> output_lot_id)`);

  await knex.schema.createTable('quality_results', (t) => {
    t.uuid('id').primary();
    t.uuid('lot_id').notNullable().references('lots.id');
    t.text('test_code').notNullable();
    t.text('test_name');
    t.text('result').notNullable().comment('pass | fail | value');
    t.text('value');
    t.text('unit');
    t.text('disposition');
    t.timestamp('inspected_at', { useTz: true }).notNullable();
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.index(['lot_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('quality_results');
  await knex.schema.dropTableIfExists('lot_links');
  await knex.schema.dropTableIfExists('trace_event_items');
  await knex.schema.dropTableIfExists('trace_events');
}

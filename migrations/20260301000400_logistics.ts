import type { Knex } from 'knex';

/** Shipments (ASN/DESADV and WMS ships), purchase orders and reorder policies. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('shipments', (t) => {
    t.uuid('id').primary();
    t.text('shipment_number').notNullable().comment('ASN / DESADV number, or WMS shipment reference');
    t.text('direction').notNullable();
    t.uuid('from_party_id').references('parties.id');
    t.uuid('to_party_id').references('parties.id');
    t.uuid('from_location_id').references('locations.id');
    t.text('ship_to').comment('party GLN or customer id as the feed gave it');
    t.text('status').notNullable().defaultTo('shipped');
    t.timestamp('shipped_at', { useTz: true });
    t.timestamp('expected_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.text('carrier');
    t.boolean('temperature_excursion').notNullable().defaultTo(false);
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.unique(['direction', 'shipment_number']);
  });
  await knex.raw(`ALTER TABLE shipments ADD CONSTRAINT shipments_direction_check CHECK (direction IN ('inbound','outbound'))`);
  await knex.raw(`ALTER TABLE shipments ADD CONSTRAINT shipments_status_check CHECK (status IN
    ('planned','shipped','in_transit','delivered','received','cancelled'))`);

  await knex.schema.createTable('shipment_lines', (t) => {
    t.bigIncrements('id');
    t.uuid('shipment_id').notNullable().references('shipments.id').onDelete('CASCADE');
    t.integer('line_no').notNullable();
    t.uuid('material_id').references('materials.id');
    t.uuid('lot_id').references('lots.id');
    t.uuid('serial_id').references('serials.id');
    t.decimal('quantity_expected', 18, 4);
    t.decimal('quantity_shipped', 18, 4);
    t.decimal('quantity_received', 18, 4);
    t.text('uom');
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.unique(['shipment_id', 'line_no']);
    t.index(['lot_id']);
  });

  await knex.schema.createTable('purchase_orders', (t) => {
    t.uuid('id').primary();
    t.text('po_number').notNullable();
    t.uuid('supplier_party_id').references('parties.id');
    t.uuid('buyer_party_id').references('parties.id');
    t.text('status').notNullable().defaultTo('open');
    t.text('origin').notNullable().defaultTo('edi').comment('edi | reorder | manual');
    t.timestamp('ordered_at', { useTz: true });
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source_message_id', 'ordinal']);
    t.unique(['po_number', 'supplier_party_id']);
  });
  await knex.raw(`ALTER TABLE purchase_orders ADD CONSTRAINT purchase_orders_status_check CHECK (status IN
    ('draft','open','acknowledged','partially_received','received','cancelled','closed'))`);

  await knex.schema.createTable('po_lines', (t) => {
    t.bigIncrements('id');
    t.uuid('po_id').notNullable().references('purchase_orders.id').onDelete('CASCADE');
    t.integer('line_no').notNullable();
    t.uuid('material_id').references('materials.id');
    t.decimal('quantity', 18, 4).notNullable();
    t.text('uom');
    t.decimal('unit_price', 14, 4);
    t.date('requested_at');
    t.decimal('quantity_confirmed', 18, 4);
    t.decimal('quantity_received', 18, 4).notNullable().defaultTo(0);
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.unique(['source_message_id', 'ordinal']);
    t.unique(['po_id', 'line_no']);
  });

  await knex.schema.createTable('reorder_policies', (t) => {
    t.bigIncrements('id');
    t.uuid('material_id').notNullable().references('materials.id');
    t.uuid('location_id').notNullable().references('locations.id');
    t.decimal('demand_mean', 18, 4);
    t.decimal('demand_sd', 18, 4);
    t.decimal('lead_time_mean_days', 10, 3);
    t.decimal('lead_time_sd_days', 10, 3);
    t.decimal('service_level', 6, 5).notNullable().defaultTo(0.95);
    t.decimal('safety_stock', 18, 4);
    t.decimal('reorder_point', 18, 4);
    t.decimal('max_stock', 18, 4);
    t.text('method').notNullable().defaultTo('normal');
    t.timestamp('computed_at', { useTz: true });
    t.unique(['material_id', 'location_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('reorder_policies');
  await knex.schema.dropTableIfExists('po_lines');
  await knex.schema.dropTableIfExists('purchase_orders');
  await knex.schema.dropTableIfExists('shipment_lines');
  await knex.schema.dropTableIfExists('shipments');
}

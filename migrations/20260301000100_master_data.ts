import type { Knex } from 'knex';

/** Parties, locations and materials (with their GTINs per packaging level and internal codes). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('parties', (t) => {
    t.uuid('id').primary();
    t.string('gln', 13).unique();
    t.text('code').unique().comment('customer/supplier id used by feeds that carry no GLN');
    t.text('name').notNullable();
    t.text('role').notNullable();
    t.boolean('provisional').notNullable().defaultTo(false);
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.raw(`ALTER TABLE parties ADD CONSTRAINT parties_role_check CHECK (role IN
    ('manufacturer','supplier','distributor','hospital','carrier','customer','internal'))`);

  await knex.schema.createTable('locations', (t) => {
    t.uuid('id').primary();
    t.text('code').notNullable().unique();
    t.string('gln', 13);
    t.text('name');
    t.text('kind').notNullable().defaultTo('bin');
    t.uuid('parent_id').references('locations.id');
    t.uuid('party_id').references('parties.id');
    t.text('temperature_zone');
    t.decimal('temp_min_c', 6, 2);
    t.decimal('temp_max_c', 6, 2);
    t.boolean('provisional').notNullable().defaultTo(false);
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.raw(`ALTER TABLE locations ADD CONSTRAINT locations_kind_check CHECK (kind IN
    ('site','warehouse','zone','bin','ward','operating_room','dock','vehicle','external'))`);

  await knex.schema.createTable('materials', (t) => {
    t.uuid('id').primary();
    t.text('code').notNullable().unique().comment('primary internal material code');
    t.text('description');
    t.text('kind').notNullable().defaultTo('finished');
    t.text('base_uom').notNullable().defaultTo('EA');
    t.integer('shelf_life_days');
    t.decimal('storage_temp_min_c', 6, 2);
    t.decimal('storage_temp_max_c', 6, 2);
    t.boolean('lot_controlled').notNullable().defaultTo(true);
    t.boolean('serial_controlled').notNullable().defaultTo(false);
    t.boolean('implantable').notNullable().defaultTo(false);
    t.text('risk_class');
    t.decimal('unit_cost', 14, 4);
    t.boolean('provisional').notNullable().defaultTo(false);
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.raw(`ALTER TABLE materials ADD CONSTRAINT materials_kind_check CHECK (kind IN
    ('raw','component','finished','consumable','implant','packaging'))`);

  // Every identifier a feed may use for a material: GTINs per packaging level (with the number of
  // base units in that pack), UDI-DIs, internal and supplier codes. A GTIN on a case and an MES
  // internal code resolve to the same material; quantities convert with quantity_per_level.
  await knex.schema.createTable('material_identifiers', (t) => {
    t.bigIncrements('id');
    t.uuid('material_id').notNullable().references('materials.id').onDelete('CASCADE');
    t.text('scheme').notNullable();
    t.text('value').notNullable();
    t.text('packaging_level').notNullable().defaultTo('each');
    t.decimal('quantity_per_level', 14, 4).notNullable().defaultTo(1);
    t.unique(['scheme', 'value']);
    t.index(['material_id']);
  });
  await knex.raw(`ALTER TABLE material_identifiers ADD CONSTRAINT material_identifiers_scheme_check CHECK (scheme IN
    ('gtin','udi_di','hibcc','internal','supplier','customer'))`);
  await knex.raw(`ALTER TABLE material_identifiers ADD CONSTRAINT material_identifiers_level_check CHECK (packaging_level IN
    ('each','inner','box','case','pallet'))`);
  await knex.raw(`ALTER TABLE material_identifiers ADD CONSTRAINT material_identifiers_qty_check CHECK (quantity_per_level > 0)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('material_identifiers');
  await knex.schema.dropTableIfExists('materials');
  await knex.schema.dropTableIfExists('locations');
  await knex.schema.dropTableIfExists('parties');
}

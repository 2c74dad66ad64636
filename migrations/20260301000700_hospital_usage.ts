import type { Knex } from 'knex';

/**
 * What hospitals report (HL7 v2): device and supply usage on patients, demand history for
 * replenishment, supply requisitions, and item-master seeds for reorder policies.
 * Patient and encounter identifiers are never stored in clear: each is an AES-256-GCM blob
 * (LOTBRIDGE_PHI_KEY) plus a keyed HMAC for joins (see src/security/phi.ts).
 */
export async function up(knex: Knex): Promise<void> {
  // One row per device/supply used on a patient: what (material, lot, serial), where (hospital
  // location and party), when, for which procedure, and for whom (encrypted + HMAC). The recall
  // trace goes lot → usage → hospital → (for that hospital only) its own patient/encounter ids.
  await knex.schema.createTable('device_usages', (t) => {
    t.uuid('id').primary();
    t.uuid('trace_event_id').references('trace_events.id').comment('null for an unlotted item (no stock booking)');
    t.text('source_key').notNullable().unique().comment('hl7:<message id>:FT1-<set id>:<device #>');
    t.uuid('material_id').notNullable().references('materials.id');
    t.uuid('lot_id').references('lots.id');
    t.uuid('serial_id').references('serials.id');
    t.uuid('location_id').notNullable().references('locations.id');
    t.uuid('party_id').references('parties.id').comment('the hospital (MSH-4 sending facility)');
    t.decimal('quantity', 18, 4).notNullable();
    t.text('uom').notNullable();
    t.timestamp('used_at', { useTz: true }).notNullable();
    t.text('used_at_offset').notNullable().defaultTo('+00:00');
    t.text('transaction_type').comment('FT1-6 (CG charge, CD credit, …)');
    t.text('procedure_code').comment('FT1-25 / PR1-3 code (a procedure type, not an identifier)');
    t.text('procedure_ref_hmac').comment('keyed HMAC of the encounter + procedure reference: pseudonymous');
    t.text('patient_hmac');
    t.binary('patient_enc');
    t.text('encounter_hmac');
    t.binary('encounter_enc');
    t.text('udi').comment('the UDI carrier as scanned (PRT-10), when sent');
    t.jsonb('details');
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source_message_id', 'ordinal']);
    t.index(['lot_id']);
    t.index(['serial_id']);
    t.index(['party_id', 'used_at']);
    t.index(['patient_hmac']);
    t.index(['encounter_hmac']);
  });

  // Demand as it happens (consumption, requisitions, issues): the input of safety stock and
  // reorder points. One row per source record.
  await knex.schema.createTable('demand_history', (t) => {
    t.bigIncrements('id');
    t.text('kind').notNullable();
    t.uuid('material_id').notNullable().references('materials.id');
    t.uuid('location_id').references('locations.id');
    t.uuid('party_id').references('parties.id');
    t.decimal('quantity', 18, 4).notNullable();
    t.text('uom').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable();
    t.text('source_key').notNullable().unique();
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.index(['material_id', 'location_id', 'occurred_at']);
  });
  await knex.raw(`ALTER TABLE demand_history ADD CONSTRAINT demand_history_kind_check CHECK (kind IN ('consumption','requisition','issue'))`);

  // Hospital supply requisitions (HL7 OMS^O05: ORC + RQD), one row per requisition line.
  await knex.schema.createTable('supply_requisitions', (t) => {
    t.uuid('id').primary();
    t.uuid('party_id').references('parties.id').comment('the requesting hospital');
    t.text('sender').notNullable().comment('MSH-3/MSH-4 of the requester');
    t.text('requisition_number').notNullable().comment('ORC-2 placer order number');
    t.integer('line_no').notNullable().comment('RQD-1 line number');
    t.text('order_control').notNullable().comment('ORC-1 (NW new, CA cancel, XO change, …)');
    t.text('status').notNullable();
    t.uuid('material_id').references('materials.id');
    t.text('item_code').comment('RQD-2/RQD-3/RQD-4 item code as sent');
    t.text('item_text');
    t.decimal('quantity', 18, 4);
    t.text('uom');
    t.uuid('location_id').references('locations.id').comment('deliver-to location (RQD-9)');
    t.date('needed_by').comment('RQD-10');
    t.timestamp('requested_at', { useTz: true });
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['sender', 'requisition_number', 'line_no']);
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.raw(`ALTER TABLE supply_requisitions ADD CONSTRAINT supply_requisitions_status_check CHECK (status IN ('open','changed','cancelled','on_hold','closed'))`);

  // The acknowledgement sent for each inbound message (HL7 ACK, later X12 997/999/TA1, EDIFACT CONTRL).
  // Its own table: written right after intake, it never takes the message row's lock (which the
  // pipeline holds while it maps the message).
  await knex.schema.createTable('message_acks', (t) => {
    t.uuid('message_id').primary();
    t.jsonb('ack').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Item-master seeds (HL7 MFN^M16 IVT): what the hospital recommends, kept beside the computed values.
  await knex.schema.alterTable('reorder_policies', (t) => {
    t.text('reorder_theory').comment('IVT-21 recommended reorder theory');
    t.decimal('safety_stock_days', 10, 3).comment('IVT-22 recommended safety stock days');
    t.decimal('max_days', 10, 3).comment('IVT-23 recommended maximum days inventory');
    t.decimal('recommended_order_point', 18, 4).comment('IVT-24');
    t.decimal('recommended_order_amount', 18, 4).comment('IVT-25');
    t.uuid('source_message_id');
    t.timestamp('updated_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('reorder_policies', (t) => {
    t.dropColumns('reorder_theory', 'safety_stock_days', 'max_days', 'recommended_order_point', 'recommended_order_amount', 'source_message_id', 'updated_at');
  });
  await knex.schema.dropTableIfExists('message_acks');
  await knex.schema.dropTableIfExists('supply_requisitions');
  await knex.schema.dropTableIfExists('demand_history');
  await knex.schema.dropTableIfExists('device_usages');
}

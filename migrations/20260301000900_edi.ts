import type { Knex } from 'knex';

const NEW_ALERT_TYPES = ['edi_partner_provisional'];

/** The alerts_type_check values as they stand (other migrations add theirs too), plus or minus ours. */
async function setAlertTypes(knex: Knex, change: (types: string[]) => string[]): Promise<void> {
  const r = await knex.raw<{ rows: Array<{ def: string }> }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'alerts_type_check'`);
  const def = r.rows[0]?.def ?? '';
  const types = [...def.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
  const next = change(types);
  await knex.raw('ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_type_check');
  await knex.raw(`ALTER TABLE alerts ADD CONSTRAINT alerts_type_check CHECK (type IN (${next.map((t) => `'${t}'`).join(',')}))`);
}

/**
 * EDI (X12 and EDIFACT): trading partners with their outbound control numbers, the outbound EDI
 * messages we send (acknowledgements, 850/ORDERS, 856/DESADV), and the ASN detail of shipments
 * (receiving location, partner, per-line GTIN/lot/expiry/serial as the ASN announced them).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('edi_partners', (t) => {
    t.uuid('id').primary();
    t.text('standard').notNullable().comment('x12 | edifact');
    t.text('qualifier').notNullable().defaultTo('').comment('ISA05/07 or UNB 0007 (empty when none)');
    t.text('interchange_id').notNullable().comment('ISA06/08 or UNB 0004/0010, trimmed');
    t.text('name');
    t.uuid('party_id').references('parties.id');
    t.text('party_gln');
    t.text('ack_type').notNullable().defaultTo('997').comment('997 | 999 (X12); CONTRL (EDIFACT)');
    t.jsonb('versions').comment('versions we accept / write, e.g. {"isa":"00501","gs":"005010"}');
    t.jsonb('separators').comment('separators we write to this partner (default: echo theirs)');
    t.jsonb('outbound_destination').comment('where acks and documents go (deliver queue): {type,url|dir|host,port}');
    t.text('our_qualifier');
    t.text('our_id').comment('our interchange id towards this partner (default: what they address)');
    t.text('receiving_location').comment('location code where their ASNs are expected when N1*ST/NAD+DP names none');
    t.integer('ack_overdue_minutes').notNullable().defaultTo(1440).comment('partner_ack_missing after this long without their 997/CONTRL');
    t.boolean('provisional').notNullable().defaultTo(false).comment('created by LOTBRIDGE_EDI_UNKNOWN_PARTNERS=accept');
    t.boolean('active').notNullable().defaultTo(true).comment('false: only a record of an unknown sender we rejected (holds the control numbers of our TA1/CONTRL answers)');
    t.bigInteger('next_interchange_control').notNullable().defaultTo(1);
    t.bigInteger('next_group_control').notNullable().defaultTo(1);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['standard', 'qualifier', 'interchange_id']);
  });
  await knex.raw(`ALTER TABLE edi_partners ADD CONSTRAINT edi_partners_standard_check CHECK (standard IN ('x12','edifact'))`);
  await knex.raw(`ALTER TABLE edi_partners ADD CONSTRAINT edi_partners_ack_type_check CHECK (ack_type IN ('997','999','CONTRL'))`);
  await knex.raw(`ALTER TABLE edi_partners ADD CONSTRAINT edi_partners_control_check CHECK (next_interchange_control BETWEEN 1 AND 999999999 AND next_group_control BETWEEN 1 AND 999999999)`);

  await knex.schema.createTable('edi_outbound_messages', (t) => {
    t.uuid('id').primary();
    t.uuid('partner_id').notNullable().references('edi_partners.id');
    t.text('standard').notNullable();
    t.text('type').notNullable().comment('997 | 999 | TA1 | CONTRL | 850 | 856 | ORDERS | DESADV');
    t.text('control_number').notNullable().comment('ISA13 / UNB 0020 of the interchange we wrote');
    t.text('status').comment('acks: accepted | rejected | partial');
    t.uuid('inbound_message_id').comment('the inbound message an ack answers');
    t.text('raw').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('acknowledged_at', { useTz: true }).comment('when the partner acknowledged our document');
    t.text('acknowledged_by').comment('their 997/CONTRL status for our document');
    t.text('group_control_number').comment('GS06 of the interchange we wrote (their 997 AK102 names it)');
    t.uuid('document_id').comment('the purchase order / shipment an outbound 850/856 was built from');
    t.unique(['partner_id', 'control_number']);
    t.index(['inbound_message_id']);
  });

  await knex.schema.alterTable('purchase_orders', (t) => {
    t.text('direction').notNullable().defaultTo('outbound').comment('outbound: ours to a supplier; inbound: a customer order to us (850/ORDERS received)');
    t.uuid('edi_partner_id').references('edi_partners.id');
    t.text('response_code').comment('855 BAK02 / ORDRSP BGM 1225 of the supplier response');
    t.timestamp('responded_at', { useTz: true });
    t.dropUnique(['po_number', 'supplier_party_id']);
    t.unique(['direction', 'po_number', 'supplier_party_id', 'buyer_party_id']);
  });
  await knex.raw(`ALTER TABLE purchase_orders ADD CONSTRAINT purchase_orders_direction_check CHECK (direction IN ('inbound','outbound'))`);
  await knex.schema.alterTable('po_lines', (t) => {
    t.text('gtin');
    t.text('vendor_part');
    t.text('buyer_part');
    t.text('line_status').comment('855 ACK01 / ORDRSP LIN 1229 of the supplier response');
  });
  await knex.schema.createTable('invoices', (t) => {
    t.uuid('id').primary();
    t.text('invoice_number').notNullable();
    t.uuid('edi_partner_id').references('edi_partners.id');
    t.uuid('po_id').references('purchase_orders.id');
    t.uuid('shipment_id').references('shipments.id');
    t.text('po_number');
    t.text('asn_number');
    t.date('invoice_date');
    t.decimal('total', 18, 4);
    t.text('currency');
    t.jsonb('lines').notNullable();
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['edi_partner_id', 'invoice_number']);
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.schema.createTable('supplier_stock_snapshots', (t) => {
    t.bigIncrements('id');
    t.uuid('edi_partner_id').references('edi_partners.id');
    t.text('report_number').notNullable();
    t.date('reported_at');
    t.text('location_ref').comment('the location/party the report is for (GLN or id)');
    t.uuid('material_id').references('materials.id');
    t.text('gtin');
    t.text('vendor_part');
    t.text('lot_number');
    t.date('expiry');
    t.text('qualifier').notNullable().comment('846 QTY01 / INVRPT 6063, e.g. 33 available, 17 on hand, 145 actual stock');
    t.decimal('quantity', 18, 4).notNullable();
    t.text('uom');
    t.uuid('source_message_id').notNullable();
    t.integer('ordinal').notNullable();
    t.unique(['source_message_id', 'ordinal']);
    t.index(['edi_partner_id', 'reported_at']);
  });
  await knex.schema.alterTable('shipments', (t) => {
    t.uuid('to_location_id').references('locations.id');
    t.uuid('edi_partner_id').references('edi_partners.id');
    t.jsonb('po_numbers');
    t.text('purpose').comment('ASN purpose: original | replace | cancel');
  });
  await knex.schema.alterTable('shipment_lines', (t) => {
    t.text('gtin');
    t.text('lot_number');
    t.date('expiry');
    t.date('production_date');
    t.text('serial_number');
    t.text('sscc');
    t.text('po_number');
    t.text('item_ref').comment('HL id / LIN number in the ASN');
  });
  await setAlertTypes(knex, (types) => [...types, ...NEW_ALERT_TYPES.filter((t) => !types.includes(t))]);
}

export async function down(knex: Knex): Promise<void> {
  await knex('alerts').whereIn('type', NEW_ALERT_TYPES).delete();
  await setAlertTypes(knex, (types) => types.filter((t) => !NEW_ALERT_TYPES.includes(t)));
  await knex.schema.alterTable('shipment_lines', (t) => {
    t.dropColumns('gtin', 'lot_number', 'expiry', 'production_date', 'serial_number', 'sscc', 'po_number', 'item_ref');
  });
  await knex.schema.alterTable('shipments', (t) => {
    t.dropColumns('to_location_id', 'edi_partner_id', 'po_numbers', 'purpose');
  });
  await knex.schema.dropTableIfExists('supplier_stock_snapshots');
  await knex.schema.dropTableIfExists('invoices');
  await knex.schema.alterTable('po_lines', (t) => {
    t.dropColumns('gtin', 'vendor_part', 'buyer_part', 'line_status');
  });
  await knex.raw('ALTER TABLE purchase_orders DROP CONSTRAINT IF EXISTS purchase_orders_direction_check');
  await knex.schema.alterTable('purchase_orders', (t) => {
    t.dropUnique(['direction', 'po_number', 'supplier_party_id', 'buyer_party_id']);
    t.dropColumns('direction', 'edi_partner_id', 'response_code', 'responded_at');
    t.unique(['po_number', 'supplier_party_id']);
  });
  await knex.schema.dropTableIfExists('edi_outbound_messages');
  await knex.schema.dropTableIfExists('edi_partners');
}

import type { Knex } from 'knex';

/**
 * The trace event shapes that mean nothing, refused by the database (issue 7 §4; docs/trace.md,
 * "Shapes the table holds"). No writer produces any of them; each would export as EPCIS 2.0 that
 * GS1's JSON Schema rejects, or as nothing:
 *  - an action other than ADD, OBSERVE, DELETE (none is fine: TransformationEvents have none);
 *  - a time zone offset outside -14:00…+14:00 (no zone has one; EPCIS's eventTimeZoneOffset pattern);
 *  - an event time outside the years 0001–9999 (an EPCIS/RFC 3339 date-time has four year digits);
 *  - business transactions that are not a list of objects with a non-empty string `value`;
 *  - sensor readings that are not a list of elements each with a non-empty `sensorReport` list whose
 *    entries name their measurement `type` (EPCIS requires both);
 *  - an item that names no material, lot or serial (it identifies nothing).
 * NOT VALID: rows written before are not re-checked here (the export still copes with them and says
 * what it left out); `ALTER TABLE … VALIDATE CONSTRAINT …` checks them when an operator wants to.
 */
const EVENT_CHECKS: Array<[string, string]> = [
  ['trace_events_action_check', `action IS NULL OR action IN ('ADD', 'OBSERVE', 'DELETE')`],
  ['trace_events_time_zone_offset_check', `event_time_zone_offset ~ '^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$'`],
  ['trace_events_event_time_check', `event_time >= '0001-01-01T00:00:00Z' AND event_time < '10000-01-01T00:00:00Z'`],
  ['trace_events_biz_transactions_check', `jsonb_typeof(biz_transactions) = 'array'
    AND NOT jsonb_path_exists(biz_transactions, 'lax $[*] \\? (@.type() != "object" || !exists(@.value \\? (@.type() == "string" && @ != "")))')`],
  ['trace_events_sensor_readings_check', `sensor_readings IS NULL OR (jsonb_typeof(sensor_readings) = 'array'
    AND NOT jsonb_path_exists(sensor_readings, 'lax $[*] \\? (@.type() != "object" || !exists(@.sensorReport[*])
      || exists(@.sensorReport[*] \\? (@.type() != "object" || !exists(@.type \\? (@.type() == "string" && @ != "")))))'))`],
];

// (`\\?` is a literal `?` for knex.raw: the jsonpath filter operator, not a binding)
export async function up(knex: Knex): Promise<void> {
  for (const [name, check] of EVENT_CHECKS) {
    await knex.raw(`ALTER TABLE trace_events ADD CONSTRAINT ${name} CHECK (${check}) NOT VALID`);
  }
  await knex.raw(`ALTER TABLE trace_event_items ADD CONSTRAINT trace_event_items_names_check
    CHECK (material_id IS NOT NULL OR lot_id IS NOT NULL OR serial_id IS NOT NULL) NOT VALID`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE trace_event_items DROP CONSTRAINT IF EXISTS trace_event_items_names_check');
  for (const [name] of [...EVENT_CHECKS].reverse()) {
    await knex.raw(`ALTER TABLE trace_events DROP CONSTRAINT IF EXISTS ${name}`);
  }
}

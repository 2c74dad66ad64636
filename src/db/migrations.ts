import type { Knex } from 'knex';
import * as m0 from '../../migrations/20260301000000_message_store';
import * as m1 from '../../migrations/20260301000100_master_data';
import * as m2 from '../../migrations/20260301000200_lots_inventory';
import * as m3 from '../../migrations/20260301000300_trace_events';
import * as m4 from '../../migrations/20260301000400_logistics';
import * as m5 from '../../migrations/20260301000500_alerts_recalls';
import * as m6 from '../../migrations/20260301000600_audit_outbox_security';
import * as m7 from '../../migrations/20260301000700_hospital_usage';
import * as m9 from '../../migrations/20260301000900_edi';
import * as mTrace from '../../migrations/20260301001000_trace_recall_audit_anchor';
import * as mConsole from '../../migrations/20260301001200_console';
import * as m11 from '../../migrations/20260301001100_deliveries';
import * as mConnectorDeliveries from '../../migrations/20260301001800_connector_deliveries';
import * as mPartnerSecrets from '../../migrations/20260301001900_partner_outbound_secrets';
import * as mLoginAttempts from '../../migrations/20260301002000_console_login_attempts';
import * as mMessageIndexes from '../../migrations/20260301002100_inbound_message_indexes';
import * as mShipmentLinesCovering from '../../migrations/20260301002200_shipment_lines_lot_covering_index';
import * as mOutboxRelayPosition from '../../migrations/20260301002300_outbox_relay_position';
import * as mSetBasedReferenceChecks from '../../migrations/20260301002400_set_based_reference_checks';
import * as mReferenceChecksByKey from '../../migrations/20260301002500_reference_checks_by_key';
import * as mCountEventsIndex from '../../migrations/20260301002600_count_events_index';
import * as mTraceEventShapeChecks from '../../migrations/20260301002700_trace_event_shape_checks';
import * as mAuditDigestV2 from '../../migrations/20260301002800_audit_digest_v2';
import * as mQuantityScale from '../../migrations/20260301002900_quantity_scale';
import * as mDeviceUsagesLotCoveringIndex from '../../migrations/20260301003000_device_usages_lot_covering_index';

type MigrationModule = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };

/** Every migration, in order, registered explicitly (no directory scanning: works from src/ and dist/). */
const migrations: Array<[string, MigrationModule]> = [
  ['20260301000000_message_store', m0],
  ['20260301000100_master_data', m1],
  ['20260301000200_lots_inventory', m2],
  ['20260301000300_trace_events', m3],
  ['20260301000400_logistics', m4],
  ['20260301000500_alerts_recalls', m5],
  ['20260301000600_audit_outbox_security', m6],
  ['20260301000700_hospital_usage', m7],
  ['20260301000900_edi', m9],
  ['20260301001000_trace_recall_audit_anchor', mTrace],
  ['20260301001100_deliveries', m11],
  ['20260301001200_console', mConsole],
  ['20260301001800_connector_deliveries', mConnectorDeliveries],
  ['20260301001900_partner_outbound_secrets', mPartnerSecrets],
  ['20260301002000_console_login_attempts', mLoginAttempts],
  ['20260301002100_inbound_message_indexes', mMessageIndexes],
  ['20260301002200_shipment_lines_lot_covering_index', mShipmentLinesCovering],
  ['20260301002300_outbox_relay_position', mOutboxRelayPosition],
  ['20260301002400_set_based_reference_checks', mSetBasedReferenceChecks],
  ['20260301002500_reference_checks_by_key', mReferenceChecksByKey],
  ['20260301002600_count_events_index', mCountEventsIndex],
  ['20260301002700_trace_event_shape_checks', mTraceEventShapeChecks],
  ['20260301002800_audit_digest_v2', mAuditDigestV2],
  ['20260301002900_quantity_scale', mQuantityScale],
  ['20260301003000_device_usages_lot_covering_index', mDeviceUsagesLotCoveringIndex],
];

class ExplicitMigrationSource implements Knex.MigrationSource<string> {
  getMigrations(): Promise<string[]> {
    return Promise.resolve(migrations.map(([name]) => name));
  }
  getMigrationName(name: string): string {
    return name;
  }
  getMigration(name: string): Promise<Knex.Migration> {
    const found = migrations.find(([n]) => n === name);
    if (!found) {
      return Promise.reject(new Error(`unknown migration ${name}`));
    }
    return Promise.resolve(found[1]);
  }
}

export const migrationConfig: Knex.MigratorConfig = {
  migrationSource: new ExplicitMigrationSource(),
  tableName: 'knex_migrations',
};

/** Every migration's name, in the order they apply. */
export const migrationNames: readonly string[] = migrations.map(([name]) => name);

export const latestMigration = migrations[migrations.length - 1][0];

/** Applies every pending migration; returns the names applied. */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}

/** Rolls back the last batch (or all with `all`). */
export async function migrateDown(db: Knex, all = false): Promise<string[]> {
  const [, undone] = (await db.migrate.rollback(migrationConfig, all)) as [number, string[]];
  return undone;
}

/** Applied and pending migration names. */
export async function migrationStatus(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
  const [applied, pending] = (await db.migrate.list(migrationConfig)) as [Array<{ name: string } | string>, Array<{ file: string } | string>];
  return {
    applied: applied.map((a) => (typeof a === 'string' ? a : a.name)),
    pending: pending.map((p) => (typeof p === 'string' ? p : p.file)),
  };
}

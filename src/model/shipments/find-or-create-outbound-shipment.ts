import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbShipmentRow, RowLineage } from '../../db/tables';
import { rowVanished } from '../row-vanished';

/** An outbound shipment as a ship movement describes it. */
export interface OutboundShipmentInput {
  shipmentNumber: string;
  toPartyId: string;
  fromLocationId: string;
  shipTo: string;
  shippedAt: Date;
}

/**
 * Finds the outbound shipment with this number (several ship records of one shipment share it),
 * or creates it with status `shipped`.
 * @param db - the transaction
 * @param input - number, ship-to party, origin and time
 * @param lineage - message and ordinal for a created row
 */
export async function findOrCreateOutboundShipment(db: Knex, input: OutboundShipmentInput, lineage: RowLineage): Promise<{ row: DbShipmentRow; created: boolean }> {
  const key = { direction: 'outbound' as const, shipment_number: input.shipmentNumber };
  const found = await db<DbShipmentRow>('shipments').where(key).first();
  if (found) {
    return { row: found, created: false };
  }
  const [inserted] = await db<DbShipmentRow>('shipments')
    .insert({
      id: uuidv7(),
      ...key,
      to_party_id: input.toPartyId,
      from_location_id: input.fromLocationId,
      ship_to: input.shipTo,
      status: 'shipped',
      shipped_at: input.shippedAt,
      source_message_id: lineage.sourceMessageId,
      ordinal: lineage.nextOrdinal(),
    })
    .onConflict(['direction', 'shipment_number'])
    .ignore()
    .returning('*');
  const row = inserted ?? (await db<DbShipmentRow>('shipments').where(key).first());
  if (!row) {
    throw rowVanished(`shipment ${input.shipmentNumber}`);
  }
  return { row, created: inserted !== undefined };
}

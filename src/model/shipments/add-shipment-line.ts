import type { Knex } from 'knex';
import type { DbShipmentLineRow, RowLineage } from '../../db/tables';

/** A shipped line: one lot (and serial) of a material. */
export interface ShipmentLineInput {
  shipmentId: string;
  materialId: string;
  lotId: string;
  serialId: string | null;
  quantityShipped: number;
  uom: string;
}

/**
 * Appends a line to a shipment (line_no = last + 1; the shipment row is locked so concurrent
 * messages number their lines one after the other).
 * @param db - the transaction
 * @param input - the line
 * @param lineage - message and ordinal of the line
 */
export async function addShipmentLine(db: Knex, input: ShipmentLineInput, lineage: RowLineage): Promise<DbShipmentLineRow> {
  await db('shipments').where({ id: input.shipmentId }).forUpdate().first('id');
  const last = await db('shipment_lines').where({ shipment_id: input.shipmentId }).max<{ max: number | null }>('line_no as max').first();
  const [row] = await db<DbShipmentLineRow>('shipment_lines')
    .insert({
      shipment_id: input.shipmentId,
      line_no: (last?.max ?? 0) + 1,
      material_id: input.materialId,
      lot_id: input.lotId,
      serial_id: input.serialId,
      quantity_shipped: input.quantityShipped,
      uom: input.uom,
      source_message_id: lineage.sourceMessageId,
      ordinal: lineage.nextOrdinal(),
    })
    .returning('*');
  return row;
}

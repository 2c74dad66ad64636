import type { NewAlert } from '../../model/alerts/open-alert';
import type { WmsWriter } from './wms-writer';

/** What a recalled-lot alert names. */
export interface RecalledLotMovement {
  recordId: string;
  type: string;
  sourceKey: string;
  lotId: string;
  lotNumber: string;
  gtin: string;
  location: string;
  /** Base units. */
  quantity: number;
  uom: string;
  shipTo?: string;
}

/**
 * The critical `recalled_lot_movement` alert of a movement of a recalled lot: the movement is
 * booked all the same (the warehouse must be able to record reality), and every such movement gets
 * its own alert.
 * @param m - the movement
 */
export function recalledLotMovementAlert(m: RecalledLotMovement): NewAlert {
  return {
    type: 'recalled_lot_movement',
    severity: 'critical',
    subjectType: 'lot',
    subjectId: m.lotId,
    message:
      `recalled lot ${m.lotNumber} (GTIN ${m.gtin}) moved: WMS ${m.type} ${m.recordId} of ${m.quantity} ${m.uom} at ${m.location}` +
      (m.shipTo === undefined ? '' : ` shipped to ${m.shipTo}`),
    details: { ...m },
    dedupKey: `recalled_lot_movement:${m.sourceKey}`,
  };
}

/**
 * Opens the `recalled_lot_movement` alert of a movement (see {@link recalledLotMovementAlert}).
 * @param w - the message's writer
 * @param m - the movement
 */
export async function raiseRecalledLotMovement(w: WmsWriter, m: RecalledLotMovement): Promise<void> {
  await w.alert(recalledLotMovementAlert(m));
}

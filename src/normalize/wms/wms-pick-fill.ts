import type { DbLocationRow } from '../../model/master-data/master-data.types';
import type { StockState } from './wms-record.types';

/** A leg of a movement as both mapping paths plan it. */
interface PlannedLeg {
  location: DbLocationRow;
  state: StockState;
  delta: number;
}

/**
 * A pick whose stock was shipped before the pick arrived (see findShippedBeforePicked): `fill` of its
 * arriving leg (`legs[1]`, into `pending_shipment`) is booked instead into `state` at the same
 * location, the state those ships took it from, as a third leg. The arriving leg keeps its place
 * (the event's `to` and disposition name it), with what is left, possibly 0 (not booked).
 */
export function fillShippedBeforePicked(legs: PlannedLeg[], state: StockState, fill: number): void {
  if (fill <= 0) return;
  legs[1].delta -= fill;
  legs.push({ location: legs[1].location, state, delta: fill });
}

/**
 * Row types of the canonical tables written by the mappers (lots, stock, trace events, shipments,
 * alerts). Master-data rows (materials, material_identifiers, locations, parties) live in
 * src/model/master-data/master-data.types.ts. Numeric columns arrive as numbers (see src/db/knex.ts).
 */

/** Lot quality statuses (lots_status_check). */
export type LotStatus = 'quarantine' | 'released' | 'on_hold' | 'rejected' | 'recalled' | 'expired';

/** A row of `lots`. */
export interface DbLotRow {
  id: string;
  material_id: string;
  lot_number: string;
  /** YYYY-MM-DD. */
  manufactured_at: string | null;
  /** YYYY-MM-DD. */
  expiry: string | null;
  status: LotStatus;
  provisional: boolean;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
  updated_at: Date;
}

/** A row of `serials`. */
export interface DbSerialRow {
  id: string;
  material_id: string;
  lot_id: string | null;
  serial_number: string;
  status: string;
  location_id: string | null;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
  updated_at: Date;
}

/** A row of `inventory_balances`: the current quantity of a lot at a location in one stock state. */
export interface DbInventoryBalanceRow {
  id: number;
  lot_id: string;
  location_id: string;
  stock_state: string;
  quantity: number;
  updated_at: Date;
}

/** A row of `inventory_ledger`: one signed change of a balance at its business time. */
export interface DbInventoryLedgerRow {
  id: number;
  event_id: string;
  lot_id: string;
  location_id: string;
  stock_state: string;
  delta: number;
  event_time: Date;
  source_message_id: string;
  ordinal: number;
}

/** A row of `trace_events`. */
export interface DbTraceEventRow {
  id: string;
  type: string;
  action: string | null;
  biz_step: string;
  disposition: string | null;
  event_time: Date;
  event_time_zone_offset: string;
  record_time: Date;
  location_id: string | null;
  read_point: string | null;
  biz_transactions: Array<{ type: string; value: string }>;
  sensor_readings: unknown[] | null;
  details: Record<string, unknown> | null;
  source_key: string | null;
  source_message_id: string;
  ordinal: number;
}

/** A row of `trace_event_items`. */
export interface DbTraceEventItemRow {
  id: number;
  event_id: string;
  role: 'input' | 'output' | 'child' | 'parent' | 'subject';
  material_id: string | null;
  lot_id: string | null;
  serial_id: string | null;
  quantity: number | null;
  uom: string | null;
  base_quantity: number | null;
}

/** A row of `shipments`. */
export interface DbShipmentRow {
  id: string;
  shipment_number: string;
  direction: 'inbound' | 'outbound';
  from_party_id: string | null;
  to_party_id: string | null;
  from_location_id: string | null;
  ship_to: string | null;
  status: string;
  shipped_at: Date | null;
  expected_at: Date | null;
  delivered_at: Date | null;
  carrier: string | null;
  temperature_excursion: boolean;
  source_message_id: string;
  ordinal: number;
}

/** A row of `shipment_lines`. */
export interface DbShipmentLineRow {
  id: number;
  shipment_id: string;
  line_no: number;
  material_id: string | null;
  lot_id: string | null;
  serial_id: string | null;
  quantity_expected: number | null;
  /** In `uom`. */
  quantity_shipped: number | null;
  /**
   * On an inbound ASN's line: base units received against it by WMS receipts (src/normalize/edi/asn-receipt.ts);
   * on an outbound shipment's line: what the customer's receiving advice (861/RECADV) reports, in `uom`.
   */
  quantity_received: number | null;
  uom: string | null;
  source_message_id: string;
  ordinal: number;
}

/** A row of `alerts`. */
export interface DbAlertRow {
  id: string;
  type: string;
  severity: 'info' | 'warning' | 'critical';
  subject_type: string;
  subject_id: string | null;
  message: string;
  details: Record<string, unknown> | null;
  status: 'open' | 'acknowledged' | 'closed';
  dedup_key: string | null;
  opened_at: Date;
  closed_at: Date | null;
  source_message_id: string | null;
  ordinal: number | null;
}

/** Where a canonical row comes from: the inbound message and the next ordinal of that message. */
export interface RowLineage {
  /** The inbound message being processed. */
  sourceMessageId: string;
  /** Allocates the next `(source_message_id, ordinal)` ordinal; called only when a row is inserted. */
  nextOrdinal(): number;
}

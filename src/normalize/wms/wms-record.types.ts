import type { MessageLocation } from '../../errors';
import type { SourceInstant } from '../time/source-timestamp';

/** Movement types a WMS record may carry. */
export const WMS_MOVEMENT_TYPES = ['receive', 'putaway', 'move', 'pick', 'issue', 'ship', 'adjust'] as const;
/** A stock movement type. */
export type WmsMovementType = (typeof WMS_MOVEMENT_TYPES)[number];

/** Every WMS record type. */
export const WMS_RECORD_TYPES = [...WMS_MOVEMENT_TYPES, 'count', 'temperature'] as const;
/** A WMS record type. */
export type WmsRecordType = (typeof WMS_RECORD_TYPES)[number];

/** Lifecycle states of stock (inventory_balances_state_check). */
export const STOCK_STATES = ['raw', 'component', 'wip', 'finished', 'pending_inspection', 'pending_shipment', 'in_transit'] as const;
/** Where in its lifecycle a quantity of stock is. */
export type StockState = (typeof STOCK_STATES)[number];

/** $id of the WMS record schema. */
export const WMS_RECORD_SCHEMA_ID = 'https://lotbridge.dev/schemas/connectors/wms-record.schema.json';

/** The item a record names, from its barcode and/or gtin + lot fields. */
export interface WmsItem {
  /** 14 digits. */
  gtin: string;
  lot: string;
  /** YYYY-MM-DD. */
  expiry?: string;
  serial?: string;
}

/** What every validated record has. */
interface WmsRecordBase {
  /** Where the record sits in the body (index, line). */
  at: MessageLocation;
  /** JSON-pointer prefix of the record's fields: `/2` in a multi-record body, `` for one object. */
  pathPrefix: string;
  /** The record's own id (movementId or readingId). */
  id: string;
  /** `sender`, else `warehouse`, when the record names one. */
  sender?: string;
  location: string;
}

/** A validated stock movement. */
export interface WmsMovement extends WmsRecordBase {
  kind: 'movement';
  type: WmsMovementType;
  occurredAt: SourceInstant;
  item: WmsItem;
  /** As written: signed for adjust, positive otherwise. */
  quantity: number;
  uom?: string;
  stockState?: StockState;
  toLocation?: string;
  toStockState?: StockState;
  shipTo?: string;
  /** kind → value, e.g. { asn: 'ASN-77' }. */
  reference: Record<string, string>;
}

/** A validated count: the quantity on hand as of `occurredAt`. */
export interface WmsCount extends WmsRecordBase {
  kind: 'count';
  occurredAt: SourceInstant;
  item: WmsItem;
  quantity: number;
  uom?: string;
  stockState?: StockState;
  reference: Record<string, string>;
}

/** A validated temperature reading. */
export interface WmsReading extends WmsRecordBase {
  kind: 'temperature';
  sensor: string;
  occurredAt: SourceInstant;
  celsius: number;
}

/** A record that passed validation. */
export type WmsRecord = WmsMovement | WmsCount | WmsReading;

/**
 * Business documents read from X12 and EDIFACT transaction sets/messages, in one shape per kind so
 * that one writer maps 856 and DESADV (or 850 and ORDERS …) into the canonical model.
 */

/** A party named in a document (N1 / NAD). */
export interface EdiParty {
  /** GLN when the qualifier says so (X12 N103 UL, EDIFACT NAD 3055 = 9). */
  gln?: string;
  /** Any other id with its qualifier. */
  id?: string;
  qualifier?: string;
  name?: string;
}

/** One shipped item of an ASN (one per serial when serialised, else one per lot). */
export interface AsnItem {
  /** HL id / LIN line number, for messages. */
  ref: string;
  gtin?: string;
  vendorPart?: string;
  buyerPart?: string;
  lot?: string;
  /** YYYY-MM-DD. */
  expiry?: string;
  /** YYYY-MM-DD. */
  productionDate?: string;
  quantity: number;
  uom: string;
  serials: string[];
  poNumber?: string;
  /** SSCC of the pack or pallet it travels in. */
  sscc?: string;
}

/** An advance ship notice (X12 856, EDIFACT DESADV). */
export interface AsnDocument {
  kind: 'asn';
  /** BSN02 / BGM 1004. */
  asnNumber: string;
  /** BSN01 / BGM 1225: original, replace, cancel. */
  purpose: 'original' | 'replace' | 'cancel';
  /** YYYY-MM-DD (time when given: ISO date-time). */
  shippedAt?: string;
  expectedAt?: string;
  shipFrom?: EdiParty;
  shipTo?: EdiParty;
  carrier?: string;
  poNumbers: string[];
  items: AsnItem[];
}

/** An order line (850 PO1 / ORDERS LIN, 855 PO1+ACK / ORDRSP). */
export interface OrderLine {
  lineNo: number;
  gtin?: string;
  vendorPart?: string;
  buyerPart?: string;
  quantity: number;
  uom: string;
  unitPrice?: number;
  requestedAt?: string;
  /** 855 / ORDRSP: what the supplier confirms. */
  quantityConfirmed?: number;
  /** 855 ACK01 / ORDRSP line action. */
  lineStatus?: string;
}

/** A purchase order (850 / ORDERS) or its response (855 / ORDRSP). */
export interface OrderDocument {
  kind: 'order' | 'order_response';
  poNumber: string;
  /** BEG01 / BAK01 / BGM 1225 purpose or acknowledgement type. */
  purpose: string;
  orderedAt?: string;
  buyer?: EdiParty;
  supplier?: EdiParty;
  shipTo?: EdiParty;
  lines: OrderLine[];
}

/** An invoice (810 / INVOIC). */
export interface InvoiceDocument {
  kind: 'invoice';
  invoiceNumber: string;
  invoiceDate?: string;
  poNumber?: string;
  asnNumber?: string;
  total?: number;
  currency?: string;
  lines: Array<{ lineNo: number; gtin?: string; vendorPart?: string; quantity: number; uom: string; unitPrice?: number; lot?: string }>;
}

/** A stock report (846 / INVRPT). */
export interface InventoryReportDocument {
  kind: 'inventory_report';
  reportNumber: string;
  reportedAt?: string;
  location?: EdiParty;
  lines: Array<{ gtin?: string; vendorPart?: string; lot?: string; expiry?: string; quantity: number; uom: string; qualifier: string }>;
}

/** A receiving advice (861 / RECADV). */
export interface ReceivingAdviceDocument {
  kind: 'receiving_advice';
  adviceNumber: string;
  asnNumber?: string;
  receivedAt?: string;
  lines: Array<{ gtin?: string; lot?: string; quantityReceived: number; quantityDiscrepant?: number; reason?: string; uom: string }>;
}

/** A partner's acknowledgement of an interchange or group we sent (X12 TA1/997/999, EDIFACT CONTRL). */
export interface FunctionalAckDocument {
  kind: 'functional_ack';
  /** What it acknowledges: our GS06 (997/999 AK102) or our ISA13 / UNB 0020 (TA1, CONTRL UCI). */
  ref: { groupControlNumber?: string; interchangeControlNumber?: string };
  /** accepted | rejected | partial (AK901 A/E → accepted, P → partial, R → rejected; CONTRL 7/4; TA1 A/E/R). */
  status: 'accepted' | 'rejected' | 'partial';
  code: string;
}

export type EdiDocument = AsnDocument | OrderDocument | InvoiceDocument | InventoryReportDocument | ReceivingAdviceDocument | FunctionalAckDocument;

import { normalizeGtin } from '../../model/master-data/gs1-keys';
import type { EdiParty, FunctionalAckDocument, InventoryReportDocument, InvoiceDocument, OrderDocument, OrderLine, ReceivingAdviceDocument } from '../edi/edi-documents';
import type { X12Set } from './x12-envelope';
import type { X12Delimiters, X12Segment } from './x12-tokenizer';
import { X12SetReader } from './x12-set-reader';

const GTIN_Q = new Set(['UK', 'EN', 'UP', 'UA', 'EO']);

function product(r: X12SetReader, s: X12Segment, from: number): { gtin?: string; vendorPart?: string; buyerPart?: string; lot?: string } {
  const out: { gtin?: string; vendorPart?: string; buyerPart?: string; lot?: string } = {};
  for (const p of r.pairs(s, from)) {
    if (GTIN_Q.has(p.q)) {
      const g = normalizeGtin(p.v);
      if (!/^\d{8}$|^\d{12,14}$/.test(p.v) || !g.ok) {
        throw r.fail('LB_ERR_X12_ELEMENT_INVALID', `${s.id}${String(p.n).padStart(2, '0')} ${JSON.stringify(p.v)} (qualifier ${p.q}) is not a valid GTIN (line ${s.line})`, s, '8', { position: p.n, code: '7', value: p.v });
      }
      out.gtin = g.gtin;
    } else if (p.q === 'VP' || p.q === 'VN') out.vendorPart = p.v;
    else if (p.q === 'BP' || p.q === 'IN') out.buyerPart = p.v;
    else if (p.q === 'LT' || p.q === 'B8') out.lot = p.v;
  }
  return out;
}

function party(r: X12SetReader, s: X12Segment): EdiParty {
  const q = r.el(s, 3);
  const id = r.el(s, 4);
  const name = r.el(s, 2);
  return { ...(name ? { name } : {}), ...(q === 'UL' && id ? { gln: id } : id ? { id, qualifier: q } : {}) };
}

function begin(r: X12SetReader, set: X12Set, id: string, what: string): X12Segment {
  const s = set.segments[1];
  if (!s || s.id !== id) {
    throw r.missing('LB_ERR_X12_SEGMENT_MISSING', id, 2, `transaction set ${set.id} ${set.controlNumber} has no ${id} ${what} segment (found ${s ? s.id : 'nothing'} at position 2, line ${s?.line ?? set.segments[0].line})`);
  }
  return s;
}

/** 850 / 855: BEG or BAK, N1 parties, PO1 lines (with 855 ACK line statuses), DTM 002 requested delivery. */
function readOrder(set: X12Set, d: X12Delimiters, kind: 'order' | 'order_response'): OrderDocument {
  const r = new X12SetReader(set, d);
  const head = begin(r, set, kind === 'order' ? 'BEG' : 'BAK', kind === 'order' ? 'beginning (purchase order)' : 'beginning (order acknowledgement)');
  const doc: OrderDocument =
    kind === 'order'
      ? { kind, purpose: r.el(head, 1), poNumber: r.required(head, 3, 'purchase order number'), orderedAt: r.date(head, 5, 'purchase order date', { required: true }), lines: [] }
      : { kind, purpose: r.required(head, 2, 'acknowledgment type'), poNumber: r.required(head, 3, 'purchase order number'), orderedAt: r.date(head, 4, 'purchase order date', { required: true }), lines: [] };
  let line: OrderLine | undefined;
  for (let k = 2; k < set.segments.length - 1; k++) {
    const s = set.segments[k];
    if (s.id === 'N1') {
      const who = r.el(s, 1);
      if (who === 'BY' || who === 'BT') doc.buyer = party(r, s);
      else if (who === 'SE' || who === 'SU' || who === 'VN') doc.supplier = party(r, s);
      else if (who === 'ST') doc.shipTo = party(r, s);
    } else if (s.id === 'PO1') {
      const no = r.el(s, 1);
      line = {
        lineNo: /^\d+$/.test(no) ? Number(no) : doc.lines.length + 1,
        quantity: r.number(s, 2, 'quantity ordered', { required: true }) as number,
        uom: r.required(s, 3, 'unit of measure'),
        ...product(r, s, 6),
      };
      const price = r.number(s, 4, 'unit price');
      if (price !== undefined) line.unitPrice = price;
      doc.lines.push(line);
    } else if (s.id === 'ACK' && line) {
      line.lineStatus = r.required(s, 1, 'line item status code');
      const q = r.number(s, 2, 'quantity');
      line.quantityConfirmed = q ?? (line.lineStatus === 'IR' || line.lineStatus === 'R2' ? 0 : line.quantity);
    } else if (s.id === 'DTM' && (r.el(s, 1) === '002' || r.el(s, 1) === '010')) {
      const at = r.dtm(s, 'requested delivery date').date;
      if (line) line.requestedAt = at;
    }
  }
  if (doc.lines.length === 0 && kind === 'order') {
    throw r.missing('LB_ERR_X12_SEGMENT_MISSING', 'PO1', set.segments.length - 1, `purchase order ${doc.poNumber} has no PO1 line`);
  }
  return doc;
}

export const read850 = (set: X12Set, d: X12Delimiters): OrderDocument => readOrder(set, d, 'order');
export const read855 = (set: X12Set, d: X12Delimiters): OrderDocument => readOrder(set, d, 'order_response');

/** 810 invoice: BIG, REF*SI/BM (the ASN / bill of lading), IT1 lines, TDS total (implied 2 decimals), CUR. */
export function read810(set: X12Set, d: X12Delimiters): InvoiceDocument {
  const r = new X12SetReader(set, d);
  const big = begin(r, set, 'BIG', 'beginning (invoice)');
  const po = r.el(big, 4);
  const doc: InvoiceDocument = { kind: 'invoice', invoiceDate: r.date(big, 1, 'invoice date', { required: true }), invoiceNumber: r.required(big, 2, 'invoice number'), ...(po ? { poNumber: po } : {}), lines: [] };
  for (let k = 2; k < set.segments.length - 1; k++) {
    const s = set.segments[k];
    if (s.id === 'REF' && (r.el(s, 1) === 'SI' || r.el(s, 1) === 'BM' || r.el(s, 1) === 'MA')) doc.asnNumber ??= r.el(s, 2);
    else if (s.id === 'REF' && r.el(s, 1) === 'PO') doc.poNumber ??= r.el(s, 2);
    else if (s.id === 'CUR') doc.currency = r.el(s, 2);
    else if (s.id === 'TDS') doc.total = (r.number(s, 1, 'total invoice amount', { required: true }) as number) / 100;
    else if (s.id === 'IT1') {
      const no = r.el(s, 1);
      const p = product(r, s, 6);
      doc.lines.push({ lineNo: /^\d+$/.test(no) ? Number(no) : doc.lines.length + 1, quantity: r.number(s, 2, 'quantity invoiced', { required: true }) as number, uom: r.required(s, 3, 'unit of measure'), unitPrice: r.number(s, 4, 'unit price'), ...p });
    }
  }
  return doc;
}

/** 846 inventory inquiry/advice: BIA, N1 location, LIN items, QTY (33 available, 17 on hand …), DTM 036 expiry. */
export function read846(set: X12Set, d: X12Delimiters): InventoryReportDocument {
  const r = new X12SetReader(set, d);
  const bia = begin(r, set, 'BIA', 'beginning (inventory advice)');
  const doc: InventoryReportDocument = { kind: 'inventory_report', reportNumber: r.required(bia, 3, 'reference identification'), reportedAt: r.date(bia, 4, 'date', { required: true }), lines: [] };
  let cur: ReturnType<typeof product> & { expiry?: string } = {};
  for (let k = 2; k < set.segments.length - 1; k++) {
    const s = set.segments[k];
    if (s.id === 'N1' && !doc.location) doc.location = party(r, s);
    else if (s.id === 'LIN') cur = product(r, s, 2);
    else if (s.id === 'DTM' && r.el(s, 1) === '036') cur.expiry = r.dtm(s, 'expiration date').date;
    else if (s.id === 'QTY') {
      doc.lines.push({ ...cur, qualifier: r.required(s, 1, 'quantity qualifier'), quantity: r.number(s, 2, 'quantity', { required: true }) as number, uom: r.el(s, 3) || 'EA' });
    }
  }
  return doc;
}

/** 861 receiving advice: BRA, PRF/REF (ASN), RCD receipt lines with LIN items and discrepancy reasons. */
export function read861(set: X12Set, d: X12Delimiters): ReceivingAdviceDocument {
  const r = new X12SetReader(set, d);
  const bra = begin(r, set, 'BRA', 'beginning (receiving advice)');
  const doc: ReceivingAdviceDocument = { kind: 'receiving_advice', adviceNumber: r.required(bra, 1, 'reference identification'), receivedAt: r.date(bra, 2, 'date', { required: true }), lines: [] };
  let cur: ReturnType<typeof product> = {};
  for (let k = 2; k < set.segments.length - 1; k++) {
    const s = set.segments[k];
    if (s.id === 'REF' && (r.el(s, 1) === 'SI' || r.el(s, 1) === 'BM')) doc.asnNumber = r.el(s, 2);
    else if (s.id === 'LIN') cur = product(r, s, 2);
    else if (s.id === 'RCD') {
      const disc = r.number(s, 4, 'quantity in question');
      doc.lines.push({
        ...(cur.gtin ? { gtin: cur.gtin } : {}), ...(cur.lot ? { lot: cur.lot } : {}),
        quantityReceived: r.number(s, 2, 'quantity received', { required: true }) as number, uom: r.el(s, 3) || 'EA',
        ...(disc !== undefined ? { quantityDiscrepant: disc } : {}), ...(r.el(s, 8) ? { reason: r.el(s, 8) } : {}),
      });
    }
  }
  return doc;
}

/** 997 / 999 from a partner: which of our groups (AK102) it answers and how (AK901). Never acknowledged in turn. */
export function readFunctionalAck(set: X12Set, d: X12Delimiters): FunctionalAckDocument {
  const r = new X12SetReader(set, d);
  const ak1 = set.segments.find((x) => x.id === 'AK1');
  const ak9 = set.segments.find((x) => x.id === 'AK9');
  if (!ak1) {
    throw r.missing('LB_ERR_X12_SEGMENT_MISSING', 'AK1', 2, `${set.id} ${set.controlNumber} has no AK1 naming the group it acknowledges`);
  }
  const code = ak9 ? r.el(ak9, 1) : 'A';
  return { kind: 'functional_ack', ref: { groupControlNumber: r.required(ak1, 2, 'group control number') }, status: code === 'R' ? 'rejected' : code === 'P' ? 'partial' : 'accepted', code };
}

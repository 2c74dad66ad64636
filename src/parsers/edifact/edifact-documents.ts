import { normalizeGtin } from '../../model/master-data/gs1-keys';
import type {
  AsnDocument, AsnItem, EdiDocument, EdiParty, FunctionalAckDocument, InventoryReportDocument, InvoiceDocument, OrderDocument, OrderLine, ReceivingAdviceDocument,
} from '../edi/edi-documents';
import type { EdifactMessage } from './edifact-envelope';
import { EdifactReader } from './edifact-reader';
import type { EdifactDelimiters, EdifactSegment } from './edifact-tokenizer';

/** LIN/PIA item number types that carry a GTIN (SRV = GS1 GTIN, EN = EAN, UP = UPC). */
const GTIN_TYPES = new Set(['SRV', 'EN', 'UP']);

interface Product {
  gtin?: string;
  vendorPart?: string;
  buyerPart?: string;
  lot?: string;
}

function bgm(r: EdifactReader, what: string): EdifactSegment {
  const s = r.msg.segments[1];
  if (!s || s.tag !== 'BGM') {
    throw r.missing('LB_ERR_EDIFACT_SEGMENT_MISSING', 'BGM', 2, `${r.msg.type} message ${r.msg.ref} has no BGM (${what}) segment (found ${s ? s.tag : 'nothing'} at position 2, line ${s?.line ?? r.msg.segments[0].line})`);
  }
  return s;
}

function partyOf(r: EdifactReader, s: EdifactSegment): EdiParty {
  const id = r.el(s, 2, 0);
  const agency = r.el(s, 2, 2);
  const name = r.el(s, 4, 0) || r.el(s, 3, 0);
  return { ...(name ? { name } : {}), ...(id && agency === '9' ? { gln: id } : id ? { id, qualifier: agency } : {}) };
}

function gtinFrom(r: EdifactReader, s: EdifactSegment, n: number, value: string): string {
  const g = normalizeGtin(value);
  if (!/^\d{8}$|^\d{12,14}$/.test(value) || !g.ok) {
    throw r.fail('LB_ERR_EDIFACT_NUMBER', `${s.tag} item number ${JSON.stringify(value)} is not a valid GTIN (line ${s.line})`, s, '12', { position: n, component: 1 });
  }
  return g.gtin;
}

/** LIN C212 (item number:type) and PIA (additional ids: SA supplier's, IN buyer's, NB batch, BP buyer's part). */
function applyLin(r: EdifactReader, s: EdifactSegment, p: Product): void {
  const id = r.el(s, 3, 0);
  const type = r.el(s, 3, 1);
  if (id) {
    if (GTIN_TYPES.has(type) || (type === '' && /^\d{13,14}$/.test(id))) p.gtin = gtinFrom(r, s, 3, id);
    else if (type === 'SA') p.vendorPart = id;
    else if (type === 'IN' || type === 'BP') p.buyerPart = id;
  }
}

function applyPia(r: EdifactReader, s: EdifactSegment, p: Product): void {
  for (let n = 2; n < s.elements.length; n++) {
    const id = r.el(s, n, 0);
    const type = r.el(s, n, 1);
    if (!id) continue;
    if (type === 'SA' || type === 'VN') p.vendorPart = id;
    else if (type === 'IN' || type === 'BP') p.buyerPart = id;
    else if (type === 'NB') p.lot = id;
    else if (GTIN_TYPES.has(type)) p.gtin = gtinFrom(r, s, n, id);
  }
}

/** GIN values (C208 7402, and range ends) of one GIN segment. */
function ginValues(s: EdifactSegment): string[] {
  const out: string[] = [];
  for (let n = 2; n < s.elements.length; n++) {
    // syntax 4 may repeat C208 with the repetition separator instead of giving it five positions
    const reps = s.repeats?.[n] ?? [s.elements[n]];
    for (const rep of reps) {
      const a = (rep[0] ?? '').trim();
      if (a) out.push(a);
    }
  }
  return out;
}

/**
 * DESADV → ASN: BGM (351, number, function 9/5/1), DTM 137/11 (despatched) and 132/17/2 (expected),
 * NAD SU/SF (ship-from) and DP/ST (ship-to; agency 9 = GLN), TDT carrier, RFF+ON orders, CPS
 * packing levels with GIN+BJ SSCCs, LIN (GTIN as SRV/EN/UP), PIA (SA/IN/NB), QTY+12, DTM 36
 * expiry / 94 production, GIN+BX batches and GIN+BN serials.
 */
export function readDesadv(msg: EdifactMessage, d: EdifactDelimiters): AsnDocument {
  const r = new EdifactReader(msg, d);
  const b = bgm(r, 'despatch advice number');
  const fn = r.el(b, 3, 0);
  const doc: AsnDocument = { kind: 'asn', asnNumber: r.required(b, 2, 0, 'document number'), purpose: fn === '1' || fn === '3' ? 'cancel' : fn === '5' ? 'replace' : 'original', poNumbers: [], items: [] };
  let item: (AsnItem & { hasQty: boolean; seg: EdifactSegment }) | undefined;
  let sscc: string | undefined;
  let po: string | undefined;
  const items: Array<AsnItem & { hasQty: boolean; seg: EdifactSegment }> = [];
  for (let k = 2; k < msg.segments.length - 1; k++) {
    const s = msg.segments[k];
    switch (s.tag) {
      case 'DTM': {
        const { qualifier, value } = r.dtm(s);
        if (item && qualifier === '36') item.expiry = value.slice(0, 10);
        else if (item && (qualifier === '94' || qualifier === '361')) item.productionDate = value.slice(0, 10);
        else if (!item && qualifier === '11') doc.shippedAt = value;
        else if (!item && qualifier === '137') doc.shippedAt ??= value;
        else if (!item && (qualifier === '132' || qualifier === '17' || qualifier === '2' || qualifier === '191')) doc.expectedAt = value;
        break;
      }
      case 'NAD': {
        const q = r.el(s, 1);
        if (q === 'SU' || q === 'SF' || q === 'CZ') doc.shipFrom = partyOf(r, s);
        else if (q === 'DP' || q === 'ST') doc.shipTo = partyOf(r, s);
        break;
      }
      case 'TDT': {
        const carrier = r.el(s, 5, 0) || r.el(s, 5, 3);
        if (carrier) doc.carrier = carrier;
        break;
      }
      case 'RFF': {
        if (r.el(s, 1, 0) === 'ON') {
          const v = r.required(s, 1, 1, 'order number');
          if (!doc.poNumbers.includes(v)) doc.poNumbers.push(v);
          if (item) item.poNumber = v;
          else po = v;
        }
        break;
      }
      case 'CPS':
        item = undefined;
        sscc = undefined;
        break;
      case 'GIN': {
        const q = r.el(s, 1);
        const vals = ginValues(s);
        if (q === 'BJ' && !item) sscc = vals[0];
        else if (q === 'BX' && item) item.lot = vals[0];
        else if ((q === 'BN' || q === 'SN') && item) item.serials.push(...vals);
        break;
      }
      case 'LIN': {
        item = { ref: `LIN ${r.el(s, 1) || items.length + 1}`, quantity: 0, uom: 'EA', serials: [], hasQty: false, seg: s, ...(sscc ? { sscc } : {}), ...(po ? { poNumber: po } : {}) };
        applyLin(r, s, item);
        items.push(item);
        break;
      }
      case 'PIA':
        if (item) applyPia(r, s, item);
        break;
      case 'QTY': {
        if (item && (r.el(s, 1, 0) === '12' || (!item.hasQty && r.el(s, 1, 0) === '1'))) {
          item.quantity = r.number(s, 1, 1, 'despatch quantity', { required: true }) as number;
          item.uom = r.el(s, 1, 2) || 'EA';
          item.hasQty = true;
        }
        break;
      }
      default:
        break;
    }
  }
  if (items.length === 0) {
    throw r.missing('LB_ERR_EDIFACT_SEGMENT_MISSING', 'LIN', msg.segments.length - 1, `DESADV ${doc.asnNumber} holds no LIN line item`);
  }
  for (const it of items) {
    if (!it.gtin && !it.vendorPart && !it.buyerPart) {
      throw r.fail('LB_ERR_EDIFACT_SEGMENT_MISSING', `LIN ${it.ref} (line ${it.seg.line}) names no GTIN (SRV), supplier (SA) or buyer (IN) article number`, it.seg, '13', { position: 3, component: 1 });
    }
    if (!it.hasQty) {
      throw r.fail('LB_ERR_EDIFACT_SEGMENT_MISSING', `LIN ${it.ref} (line ${it.seg.line}) has no QTY+12 despatch quantity`, it.seg, '13');
    }
    const { hasQty: _h, seg: _s, ...rest } = it;
    doc.items.push(rest);
  }
  return doc;
}

function readOrderLike(msg: EdifactMessage, d: EdifactDelimiters, kind: 'order' | 'order_response'): OrderDocument {
  const r = new EdifactReader(msg, d);
  const b = bgm(r, kind === 'order' ? 'order number' : 'order response number');
  const doc: OrderDocument = { kind, poNumber: r.required(b, 2, 0, 'document number'), purpose: r.el(b, 3, 0) || '9', lines: [] };
  let line: OrderLine | undefined;
  for (let k = 2; k < msg.segments.length - 1; k++) {
    const s = msg.segments[k];
    if (s.tag === 'DTM') {
      const { qualifier, value } = r.dtm(s);
      if (qualifier === '137' && !line) doc.orderedAt = value.slice(0, 10);
      else if ((qualifier === '2' || qualifier === '69') && line) line.requestedAt = value.slice(0, 10);
    } else if (s.tag === 'RFF' && r.el(s, 1, 0) === 'ON' && kind === 'order_response') {
      doc.poNumber = r.required(s, 1, 1, 'order number');
    } else if (s.tag === 'NAD') {
      const q = r.el(s, 1);
      if (q === 'BY') doc.buyer = partyOf(r, s);
      else if (q === 'SU' || q === 'SE') doc.supplier = partyOf(r, s);
      else if (q === 'DP' || q === 'ST') doc.shipTo = partyOf(r, s);
    } else if (s.tag === 'LIN') {
      const no = r.el(s, 1);
      line = { lineNo: /^\d+$/.test(no) ? Number(no) : doc.lines.length + 1, quantity: 0, uom: 'EA', ...(kind === 'order_response' && r.el(s, 2) ? { lineStatus: r.el(s, 2) } : {}) };
      applyLin(r, s, line);
      doc.lines.push(line);
    } else if (s.tag === 'PIA' && line) {
      applyPia(r, s, line);
    } else if (s.tag === 'QTY' && line) {
      const q = r.el(s, 1, 0);
      const n = r.number(s, 1, 1, `quantity (qualifier ${q})`, { required: true }) as number;
      if (q === '21') {
        line.quantity = n;
        line.uom = r.el(s, 1, 2) || line.uom;
      } else if (kind === 'order_response' && (q === '113' || q === '12' || q === '170')) {
        line.quantityConfirmed = n;
      }
    } else if (s.tag === 'PRI' && line) {
      const price = r.number(s, 1, 1, 'price');
      if (price !== undefined) line.unitPrice = price;
    }
  }
  if (kind === 'order' && doc.lines.length === 0) {
    throw r.missing('LB_ERR_EDIFACT_SEGMENT_MISSING', 'LIN', msg.segments.length - 1, `ORDERS ${doc.poNumber} holds no LIN line`);
  }
  if (kind === 'order_response') {
    // ORDRSP line action 1229: 5 accepted, 3 changed, 7 not accepted; a line without QTY confirms its order quantity
    for (const l of doc.lines) l.quantityConfirmed ??= l.lineStatus === '7' ? 0 : l.quantity;
  }
  return doc;
}

/** RECADV: BGM 632, DTM 50 (goods receipt), RFF+AAK (the DESADV), LIN, GIN+BX, QTY+48/194, QVR discrepancies (qty:qualifier + 4221 + 4295 reason). */
export function readRecadv(msg: EdifactMessage, d: EdifactDelimiters): ReceivingAdviceDocument {
  const r = new EdifactReader(msg, d);
  const b = bgm(r, 'receiving advice number');
  const doc: ReceivingAdviceDocument = { kind: 'receiving_advice', adviceNumber: r.required(b, 2, 0, 'document number'), lines: [] };
  let cur: (ReceivingAdviceDocument['lines'][number] & Product) | undefined;
  for (let k = 2; k < msg.segments.length - 1; k++) {
    const s = msg.segments[k];
    if (s.tag === 'DTM') {
      const { qualifier, value } = r.dtm(s);
      if (qualifier === '50' || (qualifier === '137' && !doc.receivedAt)) doc.receivedAt = value.slice(0, 10);
    } else if (s.tag === 'RFF' && (r.el(s, 1, 0) === 'AAK' || r.el(s, 1, 0) === 'DQ')) {
      doc.asnNumber = r.required(s, 1, 1, 'despatch advice number');
    } else if (s.tag === 'LIN') {
      cur = { quantityReceived: 0, uom: 'EA' };
      applyLin(r, s, cur);
      doc.lines.push(cur);
    } else if (s.tag === 'PIA' && cur) {
      applyPia(r, s, cur);
    } else if (s.tag === 'GIN' && cur && r.el(s, 1) === 'BX') {
      cur.lot = ginValues(s)[0];
    } else if (s.tag === 'QTY' && cur && (r.el(s, 1, 0) === '48' || r.el(s, 1, 0) === '194')) {
      cur.quantityReceived = r.number(s, 1, 1, 'received quantity', { required: true }) as number;
      cur.uom = r.el(s, 1, 2) || cur.uom;
    } else if (s.tag === 'QVR' && cur) {
      cur.quantityDiscrepant = r.number(s, 1, 0, 'quantity variance', { required: true });
      const nature = r.el(s, 2, 0);
      const reason = r.el(s, 3, 0);
      cur.reason = [nature, reason].filter(Boolean).join('/') || 'unspecified';
    }
  }
  return doc;
}

/** INVRPT: BGM 35, DTM 366/137, NAD (WH/GY location), LIN + GIN+BX + DTM 36, QTY (145 actual stock, 1 …). */
export function readInvrpt(msg: EdifactMessage, d: EdifactDelimiters): InventoryReportDocument {
  const r = new EdifactReader(msg, d);
  const b = bgm(r, 'inventory report number');
  const doc: InventoryReportDocument = { kind: 'inventory_report', reportNumber: r.required(b, 2, 0, 'document number'), lines: [] };
  let cur: Product & { expiry?: string } = {};
  for (let k = 2; k < msg.segments.length - 1; k++) {
    const s = msg.segments[k];
    if (s.tag === 'DTM') {
      const { qualifier, value } = r.dtm(s);
      if (qualifier === '36') cur.expiry = value.slice(0, 10);
      else if (qualifier === '366' || qualifier === '137') doc.reportedAt = value.slice(0, 10);
    } else if (s.tag === 'NAD' && !doc.location) doc.location = partyOf(r, s);
    else if (s.tag === 'LIN') {
      cur = {};
      applyLin(r, s, cur);
    } else if (s.tag === 'PIA') applyPia(r, s, cur);
    else if (s.tag === 'GIN' && r.el(s, 1) === 'BX') cur.lot = ginValues(s)[0];
    else if (s.tag === 'QTY') {
      doc.lines.push({ ...cur, qualifier: r.el(s, 1, 0), quantity: r.number(s, 1, 1, 'quantity', { required: true }) as number, uom: r.el(s, 1, 2) || 'EA' });
    }
  }
  return doc;
}

/** INVOIC: BGM 380, DTM 137, RFF ON/AAK, LIN, QTY+47, PRI, MOA+77/86 total, CUX currency. */
export function readInvoic(msg: EdifactMessage, d: EdifactDelimiters): InvoiceDocument {
  const r = new EdifactReader(msg, d);
  const b = bgm(r, 'invoice number');
  const doc: InvoiceDocument = { kind: 'invoice', invoiceNumber: r.required(b, 2, 0, 'document number'), lines: [] };
  let line: InvoiceDocument['lines'][number] | undefined;
  for (let k = 2; k < msg.segments.length - 1; k++) {
    const s = msg.segments[k];
    if (s.tag === 'DTM') {
      const { qualifier, value } = r.dtm(s);
      if (qualifier === '137') doc.invoiceDate = value.slice(0, 10);
    } else if (s.tag === 'RFF' && r.el(s, 1, 0) === 'ON') doc.poNumber = r.el(s, 1, 1);
    else if (s.tag === 'RFF' && r.el(s, 1, 0) === 'AAK') doc.asnNumber = r.el(s, 1, 1);
    else if (s.tag === 'CUX') doc.currency = r.el(s, 1, 1);
    else if (s.tag === 'MOA' && (r.el(s, 1, 0) === '77' || r.el(s, 1, 0) === '86')) doc.total = r.number(s, 1, 1, 'amount', { required: true });
    else if (s.tag === 'LIN') {
      const no = r.el(s, 1);
      line = { lineNo: /^\d+$/.test(no) ? Number(no) : doc.lines.length + 1, quantity: 0, uom: 'EA' };
      applyLin(r, s, line);
      doc.lines.push(line);
    } else if (s.tag === 'QTY' && line && r.el(s, 1, 0) === '47') {
      line.quantity = r.number(s, 1, 1, 'invoiced quantity', { required: true }) as number;
      line.uom = r.el(s, 1, 2) || line.uom;
    } else if (s.tag === 'PRI' && line) line.unitPrice = r.number(s, 1, 1, 'price');
  }
  return doc;
}

/** CONTRL from a partner: UCI 0020 names our interchange, 0083 says how (7 acknowledged, 4 rejected, 8 received). */
export function readContrl(msg: EdifactMessage, d: EdifactDelimiters): FunctionalAckDocument {
  const r = new EdifactReader(msg, d);
  const uci = msg.segments.find((x) => x.tag === 'UCI');
  if (!uci) {
    throw r.missing('LB_ERR_EDIFACT_SEGMENT_MISSING', 'UCI', 2, `CONTRL ${msg.ref} has no UCI naming the interchange it acknowledges`);
  }
  const action = r.el(uci, 4);
  const partial = msg.segments.some((x) => x.tag === 'UCM' && r.el(x, 3) === '4');
  return { kind: 'functional_ack', ref: { interchangeControlNumber: r.required(uci, 1, 0, 'interchange control reference') }, status: action === '4' ? 'rejected' : partial ? 'partial' : 'accepted', code: action };
}

/** Readers of the message types LotBridge maps. */
export const EDIFACT_READERS: Record<string, (m: EdifactMessage, d: EdifactDelimiters) => EdiDocument> = {
  DESADV: readDesadv,
  ORDERS: (m, d) => readOrderLike(m, d, 'order'),
  ORDRSP: (m, d) => readOrderLike(m, d, 'order_response'),
  RECADV: readRecadv,
  INVRPT: readInvrpt,
  INVOIC: readInvoic,
  CONTRL: readContrl,
};

import { X12Writer } from '../x12/x12-ack';
import type { X12Delimiters } from '../x12/x12-tokenizer';
import { EdifactWriter } from '../edifact/edifact-contrl';
import { DEFAULT_DELIMITERS, type EdifactDelimiters } from '../edifact/edifact-tokenizer';
import type { AsnDocument, OrderDocument } from './edi-documents';

/** Who writes to whom, and the control numbers of the interchange. */
export interface OutboundEnvelope {
  ourQualifier: string;
  ourId: string;
  partnerQualifier: string;
  partnerId: string;
  interchangeControlNumber: number;
  groupControlNumber: number;
  now: Date;
  /** X12 ISA12 (default 00501) / EDIFACT syntax level and version (default UNOC:3). */
  version?: string;
  usage?: 'P' | 'T';
}

const two = (n: number): string => String(n).padStart(2, '0');
const ymd = (d: Date): string => `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}`;
const hm = (d: Date): string => `${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
const digits = (iso: string | undefined): string | undefined => (iso ? iso.slice(0, 10).replace(/-/g, '') : undefined);
const DEFAULT_X12: X12Delimiters = { element: '*', component: '>', repetition: '^', segment: '~' };

function x12Envelope(w: X12Writer, e: OutboundEnvelope, functionalId: string, body: (w: X12Writer) => void): void {
  const version = e.version && /^\d{5}$/.test(e.version) ? e.version : '00501';
  w.isa({ senderQualifier: e.ourQualifier, senderId: e.ourId, receiverQualifier: e.partnerQualifier, receiverId: e.partnerId, version, controlNumber: String(e.interchangeControlNumber).padStart(9, '0'), usage: e.usage ?? 'P', now: e.now });
  w.seg('GS', functionalId, e.ourId, e.partnerId, ymd(e.now), hm(e.now), String(e.groupControlNumber), 'X', version >= '00501' ? '005010' : '004010');
  const start = w.count();
  body(w);
  w.seg('SE', String(w.count() - start + 1), '0001');
  w.seg('GE', '1', String(e.groupControlNumber));
  w.seg('IEA', '1', String(e.interchangeControlNumber).padStart(9, '0'));
}

/** An X12 850 purchase order: BEG, N1 buyer/supplier/ship-to (UL = GLN), PO1 lines (UK GTIN, VP, BP), DTM*002, CTT. */
export function buildX12_850(doc: OrderDocument, e: OutboundEnvelope, d: Partial<X12Delimiters> = {}): string {
  const w = new X12Writer({ ...DEFAULT_X12, ...d }, '\n');
  x12Envelope(w, e, 'PO', (x) => {
    x.seg('ST', '850', '0001');
    x.seg('BEG', doc.purpose === 'cancel' ? '01' : '00', 'SA', doc.poNumber, undefined, digits(doc.orderedAt) ?? ymd(e.now));
    for (const [q, p] of [['BY', doc.buyer], ['SE', doc.supplier], ['ST', doc.shipTo]] as const) {
      if (p) x.seg('N1', q, p.name, p.gln ? 'UL' : p.qualifier, p.gln ?? p.id);
    }
    for (const l of doc.lines) {
      x.seg('PO1', String(l.lineNo), String(l.quantity), l.uom, l.unitPrice !== undefined ? String(l.unitPrice) : undefined, undefined,
        ...(l.gtin ? ['UK', l.gtin] : []), ...(l.vendorPart ? ['VP', l.vendorPart] : []), ...(l.buyerPart ? ['BP', l.buyerPart] : []));
      if (l.requestedAt) x.seg('DTM', '002', digits(l.requestedAt));
    }
    x.seg('CTT', String(doc.lines.length));
  });
  return w.text();
}

/** An X12 856 ship notice: BSN, HL S (DTM 011/017, N1 SF/ST, TD5), HL O (PRF), HL I per item (LIN UK/VP/BP/LT, SN1, DTM 036/094, REF*SE, MAN*GM), CTT. */
export function buildX12_856(doc: AsnDocument, e: OutboundEnvelope, d: Partial<X12Delimiters> = {}): string {
  const w = new X12Writer({ ...DEFAULT_X12, ...d }, '\n');
  x12Envelope(w, e, 'SH', (x) => {
    x.seg('ST', '856', '0001');
    const shipped = doc.shippedAt ? new Date(doc.shippedAt.length === 10 ? `${doc.shippedAt}T00:00:00Z` : doc.shippedAt) : e.now;
    x.seg('BSN', doc.purpose === 'cancel' ? '01' : doc.purpose === 'replace' ? '05' : '00', doc.asnNumber, ymd(shipped), hm(shipped));
    x.seg('HL', '1', undefined, 'S');
    if (doc.carrier) x.seg('TD5', 'B', '2', doc.carrier);
    x.seg('DTM', '011', ymd(shipped));
    if (doc.expectedAt) x.seg('DTM', '017', digits(doc.expectedAt));
    if (doc.shipFrom) x.seg('N1', 'SF', doc.shipFrom.name, doc.shipFrom.gln ? 'UL' : doc.shipFrom.qualifier, doc.shipFrom.gln ?? doc.shipFrom.id);
    if (doc.shipTo) x.seg('N1', 'ST', doc.shipTo.name, doc.shipTo.gln ? 'UL' : doc.shipTo.qualifier, doc.shipTo.gln ?? doc.shipTo.id);
    let hl = 1;
    const orders = [...new Set(doc.items.map((i) => i.poNumber ?? ''))];
    for (const po of orders) {
      const order = ++hl;
      x.seg('HL', String(order), '1', 'O');
      if (po) x.seg('PRF', po);
      for (const it of doc.items.filter((i) => (i.poNumber ?? '') === po)) {
        x.seg('HL', String(++hl), String(order), 'I');
        x.seg('LIN', undefined, ...(it.gtin ? ['UK', it.gtin] : []), ...(it.vendorPart ? ['VP', it.vendorPart] : []), ...(it.buyerPart ? ['BP', it.buyerPart] : []), ...(it.lot ? ['LT', it.lot] : []));
        x.seg('SN1', undefined, String(it.serials.length > 0 ? it.serials.length : it.quantity), it.uom);
        if (it.expiry) x.seg('DTM', '036', digits(it.expiry));
        if (it.productionDate) x.seg('DTM', '094', digits(it.productionDate));
        for (const s of it.serials) x.seg('REF', 'SE', s);
        if (it.sscc) x.seg('MAN', 'GM', it.sscc);
      }
    }
    x.seg('CTT', String(hl));
  });
  return w.text();
}

function edifactEnvelope(w: EdifactWriter, e: OutboundEnvelope, type: string, body: (w: EdifactWriter) => void): void {
  const [syntax, version] = (e.version && /^UNO[A-Z]:[1-4]$/.test(e.version) ? e.version : 'UNOC:3').split(':');
  const ref = String(e.interchangeControlNumber).padStart(9, '0');
  const date = version === '4' ? ymd(e.now) : ymd(e.now).slice(2);
  w.seg('UNB', [syntax, version], [e.ourId, e.ourQualifier || undefined], [e.partnerId, e.partnerQualifier || undefined], [date, hm(e.now)], ref, undefined, type);
  const start = w.count();
  w.seg('UNH', '1', [type, 'D', '96A', 'UN', 'EAN005']);
  body(w);
  w.seg('UNT', String(w.count() - start + 1), '1');
  w.seg('UNZ', '1', ref);
}

/** An EDIFACT ORDERS: BGM 220, DTM 137, NAD BY/SU/DP (agency 9 = GLN), LIN (SRV), PIA SA/IN, QTY 21, PRI AAA, DTM 2. */
export function buildOrders(doc: OrderDocument, e: OutboundEnvelope, d: Partial<EdifactDelimiters> = {}): string {
  const w = new EdifactWriter({ ...DEFAULT_DELIMITERS, ...d }, '\n');
  edifactEnvelope(w, e, 'ORDERS', (x) => {
    x.seg('BGM', '220', doc.poNumber, doc.purpose === 'cancel' ? '1' : '9');
    x.seg('DTM', ['137', digits(doc.orderedAt) ?? ymd(e.now), '102']);
    for (const [q, p] of [['BY', doc.buyer], ['SU', doc.supplier], ['DP', doc.shipTo]] as const) {
      if (p) x.seg('NAD', q, [p.gln ?? p.id, undefined, p.gln ? '9' : p.qualifier], undefined, p.name);
    }
    for (const l of doc.lines) {
      x.seg('LIN', String(l.lineNo), undefined, l.gtin ? [l.gtin, 'SRV'] : undefined);
      if (l.vendorPart || l.buyerPart) x.seg('PIA', '1', ...(l.vendorPart ? [[l.vendorPart, 'SA']] : []), ...(l.buyerPart ? [[l.buyerPart, 'IN']] : []));
      x.seg('QTY', ['21', String(l.quantity), l.uom]);
      if (l.unitPrice !== undefined) x.seg('PRI', ['AAA', String(l.unitPrice)]);
      if (l.requestedAt) x.seg('DTM', ['2', digits(l.requestedAt), '102']);
    }
  });
  if (d.component || d.element || d.segment || d.release) w.una();
  return w.text();
}

/** An EDIFACT DESADV: BGM 351, DTM 137/11/132, NAD SU/DP, TDT, RFF ON, CPS, LIN per item with PIA, QTY 12, DTM 36/94, GIN BX (batch) and BN (serials), GIN BJ (SSCC). */
export function buildDesadv(doc: AsnDocument, e: OutboundEnvelope, d: Partial<EdifactDelimiters> = {}): string {
  const w = new EdifactWriter({ ...DEFAULT_DELIMITERS, ...d }, '\n');
  edifactEnvelope(w, e, 'DESADV', (x) => {
    x.seg('BGM', '351', doc.asnNumber, doc.purpose === 'cancel' ? '1' : doc.purpose === 'replace' ? '5' : '9');
    x.seg('DTM', ['137', ymd(e.now), '102']);
    if (doc.shippedAt) x.seg('DTM', ['11', digits(doc.shippedAt), '102']);
    if (doc.expectedAt) x.seg('DTM', ['132', digits(doc.expectedAt), '102']);
    for (const po of doc.poNumbers) x.seg('RFF', ['ON', po]);
    if (doc.shipFrom) x.seg('NAD', 'SU', [doc.shipFrom.gln ?? doc.shipFrom.id, undefined, doc.shipFrom.gln ? '9' : doc.shipFrom.qualifier], undefined, doc.shipFrom.name);
    if (doc.shipTo) x.seg('NAD', 'DP', [doc.shipTo.gln ?? doc.shipTo.id, undefined, doc.shipTo.gln ? '9' : doc.shipTo.qualifier], undefined, doc.shipTo.name);
    if (doc.carrier) x.seg('TDT', '20', undefined, undefined, undefined, [doc.carrier]);
    x.seg('CPS', '1');
    let n = 0;
    const ssccs = [...new Set(doc.items.map((i) => i.sscc ?? ''))];
    for (const sscc of ssccs) {
      if (sscc) {
        x.seg('CPS', String(ssccs.indexOf(sscc) + 2), '1');
        x.seg('GIN', 'BJ', sscc);
      }
      for (const it of doc.items.filter((i) => (i.sscc ?? '') === sscc)) {
        x.seg('LIN', String(++n), undefined, it.gtin ? [it.gtin, 'SRV'] : undefined);
        if (it.vendorPart || it.buyerPart) x.seg('PIA', '1', ...(it.vendorPart ? [[it.vendorPart, 'SA']] : []), ...(it.buyerPart ? [[it.buyerPart, 'IN']] : []));
        x.seg('QTY', ['12', String(it.serials.length > 0 ? it.serials.length : it.quantity), it.uom]);
        if (it.expiry) x.seg('DTM', ['36', digits(it.expiry), '102']);
        if (it.productionDate) x.seg('DTM', ['94', digits(it.productionDate), '102']);
        if (it.lot) x.seg('GIN', 'BX', it.lot);
        for (let k = 0; k < it.serials.length; k += 5) x.seg('GIN', 'BN', ...it.serials.slice(k, k + 5));
        if (it.poNumber && !doc.poNumbers.includes(it.poNumber)) x.seg('RFF', ['ON', it.poNumber]);
      }
    }
  });
  if (d.component || d.element || d.segment || d.release) w.una();
  return w.text();
}

import { normalizeGtin } from '../../model/master-data/gs1-keys';
import type { AsnDocument, AsnItem, EdiParty } from '../edi/edi-documents';
import type { X12Set } from './x12-envelope';
import type { X12Delimiters, X12Segment } from './x12-tokenizer';
import { X12SetReader } from './x12-set-reader';

/** HL03 levels and the levels their parent may have (S → O → T/P → I). */
const PARENTS: Record<string, readonly string[]> = {
  S: [],
  O: ['S'],
  T: ['O', 'S'],
  P: ['O', 'T'],
  I: ['O', 'T', 'P'],
};

/** LIN/SLN product id qualifiers that carry a GTIN (GS1: UK GTIN-14, EN EAN-13, UP UPC-A, UA, EO). */
const GTIN_QUALIFIERS = new Set(['UK', 'EN', 'UP', 'UA', 'EO']);

interface HlNode {
  id: string;
  level: string;
  parent?: HlNode;
  seg: X12Segment;
  po?: string;
  sscc?: string;
  item?: AsnItem & { sub: AsnItem[]; hasSn1: boolean; lin?: X12Segment };
}

function partyOf(r: X12SetReader, s: X12Segment): EdiParty {
  const q = r.el(s, 3);
  const id = r.el(s, 4);
  const name = r.el(s, 2);
  return {
    ...(name ? { name } : {}),
    ...(q === 'UL' && id ? { gln: id } : id ? { id, qualifier: q } : {}),
  };
}

/**
 * Reads an 856 ship notice: BSN, the HL hierarchy S → O → (T/P) → I with LIN product ids (GTIN,
 * vendor/buyer part, lot as an `LT` pair), SN1 quantities, REF*LT lots, REF*SE/SN serials, SLN
 * sub-lines (lot or serial pairs), DTM 036 expiry and 094/405 production dates, PRF purchase
 * orders, MAN*GM SSCCs, N1 ship-from/ship-to (UL = GLN), TD5 carrier, DTM 011 shipped and
 * 017/067 expected delivery.
 * @throws LotBridgeError with `details.x12` (AK3/AK4 note) for a set that cannot be mapped
 */
export function read856(set: X12Set, d: X12Delimiters): AsnDocument {
  const r = new X12SetReader(set, d);
  const segs = set.segments;
  const bsn = segs[1];
  if (!bsn || bsn.id !== 'BSN') {
    throw r.missing('LB_ERR_X12_SEGMENT_MISSING', 'BSN', 2, `transaction set 856 ${set.controlNumber} has no BSN beginning segment (found ${bsn ? bsn.id : 'nothing'} at position 2, line ${bsn?.line ?? segs[0].line})`);
  }
  const purposeCode = r.el(bsn, 1);
  const purpose = purposeCode === '01' ? 'cancel' : purposeCode === '05' ? 'replace' : 'original';
  const asnNumber = r.required(bsn, 2, 'shipment identification');
  const bsnDate = r.date(bsn, 3, 'date', { required: true }) as string;
  const bsnTime = r.time(bsn, 4, 'time');
  const doc: AsnDocument = { kind: 'asn', asnNumber, purpose, shippedAt: bsnTime ? `${bsnDate}T${bsnTime.length === 5 ? `${bsnTime}:00` : bsnTime}` : bsnDate, poNumbers: [], items: [] };
  const nodes = new Map<string, HlNode>();
  let current: HlNode | undefined;
  const items: HlNode[] = [];

  for (let k = 2; k < segs.length - 1; k++) {
    const s = segs[k];
    switch (s.id) {
      case 'HL': {
        const id = r.required(s, 1, 'hierarchical id number');
        const parentId = r.el(s, 2);
        const level = r.required(s, 3, 'hierarchical level code');
        if (nodes.has(id)) {
          throw r.fail('LB_ERR_X12_HL_HIERARCHY', `HL01 ${id} is used twice (HL at position ${r.pos(s)}, line ${s.line})`, s, '8', { position: 1, code: '7', value: id }, 'HL');
        }
        const allowed = PARENTS[level];
        if (allowed === undefined) {
          throw r.fail('LB_ERR_X12_HL_HIERARCHY', `HL03 level ${JSON.stringify(level)} is not one of S, O, T, P, I (HL ${id} at position ${r.pos(s)}, line ${s.line})`, s, '8', { position: 3, code: '7', value: level }, 'HL');
        }
        let parent: HlNode | undefined;
        if (parentId !== '') {
          parent = nodes.get(parentId);
          if (!parent) {
            throw r.fail('LB_ERR_X12_HL_HIERARCHY', `HL ${id} names parent ${parentId}, which no earlier HL has (HL at position ${r.pos(s)}, line ${s.line})`, s, '8', { position: 2, code: '7', value: parentId }, 'HL');
          }
        }
        if (level === 'S' ? parent !== undefined : !parent || !allowed.includes(parent.level)) {
          const got = parent ? `${parent.level} (HL ${parent.id})` : 'no parent';
          throw r.fail(
            'LB_ERR_X12_HL_HIERARCHY',
            `HL ${id} at level ${level} has ${got}: the hierarchy must run S → O → (T/P) → I${level === 'S' ? ' with S at the top' : ` (an ${level} needs a parent at level ${allowed.join(' or ')})`} (HL at position ${r.pos(s)}, line ${s.line})`,
            s, '8', { position: parent ? 2 : 3, code: '7', value: parent ? parentId : level }, 'HL',
          );
        }
        const node: HlNode = { id, level, parent, seg: s, po: parent?.po, sscc: parent?.sscc };
        if (level === 'I') {
          node.item = { ref: `HL ${id}`, quantity: 0, uom: 'EA', serials: [], sub: [], hasSn1: false, ...(node.po ? { poNumber: node.po } : {}), ...(node.sscc ? { sscc: node.sscc } : {}) };
          items.push(node);
        }
        nodes.set(id, node);
        current = node;
        break;
      }
      case 'DTM': {
        const q = r.el(s, 1);
        const { date, time } = r.dtm(s, `date (qualifier ${q})`);
        const at = time ? `${date}T${time.length === 5 ? `${time}:00` : time}` : date;
        const item = current?.item;
        if (item && (q === '036' || q === '208')) item.expiry = date;
        else if (item && (q === '094' || q === '405')) item.productionDate = date;
        else if (q === '011') doc.shippedAt = at;
        else if (q === '017' || q === '067' || q === '002') doc.expectedAt = at;
        break;
      }
      case 'N1': {
        const who = r.el(s, 1);
        if (who === 'SF' || who === 'SU') doc.shipFrom = partyOf(r, s);
        else if (who === 'ST') doc.shipTo = partyOf(r, s);
        break;
      }
      case 'TD5': {
        const scac = r.el(s, 3);
        const name = r.el(s, 5);
        if (scac || name) doc.carrier = scac || name;
        break;
      }
      case 'PRF': {
        const po = r.required(s, 1, 'purchase order number');
        if (current) current.po = po;
        if (!doc.poNumbers.includes(po)) doc.poNumbers.push(po);
        break;
      }
      case 'MAN': {
        const q = r.el(s, 1);
        if ((q === 'GM' || q === 'AA') && current) {
          current.sscc = r.el(s, 2);
          if (current.item) current.item.sscc = current.sscc;
        }
        break;
      }
      case 'LIN': {
        const item = current?.item;
        if (!item) {
          throw r.fail('LB_ERR_X12_HL_HIERARCHY', `LIN at position ${r.pos(s)} (line ${s.line}) stands outside an item (HL level I) loop`, s, '2', undefined, 'HL');
        }
        item.lin = s;
        for (const p of r.pairs(s, 2)) applyProductId(r, s, item, p);
        break;
      }
      case 'SN1': {
        const item = current?.item;
        if (!item) break;
        item.quantity = r.number(s, 2, 'number of units shipped', { required: true }) as number;
        item.uom = r.required(s, 3, 'unit of measure');
        item.hasSn1 = true;
        break;
      }
      case 'SLN': {
        const item = current?.item;
        if (!item) break;
        const qty = r.number(s, 4, 'quantity');
        const uom = r.el(s, 5);
        const sub: AsnItem = { ref: `${item.ref} SLN ${r.el(s, 1)}`, quantity: qty ?? 1, uom: uom || item.uom, serials: [] };
        for (const p of r.pairs(s, 9)) applyProductId(r, s, sub, p);
        if (sub.lot !== undefined || sub.serials.length > 0) item.sub.push(sub);
        break;
      }
      case 'REF': {
        const item = current?.item;
        const q = r.el(s, 1);
        const v = r.el(s, 2);
        if (item && q === 'LT' && v) item.lot = v;
        else if (item && (q === 'SE' || q === 'SN') && v) item.serials.push(v);
        break;
      }
      default:
        break;
    }
  }
  if (items.length === 0) {
    throw r.missing('LB_ERR_X12_SEGMENT_MISSING', 'HL', segs.length - 1, `transaction set 856 ${set.controlNumber} holds no item (HL level I) loop`);
  }
  for (const node of items) {
    const it = node.item!;
    if (!it.lin) {
      throw r.fail('LB_ERR_X12_SEGMENT_MISSING', `item HL ${node.id} (line ${node.seg.line}) has no LIN naming the product`, node.seg, '3', undefined, 'HL');
    }
    if (!it.gtin && !it.vendorPart && !it.buyerPart) {
      throw r.fail('LB_ERR_X12_ELEMENT_MISSING', `LIN of item HL ${node.id} (line ${it.lin.line}) names no GTIN (UK/EN/UP), vendor part (VP) or buyer part (BP)`, it.lin, '8', { position: 3, code: '1' });
    }
    if (!it.hasSn1 && it.sub.length === 0) {
      throw r.fail('LB_ERR_X12_SEGMENT_MISSING', `item HL ${node.id} (line ${node.seg.line}) has no SN1 with the quantity shipped`, node.seg, '3', undefined, 'HL');
    }
    const { sub, hasSn1: _hasSn1, lin: _lin, ...base } = it;
    if (sub.length === 0) {
      doc.items.push(base);
      continue;
    }
    // SLN sub-lines split the item by lot or serial; the LIN's product applies to each
    for (const sl of sub) {
      doc.items.push({
        ...base,
        ref: sl.ref,
        lot: sl.lot ?? base.lot,
        quantity: sl.serials.length > 0 && sl.lot === undefined ? sl.serials.length : sl.quantity,
        uom: sl.uom,
        serials: sl.serials,
        ...(sl.expiry ? { expiry: sl.expiry } : {}),
      });
    }
  }
  return doc;
}

function applyProductId(r: X12SetReader, s: X12Segment, item: AsnItem, p: { q: string; v: string; n: number }): void {
  if (GTIN_QUALIFIERS.has(p.q)) {
    const g = normalizeGtin(p.v);
    if (!/^\d{8}$|^\d{12,14}$/.test(p.v) || !g.ok) {
      throw r.fail('LB_ERR_X12_ELEMENT_INVALID', `${s.id}${String(p.n).padStart(2, '0')} ${JSON.stringify(p.v)} (qualifier ${p.q}) is not a valid GTIN${g.ok ? '' : `: ${g.reason}`} (line ${s.line})`, s, '8', { position: p.n, code: '7', value: p.v });
    }
    item.gtin = g.gtin;
  } else if (p.q === 'VP' || p.q === 'VN') item.vendorPart = p.v;
  else if (p.q === 'BP' || p.q === 'IN') item.buyerPart = p.v;
  else if (p.q === 'LT' || p.q === 'B8') item.lot = p.v;
  else if (p.q === 'SN') item.serials.push(p.v);
}

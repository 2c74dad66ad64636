import { buildDesadv, buildOrders, buildX12_850, buildX12_856, type OutboundEnvelope } from '../../../../src/parsers/edi/edi-outbound';
import type { AsnDocument, OrderDocument } from '../../../../src/parsers/edi/edi-documents';
import { readX12Message } from '../../../../src/parsers/x12/x12-read';
import { readEdifactMessage } from '../../../../src/parsers/edifact/edifact-read';

const env: OutboundEnvelope = { ourQualifier: 'ZZ', ourId: 'ACMEDEVICES', partnerQualifier: 'ZZ', partnerId: 'MEDSUPPLY01', interchangeControlNumber: 42, groupControlNumber: 7, now: new Date('2026-03-10T08:15:00Z') };

const order: OrderDocument = {
  kind: 'order', poNumber: 'PO-OUT-300', purpose: 'original', orderedAt: '2026-03-10', buyer: { name: 'Acme Devices', gln: '0614141000012' }, supplier: { name: 'MedSupply+Co: Ltd', gln: '4012345000009' },
  lines: [
    { lineNo: 1, gtin: '04012345000016', vendorPart: 'ST-2200', buyerPart: 'MAT-STENT-22', quantity: 12, uom: 'EA', unitPrice: 412.5, requestedAt: '2026-03-20' },
    { lineNo: 2, gtin: '04012345000023', quantity: 40, uom: 'EA' },
  ],
};

const asn: AsnDocument = {
  kind: 'asn', asnNumber: 'SHP-OUT-77', purpose: 'original', shippedAt: '2026-03-10', expectedAt: '2026-03-12', poNumbers: ['CUST-PO-9'], shipTo: { name: "St. Mary's Hospital", gln: '0614141000029' }, carrier: 'DHLDE',
  items: [
    { ref: 'line 1', gtin: '04012345000016', lot: 'S2603A', expiry: '2028-02-29', quantity: 2, uom: 'EA', serials: ['SN-0001', 'SN-0002'], poNumber: 'CUST-PO-9', sscc: '006141410000000017' },
    { ref: 'line 2', gtin: '04012345000023', lot: 'C7F-2602', expiry: '2027-08-31', quantity: 10, uom: 'EA', serials: [], poNumber: 'CUST-PO-9', sscc: '006141410000000017' },
  ],
};

describe('outbound EDI documents, read back by LotBridge’s own parsers', () => {
  it('writes an X12 850 whose envelope checks out and whose lines read back as written', () => {
    const raw = buildX12_850(order, env);
    const r = readX12Message(Buffer.from(raw));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic).toMatchObject({ senderId: 'ACMEDEVICES', receiverId: 'MEDSUPPLY01', controlNumber: '000000042' });
    expect(r.ic.groups[0]).toMatchObject({ functionalId: 'PO', controlNumber: '7' });
    expect(r.sets[0].set.issues).toEqual([]);
    expect(r.sets[0].doc).toMatchObject({ kind: 'order', poNumber: 'PO-OUT-300', orderedAt: '2026-03-10', buyer: { gln: '0614141000012' }, lines: order.lines.map(({ lineNo, quantity, uom, gtin }) => ({ lineNo, quantity, uom, gtin })) });
    expect((r.sets[0].doc as OrderDocument).lines[0]).toMatchObject({ unitPrice: 412.5, requestedAt: '2026-03-20', vendorPart: 'ST-2200', buyerPart: 'MAT-STENT-22' });
  });

  it('writes an X12 856 with the partner’s separators that reads back item by item (lots, expiry, serials, SSCC, PO)', () => {
    const raw = buildX12_856(asn, env, { element: '|', component: '^', repetition: '{', segment: '\n' });
    expect(raw.startsWith('ISA|00|')).toBe(true);
    const r = readX12Message(Buffer.from(raw));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.sets[0].set.issues).toEqual([]);
    const doc = r.sets[0].doc as AsnDocument;
    expect(doc).toMatchObject({ asnNumber: 'SHP-OUT-77', expectedAt: '2026-03-12', shipTo: { gln: '0614141000029' }, carrier: 'DHLDE', poNumbers: ['CUST-PO-9'] });
    expect(doc.items.map(({ gtin, lot, expiry, quantity, serials, sscc, poNumber }) => ({ gtin, lot, expiry, quantity, serials, sscc, poNumber }))).toEqual(
      asn.items.map(({ gtin, lot, expiry, quantity, serials, sscc, poNumber }) => ({ gtin, lot, expiry, quantity, serials, sscc, poNumber })),
    );
  });

  it('writes EDIFACT ORDERS escaping service characters in names, read back as written', () => {
    const raw = buildOrders(order, { ...env, version: 'UNOC:3' });
    expect(raw).toContain("NAD+SU+4012345000009::9++MedSupply?+Co?: Ltd'");
    const r = readEdifactMessage(Buffer.from(raw, 'latin1'));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic.messages[0].issues).toEqual([]);
    expect(r.messages[0].doc).toMatchObject({ kind: 'order', poNumber: 'PO-OUT-300', supplier: { gln: '4012345000009', name: 'MedSupply+Co: Ltd' } });
    expect((r.messages[0].doc as OrderDocument).lines.map((l) => [l.lineNo, l.gtin, l.quantity, l.unitPrice])).toEqual([[1, '04012345000016', 12, 412.5], [2, '04012345000023', 40, undefined]]);
  });

  it('writes a DESADV with a UNA when the partner wants other separators, read back with batches, serials and SSCC', () => {
    const raw = buildDesadv(asn, env, { segment: '!' });
    expect(raw.startsWith('UNA:+.? !')).toBe(true);
    const r = readEdifactMessage(Buffer.from(raw, 'latin1'));
    expect(r.ic.envelopeError).toBeUndefined();
    expect(r.ic.messages[0].issues).toEqual([]);
    const doc = r.messages[0].doc as AsnDocument;
    expect(doc).toMatchObject({ asnNumber: 'SHP-OUT-77', shipTo: { gln: '0614141000029' }, poNumbers: ['CUST-PO-9'] });
    expect(doc.items.map(({ gtin, lot, expiry, quantity, serials, sscc }) => ({ gtin, lot, expiry, quantity, serials, sscc }))).toEqual(
      asn.items.map(({ gtin, lot, expiry, quantity, serials, sscc }) => ({ gtin, lot, expiry, quantity, serials, sscc })),
    );
  });
});

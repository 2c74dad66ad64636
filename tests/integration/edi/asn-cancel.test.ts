import type { TestHub } from '../../helpers/start-hub';
import { ediVariant, postAndWait, startEdiHubWithCaseMaterials } from '../../helpers/edi';

const FIXTURE = '856-case-gtin-no-gtin-line.x12';
/** The fixture as a cancellation (BSN01 = 01) in an interchange of its own control number. */
const cancellation = (control: number): Buffer => ediVariant('x12', FIXTURE, [
  ['BSN*00*', 'BSN*01*'],
  [/000005101/g, String(control).padStart(9, '0')],
  ['*1400*5101*X*', `*1400*${control}*X*`],
  ['GE*1*5101', `GE*1*${control}`],
]);

/**
 * An X12 856 with a line in cases of a known case GTIN (2 CA of 10), serials of the each GTIN, and a
 * line named by part numbers only (no GTIN), then its cancellation (BSN01 = 01): in-transit stock
 * back to zero in base units, the shipment cancelled, a CBV void_shipping event with the items of
 * the shipping event it voids, a second cancellation changing nothing, and a cancellation after
 * goods were received refused with an error naming it.
 */
describe('ASN cancellation (X12 856 BSN01 = 01, EDIFACT DESADV BGM 1225 = 1)', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startEdiHubWithCaseMaterials();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const inTransit = async (lot: string): Promise<number> => {
    const rows = await h.hub.db('inventory_balances as b').join('lots as l', 'l.id', 'b.lot_id').where({ 'l.lot_number': lot, 'b.stock_state': 'in_transit' }).select('b.quantity');
    return rows.reduce((s: number, r: { quantity: number }) => s + Number(r.quantity), 0);
  };

  it('books a line in cases as base units, and a line without a GTIN, in transit', async () => {
    const m = await postAndWait(h, 'x12', ediVariant('x12', FIXTURE, []));
    expect([m.status, m.error]).toEqual(['processed', null]);
    // 2 cases of 10 + 2 serials of the each GTIN
    expect(await inTransit('K4-2603')).toBe(22);
    expect(await inTransit('DR-2603')).toBe(12);
    const ship = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260310-07' }).first();
    expect(ship.status).toBe('in_transit');
  });

  it('takes the in-transit stock back in base units and records a void_shipping event with the shipping event\'s items', async () => {
    const db = h.hub.db;
    const m = await postAndWait(h, 'x12', cancellation(5102));
    expect([m.status, m.error]).toEqual(['processed', null]);
    expect(m.ack).toMatchObject({ type: '997', status: 'accepted' });
    expect(await inTransit('K4-2603')).toBe(0);
    expect(await inTransit('DR-2603')).toBe(0);
    const ship = await db('shipments').where({ shipment_number: 'ASN-20260310-07' }).first();
    expect(ship.status).toBe('cancelled');

    const events = await db('trace_events').whereRaw(`biz_transactions @> '[{"type":"desadv","value":"ASN-20260310-07"}]'`).orderBy('record_time').select('id', 'type', 'action', 'biz_step', 'disposition', 'biz_transactions', 'details', 'event_time');
    expect(events.map((e: any) => [e.type, e.action, e.biz_step, e.disposition])).toEqual([
      ['ObjectEvent', 'OBSERVE', 'shipping', 'in_transit'],
      ['ObjectEvent', 'OBSERVE', 'void_shipping', null],
    ]);
    const [shipping, voiding] = events;
    expect(voiding.biz_transactions).toEqual(shipping.biz_transactions);
    expect(voiding.details).toEqual({ asnNumber: 'ASN-20260310-07', cancelled: true, voids: shipping.id });
    expect(voiding.event_time.toISOString()).toBe(new Date(m.receivedAt).toISOString());
    const items = async (eventId: string) => (await db('trace_event_items as i').join('lots as l', 'l.id', 'i.lot_id').leftJoin('serials as s', 's.id', 'i.serial_id')
      .where('i.event_id', eventId).orderBy('i.id').select('i.role', 'l.lot_number', 's.serial_number', 'i.quantity', 'i.uom', 'i.base_quantity'))
      .map((i: any) => [i.role, i.lot_number, i.serial_number, Number(i.quantity), i.uom, Number(i.base_quantity)]);
    expect(await items(voiding.id)).toEqual([
      ['subject', 'K4-2603', null, 2, 'CA', 20],
      ['subject', 'K4-2603', 'K4-SN-0101', 1, 'EA', 1],
      ['subject', 'K4-2603', 'K4-SN-0102', 1, 'EA', 1],
      ['subject', 'DR-2603', null, 12, 'EA', 12],
    ]);
    expect(await items(voiding.id)).toEqual(await items(shipping.id));
    // the ledger names the void_shipping event for the take-back
    const back = await db('inventory_ledger').where({ event_id: voiding.id }).select('delta');
    expect(back.map((b: { delta: number }) => Number(b.delta)).sort((a: number, b: number) => a - b)).toEqual([-22, -12]);
  });

  it('exports the cancellation as an EPCIS ObjectEvent OBSERVE with bizStep void_shipping and the shipped serials and lots', async () => {
    const r = await h.api('GET', '/api/v1/epcis/events?limit=1000&bizStep=void_shipping');
    expect(r.status).toBe(200);
    const [ev, ...more] = r.json.epcisBody.queryResults.resultsBody.eventList;
    expect(more).toEqual([]);
    expect(ev).toMatchObject({ type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'https://ref.gs1.org/cbv/BizStep-void_shipping' });
    expect(ev.disposition).toBeUndefined();
    expect(ev.epcList).toEqual(['https://id.gs1.org/01/09506000134352/21/K4-SN-0101', 'https://id.gs1.org/01/09506000134352/21/K4-SN-0102']);
    expect(ev.quantityList).toEqual([
      expect.objectContaining({ epcClass: 'https://id.gs1.org/01/09506000134352/10/K4-2603' }),
      expect.objectContaining({ epcClass: expect.stringMatching(/\/lot\/DR-2603$/) }),
    ]);
  });

  it('changes nothing when the cancellation comes again', async () => {
    const m = await postAndWait(h, 'x12', cancellation(5103));
    expect([m.status, m.error]).toEqual(['processed', null]);
    expect(await inTransit('K4-2603')).toBe(0);
    expect(await h.hub.db('trace_events').where({ biz_step: 'void_shipping' }).count<{ count: string }[]>('* as count')).toEqual([{ count: 1 }]);
  });

  it('refuses to cancel an ASN against which goods were received, naming it', async () => {
    const db = h.hub.db;
    const original = ediVariant('x12', FIXTURE, [['ASN-20260310-07', 'ASN-20260310-08'], [/000005101/g, '000005104'], ['*1400*5101*X*', '*1400*5104*X*'], ['GE*1*5101', 'GE*1*5104']]);
    expect((await postAndWait(h, 'x12', original)).status).toBe('processed');
    await db('shipments').where({ shipment_number: 'ASN-20260310-08' }).update({ status: 'delivered', delivered_at: new Date('2026-03-12T10:00:00Z') });
    const cancel = ediVariant('x12', FIXTURE, [['BSN*00*ASN-20260310-07', 'BSN*01*ASN-20260310-08'], [/000005101/g, '000005105'], ['*1400*5101*X*', '*1400*5105*X*'], ['GE*1*5101', 'GE*1*5105']]);
    const m = await postAndWait(h, 'x12', cancel);
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({
      code: 'LB_ERR_X12_ELEMENT_INVALID',
      message: expect.stringContaining('ASN ASN-20260310-08 is cancelled, but goods against it were received on 2026-03-12'),
      location: expect.objectContaining({ segment: 'BSN', field: 'BSN01' }),
    });
    expect((await db('shipments').where({ shipment_number: 'ASN-20260310-08' }).first()).status).toBe('delivered');
    expect(await inTransit('K4-2603')).toBe(22);
  });

  /** The fixture as ASN `asn` of lots K4-<tag>/DR-<tag> and serials K4-SN-<tag>-…, from `sender`, control number `control`. */
  const asnVariant = (o: { asn: string; control: number; tag: string; cancel?: boolean; sender?: string }): Buffer => ediVariant('x12', FIXTURE, [
    ['BSN*00*ASN-20260310-07', `BSN*${o.cancel ? '01' : '00'}*${o.asn}`],
    [/K4-2603/g, `K4-${o.tag}`], [/DR-2603/g, `DR-${o.tag}`], [/K4-SN-01/g, `K4-SN-${o.tag}-`],
    [/000005101/g, String(o.control).padStart(9, '0')], ['*1400*5101*X*', `*1400*${o.control}*X*`], ['GE*1*5101', `GE*1*${o.control}`],
    ...(o.sender ? [['*ZZ*MEDSUPPLY01    *', `*ZZ*${o.sender.padEnd(15)}*`] as [string, string], ['GS*SH*MEDSUPPLY01*', `GS*SH*${o.sender}*`] as [string, string]] : []),
  ]);

  it('refuses a cancellation from another partner than the ASN\'s sender, naming it', async () => {
    expect((await postAndWait(h, 'x12', asnVariant({ asn: 'ASN-20260310-09', control: 5201, tag: '2609' }))).status).toBe('processed');
    expect(await inTransit('K4-2609')).toBe(22);
    const m = await postAndWait(h, 'x12', asnVariant({ asn: 'ASN-20260310-09', control: 7001, tag: '2609', cancel: true, sender: 'OTHERSUP01' }));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code: 'LB_ERR_X12_ELEMENT_INVALID', message: expect.stringContaining('ASN ASN-20260310-09 is cancelled by OTHERSUP01, but it was not sent by that partner') });
    expect((await h.hub.db('shipments').where({ shipment_number: 'ASN-20260310-09' }).first()).status).toBe('in_transit');
    expect(await inTransit('K4-2609')).toBe(22);
  });

  it('takes back no more than is still in transit when a receipt against another ASN of the lot took part of it', async () => {
    const db = h.hub.db;
    expect((await postAndWait(h, 'x12', asnVariant({ asn: 'ASN-20260310-10', control: 5301, tag: '2610' }))).status).toBe('processed');
    expect((await postAndWait(h, 'x12', asnVariant({ asn: 'ASN-20260310-11', control: 5302, tag: '2610' }))).status).toBe('processed');
    expect(await inTransit('K4-2610')).toBe(44);
    // 30 received against ASN -11 (8 more than it announced): taken from the lot's one in-transit balance
    const r = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify([{ movementId: 'OVER-2610', type: 'receive', occurredAt: '2026-03-11T09:00:00Z', location: 'DOCK-1',
      stockState: 'pending_inspection', reference: { asn: 'ASN-20260310-11' }, gtin: '09506000134352', lot: 'K4-2610', quantity: 30, uom: 'EA' }]), { 'content-type': 'application/json' });
    expect((await h.waitForStatus(r.json.messageId)).status).toBe('processed');
    expect(await inTransit('K4-2610')).toBe(14);
    const m = await postAndWait(h, 'x12', asnVariant({ asn: 'ASN-20260310-10', control: 5303, tag: '2610', cancel: true }));
    expect([m.status, m.error]).toEqual(['processed', null]);
    expect(await inTransit('K4-2610')).toBe(0);
    expect(await db('alerts').where({ type: 'negative_balance' }).whereRaw(`message LIKE '%K4-2610%'`).count<{ count: string }[]>('* as count')).toEqual([{ count: 0 }]);
  });

  it('cancels an EDIFACT DESADV (BGM 1225 = 1) the same way, and names BGM 1225 for an unknown one', async () => {
    const desadv = (fn: string, ref: string, num = 'DES-77120') => ediVariant('edifact', 'desadv-unoc-release-serials.edi', [['BGM+351+DES-77120+9', `BGM+351+${num}+${fn}`], [/DSP00017/g, ref]]);
    expect((await postAndWait(h, 'edifact', desadv('9', 'DSP00017'))).status).toBe('processed');
    expect(await inTransit('C7F-2603X')).toBe(15);
    expect(await inTransit('S2603B')).toBe(2);
    const m = await postAndWait(h, 'edifact', desadv('1', 'DSP00018'));
    expect([m.status, m.error]).toEqual(['processed', null]);
    expect(await inTransit('C7F-2603X')).toBe(0);
    expect(await inTransit('S2603B')).toBe(0);
    expect((await h.hub.db('shipments').where({ shipment_number: 'DES-77120' }).first()).status).toBe('cancelled');
    expect(await h.hub.db('trace_events').where({ biz_step: 'void_shipping' }).whereRaw(`biz_transactions @> '[{"value":"DES-77120"}]'`).count<{ count: string }[]>('* as count')).toEqual([{ count: 1 }]);
    const unknown = await postAndWait(h, 'edifact', desadv('1', 'DSP00019', 'DES-NEVER-SENT'));
    expect(unknown.status).toBe('rejected');
    expect(unknown.error).toMatchObject({ code: 'LB_ERR_X12_ELEMENT_INVALID', message: 'ASN DES-NEVER-SENT is cancelled but no such ASN was received', location: expect.objectContaining({ segment: 'BGM', field: '1225' }) });
  });
});

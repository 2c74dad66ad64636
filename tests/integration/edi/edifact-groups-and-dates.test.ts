import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, postAndWait, postEdi, x12Segments } from '../../helpers/edi';

const edifactSegs = (raw: string): string[] => raw.replace(/^UNA.{6}\n?/, '').split(/(?<!\?)'\n?/).filter((s) => s.length > 0);

describe('EDI: grouped EDIFACT, DTM periods (EDIFACT 718, X12 DTM05/06) end to end', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('two UNG groups, the first with a wrong UNE count: the second group\'s DESADV is applied, the CONTRL has a UCF per group', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-two-groups-first-une-count-wrong.edi'));
    expect(m.status).toBe('processed');
    expect(m.ack).toMatchObject({ type: 'CONTRL', status: 'partial' });
    expect(edifactSegs(m.ack.raw).filter((s) => /^(UCI|UCF|UCM)/.test(s))).toEqual([
      'UCI+DSP00032+4012345000009:14+0614141000012:14+7',
      'UCF+G0001+4012345000009:14+0614141000012:14+4+29+UNE+1',
      'UCM+1+DESADV:D:96A:UN:EAN005+4+29',
      'UCF+G0002+4012345000009:14+0614141000012:14+7',
      'UCM+2+DESADV:D:96A:UN:EAN005+7',
    ]);
    expect(await h.hub.db('shipments').where({ shipment_number: 'DES-77133', direction: 'inbound' })).toHaveLength(1);
    expect(await h.hub.db('shipments').where({ shipment_number: 'DES-77132', direction: 'inbound' })).toHaveLength(0);
  });

  it('a DESADV with a delivery window DTM+2:…:718 is processed with the window start as expected delivery', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-delivery-window-718.edi'));
    expect(m.error).toBeNull();
    expect(m.status).toBe('processed');
    expect(await h.hub.db('shipments').where({ shipment_number: 'DES-77131', direction: 'inbound' })).toHaveLength(1);
  });

  it('an 856 with DTM*067****RD8 and DTM*036****D8 is processed, the lot gets its expiry, the 997 accepts it', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-dtm05-rd8-window-d8-expiry.x12'));
    expect(m.error).toBeNull();
    expect(m.status).toBe('processed');
    expect(x12Segments(m.ack.raw).find((s) => s[0] === 'AK5')).toEqual(['AK5', 'A']);
    const lot = (await h.api('GET', '/api/v1/lots?gtin=04012345000047&lot=DR-2402')).json;
    expect(lot.expiry).toBe('2026-02-28');
  });
});

describe('EDI: a file whose second EDIFACT interchange is cut right after a release character', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('stores each interchange apart: the complete first one is processed and acknowledged, the cut one rejected with LB_ERR_EDIFACT_RELEASE', async () => {
    const r = await postEdi(h, 'edifact', ediFixture('edifact', 'desadv-second-interchange-cut-after-release.edi'));
    expect(r.json.interchanges).toBe(2);
    const ms = await Promise.all(r.json.receipts.map((x: any) => h.waitForStatus(x.messageId)));
    expect(ms.map((m: any) => [m.status, m.controlId ?? null, m.error?.code ?? null])).toEqual([
      ['processed', 'CUT00001', null],
      ['rejected', null, 'LB_ERR_EDIFACT_RELEASE'],
    ]);
    expect(ms[0].ack).toMatchObject({ type: 'CONTRL', status: 'accepted' });
    expect(await h.hub.db('shipments').where({ shipment_number: 'DES-77140', direction: 'inbound' })).toHaveLength(1);
  });
});

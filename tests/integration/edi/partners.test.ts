import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reprocessBatch } from '../../../src/console/jobs';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, ediVariant, postAndWait, x12Segments } from '../../helpers/edi';

const seg = (raw: string, id: string): string[] | undefined => x12Segments(raw).find((s) => s[0] === id);

describe('EDI trading partners: API, config file, control numbers, 999, resend', () => {
  let h: TestHub;
  let cfgDir: string;
  beforeAll(async () => {
    cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-edi-cfg-'));
    const file = path.join(cfgDir, 'lotbridge.config.json');
    fs.writeFileSync(file, JSON.stringify({
      connectors: [],
      partners: [{ standard: 'x12', qualifier: 'ZZ', interchangeId: 'MEDSUPPLY01', name: 'MedSupply GmbH', partyGln: '4012345000009', ackType: '999', receivingLocation: 'DC-EAST', nextInterchangeControl: 500, outboundDestination: { type: 'http', url: 'https://edi.medsupply.example/inbound' } }],
    }));
    h = await startTestHub({ env: { LOTBRIDGE_CONFIG_FILE: file } });
  });
  afterAll(async () => {
    await h?.stop();
    fs.rmSync(cfgDir, { recursive: true, force: true });
  });

  it('takes partners[] from the config file: the 856 is answered with a 999 numbered from 500, routed to the partner destination', async () => {
    const list = (await h.api('GET', '/api/v1/partners')).json.items;
    expect(list).toEqual([expect.objectContaining({ interchangeId: 'MEDSUPPLY01', ackType: '999', provisional: false, controlNumbers: { nextInterchange: 500, nextGroup: 1, usedUpTo: 0 } })]);
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'));
    expect(m.status).toBe('processed');
    expect(m.ack).toMatchObject({ type: '999', status: 'accepted', controlNumber: '000000500' });
    expect(seg(m.ack.raw, 'ST')).toEqual(['ST', '999', '0001', '005010X231A1']);
    expect(seg(m.ack.raw, 'IK5')).toEqual(['IK5', 'A']);
    expect(seg(m.ack.raw, 'AK9')).toEqual(['AK9', 'A', '1', '1', '1']);
    const ev = await h.hub.db('outbox_events').where({ source_message_id: m.id, type: 'edi.ack' }).first();
    expect(ev.payload.destination).toEqual({ type: 'http', url: 'https://edi.medsupply.example/inbound' });
    const ship = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260302-01' }).first();
    const party = await h.hub.db('parties').where({ gln: '4012345000009' }).first();
    expect(ship.from_party_id).toBe(party.id);
  });

  it('never reuses an outbound control number: setting one at or below the highest used is refused (409)', async () => {
    const p = (await h.api('GET', '/api/v1/partners')).json.items[0];
    const bad = await h.api('PUT', `/api/v1/partners/${p.id}`, JSON.stringify({ nextInterchangeControl: 500 }), { 'content-type': 'application/json' });
    expect(bad.status).toBe(409);
    expect(bad.json.error.code).toBe('LB_ERR_EDI_CONTROL_NUMBER');
    const ok = await h.api('PUT', `/api/v1/partners/${p.id}`, JSON.stringify({ nextInterchangeControl: 777, ackType: '997' }), { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(ok.json.controlNumbers).toEqual({ nextInterchange: 777, nextGroup: 2, usedUpTo: 500 });
    const m = await postAndWait(h, 'x12', ediVariant('x12', '856-serials-sln-crlf.x12', [[/000004711/g, '000004720'], [/\*4711\*/g, '*4720*'], ['GE*1*4711', 'GE*1*4720'], ['ASN-20260302-01', 'ASN-20260302-02'], [/SN-000/g, 'SN-100']]));
    expect(m.ack).toMatchObject({ type: '997', controlNumber: '000000777' });
  });

  it('rejects an unknown sender, then processes it after POST /api/v1/partners and a reprocess', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-unknown-sender.x12'));
    expect(m.status).toBe('rejected');
    expect(m.ack.type).toBe('TA1');
    const created = await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x12', qualifier: 'ZZ', interchangeId: 'STRANGER9', name: 'Stranger Medical' }), { 'content-type': 'application/json' });
    expect(created.status).toBe(200); // it completes the record the rejection left
    expect(created.json).toMatchObject({ active: true, provisional: false, controlNumbers: { usedUpTo: 1 } });
    const dup = await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x12', qualifier: 'ZZ', interchangeId: 'STRANGER9' }), { 'content-type': 'application/json' });
    expect(dup.status).toBe(409);
    expect((await h.api('POST', `/api/v1/messages/${m.id}/reprocess`)).status).toBe(202);
    const again = await h.waitForStatus(m.id);
    expect(again.status).toBe('processed');
    expect(again.ack).toMatchObject({ type: '997', status: 'accepted', controlNumber: '000000002' });
  });

  it('refuses to reprocess a rejected interchange whose resend was processed since, and names the resend', async () => {
    const body = ediVariant('x12', '856-unknown-sender.x12', [[/STRANGER9/g, 'LATECOME7'], ['ASN-UNKNOWN', 'ASN-LATECOMER']]);
    const first = await postAndWait(h, 'x12', body);
    expect(first.status).toBe('rejected');
    expect((await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x12', qualifier: 'ZZ', interchangeId: 'LATECOME7', name: 'Late Medical' }), { 'content-type': 'application/json' })).status).toBe(200);
    // the sender resends the interchange, same control number: a rejected message holds no dedup key, so it is taken
    const resend = await postAndWait(h, 'x12', Buffer.from(body.toString('latin1').replace('SN1**10*EA', 'SN1**12*EA'), 'latin1')); // corrected
    expect(resend.status).toBe('processed');
    const lines = async (): Promise<unknown[]> => h.hub.db('shipment_lines as sl').join('shipments as s', 's.id', 'sl.shipment_id').where('s.shipment_number', 'ASN-LATECOMER').select('sl.quantity_expected');
    expect(await lines()).toEqual([{ quantity_expected: 12 }]);
    const r = await h.api('POST', `/api/v1/messages/${first.id}/reprocess`);
    expect(r.status).toBe(409);
    expect(r.json.error).toMatchObject({
      code: 'LB_ERR_PIPELINE_NOT_REPROCESSABLE',
      message: expect.stringContaining(`message ${resend.id} (processed) with the same dedup key`),
      details: { supersededBy: resend.id, supersededByStatus: 'processed' },
    });
    expect((await h.api('GET', `/api/v1/messages/${first.id}`)).json.status).toBe('rejected');
    expect(await lines()).toEqual([{ quantity_expected: 12 }]);
    // the console's bulk reprocess skips it by the same rule
    expect(await reprocessBatch(h.hub.db, h.hub.pipeline, [first.id], 'console:test')).toEqual({ done: 0, skipped: 1 });
    expect((await h.api('GET', `/api/v1/messages/${first.id}`)).json.status).toBe('rejected');
    // the resend itself can be reprocessed (idempotent)
    expect((await h.api('POST', `/api/v1/messages/${resend.id}/reprocess`)).status).toBe(202);
    expect((await h.waitForStatus(resend.id)).status).toBe('processed');
    expect(await lines()).toEqual([{ quantity_expected: 12 }]);
  });

  it('resends the acknowledgement of a message to routing (edi.ack with resend: true, same control number)', async () => {
    const m = (await h.hub.db('inbound_messages').where({ control_id: '000004711' }).first());
    const r = await h.api('POST', `/api/v1/messages/${m.id}/ack/resend`);
    expect(r.status).toBe(202);
    const evs = await h.hub.db('outbox_events').where({ source_message_id: m.id, type: 'edi.ack' }).orderBy('ordinal');
    expect(evs).toHaveLength(2);
    expect(evs[1].payload).toMatchObject({ resend: true, controlNumber: '000000500', ackType: '999' });
  });

  it('validates the partner body (400) and needs the admin role', async () => {
    const r = await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x13', interchangeId: 'A' }), { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect((await h.api('GET', '/api/v1/partners/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });
});

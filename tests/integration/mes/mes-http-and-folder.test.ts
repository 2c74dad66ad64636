import fs from 'node:fs';
import path from 'node:path';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { b2mmlFixture } from './mes-test-data';

/** The built-in `mes` connector end to end: HTTP intake, dedup, the watched folder, the pipeline and GET /api/v1/lots. */
describe('MES connector over HTTP and the watched folder', () => {
  let hub: TestHub;
  const post = (body: Buffer | string, contentType = 'application/xml'): ReturnType<TestHub['api']> => hub.api('POST', '/api/v1/ingest/mes', body, { 'content-type': contentType });

  beforeAll(async () => {
    hub = await startTestHub({ env: { LOTBRIDGE_CONFIG_FILE: '' } });
  });
  afterAll(async () => {
    await hub.stop();
  });

  it('maps the fixture set posted over HTTP; the finished lot lists its consumed lots as inputs', async () => {
    for (const f of ['material-information-v0600-prefixed-bom.xml', 'production-performance-v0700-default-ns.xml', 'quality-test-release.xml']) {
      const r = await post(b2mmlFixture(f));
      expect(r.status).toBe(202);
      expect(r.json).toMatchObject({ status: 'accepted' });
      expect((await hub.waitForStatus(r.json.messageId)).status).toBe('processed');
    }
    const lot = await hub.api('GET', '/api/v1/lots?material=FG-KNEE-4&lot=FGLOT-A-1');
    expect(lot.status).toBe(200);
    expect(lot.json).toMatchObject({ status: 'released', balances: [{ location: 'TUT-ASSY-L2', stockState: 'finished', quantity: 4 }] });
    expect(lot.json.inputs.map((i: { lotNumber: string }) => i.lotNumber)).toEqual(['000120034500067800', 'CMPLOT-A-3', 'RAWLOT-A-7']);
    // the same lot by the GTIN the MaterialDefinition gave
    const byGtin = await hub.api('GET', '/api/v1/lots?gtin=04012345000016&lot=FGLOT-A-1');
    expect(byGtin.json.id).toBe(lot.json.id);
  });

  it('answers a resent production report (same document id and sender) as a duplicate with no second effect', async () => {
    const first = await post(b2mmlFixture('sync-production-performance-v0401-two-steps.xml'), 'application/xml; charset=ISO-8859-1');
    expect(first.status).toBe(202);
    const m = await hub.waitForStatus(first.json.messageId);
    expect(m).toMatchObject({ status: 'processed', messageType: 'SyncProductionPerformance', sender: 'MES-TUTTLINGEN', controlId: 'BOD-0000000000000000982341' });
    const again = await post(b2mmlFixture('sync-production-performance-v0401-two-steps.xml'), 'application/xml; charset=ISO-8859-1');
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ status: 'duplicate', duplicateOf: first.json.messageId });
    const fg = await hub.api('GET', '/api/v1/lots?gtin=04012345000023&lot=FGLOT-H-5');
    expect(fg.json.inputs.map((i: { lotNumber: string }) => i.lotNumber)).toEqual(['HEADLOT-9', 'WIPLOT-S-5']);
    expect(fg.json.balances).toEqual([{ location: 'TUT-L3', stockState: 'pending_inspection', quantity: 20, uom: 'EA' }]);
  });

  it('stores a DOCTYPE document and answers 422 rejected with the location; it can be found by id', async () => {
    const r = await post(b2mmlFixture('bad-doctype-entity.xml'));
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ status: 'rejected', error: { code: 'LB_ERR_B2MML_DOCTYPE', location: { line: 2, column: 1 } } });
    const m = await hub.api('GET', `/api/v1/messages/${r.json.messageId}`);
    expect(m.json).toMatchObject({ status: 'rejected', error: { code: 'LB_ERR_B2MML_DOCTYPE', location: { line: 2, column: 1 } } });
  });

  it('rejects a non-XML Content-Type with 415', async () => {
    const r = await post('{"not":"xml"}', 'application/json');
    expect(r.status).toBe(415);
  });

  it('takes a document dropped into the watched folder and moves a rejected one to error/ with its receipt', async () => {
    const inbox = path.join(hub.dataDir, 'inbox', 'mes');
    fs.writeFileSync(path.join(inbox, '.qa.xml'), b2mmlFixture('sync-material-lot-qa-reject.xml'));
    fs.writeFileSync(path.join(inbox, '.pp.xml'), b2mmlFixture('process-production-response-v0500-unknown-consumed-lot.xml'));
    fs.writeFileSync(path.join(inbox, '.bad.xml'), b2mmlFixture('bad-unknown-root.xml'));
    // production first, then its QA (file names sort in that order)
    fs.renameSync(path.join(inbox, '.pp.xml'), path.join(inbox, '01-production.xml'));
    fs.renameSync(path.join(inbox, '.bad.xml'), path.join(inbox, '02-schedule.xml'));
    const until = Date.now() + 20000;
    while (Date.now() < until && !(fs.existsSync(path.join(inbox, 'done', '01-production.xml')) && fs.existsSync(path.join(inbox, 'error', '02-schedule.xml')))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fs.existsSync(path.join(inbox, 'done', '01-production.xml'))).toBe(true);
    expect(fs.readdirSync(path.join(inbox, 'error')).some((n) => n.startsWith('02-schedule.xml') && n !== '02-schedule.xml')).toBe(true);
    const femur = async (): Promise<{ status: number; json: any }> => hub.api('GET', '/api/v1/lots?material=FG-FEMUR-3&lot=FGLOT-F-3');
    let lot = await femur();
    for (let i = 0; i < 100 && lot.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lot = await femur();
    }
    expect(lot.json).toMatchObject({ status: 'quarantine' });
    fs.renameSync(path.join(inbox, '.qa.xml'), path.join(inbox, '03-qa.xml'));
    for (let i = 0; i < 100 && lot.json.status !== 'rejected'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lot = await femur();
    }
    expect(lot.json.status).toBe('rejected');
  });
});

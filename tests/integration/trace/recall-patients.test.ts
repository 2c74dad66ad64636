/**
 * A recall's patient export for one hospital (`GET /api/v1/recalls/{id}/patients`): the hospital
 * gets its own patients and encounters in clear, nobody else's, and nowhere else are they in clear.
 * Two hospitals implant units of lot L2506A (DFT^P03 over MLLP): St Mary's (MSH-4 STMARY, patient
 * PAT0049211, encounter V-998877, serial S001001) and St Anna (the same message re-addressed:
 * STANNA, patient A-77120, encounter E-5520, serial S001002); a third usage at St Mary's is of
 * another lot, which the recall does not touch.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApiKey } from '../../../src/security/api-keys';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { hl7Fixture, mllpPortOf, mllpSend, parseAck, replaceAll, setHl7Field, waitAllSettled } from '../../helpers/hl7';
import { startTestHub, type TestHub } from '../../helpers/start-hub';

function stAnna(): Buffer {
  let m = hl7Fixture('transport/dft-p03-v282-single-implant.hl7');
  for (const [from, to] of [['STMARY', 'STANNA'], ['PAT0049211', 'A-77120'], ['V-998877', 'E-5520'], ['S001001', 'S001002'], ['ORIS-20260315-001001', 'ORIS-20260316-000077']]) m = replaceAll(m, from, to);
  return m;
}

function otherLotAtStMary(): Buffer {
  let m = hl7Fixture('transport/dft-p03-v282-single-implant.hl7');
  for (const [from, to] of [['L2506A', 'L2507B'], ['S001001', 'S002001'], ['PAT0049211', 'PAT0051234'], ['V-998877', 'V-998999']]) m = replaceAll(m, from, to);
  return setHl7Field(m, 'MSH', 10, 'ORIS-20260317-000500');
}

describe('recall patient export for a hospital', () => {
  let h: TestHub;
  let operator = '';
  let auditor = '';
  let recall: { id: string; recallNumber: string };
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
    operator = (await createApiKey(h.hub.db, { name: 'qa-operator', role: 'operator' })).key;
    auditor = (await createApiKey(h.hub.db, { name: 'ext-auditor', role: 'auditor' })).key;
    const acks = await mllpSend(mllpPortOf(h), [hl7Fixture('transport/dft-p03-v282-single-implant.hl7'), stAnna(), otherLotAtStMary()]);
    expect(acks.map((a) => parseAck(a).code)).toEqual(['AA', 'AA', 'AA']);
    await waitAllSettled(h);
    expect(Number((await h.hub.db('device_usages').count<Array<{ n: string }>>({ n: '*' }))[0].n)).toBe(3);
    const r = await h.api('POST', '/api/v1/recalls', JSON.stringify({ lots: [{ gtin: '04012345000115', lot: 'L2506A' }], reason: 'stem lot L2506A: porosity found', class: 'I' }), { 'content-type': 'application/json' });
    expect(r.status).toBe(201);
    recall = r.json as { id: string; recallNumber: string };
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('St Mary gets its own patient and encounter in clear, only for the recalled lot (JSON)', async () => {
    const r = await h.api('GET', `/api/v1/recalls/${recall.recallNumber}/patients?hospital=STMARY&format=json`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="${recall.recallNumber}-patients-STMARY.json"`);
    const x = r.json as any;
    expect(x.recall).toEqual({ id: recall.id, recallNumber: recall.recallNumber, class: 'I', reason: 'stem lot L2506A: porosity found' });
    expect(x.hospital).toEqual(expect.objectContaining({ code: 'STMARY' }));
    expect(x.usages).toEqual([
      expect.objectContaining({
        lot: 'L2506A', serial: 'S001001', usedAt: '2026-03-15T09:15:00.000Z', location: 'STMARY/OR3', quantity: 1, uom: 'EA',
        patient: 'PAT0049211^STMARY^MR', encounter: 'V-998877^STMARY', procedureRef: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
    expect(r.text).not.toMatch(/A-77120|E-5520|PAT0051234|L2507B/);
  });

  it('St Anna (by code) gets only its own; the CSV has one row per usage', async () => {
    const r = await h.api('GET', `/api/v1/recalls/${recall.id}/patients?hospital=STANNA`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = r.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('recall,hospital,material,lot,serial,usedAt,location,quantity,uom,procedureCode,patient,encounter,procedureRef,usageId');
    expect(lines).toHaveLength(2);
    const json = (await h.api('GET', `/api/v1/recalls/${recall.id}/patients?hospital=STANNA&format=json`)).json as any;
    expect(json.usages).toHaveLength(1);
    const u = json.usages[0];
    expect(lines[1].split(',')).toEqual([
      recall.recallNumber, 'STANNA', 'GTIN-04012345000115', 'L2506A', 'S001002', '2026-03-15T09:15:00.000Z', 'STANNA/OR3', '1', 'EA',
      u.procedureCode ?? '', 'A-77120^STANNA^MR', 'E-5520^STANNA', u.procedureRef, u.usageId,
    ]);
    // the procedure reference is keyed per hospital: the same procedure code elsewhere gives another one
    const stMary = (await h.api('GET', `/api/v1/recalls/${recall.id}/patients?hospital=STMARY&format=json`)).json as any;
    expect(u.procedureRef).not.toBe(stMary.usages[0].procedureRef);
    expect(r.text).not.toMatch(/PAT0049211|V-998877/);
  });

  it('every other answer keeps them masked: recall, impact export, trace, EPCIS', async () => {
    for (const path of [
      `/api/v1/recalls/${recall.id}`, `/api/v1/recalls/${recall.id}/export?format=csv`, `/api/v1/recalls/${recall.id}/export?format=json`,
      '/api/v1/trace/forward?gtin=04012345000115&lot=L2506A', '/api/v1/lots?gtin=04012345000115&lot=L2506A', '/api/v1/epcis/events?gtin=04012345000115&lot=L2506A',
    ]) {
      const r = await h.api('GET', path);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
      expect({ path, leak: /PAT0049211|V-998877|A-77120|E-5520/.exec(r.text)?.[0] ?? null }).toEqual({ path, leak: null });
    }
  });

  it('only an admin may export; bad or unknown hospitals and recalls get clear errors', async () => {
    for (const key of [operator, auditor]) {
      const r = await h.api('GET', `/api/v1/recalls/${recall.id}/patients?hospital=STMARY`, undefined, as(key));
      expect(r.status).toBe(403);
      expect((r.json as any).error.code).toBe('LB_ERR_AUTH_FORBIDDEN');
    }
    const missing = await h.api('GET', `/api/v1/recalls/${recall.id}/patients`);
    expect(missing.status).toBe(400);
    expect((missing.json as any).error.message).toMatch(/hospital/);
    const unknown = await h.api('GET', `/api/v1/recalls/${recall.id}/patients?hospital=${encodeURIComponent("X' OR '1'='1")}`);
    expect(unknown.status).toBe(404);
    expect((unknown.json as any).error).toEqual(expect.objectContaining({ code: 'LB_ERR_API_NOT_FOUND', location: { path: 'hospital' } }));
    const noRecall = await h.api('GET', '/api/v1/recalls/RC-2099-99999/patients?hospital=STMARY');
    expect(noRecall.status).toBe(404);
    expect((noRecall.json as any).error.code).toBe('LB_ERR_RECALL_NOT_FOUND');
  });

  it('`lotbridge recall patients` writes the CSV (or JSON); a non-admin key exits 1 with the code', async () => {
    ensureCompiled('src/cli/main.ts');
    const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'lotbridge.js');
    const run = async (args: string[], key: string): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const r = await promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, LOTBRIDGE_URL: h.url, LOTBRIDGE_API_KEY: key }, timeout: 30_000 });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const csv = await run(['recall', 'patients', recall.recallNumber, '--hospital', 'STMARY'], h.key);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trimEnd().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(',PAT0049211^STMARY^MR,V-998877^STMARY,');
    const json = await run(['recall', 'patients', recall.recallNumber, '--hospital', 'STANNA', '--json', '-'], h.key);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).usages.map((u: { patient: string }) => u.patient)).toEqual(['A-77120^STANNA^MR']);
    const denied = await run(['recall', 'patients', recall.recallNumber, '--hospital', 'STMARY'], operator);
    expect([denied.code, denied.stdout]).toEqual([1, '']);
    expect(denied.stderr).toMatch(/^lotbridge: LB_ERR_AUTH_FORBIDDEN: /);
  }, 60_000);

  it('each export is audited (who, recall, hospital, counts; never an identifier) and the chain stays intact', async () => {
    const rows = await h.hub.db('audit_log').where({ action: 'recall.patients_exported' }).orderBy('seq').select('chain', 'actor', 'entity_id', 'after', 'reason');
    expect(rows.map((a: any) => [a.chain, a.actor, a.entity_id, a.after])).toEqual([
      ['recall', 'admin:bootstrap-admin', recall.id, { recallNumber: recall.recallNumber, hospital: 'STMARY', usages: 1, patients: 1 }],
      ['recall', 'admin:bootstrap-admin', recall.id, { recallNumber: recall.recallNumber, hospital: 'STANNA', usages: 1, patients: 1 }],
      ['recall', 'admin:bootstrap-admin', recall.id, { recallNumber: recall.recallNumber, hospital: 'STANNA', usages: 1, patients: 1 }],
      ['recall', 'admin:bootstrap-admin', recall.id, { recallNumber: recall.recallNumber, hospital: 'STMARY', usages: 1, patients: 1 }],
      // the CLI's two
      ['recall', 'admin:bootstrap-admin', recall.id, { recallNumber: recall.recallNumber, hospital: 'STMARY', usages: 1, patients: 1 }],
      ['recall', 'admin:bootstrap-admin', recall.id, { recallNumber: recall.recallNumber, hospital: 'STANNA', usages: 1, patients: 1 }],
    ]);
    expect(JSON.stringify(rows)).not.toMatch(/PAT0049211|V-998877|A-77120|E-5520/);
    const v = await h.api('GET', '/api/v1/audit/verify');
    expect(v.json).toEqual({ ok: true, rows: expect.any(Number) });
  });
});

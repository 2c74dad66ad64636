import { createApiKey } from '../../../src/security/api-keys';
import { createPhiProtector } from '../../../src/security/phi';
import type { TestHub } from '../../helpers/start-hub';
import { MATERIALS, fixture, seedMaterial, send, startMappingHub, usagesOf } from './mapping-helpers';

/** Every log line the hub writes in this file (the test hub's silent logger, made to keep its lines with the production redaction). */
const mockLogLines: string[] = [];
jest.mock('../../../src/logging/logger', () => {
  const actual = jest.requireActual('../../../src/logging/logger');
  const pino = jest.requireActual('pino');
  return {
    ...actual,
    silentLogger: () =>
      pino({ level: 'trace', redact: { paths: actual.REDACT_PATHS, censor: '[redacted]' } }, { write: (s: string) => void mockLogLines.push(s) }),
  };
});

/**
 * PHI in DFT^P03: PID-3 and PV1-19 only as AES-GCM blobs plus keyed HMACs in device_usages, nowhere
 * else in clear (canonical rows, outbox, audit, logs, the stored raw message); the raw message
 * comes back only through the audited payload route. Fixtures: dft-p03-v282-phi-*.hl7.
 */
describe('HL7 DFT^P03 mapping: patient and encounter identifiers', () => {
  let h: TestHub;
  const db = () => h.hub.db;
  const MRN = 'PAT0049211';
  const ENCOUNTER = 'ENC-2026-005001';
  let visit1: string;
  let visit2: string;
  let otherHospital: string;

  beforeAll(async () => {
    h = await startMappingHub();
    await seedMaterial(h, MATERIALS.knee);
    visit1 = (await send(h, fixture('dft-p03-v282-phi-patient-visit-1.hl7'))).id;
    visit2 = (await send(h, fixture('dft-p03-v282-phi-patient-visit-2.hl7'))).id;
    otherHospital = (await send(h, fixture('dft-p03-v282-phi-same-mrn-other-hospital.hl7'))).id;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('stores patient and encounter encrypted (decryptable with the hub key) and joins a patient by HMAC within one hospital only', async () => {
    const [a] = await usagesOf(db(), visit1);
    const [b] = await usagesOf(db(), visit2);
    const [c] = await usagesOf(db(), otherHospital);
    for (const u of [a, b, c]) {
      expect(u.patient_enc.includes(Buffer.from(MRN))).toBe(false);
      expect(u.encounter_enc.includes(Buffer.from('ENC-2026-'))).toBe(false);
    }
    const phi = createPhiProtector({ dataDir: h.dataDir });
    expect(phi.decryptText(a.patient_enc)).toBe(`${MRN}^STMARY^MR`);
    expect(phi.decryptText(a.encounter_enc)).toBe(`${ENCOUNTER}^STMARY`);
    expect(phi.decryptText(c.patient_enc)).toBe(`${MRN}^STLUKE^MR`);
    expect(a.patient_enc.equals(b.patient_enc)).toBe(false); // random IV: equal text, different blobs

    expect(b.patient_hmac).toBe(a.patient_hmac); // same patient, same hospital: joinable
    expect(b.encounter_hmac).not.toBe(a.encounter_hmac); // another encounter
    expect(c.patient_hmac).not.toBe(a.patient_hmac); // the same MRN text at another hospital is another patient
    expect(c.encounter_hmac).not.toBe(a.encounter_hmac);
    expect(a.patient_hmac).toBe(phi.hmac(`${MRN}^STMARY^MR`, 'PID-3:STMARY'));
    const byPatient = await db()('device_usages').where({ patient_hmac: a.patient_hmac }).orderBy('used_at');
    expect(byPatient.map((u) => u.source_message_id)).toEqual([visit1, visit2]);
  });

  it('the PID-3 and PV1-19 values appear in clear in no table (canonical rows, outbox, audit, the stored message) and in no log line', async () => {
    const tables = (await db()('pg_tables').where({ schemaname: 'public' }).pluck('tablename')) as string[];
    expect(tables).toEqual(expect.arrayContaining(['device_usages', 'trace_events', 'outbox_events', 'audit_log', 'alerts', 'inbound_messages']));
    const needles = [MRN, ENCOUNTER, 'ENC-2026-009876'];
    const hits: string[] = [];
    for (const t of tables) {
      for (const n of needles) {
        // the row as text (bytea columns show as hex, so the hex form of the value is searched too)
        const r = await db().raw(`SELECT count(*)::int AS n FROM "${t}" x WHERE x::text LIKE ? OR x::text LIKE ?`, [`%${n}%`, `%${Buffer.from(n).toString('hex')}%`]);
        if (r.rows[0].n > 0) hits.push(`${t}: ${n}`);
      }
    }
    expect(hits).toEqual([]);
    // the search itself finds what is stored in clear: the serial of visit 1
    const control = await db().raw(`SELECT count(*)::int AS n FROM serials x WHERE x::text LIKE ?`, ['%PK-0001%']);
    expect(control.rows[0].n).toBe(1);
    const stored = await db()('inbound_messages').whereIn('id', [visit1, visit2, otherHospital]);
    expect(stored).toHaveLength(3);
    for (const m of stored) {
      expect(m.envelope.payloadEncryption).toMatch(/^phi:/);
      expect(m.payload.includes(Buffer.from(MRN))).toBe(false);
      expect(m.payload.includes(Buffer.from('Muster'))).toBe(false);
    }
    const view = await h.api('GET', `/api/v1/messages/${visit1}`);
    expect(view.status).toBe(200);
    expect(view.text).not.toContain(MRN);
    expect(view.text).not.toContain(ENCOUNTER);

    expect(mockLogLines.length).toBeGreaterThan(10);
    expect(mockLogLines.filter((l) => needles.some((n) => l.includes(n)))).toEqual([]);
  });

  it('GET /api/v1/messages/{id}/payload gives an operator the original bytes and audits the reveal; an ingest key may not read it', async () => {
    const operator = await createApiKey(db(), { name: 'support-anna', role: 'operator' });
    const ingest = await createApiKey(db(), { name: 'oris-sender', role: 'ingest' });
    const r = await fetch(`${h.url}/api/v1/messages/${visit1}/payload`, { headers: { authorization: `Bearer ${operator.key}` } });
    expect(r.status).toBe(200);
    const body = Buffer.from(await r.arrayBuffer());
    expect(body.equals(fixture('dft-p03-v282-phi-patient-visit-1.hl7'))).toBe(true);
    expect(body.toString('utf8')).toContain(`PID|1||${MRN}^^^STMARY^MR`);
    const reveal = await db()('audit_log').where({ source_message_id: visit1, action: 'message.payload_reveal' });
    expect(reveal).toEqual([expect.objectContaining({ actor: 'api-key:support-anna', entity_type: 'inbound_message', entity_id: visit1, after: { role: 'operator' } })]);

    const denied = await fetch(`${h.url}/api/v1/messages/${visit1}/payload`, { headers: { authorization: `Bearer ${ingest.key}` } });
    expect(denied.status).toBe(403);
    expect(await db()('audit_log').where({ source_message_id: visit1, action: 'message.payload_reveal' })).toHaveLength(1);
  });
});

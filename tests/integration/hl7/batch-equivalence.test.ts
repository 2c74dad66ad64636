import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';

/**
 * The set-based batch path (processBatch → hl7 processMany → applyDftP03Batch) must write what the
 * one-message-at-a-time path writes. The same messages go into two hubs: one maps them all in one
 * batch (intake first, workers started afterwards, so the first batch claims every message), the
 * other one at a time (LOTBRIDGE_PIPELINE_BATCH_MAX=0, each message processed before the next is
 * sent). Their canonical rows, projected onto business keys, must be equal.
 */

const GTIN_KNEE = '09506000134352';
const GTIN_SCREW = '09506000134376';
const GTIN_GAUZE = '09506000134383';

function dft(n: number, ft1s: string[]): string {
  return [
    `MSH|^~\\&|ORIS|STMARYS^0614141000012^GLN|LOTBRIDGE|ACME|2026030110${String(n).padStart(2, '0')}00||DFT^P03^DFT_P03|EQ-${n}|P|2.8.2`,
    `EVN|P03|2026030110${String(n).padStart(2, '0')}00`,
    `PID|1||MRN${700 + (n % 3)}^^^STMARYS^MR||DOE^JANE`,
    `PV1|1|O|OR${1 + (n % 2)}^^^STMARYS||||||||||||||||V${900 + n}`,
    ...ft1s,
  ].join('\r') + '\r';
}

const prt = (gtin: string, lot: string, serial: string | undefined, exp = '270331'): string =>
  `PRT|1|AD||EQUIP^Equipment^HL70912||||||(01)${gtin}(17)${exp}(10)${lot}${serial ? `(21)${serial}` : ''}||||||${gtin}^^2.51.1.1^ISO||20${exp}|${lot}|${serial ?? ''}`;

/** Messages that exercise the batch path's branches: shared lots, two devices under one FT1, a credit, an unlotted supply, a contradiction, non-DFT types. */
function messages(): string[] {
  return [
    dft(1, [`FT1|1|||20260301100000||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LA1', 'SN-1')]),
    dft(2, [`FT1|1|||20260301101000||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LA1', 'SN-2')]),
    dft(3, [
      `FT1|1|||20260301102000||CG|${GTIN_SCREW}^Screw|||2`,
      prt(GTIN_SCREW, 'LS1', 'SC-1'),
      prt(GTIN_SCREW, 'LS1', 'SC-2'),
      `FT1|2|||20260301102000||CG|${GTIN_GAUZE}^Gauze^GTIN|||5`,
    ]),
    dft(4, [`FT1|1|||20260301103000||CD|${GTIN_SCREW}^Screw returned|||1`, prt(GTIN_SCREW, 'LS1', 'SC-2')]),
    // PRT-19 says LB9 while the UDI says LA1: used as the UDI says, flagged
    dft(5, [`FT1|1|||20260301104000||CG|${GTIN_KNEE}^Knee|||1`, `PRT|1|AD||EQUIP^Equipment^HL70912||||||(01)${GTIN_KNEE}(17)270331(10)LA1(21)SN-5||||||${GTIN_KNEE}^^2.51.1.1^ISO||20270331|LB9|SN-5`]),
    dft(6, [`FT1|1|||20260301105000||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LA2', 'SN-6', '280131')]),
    'MSH|^~\\&|ADT|STMARYS|LOTBRIDGE|ACME|20260301110000||ADT^A01^ADT_A01|EQ-ADT|P|2.5.1\rEVN|A01|20260301110000\rPID|1||MRN700^^^STMARYS^MR||DOE^JANE\r',
    dft(8, [`FT1|1|||20260301105500||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LA1', 'SN-8')]),
    // a lot first seen in this batch without an expiry, then with one (filled), then with another (flagged)
    dft(10, [`FT1|1|||20260301110500||CG|${GTIN_KNEE}^Knee|||1`, `PRT|1|AD||EQUIP^Equipment^HL70912||||||(01)${GTIN_KNEE}(10)LN1(21)SN-10||||||${GTIN_KNEE}^^2.51.1.1^ISO|||LN1|SN-10`]),
    dft(11, [`FT1|1|||20260301110600||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LN1', 'SN-11', '280630')]),
    dft(12, [`FT1|1|||20260301110700||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LN1', 'SN-12', '290101')]),
  ];
}

/**
 * A stock count of the knee lot LA1 at OR2 at 10:30, mapped before the HL7 messages: message 1's
 * usage there (10:00) happened before the count, so the count already saw it (the count rules book
 * it and absorb it at the count's time); message 5's (10:40, the UDI's lot LA1) comes after it.
 */
async function countBeforeMessages(h: TestHub): Promise<void> {
  const count = { movementId: 'EQ-COUNT', type: 'count', occurredAt: '2026-03-01T10:30:00Z', location: 'STMARYS/OR2', gtin: GTIN_KNEE, lot: 'LA1', quantity: 3 };
  const run = await processTestMessage(h.hub.db, wmsHandler, { payload: JSON.stringify(count), contentType: 'application/json' });
  expect(run.ok).toBe(true);
}

async function post(h: TestHub, body: string): Promise<string> {
  const r = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body, headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
  expect(r.status).toBe(200);
  const ack = await r.text();
  expect(ack).toMatch(/\rMSA\|AA\|/);
  return r.headers.get('lotbridge-message-id') as string;
}

async function allTerminal(h: TestHub, n: number): Promise<void> {
  const deadline = Date.now() + 30000;
  for (;;) {
    const rows = await h.hub.db('inbound_messages').select('status');
    if (rows.length === n && rows.every((r: { status: string }) => !['received', 'queued'].includes(r.status))) return;
    if (Date.now() > deadline) throw new Error(`messages not terminal: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The canonical rows of a hub, on business keys (no ids, no message ids, no PHI hashes of its own key). */
async function projection(h: TestHub): Promise<Record<string, unknown>> {
  const db = h.hub.db;
  const q = async (sql: string): Promise<unknown[]> => (await db.raw(sql)).rows;
  return {
    messages: await q(`SELECT control_id, status, message_type, error_code FROM inbound_messages ORDER BY control_id`),
    usages: await q(`SELECT m.control_id, split_part(u.source_key, ':', 3) AS ft1, split_part(u.source_key, ':', 4) AS device, mat.code, l.lot_number, s.serial_number,
                            loc.code AS location, u.quantity::float, u.uom, u.used_at, u.transaction_type, u.udi, u.patient_hmac IS NOT NULL AS patient, u.encounter_enc IS NOT NULL AS encounter,
                            u.trace_event_id IS NOT NULL AS has_event
                       FROM device_usages u JOIN inbound_messages m ON m.id = u.source_message_id JOIN materials mat ON mat.id = u.material_id
                       LEFT JOIN lots l ON l.id = u.lot_id LEFT JOIN serials s ON s.id = u.serial_id JOIN locations loc ON loc.id = u.location_id
                      ORDER BY 1, 2, 3`),
    events: await q(`SELECT m.control_id, e.biz_step, e.disposition, e.action, e.event_time, e.event_time_zone_offset, loc.code AS location, e.details,
                            (SELECT json_agg(json_build_object('role', i.role, 'material', mat.code, 'lot', l.lot_number, 'serial', s.serial_number, 'q', i.quantity::float, 'base', i.base_quantity::float, 'uom', i.uom))
                               FROM trace_event_items i JOIN materials mat ON mat.id = i.material_id LEFT JOIN lots l ON l.id = i.lot_id LEFT JOIN serials s ON s.id = i.serial_id WHERE i.event_id = e.id) AS items
                       FROM trace_events e JOIN inbound_messages m ON m.id = e.source_message_id JOIN locations loc ON loc.id = e.location_id
                      ORDER BY e.event_time, m.control_id, split_part(e.source_key, ':', 4)`),
    balances: await q(`SELECT mat.code, l.lot_number, loc.code AS location, b.stock_state, b.quantity::float FROM inventory_balances b JOIN lots l ON l.id = b.lot_id
                       JOIN materials mat ON mat.id = l.material_id JOIN locations loc ON loc.id = b.location_id ORDER BY 1, 2, 3`),
    ledger: await q(`SELECT m.control_id, l.lot_number, loc.code, g.delta::float, g.event_time FROM inventory_ledger g JOIN lots l ON l.id = g.lot_id JOIN locations loc ON loc.id = g.location_id
                     JOIN inbound_messages m ON m.id = g.source_message_id ORDER BY 1, 2, 5`),
    lots: await q(`SELECT mat.code, l.lot_number, l.expiry::text, l.provisional, l.status FROM lots l JOIN materials mat ON mat.id = l.material_id ORDER BY 1, 2`),
    serials: await q(`SELECT mat.code, s.serial_number, l.lot_number FROM serials s JOIN materials mat ON mat.id = s.material_id LEFT JOIN lots l ON l.id = s.lot_id ORDER BY 1, 2`),
    materials: await q(`SELECT code, provisional, base_uom FROM materials ORDER BY code`),
    demand: await q(`SELECT d.kind, mat.code, loc.code AS location, d.quantity::float, d.uom, d.occurred_at FROM demand_history d JOIN materials mat ON mat.id = d.material_id
                     LEFT JOIN locations loc ON loc.id = d.location_id ORDER BY d.occurred_at, 2`),
    alerts: await q(`SELECT type, severity, subject_type, status, regexp_replace(message, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g') AS message FROM alerts ORDER BY 1, 5`),
    outbox: await q(`SELECT type, count(*)::int FROM outbox_events GROUP BY type ORDER BY type`),
    audit: await q(`SELECT action, count(*)::int FROM audit_log WHERE chain LIKE 'pipeline:%' GROUP BY action ORDER BY action`),
  };
}

describe('HL7 DFT^P03 mapped set-based in one batch = one message at a time', () => {
  let batched: Record<string, unknown>;
  let single: Record<string, unknown>;
  let batchTransactions = 0;

  beforeAll(async () => {
    // one worker slot: the first job's transaction claims every queued message
    const a = await startTestHub({ workers: false, env: { LOTBRIDGE_PIPELINE_BATCH_MAX: '200', LOTBRIDGE_MLLP_PORT: '0', LOTBRIDGE_WORKER_CONCURRENCY: '1' } });
    try {
      await countBeforeMessages(a);
      for (const m of messages()) await post(a, m);
      await a.hub.pipeline.startWorkers();
      await allTerminal(a, messages().length + 1);
      // the status update of a batch is one statement: its rows share the transaction id
      batchTransactions = Number((await a.hub.db.raw(`SELECT count(DISTINCT xmin::text) AS n FROM inbound_messages WHERE status IN ('processed','routed') AND connector_kind = 'hl7'`)).rows[0].n);
      batched = await projection(a);
    } finally {
      await a.stop();
    }
    const b = await startTestHub({ env: { LOTBRIDGE_PIPELINE_BATCH_MAX: '0', LOTBRIDGE_MLLP_PORT: '0' } });
    try {
      await countBeforeMessages(b);
      let n = 1;
      for (const m of messages()) {
        const id = await post(b, m);
        n++;
        await b.waitForStatus(id);
        await allTerminal(b, n);
      }
      single = await projection(b);
    } finally {
      await b.stop();
    }
  }, 120000);

  it('maps the batch in one transaction', () => {
    expect(batchTransactions).toBe(1);
  });

  it('writes the same usages, events, stock, lots, serials, demand, alerts, outbox events and audit rows', () => {
    for (const k of Object.keys(single)) {
      expect({ [k]: batched[k] }).toEqual({ [k]: single[k] });
    }
    // and the messages really did map: usages, a credit, an unlotted supply, a contradiction
    expect((single.usages as unknown[]).length).toBe(12);
    // the count of LA1 at OR2 (3 at 10:30) saw message 1's usage (10:00): booked and absorbed at the
    // count's time; message 5's (10:40) comes after the count
    const la1AtOr2 = (single.ledger as Array<{ control_id: string | null; lot_number: string; code: string; delta: number; event_time: Date }>)
      .filter((r) => r.lot_number === 'LA1' && r.code === 'STMARYS/OR2')
      .map((r) => [r.control_id, r.delta, new Date(r.event_time).toISOString()]);
    expect(la1AtOr2).toEqual(expect.arrayContaining([
      ['EQ-1', -1, '2026-03-01T10:00:00.000Z'], ['EQ-1', 1, '2026-03-01T10:30:00.000Z'], ['EQ-5', -1, '2026-03-01T10:40:00.000Z'],
    ]));
    expect(single.balances).toContainEqual({ code: `GTIN-${GTIN_KNEE}`, lot_number: 'LA1', location: 'STMARYS/OR2', stock_state: 'finished', quantity: 2 });
    expect(single.lots).toContainEqual({ code: `GTIN-${GTIN_KNEE}`, lot_number: 'LN1', expiry: '2028-06-30', provisional: true, status: 'released' });
    expect(single.balances).toContainEqual({ code: `GTIN-${GTIN_SCREW}`, lot_number: 'LS1', location: 'STMARYS/OR2', stock_state: 'finished', quantity: -2 });
    expect(single.balances).toContainEqual({ code: `GTIN-${GTIN_SCREW}`, lot_number: 'LS1', location: 'STMARYS/OR1', stock_state: 'finished', quantity: 1 });
    expect((single.alerts as Array<{ type: string }>).map((a) => a.type)).toContain('udi_mismatch');
  });

  it('rejects a bad message of a batch on its own and maps the others', async () => {
    const h = await startTestHub({ workers: false, env: { LOTBRIDGE_PIPELINE_BATCH_MAX: '200', LOTBRIDGE_MLLP_PORT: '0', LOTBRIDGE_WORKER_CONCURRENCY: '1' } });
    try {
      const good = messages().slice(0, 4);
      // 10:60:00 is no time of day: found while the batch is mapped, so the batch falls back to one transaction per message
      const bad = dft(9, [`FT1|1|||20260301106000||CG|${GTIN_KNEE}^Knee|||1`, prt(GTIN_KNEE, 'LA1', 'SN-9')]);
      for (const m of [...good.slice(0, 2), bad, ...good.slice(2)]) await post(h, m);
      await h.hub.pipeline.startWorkers();
      await allTerminal(h, 5);
      const rows = await h.hub.db('inbound_messages').orderBy('control_id').select('control_id', 'status', 'error_code', 'error_location');
      expect(rows.map((r: { control_id: string; status: string }) => [r.control_id, r.status])).toEqual([
        ['EQ-1', 'processed'], ['EQ-2', 'processed'], ['EQ-3', 'processed'], ['EQ-4', 'processed'], ['EQ-9', 'rejected'],
      ]);
      expect(rows[4]).toMatchObject({ error_code: 'LB_ERR_HL7_DATE', error_location: { segment: 'FT1', field: '4' } });
      expect(Number((await h.hub.db('device_usages').count<Array<{ count: string }>>('* as count'))[0].count)).toBe(6);
    } finally {
      await h.stop();
    }
  });
});

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildServer } from '../src/api/server';
import { HubMetrics } from '../src/api/metrics';
import { loadConfig } from '../src/config/config';
import type { IngestPort } from '../src/connectors/types';
import { createDb, dropDatabase, ensureDatabase, splitDatabaseUrl, type Db } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrations';
import { silentLogger } from '../src/logging/logger';
import { createUser } from '../src/security/api-keys';
import { searchMessages, type MessageSearch } from '../src/console/search';
import { percentile, type BenchResult } from './bench-result';

export interface ConsoleBenchOptions {
  /** PostgreSQL server URL (a database of its own is created and dropped). */
  serverUrl: string;
  /** Stored messages to seed (default 1,000,000). */
  messages: number;
  /** Timed requests per search case. */
  iterations: number;
}

const CONNECTORS = [
  // connector, kind, format, types, weight (of 100)
  ['wms', 'wms', 'json', ['movement', 'count', 'batch'], 40],
  ['hl7', 'hl7', 'hl7v2', ['DFT^P03', 'OMS^O05', 'MFN^M16', 'ADT^A08'], 30],
  ['hl7-mllp', 'hl7', 'hl7v2', ['DFT^P03', 'ADT^A01'], 10],
  ['x12', 'x12', 'x12', ['856', '850', '810'], 10],
  ['edifact', 'edifact', 'edifact', ['DESADV', 'ORDERS'], 5],
  ['mes', 'mes-b2mml', 'b2mml', ['MaterialLot', 'ProductionPerformance'], 5],
] as const;
const ERROR_CODES = ['LB_ERR_WMS_JSON_SYNTAX', 'LB_ERR_WMS_QUANTITY', 'LB_ERR_HL7_REQUIRED_FIELD', 'LB_ERR_HL7_ITEM_UNIDENTIFIED', 'LB_ERR_GS1_CHECK_DIGIT', 'LB_ERR_PIPELINE_ATTEMPTS_EXHAUSTED'];
const SENDERS = 60;
const LOTS = 20000;

/**
 * Seeds `n` messages over the last 120 days (month partitions), with the mix a hub sees: six
 * connectors, 60 senders, ~90% processed, 3% rejected, 1% failed, duplicates and routed ones,
 * ~300-byte payloads; plus 20,000 lots and trace events linking every fifth WMS message to a lot.
 * Ids are uuidv7 made from each message's receipt time, as intake makes them.
 */
async function seed(db: Db, n: number): Promise<{ first: Date; last: Date }> {
  const last = new Date();
  const first = new Date(last.getTime() - 120 * 24 * 3600_000);
  for (let t = first.getTime(); t <= last.getTime() + 31 * 24 * 3600_000; t += 28 * 24 * 3600_000) {
    await db.raw('SELECT lotbridge_ensure_message_partition(?)', [new Date(t)]);
  }
  const conn = CONNECTORS.flatMap(([id, kind, format, types, w]) => Array.from({ length: w }, () => ({ id, kind, format, types: types as readonly string[] })));
  const connId = `(ARRAY[${conn.map((c) => `'${c.id}'`).join(',')}])[1 + (i % 100)]`;
  const connKind = `(ARRAY[${conn.map((c) => `'${c.kind}'`).join(',')}])[1 + (i % 100)]`;
  const connFormat = `(ARRAY[${conn.map((c) => `'${c.format}'`).join(',')}])[1 + (i % 100)]`;
  const types = `(ARRAY[${conn.map((c) => `'${c.types[0]}'`).join(',')}])[1 + (i % 100)]`;
  const altTypes = `(ARRAY[${conn.map((c) => `'${c.types[c.types.length - 1]}'`).join(',')}])[1 + (i % 100)]`;
  const errs = `(ARRAY[${ERROR_CODES.map((e) => `'${e}'`).join(',')}])[1 + (i / 7) % ${ERROR_CODES.length}]`;
  const chunk = 100_000;
  for (let from = 1; from <= n; from += chunk) {
    const to = Math.min(n, from + chunk - 1);
    await db.raw(
      `WITH g AS (
         SELECT i, ?::timestamptz + ((i - 1) * (? / ?::float8)) * interval '1 millisecond' AS ts, md5(i::text) AS h
           FROM generate_series(?::int, ?::int) AS i
       ), r AS (
         SELECT i, ts, h, (floor(extract(epoch FROM ts) * 1000))::bigint AS ms,
                CASE WHEN i % 100 < 90 THEN 'processed' WHEN i % 100 < 93 THEN 'rejected' WHEN i % 100 < 94 THEN 'failed'
                     WHEN i % 100 < 97 THEN 'duplicate' ELSE 'routed' END AS status
           FROM g
       )
       INSERT INTO inbound_messages (id, connector_id, connector_kind, format, transport, message_type, sender, receiver, control_id,
         dedup_key, sha256, size_bytes, payload, content_type, envelope, received_at, status, attempts, error_code, error_message,
         error_location, processed_at)
       SELECT (substr(lpad(to_hex(ms), 12, '0'), 1, 8) || '-' || substr(lpad(to_hex(ms), 12, '0'), 9, 4) || '-7' || substr(h, 1, 3) || '-8' || substr(h, 4, 3) || '-' || substr(h, 7, 12))::uuid,
              ${connId}, ${connKind}, ${connFormat}, CASE WHEN i % 3 = 0 THEN 'mllp' ELSE 'http' END,
              CASE WHEN i % 5 = 0 THEN ${altTypes} ELSE ${types} END,
              'SENDER-' || lpad((i % ${SENDERS})::text, 3, '0'), 'LOTBRIDGE',
              'CTL-' || lpad(i::text, 9, '0'),
              'bench:' || i, h || h, 300, convert_to(repeat('{"bench":' || i || ',"pad":"' || h || '"}', 6), 'UTF8'), 'application/json', '{}'::jsonb,
              ts, status, 1,
              CASE WHEN status IN ('rejected', 'failed') THEN ${errs} END,
              CASE WHEN status IN ('rejected', 'failed') THEN 'bench error of message ' || i END,
              CASE WHEN status IN ('rejected', 'failed') THEN jsonb_build_object('line', 1 + i % 9) END,
              CASE WHEN status = 'failed' THEN NULL ELSE ts + interval '40 milliseconds' END
         FROM r`,
      [first, last.getTime() - first.getTime(), n, from, to],
    );
  }
  // lineage: one material, 20,000 lots, a trace event for every fifth WMS message
  const materialId = '0195f1c2-0000-7000-8000-000000000001';
  await db('materials').insert({ id: materialId, code: 'BENCH-IMPLANT' });
  await db('material_identifiers').insert({ material_id: materialId, scheme: 'gtin', value: '09506000134352' });
  await db.raw(
    `INSERT INTO lots (id, material_id, lot_number)
     SELECT ('0195f1c2-0001-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, ?, 'BL-' || lpad(i::text, 6, '0') FROM generate_series(1, ?) AS i`,
    [materialId, LOTS],
  );
  await db.raw(
    `WITH m AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM inbound_messages WHERE connector_id = 'wms' AND status = 'processed')
     , e AS (
       INSERT INTO trace_events (id, type, action, biz_step, event_time, source_message_id, ordinal)
       SELECT ('0195f1c2-0002-7000-8000-' || lpad(to_hex(k), 12, '0'))::uuid, 'ObjectEvent', 'ADD', 'receiving', now(), id, 0 FROM m WHERE k % 5 = 0
       RETURNING id, source_message_id
     )
     INSERT INTO trace_event_items (event_id, role, material_id, lot_id, quantity, uom)
     SELECT e.id, 'subject', ?, ('0195f1c2-0001-7000-8000-' || lpad(to_hex(1 + (abs(hashtext(e.id::text)) % ?)), 12, '0'))::uuid, 1, 'EA' FROM e`,
    [materialId, LOTS],
  );
  await db.raw('ANALYZE');
  return { first, last };
}

function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(Math.random() * xs.length)];
}

/**
 * The console's message search on a store of 1,000,000 messages: p50/p95 of each kind of search
 * (full HTTP page with rendering, and the query alone), against a primary-key lookup measured in the
 * same run. Target: every search page p95 ≤ 200 ms.
 */
export async function runConsoleBench(opts: ConsoleBenchOptions): Promise<BenchResult[]> {
  const { adminUrl } = splitDatabaseUrl(opts.serverUrl);
  const u = new URL(adminUrl);
  u.pathname = `/lotbridge_bench_console_${randomBytes(4).toString('hex')}`;
  const url = u.toString();
  await ensureDatabase(url);
  const db = createDb({ url, poolMax: 8 });
  try {
    await migrateLatest(db);
    const t0 = performance.now();
    const { first, last } = await seed(db, opts.messages);
    const seedSeconds = Math.round(performance.now() - t0) / 1000;
    const total = Number((await db('inbound_messages').count<Array<{ count: string }>>('* as count'))[0].count);

    const notHere = (): Promise<never> => Promise.reject(new Error('no intake in the console bench'));
    const ingest: IngestPort = { receive: notHere, recordAck: notHere, ackOf: notHere, awaitVerdict: notHere };
    const app = buildServer({
      db, config: loadConfig({ DATABASE_URL: url }), logger: silentLogger(), connectors: new Map(), ingest, metrics: new HubMetrics(),
      runtime: { databaseEmbedded: false, queueBackend: 'postgres', queueReason: 'bench' }, isAccepting: () => true,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      await createUser(db, { username: 'bench', role: 'operator', password: 'bench-password' });
      const login = await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=bench&password=bench-password' });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];

      const ids = ((await db.raw<{ rows: Array<{ id: string }> }>('SELECT id FROM inbound_messages TABLESAMPLE SYSTEM (0.5) LIMIT 2000')).rows).map((r) => r.id);
      const span = last.getTime() - first.getTime();
      const day = 24 * 3600_000;
      const randomTime = (): number => first.getTime() + Math.random() * (span - day);
      const connectors = CONNECTORS.map((c) => c[0]);
      const cases: Array<[string, () => MessageSearch & { before?: string }]> = [
        ['newest (no filter)', () => ({})],
        ['by id', () => ({ id: pick(ids) })],
        ['connector', () => ({ connector: pick(connectors) })],
        ['status=failed', () => ({ status: 'failed' })],
        ['status=rejected + connector', () => ({ status: 'rejected', connector: pick(['wms', 'hl7']) })],
        ['message type', () => ({ type: pick(['DFT^P03', 'movement', '856', 'DESADV']) })],
        ['sender', () => ({ sender: `SENDER-${String(Math.floor(Math.random() * SENDERS)).padStart(3, '0')}` })],
        ['control number (exact)', () => ({ control: `CTL-${String(1 + Math.floor(Math.random() * opts.messages)).padStart(9, '0')}` })],
        ['control number (prefix*)', () => ({ control: `CTL-${String(Math.floor(Math.random() * (opts.messages / 1000))).padStart(6, '0')}*` })],
        ['error code', () => ({ error: pick(ERROR_CODES) })],
        ['time range (1 day)', () => { const t = randomTime(); return { from: new Date(t).toISOString(), to: new Date(t + day).toISOString() }; }],
        ['time range + connector + status', () => { const t = randomTime(); return { from: new Date(t).toISOString(), to: new Date(t + 7 * day).toISOString(), connector: pick(connectors), status: 'rejected' }; }],
        ['lot (lineage)', () => ({ lot: `BL-${String(1 + Math.floor(Math.random() * LOTS)).padStart(6, '0')}` })],
        ['deep page (cursor)', () => ({ before: pick(ids) })],
        ['deep page + connector', () => ({ connector: pick(connectors), before: pick(ids) })],
      ];

      const time = async (f: () => Promise<unknown>): Promise<number[]> => {
        for (let i = 0; i < 5; i++) await f(); // warm-up
        const out: number[] = [];
        for (let i = 0; i < opts.iterations; i++) {
          const s = performance.now();
          await f();
          out.push(performance.now() - s);
        }
        return out.sort((a, b) => a - b);
      };
      const r2 = (x: number): number => Math.round(x * 100) / 100;

      // baseline: a primary-key lookup of a stored message (the row without its payload), same pool, same run
      const pk = await time(() => db('inbound_messages').where({ id: pick(ids) }).first('id', 'status', 'connector_id', 'received_at'));
      const pkHttp = await time(async () => {
        const res = await fetch(`${base}/console?id=${pick(ids)}`, { headers: { cookie, accept: 'application/json' } });
        await res.text();
      });
      const figures: Record<string, number> = {};
      let worstPage = 0;
      let worstQuery = 0;
      for (const [name, make] of cases) {
        const query = await time(() => { const { before, ...s } = make(); return searchMessages(db, s, { before, limit: 50 }); });
        const page = await time(async () => {
          const q = make();
          const res = await fetch(`${base}/console?${new URLSearchParams(Object.entries(q) as Array<[string, string]>).toString()}`, { headers: { cookie, accept: 'text/html' } });
          if (res.status !== 200) throw new Error(`console search "${name}" answered ${res.status}`);
          await res.text();
        });
        figures[`${name}: page p95 ms`] = r2(percentile(page, 95));
        figures[`${name}: query p95 ms`] = r2(percentile(query, 95));
        worstPage = Math.max(worstPage, percentile(page, 95));
        worstQuery = Math.max(worstQuery, percentile(query, 95));
      }
      const pkP95 = percentile(pk, 95);
      return [
        {
          name: `console message search on ${total.toLocaleString('en')} messages: worst search p95 vs primary-key lookup`,
          figures: { messages: total, seedSeconds, iterationsPerCase: opts.iterations, worstQueryP95Ms: r2(worstQuery), worstPageP95Ms: r2(worstPage), ...figures },
          baseline: { pkLookupP50Ms: r2(percentile(pk, 50)), pkLookupP95Ms: r2(pkP95), pkPageByIdP95Ms: r2(percentile(pkHttp, 95)) },
          ratio: Number((worstQuery / pkP95).toFixed(2)),
          target: 0,
          lowerIsBetter: true,
          pass: true,
          notes: 'reported: ratio = worst search query p95 / primary-key lookup p95 (query = searchMessages, 50 rows; page = GET /console rendered HTML over HTTP with a session)',
        },
        {
          name: 'console search page p95 ≤ 200 ms',
          figures: { worstPageP95Ms: r2(worstPage) },
          baseline: { targetP95Ms: 200, pkLookupP95Ms: r2(pkP95) },
          ratio: Number((worstPage / 200).toFixed(3)),
          target: 1,
          lowerIsBetter: true,
          pass: worstPage <= 200,
          notes: 'every search case (15 kinds, random values each request) as a full page: ratio = worst page p95 / 200 ms',
        },
      ];
    } finally {
      await app.close();
    }
  } finally {
    await db.destroy();
    await dropDatabase(url);
  }
}

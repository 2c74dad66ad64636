import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { BenchResult } from './bench-result';
import { startHttpClient } from './http-client-worker';
import { deleteRedisPrefix, percentile, sleep } from './bench-result';
import { loadGenerator } from './pipeline.bench';
import { startHub } from '../src/hub';
import { createDb, dropDatabase, ensureDatabase, type Db } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrations';
import { gs1CheckDigit } from '../src/model/master-data/gs1-keys';
import { buildServer } from '../src/api/server';
import { HubMetrics } from '../src/api/metrics';
import { loadConfig } from '../src/config/config';
import { silentLogger } from '../src/logging/logger';
import { createApiKey } from '../src/security/api-keys';
import { anchorAuditChains } from '../src/audit/anchor-audit-chains';
import { verifyAuditLog } from '../src/audit/verify-audit-log';
import { walkGenealogy } from '../src/trace/genealogy';
import type { IngestPort } from '../src/connectors/types';

/** Options of {@link runTraceBench} (env names in bench/run.ts). */
export interface TraceBenchOptions {
  /** PostgreSQL server URL; the bench creates and drops a database of its own. */
  serverUrl: string;
  /** Lots in the generated graph (issue: 100,000). */
  lots: number;
  /** Trace events (issue: 1,000,000). */
  events: number;
  /** Largest number of customers one distribution lot ships to (issue: 500). */
  fanout: number;
  /** Lots traced forward and backward for the p99 (issue: 1,000). */
  samples: number;
  /** Typical recalls timed (each on another lot). */
  recalls: number;
  /** Redis URL of the hub that runs beside the audit appends (its queue prefix is the bench's own, deleted after). */
  redisUrl: string;
  /** Seconds of sustained audit appends. */
  auditSeconds: number;
  /** Rows in audit_log when `audit verify` is timed (issue: 1,000,000). */
  verifyRows: number;
  /** Skip the graph, trace and recall part: only audit append and verify. */
  skipTrace?: boolean;
  keep?: boolean;
}

/**
 * Share of the lots per genealogy level: raw → component → sub-assembly → device → sterile pack →
 * kit → distribution unit. Six levels of links (the depth up to 6).
 */
const LEVEL_SHARE = [0.02, 0.08, 0.15, 0.25, 0.25, 0.15, 0.1];
const MATERIALS_PER_LEVEL = [20, 60, 80, 120, 120, 60, 40];
const KIND = ['raw', 'component', 'component', 'implant', 'finished', 'finished', 'finished'];
const STATE = ['raw', 'component', 'wip', 'finished', 'finished', 'finished', 'finished'];
/** Customers (hospitals and distributors) and warehouse locations. */
const CUSTOMERS = 2000;
const LOCATIONS = 200;

function gtinFor(n: number): string {
  const body = `0950601${String(n).padStart(6, '0')}`;
  return body + String(gs1CheckDigit(body));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const r2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * Builds the graph in SQL (deterministic: setseed). Genealogy with time locality — a lot of level k
 * made at time t (its index / level size) takes 2–4 inputs from level k-1 made shortly before it
 * (a window of 0.2% of the timeline), sometimes a shared component from level k-2; 40 long-lived
 * bulk raw lots (a resin, a bar stock) go into 30% of the components and sub-assemblies made in
 * their 5% of the timeline: the largest raw lots. Distribution lots ship to 1–`fanout` customers
 * (skewed: most to a few, some to `fanout`). Events: a TransformationEvent per made lot, a receipt
 * per raw lot, a shipping ObjectEvent per shipment line, hospital usages (TransactionEvents +
 * device_usages), and storing/picking ObjectEvents up to `events`.
 */
async function generate(db: Db, o: TraceBenchOptions, log: (m: string) => void): Promise<{ levels: number[] }> {
  const levels = LEVEL_SHARE.map((s) => Math.max(10, Math.round(o.lots * s)));
  await db.raw('SELECT setseed(0.20260301)');
  // ids as the hub makes them: UUIDv7 (src/model/lots/find-or-create-lot.ts and the other writers use
  // uuid's v7), whose first 48 bits are the creation time in ms, so rows made close in time have
  // close ids; here the time is each row's business time (when a running hub would have made it),
  // with random bits after it. Random v4 ids (gen_random_uuid) would scatter a trace's lots over
  // every index by lot id, which no hub database looks like.
  await db.raw(`CREATE FUNCTION bench_uuid7(at timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
      substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid $$`);
  // materials
  const mats: Array<{ id: string; level: number; m: number; code: string; gtin: string | null }> = [];
  let n = 0;
  for (let k = 0; k < levels.length; k++) {
    for (let m = 0; m < MATERIALS_PER_LEVEL[k]; m++) {
      n++;
      mats.push({ id: '', level: k, m, code: `B${k}-M${String(m).padStart(3, '0')}`, gtin: k >= 3 ? gtinFor(n) : null });
    }
  }
  await db.raw(`CREATE UNLOGGED TABLE bench_mat (level int, m int, id uuid, PRIMARY KEY (level, m))`);
  for (const [i, x] of mats.entries()) {
    const [row] = await db('materials').insert({ id: db.raw(`bench_uuid7(timestamptz '2024-12-01' + interval '1 second' * ?::int)`, [i]), code: x.code, description: `bench ${x.code}`, kind: KIND[x.level], base_uom: x.level === 0 ? 'KG' : 'EA' }).returning<Array<{ id: string }>>('id');
    x.id = row.id;
    await db('material_identifiers').insert({ material_id: x.id, scheme: 'internal', value: x.code });
    if (x.gtin) await db('material_identifiers').insert({ material_id: x.id, scheme: 'gtin', value: x.gtin });
    await db('bench_mat').insert({ level: x.level, m: x.m, id: x.id });
  }
  // parties and locations
  await db.raw(`INSERT INTO parties (id, code, gln, name, role)
    SELECT bench_uuid7(timestamptz '2024-12-02' + interval '1 second' * i), 'C' || lpad(i::text, 5, '0'), NULL, 'Customer ' || i, CASE WHEN i % 3 = 0 THEN 'distributor' ELSE 'hospital' END FROM generate_series(1, ${CUSTOMERS}) i`);
  await db.raw(`INSERT INTO parties (id, code, name, role) SELECT bench_uuid7(timestamptz '2024-12-03' + interval '1 second' * i), 'S' || i, 'Supplier ' || i, 'supplier' FROM generate_series(1, 20) i`);
  await db.raw(`INSERT INTO locations (id, code, name, kind) SELECT bench_uuid7(timestamptz '2024-12-04' + interval '1 second' * i), 'WH-' || lpad(i::text, 3, '0'), 'Warehouse bin ' || i, 'bin' FROM generate_series(1, ${LOCATIONS}) i`);
  await db.raw(`INSERT INTO locations (id, code, name, kind, party_id) SELECT bench_uuid7(timestamptz '2024-12-05' + interval '1 second' * row_number() OVER (ORDER BY p.code)), 'OR-' || p.code, 'OR of ' || p.name, 'operating_room', p.id FROM parties p WHERE p.role = 'hospital'`);
  await db.raw(`CREATE UNLOGGED TABLE bench_party AS SELECT row_number() OVER (ORDER BY code) - 1 AS i, id FROM parties WHERE code LIKE 'C%'`);
  await db.raw(`CREATE UNLOGGED TABLE bench_hosp AS SELECT row_number() OVER (ORDER BY p.code) - 1 AS i, p.id, l.id AS location_id FROM parties p JOIN locations l ON l.party_id = p.id`);
  await db.raw(`CREATE UNLOGGED TABLE bench_loc AS SELECT row_number() OVER (ORDER BY code) - 1 AS i, id FROM locations WHERE code LIKE 'WH-%'`);
  log(`materials ${mats.length}, customers ${CUSTOMERS}, locations ${LOCATIONS}`);

  // lots
  await db.raw(`CREATE UNLOGGED TABLE bench_lot (level int, idx int, id uuid, material_id uuid, PRIMARY KEY (level, idx))`);
  for (let k = 0; k < levels.length; k++) {
    // made at its place in the timeline (400 days; a level's lots spread over it, as the genealogy's
    // time locality has them), an hour per level after its inputs
    await db.raw(`INSERT INTO bench_lot SELECT ${k}, i, bench_uuid7(timestamptz '2025-01-01' + interval '400 days' * (i::float8 / ${levels[k]}) + interval '1 hour' * ${k}), bm.id FROM generate_series(0, ${levels[k] - 1}) i JOIN bench_mat bm ON bm.level = ${k} AND bm.m = i % ${MATERIALS_PER_LEVEL[k]}`);
  }
  await db.raw(`CREATE INDEX ON bench_lot (id)`);
  const msg = (k: number): string => `00000000-0000-7000-8000-${String(k).padStart(12, '0')}`;
  await db.raw(`INSERT INTO lots (id, material_id, lot_number, status, expiry, manufactured_at, source_message_id, ordinal)
    SELECT id, material_id, 'L' || level || '-' || lpad(idx::text, 6, '0'), 'released', date '2027-01-01' + (idx % 900), date '2025-01-01' + (idx % 400), '${msg(1)}', row_number() OVER (ORDER BY id)
      FROM bench_lot ORDER BY id`); // in the order they are made (a hub adds them as they are reported)
  log(`lots ${levels.reduce((a, b) => a + b, 0)} (${levels.join(' / ')})`);

  // genealogy
  await db.raw(`CREATE UNLOGGED TABLE bench_link (input uuid, output uuid, quantity numeric, msg uuid)`);
  for (let k = 1; k < levels.length; k++) {
    const prev = levels[k - 1];
    const win = Math.max(2, Math.round(prev * 0.002));
    const parts = [
      `SELECT o.id AS output, ${k - 1} AS il, greatest(0, least(${prev - 1}, floor(o.idx::float8 / ${levels[k]} * ${prev})::int - floor(random() * ${win})::int)) AS pick
         FROM bench_lot o CROSS JOIN LATERAL generate_series(1, 2 + (o.idx % 3)) g WHERE o.level = ${k}`,
    ];
    if (k >= 2) {
      const pp = levels[k - 2];
      parts.push(`SELECT o.id, ${k - 2}, greatest(0, least(${pp - 1}, floor(o.idx::float8 / ${levels[k]} * ${pp})::int - floor(random() * ${Math.max(2, Math.round(pp * 0.002))})::int))
         FROM bench_lot o WHERE o.level = ${k} AND random() < 0.15`);
    }
    if (k <= 2) {
      // bulk raw lots: every 50th raw lot, used over 5% of the timeline
      const bulk = Math.max(1, Math.floor(levels[0] / 50));
      parts.push(`SELECT o.id, 0, least(${bulk - 1}, greatest(0, floor(o.idx::float8 / ${levels[k]} * ${bulk})::int - floor(random() * 2)::int)) * 50
         FROM bench_lot o WHERE o.level = ${k} AND random() < 0.3`);
    }
    await db.raw(`INSERT INTO bench_link SELECT i.id, x.output, 1 + floor(random() * 20), '${msg(10 + k)}'
        FROM (${parts.join(' UNION ALL ')}) x JOIN bench_lot i ON i.level = x.il AND i.idx = x.pick`);
  }
  // written in the order the lots they make are made (a production report brings its consumed lots)
  await db.raw(`INSERT INTO lot_links (input_lot_id, output_lot_id, quantity, uom, source_message_id, ordinal)
    SELECT input, output, quantity, 'EA', msg, row_number() OVER (PARTITION BY msg ORDER BY output, input)
      FROM bench_link ORDER BY output, input`);
  const links = Number((await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*) AS n FROM lot_links')).rows[0].n);
  log(`lot_links ${links}`);

  // stock, QC, inbound shipments of raw lots
  await db.raw(`INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity)
    SELECT DISTINCT ON (b.id, l.id, st) b.id, l.id, st, 1 + floor(random() * 200)
      FROM bench_lot b CROSS JOIN LATERAL generate_series(1, CASE WHEN b.idx % 3 = 0 THEN 2 ELSE 1 END) g
      JOIN bench_loc l ON l.i = (b.idx * 7 + g * 13) % ${LOCATIONS}
      CROSS JOIN LATERAL (SELECT (ARRAY['${STATE.join("','")}'])[b.level + 1] AS st) s`);
  await db.raw(`INSERT INTO quality_results (id, lot_id, test_code, test_name, result, value, disposition, inspected_at, source_message_id, ordinal)
    SELECT gen_random_uuid(), b.id, t.code, t.code || ' test', CASE WHEN random() < 0.02 THEN 'fail' ELSE 'pass' END, (random() * 100)::numeric(6,2)::text, 'accept',
           timestamptz '2025-01-01' + (b.idx || ' hours')::interval, '${msg(30)}', row_number() OVER ()
      FROM bench_lot b CROSS JOIN (VALUES ('TENSILE'), ('DIM')) t(code) WHERE b.level <= 1`);
  await db.raw(`INSERT INTO shipments (id, shipment_number, direction, from_party_id, status, shipped_at, delivered_at, source_message_id, ordinal)
    SELECT bench_uuid7(timestamptz '2025-01-01' + (i || ' hours')::interval), 'IN-' || lpad(i::text, 6, '0'), 'inbound', (SELECT id FROM parties WHERE code = 'S' || (1 + i % 20)), 'received',
           timestamptz '2025-01-01' + (i || ' hours')::interval, timestamptz '2025-01-02' + (i || ' hours')::interval, '${msg(40)}', i
      FROM generate_series(1, ${levels[0]}) i`);
  await db.raw(`INSERT INTO shipment_lines (shipment_id, line_no, material_id, lot_id, quantity_shipped, quantity_received, uom, source_message_id, ordinal)
    SELECT s.id, 1, b.material_id, b.id, 500, 500, 'KG', '${msg(41)}', b.idx + 1
      FROM bench_lot b JOIN shipments s ON s.shipment_number = 'IN-' || lpad((b.idx + 1)::text, 6, '0') WHERE b.level = 0`);

  // outbound: distribution lots (last level) ship to 1..fanout customers
  const top = levels.length - 1;
  await db.raw(`CREATE UNLOGGED TABLE bench_ship AS
    SELECT b.id AS lot_id, b.material_id, b.idx, g AS n, (b.idx * 31 + g * 97) % ${CUSTOMERS} AS cust
      FROM bench_lot b CROSS JOIN LATERAL generate_series(1, 1 + floor(${o.fanout - 1} * power(random() + 0 * b.idx, 8))::int) g WHERE b.level = ${top}`);
  const shipLines = Number((await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*) AS n FROM bench_ship')).rows[0].n);
  const shipments = Math.max(1, Math.floor(shipLines / 8));
  await db.raw(`INSERT INTO shipments (id, shipment_number, direction, to_party_id, ship_to, status, shipped_at, expected_at, delivered_at, source_message_id, ordinal)
    SELECT bench_uuid7(timestamptz '2025-03-01' + (gs.n || ' minutes')::interval), 'OUT-' || lpad(gs.n::text, 7, '0'), 'outbound', p.id, 'C' || lpad((gs.n % ${CUSTOMERS} + 1)::text, 5, '0'),
           CASE WHEN gs.n % 100 = 0 THEN 'planned' WHEN gs.n % 25 = 0 THEN 'in_transit' WHEN gs.n % 20 = 0 THEN 'shipped' ELSE 'delivered' END,
           timestamptz '2025-03-01' + (gs.n || ' minutes')::interval, timestamptz '2025-03-03' + (gs.n || ' minutes')::interval,
           CASE WHEN gs.n % 100 = 0 OR gs.n % 25 = 0 OR gs.n % 20 = 0 THEN NULL ELSE timestamptz '2025-03-02' + (gs.n || ' minutes')::interval END, '${msg(50)}', gs.n + 1
      FROM generate_series(0, ${shipments - 1}) gs(n) JOIN bench_party p ON p.i = gs.n % ${CUSTOMERS} ORDER BY gs.n`); // in time order
  await db.raw(`CREATE UNLOGGED TABLE bench_shipment AS SELECT row_number() OVER (ORDER BY shipment_number) - 1 AS i, id, to_party_id FROM shipments WHERE direction = 'outbound'`);
  await db.raw(`CREATE INDEX ON bench_shipment (i)`);
  // a lot ships in the days after it is made: its lines go into the shipments of a window of the
  // timeline (shipments are numbered in time order) that starts at the lot's place in it and is wide
  // enough for its fan-out (each shipment goes to one customer)
  const window = Math.min(shipments, Math.max(2 * o.fanout, Math.round(shipments * 0.01)));
  await db.raw(`INSERT INTO shipment_lines (shipment_id, line_no, material_id, lot_id, quantity_shipped, uom, source_message_id, ordinal)
    SELECT s.id, row_number() OVER (PARTITION BY s.id), x.material_id, x.lot_id, 1 + (x.n % 10), 'EA', '${msg(51)}', row_number() OVER ()
      FROM bench_ship x JOIN bench_shipment s
        ON s.i = least(${shipments - 1}, floor(x.idx::float8 / ${levels[top]} * ${shipments - window})::int + (x.cust * 7 + x.n * 13) % ${window})
     ORDER BY s.i, x.lot_id, x.n`); // with their shipments, in time order
  log(`outbound shipment lines ${shipLines} in ${shipments} shipments (fan-out up to ${o.fanout})`);

  // events: transformations, receipts, shipping, usages, storing/picking fill
  // an event's time is its place in the order events are added (every 20 s), its id made at that time
  await db.raw(`CREATE UNLOGGED TABLE bench_ev0 (seq bigserial, kind text, lot_id uuid, material_id uuid, ref uuid, n int)`);
  await db.raw(`INSERT INTO bench_ev0 (kind, lot_id, material_id, ref, n) SELECT 'make', id, material_id, NULL, idx FROM bench_lot WHERE level > 0`);
  await db.raw(`INSERT INTO bench_ev0 (kind, lot_id, material_id, ref, n) SELECT 'receive', id, material_id, NULL, idx FROM bench_lot WHERE level = 0`);
  await db.raw(`INSERT INTO bench_ev0 (kind, lot_id, material_id, ref, n) SELECT 'ship', lot_id, material_id, NULL, n FROM bench_ship`);
  const usages = Math.min(100_000, Math.max(0, Math.floor(o.events * 0.1)));
  await db.raw(`INSERT INTO bench_ev0 (kind, lot_id, material_id, ref, n) SELECT 'use', b.id, b.material_id, NULL, g FROM generate_series(1, ${usages}) g
      JOIN bench_lot b ON b.level = 3 + (g % 4) AND b.idx = (g::bigint * 7919) % (ARRAY[${levels.join(',')}])[3 + (g % 4) + 1]`);
  const sofar = Number((await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*) AS n FROM bench_ev0')).rows[0].n);
  const fill = Math.max(0, o.events - sofar);
  await db.raw(`INSERT INTO bench_ev0 (kind, lot_id, material_id, ref, n) SELECT CASE WHEN g % 2 = 0 THEN 'store' ELSE 'pick' END, b.id, b.material_id, NULL, g FROM generate_series(1, ${fill}) g
      JOIN bench_lot b ON b.level = g % 7 AND b.idx = (g::bigint * 104729) % (ARRAY[${levels.join(',')}])[g % 7 + 1]`);
  await db.raw(`CREATE UNLOGGED TABLE bench_ev AS SELECT bench_uuid7(timestamptz '2025-01-01' + interval '20 seconds' * seq) AS id, * FROM bench_ev0`);
  await db.raw(`ALTER TABLE bench_ev ADD PRIMARY KEY (id)`);
  await db.raw(`DROP TABLE bench_ev0`);
  await db.raw(`INSERT INTO trace_events (id, type, action, biz_step, disposition, event_time, event_time_zone_offset, location_id, biz_transactions, source_message_id, ordinal)
    SELECT e.id,
           CASE e.kind WHEN 'make' THEN 'TransformationEvent' WHEN 'use' THEN 'TransactionEvent' ELSE 'ObjectEvent' END,
           CASE e.kind WHEN 'make' THEN NULL ELSE 'OBSERVE' END,
           CASE e.kind WHEN 'make' THEN 'commissioning' WHEN 'receive' THEN 'receiving' WHEN 'ship' THEN 'shipping' WHEN 'use' THEN 'dispensing' WHEN 'store' THEN 'storing' ELSE 'picking' END,
           CASE e.kind WHEN 'ship' THEN 'in_transit' WHEN 'use' THEN 'dispensed' ELSE 'in_progress' END,
           timestamptz '2025-01-01' + interval '20 seconds' * e.seq, '+01:00',
           (SELECT id FROM bench_loc WHERE i = e.n % ${LOCATIONS}),
           CASE e.kind WHEN 'make' THEN jsonb_build_array(jsonb_build_object('type', 'prodorder', 'value', 'PRD-' || e.n)) ELSE '[]'::jsonb END,
           '${msg(60)}', row_number() OVER ()
      FROM bench_ev e`);
  await db.raw(`INSERT INTO trace_event_items (event_id, role, material_id, lot_id, quantity, uom)
    SELECT e.id, CASE e.kind WHEN 'make' THEN 'output' ELSE 'subject' END, e.material_id, e.lot_id, 1 + e.n % 10, 'EA' FROM bench_ev e`);
  await db.raw(`INSERT INTO trace_event_items (event_id, role, material_id, lot_id, quantity, uom)
    SELECT e.id, 'input', i.material_id, k.input_lot_id, k.quantity, 'EA' FROM bench_ev e JOIN lot_links k ON k.output_lot_id = e.lot_id JOIN lots i ON i.id = k.input_lot_id WHERE e.kind = 'make'`);
  await db.raw(`INSERT INTO device_usages (id, trace_event_id, source_key, material_id, lot_id, location_id, party_id, quantity, uom, used_at, procedure_code, procedure_ref_hmac, source_message_id, ordinal)
    SELECT bench_uuid7(timestamptz '2025-06-01' + (e.n || ' minutes')::interval), e.id, 'bench:' || e.id, e.material_id, e.lot_id, h.location_id, h.id, 1, 'EA', timestamptz '2025-06-01' + (e.n || ' minutes')::interval, '0SRC0J9',
           md5(e.id::text), '${msg(70)}', row_number() OVER ()
      FROM bench_ev e JOIN bench_hosp h ON h.i = e.n % (SELECT count(*) FROM bench_hosp) WHERE e.kind = 'use' ORDER BY e.n`); // in use time order
  const evs = Number((await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*) AS n FROM trace_events')).rows[0].n);
  const items = Number((await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*) AS n FROM trace_event_items')).rows[0].n);
  log(`trace events ${evs} with ${items} items; device usages ${usages}`);
  // VACUUM as well as ANALYZE: the tables were just bulk-loaded, and a running database's
  // autovacuum would have vacuumed them by now (PostgreSQL 13+ vacuums after inserts, too), setting
  // the visibility map that index-only scans rely on; the test server runs with autovacuum off
  await db.raw('VACUUM ANALYZE');
  // the bulk load's dirty pages written back now, not by a WAL-triggered checkpoint spread over the
  // next minutes while pages are timed (measured: a checkpoint of the load ran 02:08:47–02:11:27
  // through the first-page samples of a run); needs superuser or pg_checkpoint
  await db.raw('CHECKPOINT').catch((err: Error) => log(`CHECKPOINT not run (${err.message}): a checkpoint of the load may overlap the timings`));
  return { levels };
}

/** What the bench reads of a trace page and of a recall's answer (the HTTP client sends only these back, see http-client-worker.ts). */
const TRACE_PICK = ['page.rows', 'summary.complete'];
const RECALL_PICK = ['impact.totals', 'impact.unitsByCustomer.length'];

function stats(ms: number[]): { p50: number; p95: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: r2(percentile(s, 50)), p95: r2(percentile(s, 95)), p99: r2(percentile(s, 99)), max: r2(s[s.length - 1]) };
}

/**
 * Audit append (hash-chained vs. a copy of audit_log without triggers) and `audit verify` of
 * `verifyRows` rows, in the bench database (`BENCH_TRACE_SKIP=1` runs only this part).
 */
async function auditBench(db: Db, url: string, o: TraceBenchOptions, log: (m: string) => void): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // audit append "while the pipeline writes": the hub itself (intake, BullMQ pipeline, Node-RED, as
  // `lotbridge start` runs it) on the bench database processes WMS movements posted by the pipeline
  // bench's load generator (a child process) while the writers append; each processed movement
  // writes its canonical rows and their audit rows in one transaction (chains pipeline:wms:NN)
  await db.raw(`CREATE TABLE audit_plain (LIKE audit_log INCLUDING DEFAULTS INCLUDING INDEXES)`);
  await db.raw(`CREATE SEQUENCE bench_chain_seq`);
  await db.raw(`CREATE SEQUENCE bench_plain_seq`);
  await db.raw(`ALTER TABLE audit_plain ALTER COLUMN seq SET DEFAULT nextval('bench_plain_seq')`);
  const run = randomBytes(4).toString('hex');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-bench-audit-'));
  const hubKey = `bench-${randomBytes(12).toString('hex')}`;
  const hub = await startHub(loadConfig({
    DATABASE_URL: url, REDIS_URL: o.redisUrl, LOTBRIDGE_HTTP_PORT: '0', LOTBRIDGE_HTTP_HOST: '127.0.0.1', LOTBRIDGE_DATA_DIR: dataDir,
    LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: hubKey, LOTBRIDGE_QUEUE_PREFIX: `lbbench_${run}`, LOTBRIDGE_WORKER_CONCURRENCY: '8',
    // the pipeline's per-batch info lines would bury the bench's report (info and warn cost the same CPU per message, see pipeline.bench.ts)
    LOTBRIDGE_LOG_LEVEL: process.env.LOTBRIDGE_LOG_LEVEL ?? 'warn',
  }), silentLogger(), { mode: 'all' });
  const hubBase = `http://127.0.0.1:${(hub.app!.server.address() as AddressInfo).port}`;
  const load = loadGenerator();
  const count = async (sql: string): Promise<number> => Number((await db.raw<{ rows: Array<{ n: string }> }>(sql)).rows[0].n);
  const pipelineAudit = (): Promise<number> => count(`SELECT count(*) AS n FROM audit_log WHERE chain LIKE 'pipeline:wms:%'`);
  const processed = (): Promise<number> => count(`SELECT count(*) AS n FROM inbound_messages WHERE status = 'processed'`);
  const drained = async (): Promise<void> => {
    const until = performance.now() + 120_000;
    while ((await count(`SELECT count(*) AS n FROM inbound_messages WHERE status IN ('received', 'queued')`)) > 0) {
      if (performance.now() > until) throw new Error('the hub did not process the posted WMS movements within 120 s');
      await sleep(100);
    }
  };
  let phase = 0;
  const append = async (table: 'audit_log' | 'audit_plain', seconds: number): Promise<{ rowsPerSecond: number; pipelineMessagesPerSecond: number; pipelineAuditRowsPerSecond: number }> => {
    const writers = 4;
    const batch = 200;
    let rows = 0;
    const pool = new pg.Pool({ connectionString: url, max: writers + 2 });
    const writer = async (w: number, until: number): Promise<void> => {
      let i = 0;
      while (performance.now() < until) {
        const chain = `pipeline:bench:${String((w * 7 + i++) % 16).padStart(2, '0')}`;
        const sql = table === 'audit_log'
          ? `INSERT INTO audit_log (chain, actor, action, entity_type, entity_id, after, source_message_id)
             SELECT $1, 'connector:bench', 'message.processed', 'inbound_message', g::text, jsonb_build_object('status', 'processed', 'n', g), gen_random_uuid() FROM generate_series(1, ${batch}) g`
          : `INSERT INTO audit_plain (chain, chain_seq, actor, action, entity_type, entity_id, after, source_message_id, prev_hash, hash)
             SELECT $1, nextval('bench_chain_seq'), 'connector:bench', 'message.processed', 'inbound_message', g::text, jsonb_build_object('status', 'processed', 'n', g), gen_random_uuid(), repeat('0', 64), repeat('0', 64) FROM generate_series(1, ${batch}) g`;
        await pool.query(sql, [chain]);
        rows += batch;
      }
    };
    const [audit0, done0] = [await pipelineAudit(), await processed()];
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    // the load runs a little longer than the writers, so the pipeline is busy for the whole window
    const loadDone = load.run({ cmd: 'sustained', base: hubBase, key: hubKey, run: `${run}p${phase++}`, messages: 1_000_000, senders: 16, seconds: seconds + 0.5 });
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w, until)));
    const secs = (performance.now() - t0) / 1000;
    const [audit1, done1] = [await pipelineAudit(), await processed()];
    await loadDone;
    await pool.end();
    await drained();
    const r = { rowsPerSecond: rows / secs, pipelineMessagesPerSecond: (done1 - done0) / secs, pipelineAuditRowsPerSecond: (audit1 - audit0) / secs };
    log(`${table}: ${rows} rows in ${secs.toFixed(1)} s while the pipeline processed ${done1 - done0} WMS movements (${audit1 - audit0} audit rows of its own)`);
    return r;
  };
  try {
    // warm-up: the hub's master data path, JIT
    await load.run({ cmd: 'warm', base: hubBase, key: hubKey, run: `${run}w`, messages: 50 });
    await drained();
    const plain = await append('audit_plain', Math.max(2, Math.round(o.auditSeconds / 2)));
    const chained = await append('audit_log', o.auditSeconds);
    results.push({
      name: 'audit append (hash-chained, 16 chains, 4 writers, batches of 200) while the hub\'s pipeline processes WMS movements',
      figures: {
        rowsPerSecond: Math.round(chained.rowsPerSecond),
        pipelineMessagesPerSecond: Math.round(chained.pipelineMessagesPerSecond),
        pipelineAuditRowsPerSecond: Math.round(chained.pipelineAuditRowsPerSecond),
      },
      baseline: { unchainedRowsPerSecond: Math.round(plain.rowsPerSecond), pipelineMessagesPerSecondBesideUnchained: Math.round(plain.pipelineMessagesPerSecond) },
      ratio: r2(chained.rowsPerSecond / plain.rowsPerSecond),
      target: 10000,
      pass: chained.rowsPerSecond >= 10000,
      notes: 'target ≥ 10,000 rows/s (absolute; the writers\' rows only, the pipeline\'s own audit rows come on top); ratio = chained ÷ the same inserts into a copy of audit_log without triggers, each beside the same pipeline load',
    });
  } finally {
    load.close();
    await hub.stop();
    await deleteRedisPrefix(o.redisUrl, `lbbench_${run}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  // audit verify of verifyRows rows
  const have = Number((await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*) AS n FROM audit_log')).rows[0].n);
  const chunk = 50_000;
  for (let done = have, c = 0; done < o.verifyRows; done += chunk, c++) {
    const nrows = Math.min(chunk, o.verifyRows - done);
    await db.raw(`INSERT INTO audit_log (chain, actor, action, entity_type, entity_id, before, after, reason, source_message_id)
      SELECT 'pipeline:fill:' || lpad(((g + ${c}) % 16)::text, 2, '0'), 'connector:fill', 'lot.updated', 'lot', gen_random_uuid()::text,
             jsonb_build_object('status', 'released'), jsonb_build_object('status', 'on_hold', 'qty', g), NULL, gen_random_uuid()
        FROM generate_series(1, ${nrows}) g ORDER BY 1`);
  }
  await anchorAuditChains(db, { force: true });
  await db.raw('VACUUM ANALYZE audit_log');
  const scan = await timed(() => db.raw(`SELECT count(*), sum(length(hash)), sum(length(coalesce(after::text, ''))) FROM audit_log`));
  const v = await timed(() => verifyAuditLog(db));
  if (!v.value.ok) throw new Error(`audit verify found breaks in the bench data: ${v.value.breaks[0]?.reason}`);
  results.push({
    name: `audit verify of ${v.value.rows} rows in ${v.value.chains} chains (hashes, links, gaps, order, anchors)`,
    figures: { seconds: r2(v.ms / 1000), rowsPerSecond: Math.round(v.value.rows / (v.ms / 1000)) },
    baseline: { fullScanSeconds: r2(scan.ms / 1000) },
    ratio: r2(v.ms / scan.ms),
    target: 10,
    lowerIsBetter: true,
    pass: v.ms / 1000 <= 10,
    notes: 'target ≤ 10 s (absolute); ratio = verify ÷ a plain full scan of audit_log reading the same columns',
  });
  return results;
}

/** The trace section of `npm run bench` (BENCH_ONLY=trace). */
export async function runTraceBench(o: TraceBenchOptions): Promise<BenchResult[]> {
  const log = (m: string): void => console.log(`[trace bench] ${m}`);
  const name = `lotbridge_bench_trace_${randomBytes(4).toString('hex')}`;
  const u = new URL(o.serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  await ensureDatabase(url);
  const db = createDb({ url, poolMax: 12 });
  const results: BenchResult[] = [];
  let app: Awaited<ReturnType<typeof buildServer>> | undefined;
  let httpClient: ReturnType<typeof startHttpClient> | undefined;
  try {
    await migrateLatest(db);
    if (o.skipTrace) {
      log('trace and recall part skipped (BENCH_TRACE_SKIP=1): audit append and verify only');
      results.push(...(await auditBench(db, url, o, log)));
      return results;
    }
    const gen = await timed(() => generate(db, o, log));
    log(`generated in ${Math.round(gen.ms / 1000)} s`);
    const key = (await createApiKey(db, { name: 'bench', role: 'admin' })).key;
    const notHere = (): Promise<never> => Promise.reject(new Error('no intake in the trace bench'));
    const ingest: IngestPort = { receive: notHere, recordAck: notHere, ackOf: notHere, awaitVerdict: notHere };
    app = buildServer({
      db, config: loadConfig({ DATABASE_URL: url }), logger: silentLogger(), connectors: new Map(), ingest, metrics: new HubMetrics(),
      runtime: { databaseEmbedded: false, queueBackend: 'postgres', queueReason: 'bench' }, isAccepting: () => true,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // the client runs in a worker thread, as a real client runs apart from the hub (http-client-worker.ts)
    httpClient = startHttpClient(base, key);
    const http = httpClient.http;

    // samples: lots spread evenly over the levels, deterministic
    const perLevel = Math.ceil(o.samples / gen.value.levels.length);
    const sample = (await db.raw<{ rows: Array<{ material: string; lot: string; level: number }> }>(
      `SELECT m.code AS material, l.lot_number AS lot, b.level FROM bench_lot b JOIN lots l ON l.id = b.id JOIN materials m ON m.id = l.material_id
        WHERE b.idx % greatest(1, (SELECT count(*) FROM bench_lot z WHERE z.level = b.level) / ${perLevel}) = 0 ORDER BY b.level, b.idx`,
    )).rows;
    const byLevel = new Map<number, typeof sample>();
    for (const s of sample) byLevel.set(s.level, [...(byLevel.get(s.level) ?? []), s]);
    const picks = [...byLevel.values()].flatMap((l) => l.slice(0, perLevel)).slice(0, o.samples);
    const q = (s: { material: string; lot: string }): string => `material=${encodeURIComponent(s.material)}&lot=${encodeURIComponent(s.lot)}`;

    // warm-up (connections, plans)
    for (const s of picks.slice(0, 50)) {
      await http(`/api/v1/lots?${q(s)}`);
      await http(`/api/v1/trace/forward?${q(s)}`, { pick: TRACE_PICK });
    }
    // baselines: the lot view over HTTP (indexed look-ups by key), a primary-key SELECT on a pooled connection
    const baseHttp: number[] = [];
    for (const s of picks) baseHttp.push((await http(`/api/v1/lots?${q(s)}`)).ms);
    const ids = (await db.raw<{ rows: Array<{ id: string }> }>(`SELECT id FROM bench_lot ORDER BY level, idx LIMIT ${o.samples}`)).rows.map((r) => r.id);
    const pk: number[] = [];
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const id of ids) {
      const t0 = performance.now();
      await client.query('SELECT * FROM lots WHERE id = $1', [id]);
      pk.push(performance.now() - t0);
    }
    await client.end();
    const baseStats = stats(baseHttp);
    const pkStats = stats(pk);

    for (const direction of ['forward', 'backward'] as const) {
      const ms: number[] = [];
      let rows = 0;
      let incomplete = 0;
      for (const s of picks) {
        const r = await http(`/api/v1/trace/${direction}?${q(s)}&limit=1000`, { pick: TRACE_PICK });
        if (r.status !== 200) throw new Error(`trace ${direction} ${q(s)}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        ms.push(r.ms);
        rows += r.body.page.rows;
        if (!r.body.summary.complete) incomplete++;
      }
      const st = stats(ms);
      const slowest = Number(process.env.BENCH_TRACE_SLOWEST ?? 0);
      if (slowest > 0) {
        // the slowest lots of this direction, to EXPLAIN their page statement by hand (with BENCH_TRACE_KEEP=1)
        const worst = picks.map((s, i) => ({ ...s, ms: r2(ms[i]) })).sort((a, b) => b.ms - a.ms).slice(0, slowest);
        for (const w of worst) log(`slow ${direction}: ${w.ms} ms material=${w.material} lot=${w.lot} level=${w.level}`);
      }
      // p99 per genealogy level (level 0: raw lots): the bench draws the same number of lots per
      // level, so the few heaviest levels decide the overall p99; this says which
      const p99ByLevel: Record<string, number> = {};
      for (const level of [...new Set(picks.map((s) => s.level))].sort((x, y) => x - y)) {
        p99ByLevel[`p99Level${level}`] = stats(picks.flatMap((s, i) => (s.level === level ? [ms[i]] : []))).p99;
      }
      results.push({
        name: `trace ${direction} first page (≤1000 rows) over HTTP, ${picks.length} lots across all ${gen.value.levels.length} levels`,
        figures: { ...st, meanRows: Math.round(rows / picks.length), walksNotCompleteOnFirstPage: incomplete, ...p99ByLevel },
        baseline: { lotViewP99: baseStats.p99, lotViewP50: baseStats.p50, pkSelectP99: pkStats.p99 },
        ratio: r2(st.p99 / baseStats.p99),
        target: 20,
        lowerIsBetter: true,
        pass: st.p99 <= 20,
        notes: `target p99 ≤ 20 ms (absolute); ratio = p99 / p99 of GET /api/v1/lots (the lot view) in the same run`,
      });
    }

    // the largest raw lot: the most-linked raw lot, and its forward closure size
    const cands = (await db.raw<{ rows: Array<{ id: string; material: string; lot: string }> }>(
      `SELECT b.id, m.code AS material, l.lot_number AS lot FROM bench_lot b JOIN lots l ON l.id = b.id JOIN materials m ON m.id = l.material_id
         JOIN lot_links k ON k.input_lot_id = b.id WHERE b.level = 0 GROUP BY 1, 2, 3 ORDER BY count(*) DESC LIMIT 3`,
    )).rows;

    let largest = cands[0];
    let largestSize = 0;
    for (const c of cands) {
      const w = await walkGenealogy(db, [c.id], 'forward');
      if (w.order.length > largestSize) {
        largestSize = w.order.length;
        largest = c;
      }
    }
    const bigMs: number[] = [];
    let bigRows = 0;
    for (let i = 0; i < 7; i++) {
      const r = await http(`/api/v1/trace/forward?${q(largest)}&limit=1000`, { pick: TRACE_PICK });
      bigMs.push(r.ms);
      bigRows = r.body.page.rows;
    }
    const bigStats = stats(bigMs.slice(2));
    const walkAll = await timed(() => walkGenealogy(db, [largest.id], 'forward'));
    results.push({
      name: `trace forward first page of the largest raw lot (${largestSize} lots in its forward closure)`,
      figures: { medianMs: bigStats.p50, maxMs: bigStats.max, rows: bigRows, fullWalkMs: r2(walkAll.ms) },
      baseline: { lotViewP50: baseStats.p50, lotViewP99: baseStats.p99 },
      ratio: r2(bigStats.max / baseStats.p99),
      target: 100,
      lowerIsBetter: true,
      pass: bigStats.max <= 100,
      notes: 'target ≤ 100 ms (absolute, the slowest of 5 runs after 2 warm-ups); ratio = that ÷ lot-view p99',
    });

    // recalls: typical lots (devices and packs: levels 3–4), then the largest raw lot
    const typical = (await db.raw<{ rows: Array<{ material: string; lot: string }> }>(
      `SELECT m.code AS material, l.lot_number AS lot FROM bench_lot b JOIN lots l ON l.id = b.id JOIN materials m ON m.id = l.material_id
        WHERE b.level IN (2, 3, 4) AND b.idx % 997 = 11 ORDER BY b.level, b.idx LIMIT ${o.recalls}`,
    )).rows;
    const recallMs: number[] = [];
    let recallLots = 0;
    for (const t of typical) {
      const r = await http('/api/v1/recalls', { method: 'POST', body: JSON.stringify({ lots: [t], reason: 'bench', class: 'II' }), pick: RECALL_PICK });
      if (r.status !== 201) throw new Error(`recall ${JSON.stringify(t)}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      recallMs.push(r.ms);
      recallLots += r.body.impact.totals.lots;
    }
    const rs = stats(recallMs);
    results.push({
      name: `recall impact snapshot of a typical lot over HTTP (${typical.length} recalls, mean ${Math.round(recallLots / Math.max(1, typical.length))} lots each; status changes, audit rows, anchor included)`,
      figures: rs,
      baseline: { lotViewP50: baseStats.p50, lotViewP99: baseStats.p99 },
      ratio: r2(rs.p95 / baseStats.p99),
      target: 200,
      lowerIsBetter: true,
      pass: rs.max <= 200,
      notes: 'target ≤ 200 ms (absolute, every recall); ratio = p95 ÷ lot-view p99',
    });
    const big = await http('/api/v1/recalls', { method: 'POST', body: JSON.stringify({ lots: [{ material: largest.material, lot: largest.lot }], reason: 'bench: largest raw lot', class: 'I' }), pick: RECALL_PICK });
    if (big.status !== 201) throw new Error(`recall of the largest raw lot: ${big.status}`);
    results.push({
      name: `recall impact snapshot of the largest raw lot (${big.body.impact.totals.lots} lots, ${big.body.impact.totals.customers} customers, ${big.body.impact.unitsByCustomer.length} customer rows)`,
      figures: { ms: r2(big.ms), lots: big.body.impact.totals.lots, openShipments: big.body.impact.totals.openShipments },
      baseline: { lotViewP99: baseStats.p99, fullWalkMs: r2(walkAll.ms) },
      ratio: r2(big.ms / walkAll.ms),
      target: 2000,
      lowerIsBetter: true,
      pass: big.ms <= 2000,
      notes: 'target ≤ 2 s (absolute); ratio = recall ÷ the bare genealogy walk of the same lot',
    });

    results.push(...(await auditBench(db, url, o, log)));
  } finally {
    await httpClient?.close();
    await app?.close();
    await db.destroy();
    if (!o.keep) await dropDatabase(url);
  }
  return results;
}

import { randomBytes } from 'node:crypto';
import { Parser } from 'xml2js';
import { v7 as uuidv7 } from 'uuid';
import type { BenchResult } from './bench-result';
import { createDb, dropDatabase, ensureDatabase, type Db } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrations';
import { silentLogger } from '../src/logging/logger';
import { createB2mmlHandler } from '../src/normalize/b2mml/b2mml.handler';
import { XML2JS_OPTIONS } from '../src/parsers/b2mml';
import type { StoredMessage } from '../src/pipeline/handler';
import { createProcessContext } from '../src/pipeline/process-message';

/**
 * MES (B2MML) bench, two documents, each against a baseline measured in the same run on the same
 * database: xml2js parse-only of the same document (the same parser options) plus a raw
 * multi-row INSERT of the same canonical rows into the same tables (rolled back, so every run sees
 * the same database).
 *  - a ProductionPerformance with 1,000 consumed lots into one finished lot (rows: the event, 1,001
 *    event items, 1,000 lot_links, 1,001 ledger rows, 1,001 balances);
 *  - a ~5 MB MaterialInformation with 10,000 new lots (rows: 10,000 lots, event items, ledger rows, balances).
 * The figure is the mes-b2mml handler's run on a stored message: parse + map + write + audit/outbox
 * in one transaction, committed — as the pipeline does it (intake's store is not part of it). Median of BENCH_MES_RUNS (5).
 */
export async function runMesBench(opts: { serverUrl: string; runs?: number }): Promise<BenchResult[]> {
  const runs = opts.runs ?? 5;
  const u = new URL(opts.serverUrl);
  u.pathname = `/lotbridge_bench_mes_${randomBytes(4).toString('hex')}`;
  const url = u.toString();
  await ensureDatabase(url);
  const db = createDb({ url, poolMax: 4, asyncCommit: true });
  try {
    await migrateLatest(db);
    const seed = await seedProduction(db);
    const handler = createB2mmlHandler({ configOf: () => ({ location: 'MES', limits: { maxDocumentBytes: 32 * 1024 * 1024 } }) });

    const production = await measure(runs * 3, async (run) => {
      const xml = productionDocument(run, seed.lots);
      const ours = await handle(db, handler, xml);
      return {
        ours,
        baseline: async () => {
          parseOnly(xml);
          await rawInsert(db, productionRows(seed, run));
        },
        bytes: xml.length,
      };
    });
    const info = await measure(Math.max(2, Math.ceil(runs / 2)), async (run) => {
      const xml = materialInformationDocument(run, 10_000);
      const ours = await handle(db, handler, xml);
      return {
        ours,
        baseline: async () => {
          parseOnly(xml);
          await rawInsert(db, informationRows(seed, run, 10_000));
        },
        bytes: xml.length,
      };
    });
    return [
      result('MES ProductionPerformance: 1,000 consumed lots → 1 finished lot (parse + map + write, committed)', production, 1000),
      result('MES MaterialInformation: 10,000 lots, ~5 MB (parse + map + write, committed)', info, 10_000),
    ];
  } finally {
    await db.destroy();
    await dropDatabase(url);
  }
}

interface Measured {
  oursMs: number;
  baselineMs: number;
  bytes: number;
}

async function measure(runs: number, make: (run: number) => Promise<{ ours: () => Promise<void>; baseline: () => Promise<void>; bytes: number }>): Promise<Measured> {
  const ours: number[] = [];
  const base: number[] = [];
  let bytes = 0;
  // one warm-up run of each (JIT, plan cache), then alternating timed runs
  for (let run = 0; run <= runs; run++) {
    const m = await make(run);
    bytes = m.bytes;
    const order = run % 2 === 0 ? [m.ours, m.baseline] : [m.baseline, m.ours];
    const times: number[] = [];
    for (const fn of order) {
      const t0 = performance.now();
      await fn();
      times.push(performance.now() - t0);
    }
    if (run > 0) {
      ours.push(run % 2 === 0 ? times[0] : times[1]);
      base.push(run % 2 === 0 ? times[1] : times[0]);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { oursMs: median(ours), baselineMs: median(base), bytes };
}

function result(name: string, m: Measured, rows: number): BenchResult {
  const ratio = Math.round((m.oursMs / m.baselineMs) * 100) / 100;
  return {
    name,
    figures: { ms: Math.round(m.oursMs), lotsPerSecond: Math.round((rows / m.oursMs) * 1000), documentBytes: m.bytes },
    baseline: { ms: Math.round(m.baselineMs) },
    ratio,
    target: 1.5,
    lowerIsBetter: true,
    pass: ratio <= 1.5,
    notes: 'baseline = xml2js parse-only of the same document (same options) + raw multi-row INSERTs of the same rows into the same tables (indexes, foreign keys), one transaction; medians of alternating runs',
  };
}

function parseOnly(xml: string): void {
  let out: unknown;
  new Parser(XML2JS_OPTIONS).parseString(xml, (err: unknown, r: unknown) => {
    if (err) throw err;
    out = r;
  });
  if (out === undefined) throw new Error('xml2js gave nothing');
}

/** Stores the message as intake would (not timed: intake is not mapping) and returns the timed handler run. */
async function handle(db: Db, handler: ReturnType<typeof createB2mmlHandler>, xml: string): Promise<() => Promise<void>> {
  const payload = Buffer.from(xml, 'utf8');
  const message: StoredMessage = {
    id: uuidv7(), connectorId: 'mes', connectorKind: 'mes-b2mml', format: 'b2mml', messageType: null, sender: null, controlId: null,
    receivedAt: new Date(), payload, contentType: 'application/xml', encoding: null, envelope: {},
  };
  await db('inbound_messages').insert({
    id: message.id, connector_id: 'mes', connector_kind: 'mes-b2mml', format: 'b2mml', transport: 'http', dedup_key: `bench:${message.id}`,
    sha256: '0'.repeat(64), size_bytes: payload.length, payload, content_type: 'application/xml', envelope: {}, received_at: message.receivedAt, status: 'queued',
  });
  return () => db.transaction(async (trx) => {
    const ctx = createProcessContext(trx, message, 'UTC', silentLogger());
    const res = await handler.process(ctx);
    if (res.status !== 'processed' || (res.recordErrors?.length ?? 0) > 0) throw new Error(`bench document not processed: ${JSON.stringify(res)}`);
    await ctx.flush();
  });
}

interface Seed {
  rawMaterialIds: string[];
  fgMaterialId: string;
  locationId: string;
  lots: Array<{ id: string; lotNumber: string; material: string; materialId: string }>;
}

async function seedProduction(db: Db): Promise<Seed> {
  const rawMaterialIds: string[] = [];
  for (let m = 0; m < 20; m++) {
    const id = uuidv7();
    rawMaterialIds.push(id);
    await db('materials').insert({ id, code: `BENCH-RAW-${m}`, kind: 'raw', base_uom: 'KG', provisional: false });
  }
  const fgMaterialId = uuidv7();
  await db('materials').insert({ id: fgMaterialId, code: 'BENCH-FG', kind: 'finished', base_uom: 'EA', provisional: false });
  for (let m = 0; m < 50; m++) {
    await db('materials').insert({ id: uuidv7(), code: `BENCH-CMP-${m}`, kind: 'component', base_uom: 'EA', provisional: false });
  }
  const locationId = uuidv7();
  await db('locations').insert({ id: locationId, code: 'MES', kind: 'site' });
  for (let l = 0; l < 10; l++) {
    await db('locations').insert({ id: uuidv7(), code: `BENCH-LOC-${l}`, kind: 'bin' });
  }
  const lots = Array.from({ length: 1000 }, (_, i) => ({ id: uuidv7(), lotNumber: `BRL-${String(i).padStart(6, '0')}`, material: `BENCH-RAW-${i % 20}`, materialId: rawMaterialIds[i % 20] }));
  await db.batchInsert('lots', lots.map((l) => ({ id: l.id, material_id: l.materialId, lot_number: l.lotNumber, status: 'released' })), 1000);
  await db.batchInsert('inventory_balances', lots.map((l) => ({ lot_id: l.id, location_id: locationId, stock_state: 'raw', quantity: 1_000_000 })), 1000);
  return { rawMaterialIds, fgMaterialId, locationId, lots };
}

function productionDocument(run: number, lots: Seed['lots']): string {
  const actuals = lots
    .map((l) => `<MaterialActual><MaterialDefinitionID>${l.material}</MaterialDefinitionID><MaterialLotID>${l.lotNumber}</MaterialLotID><MaterialUse>Consumed</MaterialUse><Quantity><QuantityString>1.5</QuantityString><UnitOfMeasure>KG</UnitOfMeasure></Quantity></MaterialActual>\n`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ProductionPerformance xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700"><ID>PP-BENCH-${run}</ID><ProductionResponse><ID>PR-BENCH-${run}</ID><SegmentResponse><ID>SR-1</ID><ActualEndTime>2026-03-02T07:30:00Z</ActualEndTime>\n${actuals}<MaterialActual><MaterialDefinitionID>BENCH-FG</MaterialDefinitionID><MaterialLotID>BFG-${run}</MaterialLotID><MaterialUse>Produced</MaterialUse><Quantity><QuantityString>1000</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialActual></SegmentResponse></ProductionResponse></ProductionPerformance>\n`;
}

function materialInformationDocument(run: number, n: number): string {
  const parts: string[] = [`<?xml version="1.0" encoding="UTF-8"?>\n<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700"><ID>MI-BENCH-${run}</ID><PublishedDate>2026-03-01T02:00:00Z</PublishedDate>\n`];
  for (let i = 0; i < n; i++) {
    parts.push(
      `<MaterialLot><ID>BML-${run}-${String(i).padStart(6, '0')}</ID><Description>Component lot ${i}, cert 2026-${String(i % 997).padStart(4, '0')}, ETO batch ${i % 331}</Description>` +
        `<MaterialDefinitionID>BENCH-CMP-${i % 50}</MaterialDefinitionID><Status>Quarantine</Status>` +
        `<MaterialLotProperty><ID>ManufactureDate</ID><Value><ValueString>2026-02-${String((i % 28) + 1).padStart(2, '0')}</ValueString><DataType>date</DataType></Value></MaterialLotProperty>` +
        `<ExpirationDate>2031-02-${String((i % 28) + 1).padStart(2, '0')}</ExpirationDate><StorageLocation>BENCH-LOC-${i % 10}</StorageLocation>` +
        `<Quantity><QuantityString>${(i % 500) + 1}</QuantityString><DataType>decimal</DataType><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialLot>\n`,
    );
  }
  parts.push('</MaterialInformation>\n');
  return parts.join('');
}

type Rows = Record<string, Array<Record<string, unknown>>>;

function productionRows(seed: Seed, run: number): Rows {
  const eventId = uuidv7();
  const msg = uuidv7();
  const fgLot = uuidv7();
  let o = 0;
  const at = new Date('2026-03-02T07:30:00Z');
  return {
    lots: [{ id: fgLot, material_id: seed.fgMaterialId, lot_number: `BFG-base-${run}`, status: 'quarantine', provisional: false, source_message_id: msg, ordinal: ++o }],
    trace_events: [{ id: eventId, type: 'TransformationEvent', biz_step: 'commissioning', event_time: at, source_key: `bench:${msg}`, source_message_id: msg, ordinal: ++o }],
    trace_event_items: [
      ...seed.lots.map((l) => ({ event_id: eventId, role: 'input', material_id: l.materialId, lot_id: l.id, quantity: 1.5, uom: 'KG', base_quantity: 1.5 })),
      { event_id: eventId, role: 'output', material_id: seed.fgMaterialId, lot_id: fgLot, quantity: 1000, uom: 'EA', base_quantity: 1000 },
    ],
    lot_links: seed.lots.map((l) => ({ input_lot_id: l.id, output_lot_id: fgLot, event_id: eventId, quantity: 1.5, uom: 'KG', source_message_id: msg, ordinal: ++o })),
    inventory_ledger: [...seed.lots.map((l) => ({ event_id: eventId, lot_id: l.id, location_id: seed.locationId, stock_state: 'raw', delta: -1.5, event_time: at, source_message_id: msg, ordinal: ++o })), { event_id: eventId, lot_id: fgLot, location_id: seed.locationId, stock_state: 'pending_inspection', delta: 1000, event_time: at, source_message_id: msg, ordinal: ++o }],
    // the consumed lots' raw balances exist (seeded): the same number of balance rows, in a state they do not hold yet
    inventory_balances: [...seed.lots.map((l) => ({ lot_id: l.id, location_id: seed.locationId, stock_state: 'wip', quantity: 999_998.5 })), { lot_id: fgLot, location_id: seed.locationId, stock_state: 'pending_inspection', quantity: 1000 }],
  };
}

function informationRows(seed: Seed, run: number, n: number): Rows {
  const eventId = uuidv7();
  const msg = uuidv7();
  let o = 0;
  const at = new Date('2026-03-01T02:00:00Z');
  const lots = Array.from({ length: n }, (_, i) => ({ id: uuidv7(), material_id: seed.fgMaterialId, lot_number: `BML-base-${run}-${String(i).padStart(6, '0')}`, manufactured_at: `2026-02-${String((i % 28) + 1).padStart(2, '0')}`, expiry: `2031-02-${String((i % 28) + 1).padStart(2, '0')}`, status: 'quarantine', provisional: false, source_message_id: msg, ordinal: ++o }));
  return {
    lots,
    trace_events: [{ id: eventId, type: 'ObjectEvent', action: 'ADD', biz_step: 'commissioning', event_time: at, source_key: `bench:${msg}`, source_message_id: msg, ordinal: ++o }],
    trace_event_items: lots.map((l, i) => ({ event_id: eventId, role: 'subject', material_id: l.material_id, lot_id: l.id, quantity: (i % 500) + 1, uom: 'EA', base_quantity: (i % 500) + 1 })),
    inventory_ledger: lots.map((l, i) => ({ event_id: eventId, lot_id: l.id, location_id: seed.locationId, stock_state: 'component', delta: (i % 500) + 1, event_time: at, source_message_id: msg, ordinal: ++o })),
    inventory_balances: lots.map((l, i) => ({ lot_id: l.id, location_id: seed.locationId, stock_state: 'component', quantity: (i % 500) + 1 })),
  };
}

/**
 * Multi-row INSERTs (as many rows per statement as PostgreSQL's 65,535 parameters allow) into the
 * real tables (their indexes and foreign keys), in one transaction that is rolled back so the runs
 * see the same database.
 */
async function rawInsert(db: Db, rows: Rows): Promise<void> {
  const trx = await db.transaction();
  try {
    for (const [table, list] of Object.entries(rows)) {
      if (list.length === 0) continue;
      const per = Math.floor(65535 / Object.keys(list[0]).length);
      for (let i = 0; i < list.length; i += per) {
        await trx(table).insert(list.slice(i, i + per));
      }
    }
  } finally {
    await trx.rollback();
  }
}

import type { DbLotRow } from '../../db/tables';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import type { NewTraceEventItem } from '../../model/trace/insert-trace-event';
import { failAt, type MaterialActualRecord, type SegmentRecord } from './b2mml-records';
import { B2mmlWriter, binds, consumedStateOf, producedStateOf, type MesMaterial, type StockDelta, type StockState } from './b2mml-writer';

/** What applying a segment response did. */
export type SegmentOutcome = 'applied' | 'already_applied';

interface Resolved {
  a: MaterialActualRecord;
  material: MesMaterial;
  factor: number;
  location: DbLocationRow;
  lot: DbLotRow;
}

/**
 * Maps one SegmentResponse into an EPCIS TransformationEvent, once per source key
 * (`b2mml:<connector>:<sender>:segment:<ProductionResponse ID>/<SegmentResponse ID>`, so the same
 * report resent under another document id has one effect):
 *  - consumed lots are inputs, produced lots outputs (quantities in the message's unit and in base units);
 *  - a consumed lot nobody knows is created provisional with a `provisional_lot` alert (the report is not rejected);
 *  - a produced lot is created (status quarantine) or adopted; a produced lot id that exists for
 *    another material is LB_ERR_B2MML_LOT_COLLISION;
 *  - lot_links input → output (the consumed quantity when there is one output);
 *  - stock: consumed quantities leave raw/component/wip at the segment's location, produced ones
 *    enter pending_inspection (finished goods) or wip (intermediates);
 *  - consumed sublots (serials) are marked consumed, produced ones become serials of the output lot.
 * Any input error rejects the whole report (genealogy is never half-written).
 * @param w - the message's writer
 * @param seg - the segment response
 * @param sourceKey - its idempotency key
 * @param document - `ProductionPerformance PP-1` for audit and details
 */
export async function applyB2mmlSegment(w: B2mmlWriter, seg: SegmentRecord, sourceKey: string, document: string): Promise<SegmentOutcome> {
  if (await w.eventExists(sourceKey)) {
    return 'already_applied';
  }
  const materials = await w.materials(
    seg.actuals.map((a) => ({ ref: a.material.ref, kind: a.use === 'consumed' ? ('raw' as const) : ('finished' as const), ...(a.quantity?.uom ? { uom: a.quantity.uom } : {}), at: a.material.at })),
  );
  const factors = seg.actuals.map((a) => {
    if (!a.quantity) {
      return 1;
    }
    const picked = w.pickQuantity(materials.get(a.material.ref) as MesMaterial, a.quantity, a.lotNumber);
    a.quantity = picked.quantity;
    return picked.factor;
  });
  const produced = seg.actuals.filter((a) => a.use === 'produced');
  const consumed = seg.actuals.filter((a) => a.use === 'consumed');

  // a produced lot id must not be a lot of another material
  if (produced.length > 0) {
    const r = await w.trx.raw<{ rows: Array<{ lot_number: string; material_id: string; code: string }> }>(
      `SELECT l.lot_number, l.material_id, m.code FROM lots l JOIN materials m ON m.id = l.material_id WHERE l.lot_number = ANY(?::text[])`,
      binds(produced.map((a) => a.lotNumber)),
    );
    for (const a of produced) {
      const mine = materials.get(a.material.ref) as MesMaterial;
      const other = r.rows.find((x) => x.lot_number === a.lotNumber && x.material_id !== mine.id);
      if (other) {
        throw failAt('LB_ERR_B2MML_LOT_COLLISION', { path: `${a.at.path}/MaterialLotID`, line: a.at.line }, `produced lot ${a.lotNumber} of ${mine.code} collides with existing lot ${a.lotNumber} of material ${other.code}`, {
          lot: a.lotNumber,
          material: mine.code,
          existingMaterial: other.code,
        });
      }
    }
  }

  const keys = seg.actuals.map((a) => ({ materialId: (materials.get(a.material.ref) as MesMaterial).id, lotNumber: a.lotNumber }));
  const existing = await w.findLots(keys);
  const day = seg.eventTime.utc.toISOString().slice(0, 10);
  const missing = new Map<string, { materialId: string; lotNumber: string; manufacturedAt: string | null; status: 'quarantine' | 'released'; provisional: boolean }>();
  seg.actuals.forEach((a, i) => {
    const k = B2mmlWriter.lotKey(keys[i].materialId, a.lotNumber);
    if (!existing.has(k) && !missing.has(k)) {
      // a consumed lot nobody knows yet is provisional (DB default status, as other feeds create them)
      missing.set(k, { ...keys[i], manufacturedAt: a.use === 'produced' ? day : null, status: a.use === 'produced' ? 'quarantine' : 'released', provisional: a.use === 'consumed' });
    }
  });
  const created = await w.insertLots([...missing.values()]);
  const lots = new Map<string, DbLotRow>([...existing, ...created]);
  const createdIds = new Set([...created.values()].map((l) => l.id));

  // a produced lot first seen provisional (QA before production) is adopted, with the production date
  const adopt = produced.map((a) => lots.get(B2mmlWriter.lotKey((materials.get(a.material.ref) as MesMaterial).id, a.lotNumber)) as DbLotRow).filter((l) => l.provisional && !createdIds.has(l.id));
  if (adopt.length > 0) {
    await w.trx.raw(`UPDATE lots SET provisional = false, manufactured_at = COALESCE(manufactured_at, ?::date), updated_at = now() WHERE id = ANY(?::uuid[])`, binds(day, adopt.map((l) => l.id)));
    await w.ctx.audit({ action: 'lot.adopt', entityType: 'lot', after: { lotIds: adopt.map((l) => l.id) }, reason: `MES ${document}: produced in segment ${seg.key}` });
  }

  const segLocation = await w.location(seg.location);
  const resolved: Resolved[] = [];
  for (let i = 0; i < seg.actuals.length; i++) {
    const a = seg.actuals[i];
    const material = materials.get(a.material.ref) as MesMaterial;
    resolved.push({ a, material, factor: factors[i], location: a.location ? await w.location(a.location) : segLocation, lot: lots.get(B2mmlWriter.lotKey(material.id, a.lotNumber)) as DbLotRow });
  }

  const provisional = resolved.filter((r) => r.a.use === 'consumed' && createdIds.has(r.lot.id));
  // production used a recalled lot: recorded all the same (the MES reports what happened), and said loudly
  const recalled = resolved.filter((r) => r.a.use === 'consumed' && r.lot.status === 'recalled');
  if (provisional.length > 0 || recalled.length > 0) {
    await w.alerts([
      ...recalled.map((r) => ({
        type: 'recalled_lot_movement',
        severity: 'critical' as const,
        subjectType: 'lot',
        subjectId: r.lot.id,
        message: `recalled lot ${r.a.lotNumber} (${r.material.code}) was consumed in production: MES ${document}, segment ${seg.key}`,
        details: { lotId: r.lot.id, lotNumber: r.a.lotNumber, material: r.material.code, segment: seg.key, path: r.a.at.path, sourceKey },
        dedupKey: `recalled_lot_movement:${sourceKey}:${r.lot.id}`,
      })),
      ...provisional.map((r) => ({
        type: 'provisional_lot',
        severity: 'warning' as const,
        subjectType: 'lot',
        subjectId: r.lot.id,
        message: `MES ${document} consumed lot ${r.a.lotNumber} of ${r.material.code}, which no feed has named before; created provisional`,
        details: { lotId: r.lot.id, lotNumber: r.a.lotNumber, material: r.material.code, segment: seg.key, path: r.a.at.path },
        dedupKey: `provisional_lot:${r.lot.id}`,
      })),
    ]);
  }

  const item = (r: Resolved): NewTraceEventItem => ({
    role: r.a.use === 'consumed' ? 'input' : 'output',
    material_id: r.material.id,
    lot_id: r.lot.id,
    serial_id: null,
    quantity: r.a.quantity?.value ?? null,
    uom: r.a.quantity?.uom ?? (r.a.quantity ? r.material.base_uom : null),
    base_quantity: r.a.quantity ? r.a.quantity.value * r.factor : null,
  });
  const bizTransactions = seg.productionRequestId ? [{ type: 'prodorder', value: seg.productionRequestId }] : [];
  const eventId = await w.recordEvent(
    {
      type: 'TransformationEvent',
      action: null,
      bizStep: 'commissioning',
      disposition: 'in_progress',
      time: seg.eventTime,
      location: segLocation,
      sourceKey,
      bizTransactions,
      details: {
        document,
        ...(seg.description === undefined ? {} : { description: seg.description }),
        productionResponseId: seg.productionResponseId ?? null,
        segmentResponseId: seg.segmentId ?? null,
        transformationID: `b2mml:${seg.key}`,
        inputs: consumed.length,
        outputs: produced.length,
        ...(seg.skipped.length > 0 ? { skipped: seg.skipped.map((s) => `${s.reason} at ${s.at.path}`) } : {}),
      },
    },
    resolved.map(item),
  );
  if (eventId === undefined) {
    return 'already_applied';
  }

  // genealogy: every input lot → every output lot of the segment
  const ins = resolved.filter((r) => r.a.use === 'consumed');
  const outs = resolved.filter((r) => r.a.use === 'produced');
  const links = ins.flatMap((i) => outs.filter((o) => o.lot.id !== i.lot.id).map((o) => ({ i, o })));
  if (links.length > 0) {
    await w.trx.raw(
      `INSERT INTO lot_links (input_lot_id, output_lot_id, event_id, quantity, uom, source_message_id, ordinal)
       SELECT x.i, x.o, ?::uuid, x.q, x.u, ?::uuid, x.n FROM unnest(?::uuid[], ?::uuid[], ?::numeric[], ?::text[], ?::int[]) AS x(i, o, q, u, n)
       ON CONFLICT (source_message_id, ordinal) DO NOTHING`,
      binds(
        eventId,
        w.lineage.sourceMessageId,
        links.map((l) => l.i.lot.id),
        links.map((l) => l.o.lot.id),
        links.map((l) => (outs.length === 1 && l.i.a.quantity ? l.i.a.quantity.value * l.i.factor : null)),
        links.map((l) => (outs.length === 1 && l.i.a.quantity ? l.i.material.base_uom : null)),
        links.map(() => w.lineage.nextOrdinal()),
      ),
    );
    w.summary.lotLinks += links.length;
  }

  // stock: consumed out of the state the lot holds most of there (raw/component/wip …), produced in
  const consumedWithQty = ins.filter((r) => r.a.quantity !== undefined);
  const held = await w.balances(consumedWithQty.map((r) => ({ lotId: r.lot.id, locationId: r.location.id })));
  const deltas: StockDelta[] = [];
  for (const r of resolved) {
    if (!r.a.quantity) {
      continue;
    }
    const base = r.a.quantity.value * r.factor;
    let state: StockState;
    if (r.a.use === 'consumed') {
      const states = held.get(`${r.lot.id}\u0000${r.location.id}`);
      // where the lot's stock is: raw, component or wip as a rule, finished or pending_inspection for an intermediate that was produced as finished goods
      const best = (['raw', 'component', 'wip', 'finished', 'pending_inspection'] as const).map((s) => [s, states?.get(s) ?? 0] as const).sort((x, y) => y[1] - x[1])[0];
      state = best[1] > 0 ? best[0] : consumedStateOf(r.material.kind);
    } else {
      state = producedStateOf(r.material.kind, r.lot.status);
    }
    deltas.push({ eventId, lotId: r.lot.id, lotNumber: r.lot.lot_number, material: r.material, location: r.location, stockState: state, delta: r.a.use === 'consumed' ? -base : base, eventTime: seg.eventTime.utc });
  }
  await w.book(deltas, createdIds);

  // sublots: consumed serials are used up, produced ones belong to the output lot
  const serialRows = resolved.flatMap((r) => r.a.subLots.map((s) => ({ r, s })));
  if (serialRows.length > 0) {
    const rc = await w.trx.raw<{ rowCount: number }>(
      `INSERT INTO serials (id, material_id, lot_id, serial_number, status, location_id, source_message_id, ordinal)
       SELECT gen_random_uuid(), x.m, x.l, x.s, x.st, x.loc, ?::uuid, x.o
         FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::uuid[], ?::int[]) AS x(m, l, s, st, loc, o)
       ON CONFLICT (material_id, serial_number) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
         WHERE serials.status <> EXCLUDED.status AND (EXCLUDED.status = 'consumed' OR serials.lot_id = EXCLUDED.lot_id)`,
      binds(
        w.lineage.sourceMessageId,
        serialRows.map((x) => x.r.material.id),
        serialRows.map((x) => x.r.lot.id),
        serialRows.map((x) => x.s),
        serialRows.map((x) => (x.r.a.use === 'consumed' ? 'consumed' : 'active')),
        serialRows.map((x) => x.r.location.id),
        serialRows.map(() => w.lineage.nextOrdinal()),
      ),
    );
    w.summary.serials += rc.rowCount;
  }

  const outputs = outs.map((o) => ({ lotId: o.lot.id, lotNumber: o.lot.lot_number, material: o.material.code }));
  await w.ctx.audit({
    action: 'production.transformation',
    entityType: 'trace_event',
    entityId: eventId,
    after: { segment: seg.key, outputs, inputs: ins.length, provisionalInputs: provisional.length, lotLinks: links.length },
    reason: `MES ${document}`,
  });
  for (const o of outs.filter((x) => createdIds.has(x.lot.id))) {
    await w.ctx.audit({ action: 'lot.create', entityType: 'lot', entityId: o.lot.id, after: { material: o.material.code, lotNumber: o.lot.lot_number, status: o.lot.status, manufacturedAt: o.lot.manufactured_at }, reason: `MES ${document}: produced in segment ${seg.key}` });
  }
  await w.ctx.emit('production.reported', { eventId, segment: seg.key, document, outputs, inputs: ins.length, provisionalInputs: provisional.length });
  return 'applied';
}

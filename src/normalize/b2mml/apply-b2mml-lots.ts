import type { DbLotRow, LotStatus } from '../../db/tables';
import { isLotBridgeError, type LotBridgeError } from '../../errors';
import { assertLotStatusChange } from '../../model/lots/lot-status';
import type { DbLocationRow, MaterialKind } from '../../model/master-data/master-data.types';
import type { SourceInstant } from '../time/source-timestamp';
import type { LotRecord } from './b2mml-records';
import { B2mmlWriter, binds, type MesMaterial, type StockDelta, type StockState } from './b2mml-writer';

/** How a set of lot records is applied. */
export interface LotApplyOptions {
  /** A lot the message names but nobody created yet is provisional (a QA result before the production report). */
  provisionalIfNew: boolean;
  /** `MaterialInformation MI-1`, for audit reasons. */
  document: string;
  /** The document's time (status events, snapshots). */
  time: SourceInstant;
  /** The source key prefix of this message's snapshot events. */
  sourceKeyPrefix: string;
}

/** The state a lot's reported quantity is kept in: by material kind, finished goods by QA status. */
export function snapshotStateOf(kind: MaterialKind, status: LotStatus): StockState {
  if (kind === 'raw') {
    return 'raw';
  }
  if (kind === 'finished' || kind === 'implant') {
    return status === 'released' ? 'finished' : 'pending_inspection';
  }
  return 'component';
}

function inputError(err: unknown): LotBridgeError {
  if (isLotBridgeError(err) && err.kind === 'input') {
    return err;
  }
  throw err;
}

/**
 * Maps MaterialLot records (MaterialInformation, Sync/ProcessMaterialLot, MaterialSubLot, QualityTest)
 * into lots, serials, balances, quality results and status changes, in sets:
 *  - materials by GTIN, code or internal id (a provisional material for an unknown one);
 *  - new lots inserted in one statement (status quarantine, then the message's decision through the
 *    lot status rules); known lots get missing dates (a provisional lot is adopted: the MES dates win);
 *  - a lot's Quantity is its quantity at its StorageLocation: the difference to what the hub holds
 *    there is booked through the ledger (one ObjectEvent for new lots, one for known lots);
 *  - sublots become serials of the lot; QAResult/TestResult rows become quality_results.
 * A lot whose unit does not convert or whose status change is forbidden is rejected alone.
 * @returns the errors of rejected lots (input errors; anything else is thrown)
 */
export async function applyB2mmlLots(w: B2mmlWriter, records: LotRecord[], o: LotApplyOptions): Promise<LotBridgeError[]> {
  const errors: LotBridgeError[] = [];
  if (records.length === 0) {
    return errors;
  }
  const materials = await w.materials(records.map((l) => ({ ref: l.material.ref, kind: 'finished' as const, ...(l.quantity?.uom ? { uom: l.quantity.uom } : {}), at: l.material.at })));

  // one record per lot: a lot named twice keeps its last values (QA results and sublots of both)
  const byKey = new Map<string, { rec: LotRecord; material: MesMaterial; factor: number }>();
  for (const rec of records) {
    const material = materials.get(rec.material.ref) as MesMaterial;
    let factor = 1;
    try {
      if (rec.quantity) {
        const picked = w.pickQuantity(material, rec.quantity, rec.lotNumber);
        rec.quantity = picked.quantity;
        factor = picked.factor;
      }
      for (const s of rec.subLots) {
        if (s.quantity) {
          w.factor(material, s.quantity.uom, s.quantity.at, rec.lotNumber);
        }
      }
    } catch (err) {
      errors.push(inputError(err));
      continue;
    }
    const key = B2mmlWriter.lotKey(material.id, rec.lotNumber);
    const prev = byKey.get(key);
    byKey.set(key, { rec: prev ? { ...rec, qa: [...prev.rec.qa, ...rec.qa], subLots: [...prev.rec.subLots, ...rec.subLots] } : rec, material, factor });
  }
  const wanted = [...byKey.values()];
  const existing = await w.findLots(wanted.map((x) => ({ materialId: x.material.id, lotNumber: x.rec.lotNumber })));

  // a release needs every test's latest result (stored ones and this message's) not to have failed
  const failedTestsOf = await failedTestsOfReleases(w, wanted.filter((x) => x.rec.status?.status === 'released').map((x) => ({ x, lot: existing.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber)) })));

  // status rules first: a lot whose change is forbidden is rejected before anything of it is written
  const ok: typeof wanted = [];
  for (const x of wanted) {
    const lot = existing.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber));
    if (x.rec.status) {
      try {
        const failedTests = failedTestsOf.get(x.rec);
        assertLotStatusChange(
          {
            lot: `${x.material.code} / ${x.rec.lotNumber}`, from: lot?.status ?? 'quarantine', to: x.rec.status.status, actor: 'mes',
            ...(x.rec.override ? { override: { reason: x.rec.override.reason } } : {}), ...(failedTests ? { failedTests } : {}),
          },
          x.rec.status.at,
        );
      } catch (err) {
        errors.push(inputError(err));
        continue;
      }
    }
    ok.push(x);
  }

  const fresh = ok.filter((x) => !existing.has(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber)));
  const inserted = await w.insertLots(
    fresh.map((x) => ({ materialId: x.material.id, lotNumber: x.rec.lotNumber, manufacturedAt: x.rec.manufacturedAt ?? null, expiry: x.rec.expiry ?? null, status: 'quarantine', provisional: o.provisionalIfNew })),
  );
  const lots = new Map<string, DbLotRow>([...existing, ...inserted]);
  const created = new Set([...inserted.values()].map((l) => l.id));
  const provisionalCreated = [...inserted.values()].filter((l) => l.provisional);
  if (provisionalCreated.length > 0) {
    const mat = new Map(ok.map((x) => [x.material.id, x.material]));
    await w.alerts(
      provisionalCreated.map((l) => ({
        type: 'provisional_lot',
        severity: 'warning',
        subjectType: 'lot',
        subjectId: l.id,
        message: `lot ${l.lot_number} of ${mat.get(l.material_id)?.code ?? l.material_id} was first named by MES ${o.document} (QA before its production report); created provisional`,
        details: { lotId: l.id, lotNumber: l.lot_number, material: mat.get(l.material_id)?.code, document: o.document },
        dedupKey: `provisional_lot:${l.id}`,
      })),
    );
  }

  // dates of known lots: fill what is missing; a provisional lot is adopted (MES dates win)
  const upd: Array<{ id: string; manufacturedAt: string | null; expiry: string | null; adopt: boolean }> = [];
  for (const x of ok) {
    const lot = existing.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber));
    if (!lot) {
      continue;
    }
    const adopt = lot.provisional && !o.provisionalIfNew;
    const m = x.rec.manufacturedAt ?? null;
    const e = x.rec.expiry ?? null;
    const newM = adopt ? (m ?? lot.manufactured_at) : (lot.manufactured_at ?? m);
    const newE = adopt ? (e ?? lot.expiry) : (lot.expiry ?? e);
    if (!adopt && m !== null && lot.manufactured_at !== null && lot.manufactured_at !== m) {
      w.mismatch(`lot ${x.rec.lotNumber}: manufacture date ${m} kept as stored ${lot.manufactured_at}`);
    }
    if (!adopt && e !== null && lot.expiry !== null && lot.expiry !== e) {
      w.mismatch(`lot ${x.rec.lotNumber}: expiry ${e} kept as stored ${lot.expiry}`);
    }
    if (newE !== null && newM !== null && newE < newM) {
      w.mismatch(`lot ${x.rec.lotNumber}: stored dates kept (expiry ${newE} would precede manufacture ${newM})`);
      continue;
    }
    if (adopt || newM !== lot.manufactured_at || newE !== lot.expiry) {
      upd.push({ id: lot.id, manufacturedAt: newM, expiry: newE, adopt });
      lot.manufactured_at = newM;
      lot.expiry = newE;
      if (adopt) {
        lot.provisional = false;
      }
    }
  }
  if (upd.length > 0) {
    await w.trx.raw(
      `UPDATE lots l SET manufactured_at = x.m, expiry = x.e, provisional = l.provisional AND NOT x.adopt, updated_at = now()
         FROM unnest(?::uuid[], ?::date[], ?::date[], ?::boolean[]) AS x(id, m, e, adopt) WHERE l.id = x.id`,
      binds(upd.map((u) => u.id), upd.map((u) => u.manufacturedAt), upd.map((u) => u.expiry), upd.map((u) => u.adopt)),
    );
    const adopted = upd.filter((u) => u.adopt).length;
    if (adopted > 0) {
      await w.ctx.audit({ action: 'lot.adopt', entityType: 'lot', after: { adopted, lotIds: upd.filter((u) => u.adopt).slice(0, 100).map((u) => u.id) }, reason: `MES ${o.document} defines lots first seen provisional` });
    }
  }

  // quantities: the lot's quantity at its storage location (difference booked)
  const withQty = ok.filter((x) => x.rec.quantity !== undefined);
  if (withQty.length > 0) {
    const locOf = new Map<string, DbLocationRow>();
    for (const x of withQty) {
      locOf.set(x.rec.location ?? '', await w.location(x.rec.location));
    }
    const placed = withQty.map((x) => ({ x, lot: lots.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber)) as DbLotRow, location: locOf.get(x.rec.location ?? '') as DbLocationRow }));
    // lots created just now hold no stock anywhere: only known lots are looked up
    const held = await w.balances(placed.filter((p) => !created.has(p.lot.id)).map((p) => ({ lotId: p.lot.id, locationId: p.location.id })));
    for (const isNew of [true, false]) {
      const group = placed
        .filter((p) => created.has(p.lot.id) === isNew)
        .map((p) => {
          const target = (p.x.rec.quantity?.value ?? 0) * p.x.factor;
          const states = held.get(`${p.lot.id}\u0000${p.location.id}`);
          const total = states ? [...states.values()].reduce((a, b) => a + b, 0) : 0;
          const state = snapshotStateOf(p.x.material.kind, p.x.rec.status?.status ?? p.lot.status);
          return { ...p, delta: Math.round((target - total) * 10000) / 10000, state, target };
        })
        .filter((p) => p.delta !== 0);
      if (group.length === 0) {
        continue;
      }
      const location = group[0].location;
      const eventId = await w.recordEvent(
        {
          type: 'ObjectEvent',
          action: isNew ? 'ADD' : 'OBSERVE',
          bizStep: isNew ? 'commissioning' : 'cycle_counting',
          disposition: isNew ? 'active' : null,
          time: o.time,
          location,
          sourceKey: `${o.sourceKeyPrefix}:lots:${isNew ? 'new' : 'known'}`,
          bizTransactions: [],
          details: { document: o.document, lots: group.length, meaning: 'MES lot quantities at their storage locations' },
        },
        group.map((p) => ({ role: 'subject', material_id: p.x.material.id, lot_id: p.lot.id, serial_id: null, quantity: p.x.rec.quantity?.value ?? null, uom: p.x.rec.quantity?.uom ?? p.x.material.base_uom, base_quantity: p.target })),
      );
      if (eventId === undefined) {
        continue;
      }
      const deltas: StockDelta[] = group.map((p) => ({ eventId, lotId: p.lot.id, lotNumber: p.lot.lot_number, material: p.x.material, location: p.location, stockState: p.state, delta: p.delta, eventTime: o.time.utc }));
      await w.book(deltas);
    }
  }

  // sublots → serials of the lot
  const serials: Array<{ materialId: string; lotId: string; serial: string; location?: string }> = [];
  for (const x of ok) {
    const lot = lots.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber)) as DbLotRow;
    for (const s of x.rec.subLots) {
      serials.push({ materialId: x.material.id, lotId: lot.id, serial: s.id, ...(s.location ? { location: s.location } : {}) });
    }
  }
  if (serials.length > 0) {
    const locIds: Array<string | null> = [];
    for (const s of serials) {
      locIds.push(s.location ? (await w.location(s.location)).id : null);
    }
    const r = await w.trx.raw<{ rowCount: number }>(
      `INSERT INTO serials (id, material_id, lot_id, serial_number, status, location_id, source_message_id, ordinal)
       SELECT gen_random_uuid(), x.m, x.l, x.s, 'active', x.loc, ?::uuid, x.o
         FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::uuid[], ?::int[]) AS x(m, l, s, loc, o)
       ON CONFLICT (material_id, serial_number) DO UPDATE SET location_id = COALESCE(EXCLUDED.location_id, serials.location_id), updated_at = now()
         WHERE serials.lot_id = EXCLUDED.lot_id`,
      binds(w.lineage.sourceMessageId, serials.map((s) => s.materialId), serials.map((s) => s.lotId), serials.map((s) => s.serial), locIds, serials.map(() => w.lineage.nextOrdinal())),
    );
    w.summary.serials += r.rowCount;
  }

  // QA results
  const qa = ok.flatMap((x) => x.rec.qa.map((q) => ({ q, lot: lots.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber)) as DbLotRow })));
  if (qa.length > 0) {
    const r = await w.trx.raw<{ rowCount: number }>(
      `INSERT INTO quality_results (id, lot_id, test_code, test_name, result, value, unit, disposition, inspected_at, source_message_id, ordinal)
       SELECT gen_random_uuid(), x.lot_id, x.code, x.name, x.result, x.value, x.unit, x.disp, x.at, ?::uuid, x.o
         FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::int[])
              AS x(lot_id, code, name, result, value, unit, disp, at, o)
        WHERE NOT EXISTS (SELECT 1 FROM quality_results q WHERE q.lot_id = x.lot_id AND q.test_code = x.code AND q.inspected_at = x.at
                            AND q.result = x.result AND q.value IS NOT DISTINCT FROM x.value)
       ON CONFLICT (source_message_id, ordinal) DO NOTHING`,
      binds(
        w.lineage.sourceMessageId,
        qa.map((x) => x.lot.id),
        qa.map((x) => x.q.testCode),
        qa.map((x) => x.q.testName ?? null),
        qa.map((x) => x.q.result),
        qa.map((x) => x.q.value ?? null),
        qa.map((x) => x.q.unit ?? null),
        qa.map((x) => x.q.disposition ?? null),
        qa.map((x) => x.q.inspectedAt.utc),
        qa.map(() => w.lineage.nextOrdinal()),
      ),
    );
    w.summary.qualityResults += r.rowCount;
    const failed = qa.filter((x) => x.q.result === 'fail');
    if (failed.length > 0) {
      await w.ctx.emit('quality.failed', { results: failed.slice(0, 100).map((x) => ({ lotId: x.lot.id, lotNumber: x.lot.lot_number, test: x.q.testCode, value: x.q.value ?? null })) });
    }
  }

  // status decisions, in document order
  for (const x of ok) {
    if (!x.rec.status) {
      continue;
    }
    const lot = lots.get(B2mmlWriter.lotKey(x.material.id, x.rec.lotNumber)) as DbLotRow;
    await w.changeStatus(lot, x.material, x.rec.status.status, {
      at: x.rec.status.at,
      raw: x.rec.status.raw,
      ...(x.rec.override ? { override: { reason: x.rec.override.reason } } : {}),
      ...(failedTestsOf.has(x.rec) ? { failedTests: failedTestsOf.get(x.rec) } : {}),
      time: x.rec.qa.length > 0 ? x.rec.qa[x.rec.qa.length - 1].inspectedAt : o.time,
      document: o.document,
    });
  }
  if (ok.length > 0) {
    await w.ctx.audit({
      action: 'lots.sync',
      entityType: 'lot',
      after: { lots: ok.length, created: inserted.size, document: o.document },
      reason: `MES ${o.document}`,
    });
  }
  w.summary.lots += ok.length;
  w.summary.applied += ok.length;
  return errors;
}

/**
 * For each record that asks for a release: the test codes whose latest result for the lot (stored
 * quality results and the record's own, by inspection time; the message's wins a tie) failed.
 * Records without such a test are left out.
 */
async function failedTestsOfReleases(w: B2mmlWriter, asks: Array<{ x: { rec: LotRecord }; lot: DbLotRow | undefined }>): Promise<Map<LotRecord, string[]>> {
  const out = new Map<LotRecord, string[]>();
  if (asks.length === 0) {
    return out;
  }
  const lotIds = asks.flatMap((a) => (a.lot ? [a.lot.id] : []));
  const stored = new Map<string, Array<{ test_code: string; result: string; inspected_at: Date }>>();
  if (lotIds.length > 0) {
    const r = await w.trx.raw<{ rows: Array<{ lot_id: string; test_code: string; result: string; inspected_at: Date }> }>(
      `SELECT DISTINCT ON (lot_id, test_code) lot_id, test_code, result, inspected_at FROM quality_results
        WHERE lot_id = ANY(?::uuid[]) ORDER BY lot_id, test_code, inspected_at DESC, id DESC`,
      binds(lotIds),
    );
    for (const row of r.rows) {
      stored.set(row.lot_id, [...(stored.get(row.lot_id) ?? []), row]);
    }
  }
  for (const { x, lot } of asks) {
    const latest = new Map<string, { result: string; at: number }>();
    for (const q of lot ? (stored.get(lot.id) ?? []) : []) {
      latest.set(q.test_code, { result: q.result, at: new Date(q.inspected_at).getTime() });
    }
    for (const q of x.rec.qa) {
      const prev = latest.get(q.testCode);
      const at = q.inspectedAt.utc.getTime();
      if (prev === undefined || at >= prev.at) {
        latest.set(q.testCode, { result: q.result, at });
      }
    }
    const failed = [...latest].filter(([, v]) => v.result === 'fail').map(([code]) => code).sort();
    if (failed.length > 0) {
      out.set(x.rec, failed);
    }
  }
  return out;
}

import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import type { LotStatus } from '../db/tables';
import { assertLotStatusChange, judgeLotStatusChange } from '../model/lots/lot-status';
import { lotsMadeFromUnit, walkGenealogy } from './genealogy';
import { resolveTraceSubject } from './trace-subject';
import { computeRecallImpactAndNotify, type ImpactLot, type ImpactSerial, type RecallImpact } from './recall-impact';

/** `POST /api/v1/recalls` body. */
export interface RecallRequest {
  lots?: Array<{ gtin?: string; material?: string; lot: string }>;
  serials?: Array<string | { gtin?: string; material?: string; serial: string }>;
  reason: string;
  class?: 'I' | 'II' | 'III';
}

/** Who opens the recall. */
export interface RecallActor {
  name: string;
  role: string;
}

/** A lot or serial the request names that an earlier recall already recalled. */
export interface AlreadyRecalled {
  material: string;
  /** The lot (of the serial, for a serial; null for a serial without a lot). */
  lot: string | null;
  /** Set when the entry is a serial. */
  serial?: string;
  /** A serial that is not recalled itself but whose lot is: the lot's recall covers the unit (`recallId` is that recall). */
  byLot?: true;
  recallId: string | null;
  recallNumber: string | null;
}

export interface RecallView {
  id: string;
  recallNumber: string;
  status: string;
  class: string | null;
  reason: string;
  openedBy: string | null;
  openedAt: string;
  request: unknown;
  impact: RecallImpact;
}

export interface OpenRecallResult {
  /** true: a new recall was opened (201); false: every named lot/serial was already recalled (200). */
  created: boolean;
  recall: RecallView;
  alreadyRecalled: AlreadyRecalled[];
  message: string;
}

/**
 * The status a recall gives a lot, by the lot status rules (src/model/lots/lot-status.ts): a named
 * lot becomes `recalled` (allowed from every state); a derived lot goes `on_hold` where the rules
 * allow it (released, quarantine) and keeps its status where they don't (rejected, expired,
 * recalled by an earlier recall).
 */
export function statusByRecall(lot: string, from: string, role: 'named' | 'derived'): LotStatus {
  const current = from as LotStatus;
  if (role === 'named') {
    assertLotStatusChange({ lot, from: current, to: 'recalled', actor: 'recall' });
    return 'recalled';
  }
  // recalled stays recalled: the rules let the recall process move a recalled lot to on_hold, but
  // only to close the recall that recalled it, never because another recall reaches it
  if (current === 'recalled') return current;
  return judgeLotStatusChange({ lot, from: current, to: 'on_hold', actor: 'recall' }).ok ? 'on_hold' : current;
}
const AUDIT_CHAIN = 'recall';

export function recallView(r: { id: string; recall_number: string; status: string; class: string | null; reason: string; opened_by: string | null; opened_at: Date; request: unknown; impact: RecallImpact }): RecallView {
  return {
    id: r.id, recallNumber: r.recall_number, status: r.status, class: r.class, reason: r.reason, openedBy: r.opened_by,
    openedAt: r.opened_at.toISOString(), request: r.request, impact: r.impact,
  };
}

/** The recall with this id, or undefined. */
export async function getRecall(db: Db, id: string): Promise<RecallView | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    const byNumber = await db('recalls').where({ recall_number: id }).first();
    return byNumber ? recallView(byNumber) : undefined;
  }
  const r = await db('recalls').where({ id }).first();
  return r ? recallView(r) : undefined;
}

async function insertAudit(trx: Knex, rows: Array<{ action: string; entity_type: string; entity_id: string; before: unknown; after: unknown }>, actor: string, reason: string): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) {
    const part = rows.slice(i, i + 5000);
    await trx.raw(
      `INSERT INTO audit_log (chain, actor, action, entity_type, entity_id, before, after, reason)
       SELECT ?, ?, a, t, e, b, f, ? FROM unnest(?::text[], ?::text[], ?::text[], ?::jsonb[], ?::jsonb[]) AS u(a, t, e, b, f)`,
      [
        AUDIT_CHAIN, actor, reason,
        part.map((r) => r.action), part.map((r) => r.entity_type), part.map((r) => r.entity_id),
        part.map((r) => (r.before === null ? null : JSON.stringify(r.before))), part.map((r) => (r.after === null ? null : JSON.stringify(r.after))),
      ] as Knex.RawBinding[],
    );
  }
}

/**
 * Opens a recall in one transaction: the named lots become `recalled`, every lot derived from them
 * (any depth) `on_hold` unless already recalled/rejected/expired, named serials `recalled`; the impact
 * snapshot is taken in the same transaction and stored on the recall; audit rows (chain `recall`)
 * record every status change and the recall itself; a `recall.opened` outbox event tells flows.
 * Lots already recalled are not recalled again: when every named lot and serial is, nothing changes
 * and the answer is the earlier recall (created: false).
 * @param db - knex instance
 * @param req - the validated request body
 * @param actor - who asks
 * @throws LotBridgeError 404 LB_ERR_LOT_NOT_FOUND / LB_ERR_SERIAL_NOT_FOUND naming the missing lot, 400 LB_ERR_API_BAD_REQUEST
 */
export async function openRecall(db: Db, req: RecallRequest, actor: RecallActor): Promise<OpenRecallResult> {
  const lotsAsked = req.lots ?? [];
  const serialsAsked = (req.serials ?? []).map((s) => (typeof s === 'string' ? { serial: s } : s));
  if (lotsAsked.length === 0 && serialsAsked.length === 0) {
    throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'a recall names at least one lot ("lots") or serial ("serials")', { location: { path: '/lots' } });
  }
  // resolve outside the transaction: 404 names the first unknown lot or serial with its index
  const namedLotIds: string[] = [];
  for (const [i, l] of lotsAsked.entries()) {
    try {
      const s = await resolveTraceSubject(db, { gtin: l.gtin, material: l.material, lot: l.lot });
      namedLotIds.push(...s.lotIds);
    } catch (err) {
      if (err instanceof LotBridgeError) {
        throw new LotBridgeError(err.code, `lots[${i}]: ${err.message}`, { location: { path: `/lots/${i}` }, details: err.details, cause: err });
      }
      throw err;
    }
  }
  const serialIds: string[] = [];
  for (const [i, s] of serialsAsked.entries()) {
    try {
      const r = await resolveTraceSubject(db, { gtin: s.gtin, material: s.material, serial: s.serial });
      if (r.serialId) serialIds.push(r.serialId);
    } catch (err) {
      if (err instanceof LotBridgeError) {
        throw new LotBridgeError(err.code, `serials[${i}]: ${err.message}`, { location: { path: `/serials/${i}` }, details: err.details, cause: err });
      }
      throw err;
    }
  }
  const actorName = `${actor.role}:${actor.name}`;

  return db.transaction(async (trx) => {
    // the recall's statements run once each: JIT compilation (PostgreSQL's jit_above_cost) of the
    // impact statement cost seconds for a raw lot's recall and saved nothing (docs/trace.md)
    await trx.raw('SET LOCAL jit = off');
    // one recall at a time: each locks its named lots, then the lots derived from them, so two
    // recalls of overlapping genealogies (a raw lot, and a component made from it) would lock the
    // same lots in different orders and deadlock (one failed with 503). Recalls are rare; waiting
    // for the other's commit costs nothing that matters
    await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('lotbridge_recall'))`);
    // lock the named lots and serials: a concurrent identical request waits, then finds them recalled
    const named = await trx.raw<{ rows: Array<{ id: string; status: string; material: string; gtin: string | null; lot_number: string }> }>(
      `SELECT l.id, l.status, m.code AS material, l.lot_number,
              (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme = 'gtin' ORDER BY mi.packaging_level = 'each' DESC, mi.value LIMIT 1) AS gtin
         FROM lots l JOIN materials m ON m.id = l.material_id WHERE l.id = ANY(?::uuid[]) ORDER BY l.id FOR UPDATE OF l`,
      [[...new Set(namedLotIds)]],
    );
    const serialRows = await trx.raw<{ rows: Array<{ id: string; status: string; serial_number: string; material: string; lot_id: string | null; lot_number: string | null; lot_status: string | null; location: string | null }> }>(
      `SELECT s.id, s.status, s.serial_number, m.code AS material, s.lot_id, l.lot_number, l.status AS lot_status, loc.code AS location
         FROM serials s JOIN materials m ON m.id = s.material_id LEFT JOIN lots l ON l.id = s.lot_id LEFT JOIN locations loc ON loc.id = s.location_id
        WHERE s.id = ANY(?::uuid[]) ORDER BY s.id FOR UPDATE OF s`,
      [[...new Set(serialIds)]],
    );
    const already = named.rows.filter((l) => l.status === 'recalled');
    const fresh = named.rows.filter((l) => l.status !== 'recalled');
    // a unit of a recalled lot is recalled with its lot: named again, it is already recalled (by the
    // lot's recall), as the lot itself would be
    const coveredByLot = (s: { status: string; lot_status: string | null }): boolean => s.status !== 'recalled' && s.lot_status === 'recalled';
    const freshSerials = serialRows.rows.filter((s) => s.status !== 'recalled' && !coveredByLot(s));
    const alreadyRecalled: AlreadyRecalled[] = [];
    // per lot, the latest recall that named it
    const recallsNaming = async (lotIds: string[]): Promise<Map<string, { id: string; recall_number: string }>> => {
      const prior = await trx.raw<{ rows: Array<{ lot_id: string; id: string; recall_number: string }> }>(
        `SELECT DISTINCT ON (rl.lot_id) rl.lot_id, r.id, r.recall_number FROM recall_lots rl JOIN recalls r ON r.id = rl.recall_id
          WHERE rl.lot_id = ANY(?::uuid[]) AND rl.role = 'named' ORDER BY rl.lot_id, r.opened_at DESC`,
        [[...new Set(lotIds)]],
      );
      return new Map(prior.rows.map((p) => [p.lot_id, p]));
    };
    if (already.length > 0) {
      const byLot = await recallsNaming(already.map((l) => l.id));
      for (const l of already) {
        const p = byLot.get(l.id);
        alreadyRecalled.push({ material: l.material, lot: l.lot_number, recallId: p?.id ?? null, recallNumber: p?.recall_number ?? null });
      }
    }
    const alreadySerials = serialRows.rows.filter((s) => s.status === 'recalled');
    if (alreadySerials.length > 0) {
      const prior = await trx.raw<{ rows: Array<{ serial_id: string; id: string; recall_number: string }> }>(
        `SELECT DISTINCT ON (rs.serial_id) rs.serial_id, r.id, r.recall_number FROM recall_serials rs JOIN recalls r ON r.id = rs.recall_id
          WHERE rs.serial_id = ANY(?::uuid[]) ORDER BY rs.serial_id, r.opened_at DESC`,
        [alreadySerials.map((x) => x.id)],
      );
      const bySerial = new Map(prior.rows.map((p) => [p.serial_id, p]));
      for (const x of alreadySerials) {
        const p = bySerial.get(x.id);
        alreadyRecalled.push({ material: x.material, lot: x.lot_number, serial: x.serial_number, recallId: p?.id ?? null, recallNumber: p?.recall_number ?? null });
      }
    }
    const covered = serialRows.rows.filter(coveredByLot);
    if (covered.length > 0) {
      const byLot = await recallsNaming(covered.map((x) => x.lot_id!));
      for (const x of covered) {
        const p = byLot.get(x.lot_id!);
        alreadyRecalled.push({ material: x.material, lot: x.lot_number, serial: x.serial_number, byLot: true, recallId: p?.id ?? null, recallNumber: p?.recall_number ?? null });
      }
    }
    const nameOf = (a: AlreadyRecalled): string => (a.serial === undefined ? `${a.material} / ${a.lot}` : a.byLot ? `${a.material} serial ${a.serial} of recalled lot ${a.lot}` : `${a.material} serial ${a.serial}`);
    if (fresh.length === 0 && freshSerials.length === 0) {
      const firstPrior = alreadyRecalled.find((a) => a.recallId);
      const earlier = firstPrior?.recallId ? await trx('recalls').where({ id: firstPrior.recallId }).first() : undefined;
      if (!earlier) {
        throw new LotBridgeError('LB_ERR_API_CONFLICT', 'every named lot/serial is already recalled, but by no recall LotBridge knows (its status was set elsewhere)', { details: { alreadyRecalled } });
      }
      // each named lot or serial with the recall that recalled it (grouped when they share one)
      const groups = new Map<string, string[]>();
      for (const a of alreadyRecalled) {
        const key = a.recallNumber ? `recall ${a.recallNumber}` : 'by no recall LotBridge knows';
        groups.set(key, [...(groups.get(key) ?? []), nameOf(a)]);
      }
      return {
        created: false,
        recall: recallView(earlier),
        alreadyRecalled,
        message: `already recalled: ${[...groups].map(([k, v]) => `${v.join(', ')} (${k})`).join(', ')}; nothing changed`,
      };
    }

    // derived lots: everything made from the fresh named lots, and from the fresh serials
    const freshIds = fresh.map((l) => l.id);
    const depth = new Map<string, number>();
    const walk = await walkGenealogy(trx, freshIds, 'forward');
    for (const [id, d] of walk.depth) depth.set(id, d);
    for (const s of freshSerials) {
      // what was made of the unit (its own lot is not recalled: only the unit); a unit without a
      // lot too, from the events that consumed it
      for (const [id, d] of await lotsMadeFromUnit(trx, { id: s.id, lotId: s.lot_id })) {
        const prev = depth.get(id);
        if (prev === undefined || d < prev) depth.set(id, d);
      }
    }
    const namedSet = new Set(freshIds);
    const derivedIds = [...depth.keys()].filter((id) => !namedSet.has(id) && !already.some((a) => a.id === id));
    const derived = derivedIds.length
      ? (await trx.raw<{ rows: Array<{ id: string; status: string; material: string; gtin: string | null; lot_number: string }> }>(
        `SELECT l.id, l.status, m.code AS material, l.lot_number,
                (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme = 'gtin' ORDER BY mi.packaging_level = 'each' DESC, mi.value LIMIT 1) AS gtin
           FROM lots l JOIN materials m ON m.id = l.material_id WHERE l.id = ANY(?::uuid[]) ORDER BY l.id FOR UPDATE OF l`,
        [derivedIds],
      )).rows
      : [];

    const id = uuidv7();
    const seq = await trx.raw<{ rows: Array<{ n: number }> }>(`SELECT nextval('recall_number_seq') AS n`);
    const recallNumber = `RC-${new Date().getUTCFullYear()}-${String(seq.rows[0].n).padStart(5, '0')}`;
    const lots: ImpactLot[] = [
      ...fresh.map((l) => ({ lotId: l.id, material: l.material, gtin: l.gtin, lot: l.lot_number, role: 'named' as const, depth: 0, previousStatus: l.status, newStatus: statusByRecall(`${l.material} / ${l.lot_number}`, l.status, 'named') })),
      ...derived
        .map((l) => ({ lotId: l.id, material: l.material, gtin: l.gtin, lot: l.lot_number, role: 'derived' as const, depth: depth.get(l.id) ?? 1, previousStatus: l.status, newStatus: statusByRecall(`${l.material} / ${l.lot_number}`, l.status, 'derived') }))
        .sort((a, b) => a.depth - b.depth || a.material.localeCompare(b.material) || a.lot.localeCompare(b.lot)),
    ];
    const serials: ImpactSerial[] = freshSerials.map((s) => ({ serialId: s.id, material: s.material, serial: s.serial_number, lot: s.lot_number, previousStatus: s.status, location: s.location }));

    if (freshIds.length) {
      await trx.raw(`UPDATE lots SET status = 'recalled', updated_at = now() WHERE id = ANY(?::uuid[])`, [freshIds]);
    }
    const toHold = lots.filter((l) => l.role === 'derived' && l.newStatus === 'on_hold' && l.previousStatus !== 'on_hold').map((l) => l.lotId);
    if (toHold.length) {
      await trx.raw(`UPDATE lots SET status = 'on_hold', updated_at = now() WHERE id = ANY(?::uuid[])`, [toHold]);
    }
    if (freshSerials.length) {
      await trx.raw(`UPDATE serials SET status = 'recalled', updated_at = now() WHERE id = ANY(?::uuid[])`, [freshSerials.map((s) => s.id)]);
    }

    // the impact snapshot and the customers to notify: one statement
    const { impact, notify } = await computeRecallImpactAndNotify(trx, lots, serials);
    const request = { lots: lotsAsked, serials: req.serials ?? [], reason: req.reason, class: req.class ?? null };
    const [row] = await trx('recalls')
      .insert({
        id, recall_number: recallNumber, reason: req.reason, class: req.class ?? null, status: 'open', impact: JSON.stringify(impact),
        opened_by: actorName, opened_role: actor.role, request: JSON.stringify(request), lot_count: lots.length,
      })
      .returning('*');
    for (let i = 0; i < lots.length; i += 5000) {
      const part = lots.slice(i, i + 5000);
      await trx.raw(
        `INSERT INTO recall_lots (recall_id, lot_id, previous_status, role, new_status, depth)
         SELECT ?, * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::int[])`,
        [id, part.map((l) => l.lotId), part.map((l) => l.previousStatus), part.map((l) => l.role), part.map((l) => l.newStatus), part.map((l) => l.depth)],
      );
    }
    if (serials.length) {
      await trx('recall_serials').insert(serials.map((s) => ({ recall_id: id, serial_id: s.serialId, previous_status: s.previousStatus })));
    }
    await trx.raw(`INSERT INTO outbox_events (event_id, type, payload) VALUES (?, 'recall.opened', ?)`, [
      uuidv7(),
      JSON.stringify({
        recallId: id, recallNumber, class: req.class ?? null, reason: req.reason, openedBy: actorName, openedAt: (row.opened_at as Date).toISOString(),
        namedLots: lots.filter((l) => l.role === 'named').map((l) => ({ material: l.material, gtin: l.gtin, lot: l.lot })),
        lots: lots.filter((l) => l.role === 'named').map((l) => ({ material: l.material, gtin: l.gtin, lot: l.lot })),
        impact: { customers: notify.map((c) => ({ partyId: c.party_id, code: c.customer, gln: c.gln, name: c.name, units: c.units, quantities: c.quantities, lots: c.lots })) },
        serials: serials.map((s) => ({ material: s.material, serial: s.serial })),
        totals: impact.totals,
        customers: impact.unitsByCustomer.map((c) => ({ customer: c.customer, gln: c.gln, name: c.name, units: c.units, uom: c.uom })),
        hospitals: impact.consumedByHospital.map((h) => ({ hospital: h.hospital, gln: h.gln, name: h.name, units: h.units, uom: h.uom })),
        openShipments: impact.openShipments.map((s) => s.shipmentNumber),
      }),
    ]);
    // the audit rows last: the recall chain's lock is held from here to COMMIT only
    await insertAudit(
      trx,
      [
        { action: 'recall.opened', entity_type: 'recall', entity_id: id, before: null, after: { recallNumber, class: req.class ?? null, totals: impact.totals, request } },
        ...lots
          .filter((l) => l.previousStatus !== l.newStatus)
          .map((l) => ({
            action: l.role === 'named' ? 'lot.recalled' : 'lot.on_hold', entity_type: 'lot', entity_id: l.lotId,
            before: { status: l.previousStatus }, after: { status: l.newStatus, recallId: id, recallNumber, material: l.material, lot: l.lot },
          })),
        ...serials.map((s) => ({ action: 'serial.recalled', entity_type: 'serial', entity_id: s.serialId, before: { status: s.previousStatus }, after: { status: 'recalled', recallId: id, recallNumber } })),
      ],
      actorName,
      req.reason,
    );
    const parts = [`${fresh.length} lot(s) recalled`, `${toHold.length} derived lot(s) put on hold`];
    if (serials.length) parts.push(`${serials.length} serial(s) recalled`);
    if (alreadyRecalled.length) parts.push(`already recalled before: ${alreadyRecalled.map((a) => `${nameOf(a)}${a.recallNumber ? ` (${a.recallNumber})` : ''}`).join(', ')}`);
    return { created: true, recall: recallView(row), alreadyRecalled, message: `recall ${recallNumber} opened: ${parts.join('; ')}` };
  });
}

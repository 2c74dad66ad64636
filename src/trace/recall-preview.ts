import type { Db } from '../db/knex';
import { lotsMadeFromUnit, walkGenealogy } from './genealogy';
import { statusByRecall } from './open-recall';
import { computeRecallImpact, type ImpactLot, type ImpactSerial, type RecallImpact } from './recall-impact';
import type { TraceSubject } from './trace-subject';

/** What a recall of a lot or serial would touch, without opening it (nothing changes). */
export interface RecallImpactPreview extends RecallImpact {
  preview: true;
  subject: TraceSubject['asked'] & { lotIds: string[]; serialId?: string };
}

interface LotRow { id: string; status: string; material: string; gtin: string | null; lot_number: string }

async function lotRows(db: Db, ids: string[]): Promise<LotRow[]> {
  if (ids.length === 0) return [];
  const r = await db.raw<{ rows: LotRow[] }>(
    `SELECT l.id, l.status, m.code AS material, l.lot_number,
            (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme = 'gtin' ORDER BY mi.packaging_level = 'each' DESC, mi.value LIMIT 1) AS gtin
       FROM lots l JOIN materials m ON m.id = l.material_id WHERE l.id = ANY(?::uuid[]) ORDER BY l.id`,
    [ids],
  );
  return r.rows;
}

/**
 * The impact a recall of `subject` would have if it were opened now: the same lots, roles and
 * status changes as `openRecall` (named lot → recalled; every lot made from it, any depth, on hold
 * where the lot status rules allow), the same tables (`computeRecallImpact`), read in one
 * read-only repeatable-read transaction so the tables agree. Opens nothing, locks nothing, writes
 * nothing. A named lot already recalled is listed with `newStatus: recalled` (a real recall would
 * answer "already recalled").
 * @param db - knex instance
 * @param subject - a resolved trace subject (resolveTraceSubject): a lot, or one serial
 */
export async function previewRecallImpact(db: Db, subject: TraceSubject): Promise<RecallImpactPreview> {
  return db.transaction(async (trx) => {
    const namedIds = subject.serialId ? [] : subject.lotIds;
    const depth = new Map<string, number>();
    if (namedIds.length) {
      for (const [id, d] of (await walkGenealogy(trx, namedIds, 'forward')).depth) depth.set(id, d);
    }
    let serials: ImpactSerial[] = [];
    if (subject.serialId) {
      const s = await trx.raw<{ rows: Array<{ id: string; status: string; serial_number: string; material: string; lot_id: string | null; lot_number: string | null; location: string | null }> }>(
        `SELECT s.id, s.status, s.serial_number, m.code AS material, s.lot_id, l.lot_number, loc.code AS location
           FROM serials s JOIN materials m ON m.id = s.material_id LEFT JOIN lots l ON l.id = s.lot_id LEFT JOIN locations loc ON loc.id = s.location_id
          WHERE s.id = ?`,
        [subject.serialId],
      );
      serials = s.rows.map((r) => ({ serialId: r.id, material: r.material, serial: r.serial_number, lot: r.lot_number, previousStatus: r.status, location: r.location }));
      if (s.rows[0]) {
        for (const [id, d] of await lotsMadeFromUnit(trx, { id: subject.serialId, lotId: s.rows[0].lot_id })) depth.set(id, d);
      }
    }
    const named = new Set(namedIds);
    const rows = await lotRows(trx, [...depth.keys()]);
    const view = (l: LotRow, role: 'named' | 'derived'): ImpactLot => ({
      lotId: l.id, material: l.material, gtin: l.gtin, lot: l.lot_number, role, depth: depth.get(l.id) ?? 0, previousStatus: l.status,
      newStatus: role === 'named' && l.status === 'recalled' ? 'recalled' : statusByRecall(`${l.material} / ${l.lot_number}`, l.status, role),
    });
    const lots: ImpactLot[] = [
      ...rows.filter((l) => named.has(l.id)).map((l) => view(l, 'named')),
      ...rows.filter((l) => !named.has(l.id)).map((l) => view(l, 'derived'))
        .sort((a, b) => a.depth - b.depth || a.material.localeCompare(b.material) || a.lot.localeCompare(b.lot)),
    ];
    const impact = await computeRecallImpact(trx, lots, serials);
    return { preview: true as const, subject: { ...subject.asked, lotIds: subject.lotIds, ...(subject.serialId ? { serialId: subject.serialId } : {}) }, ...impact };
  }, { readOnly: true, isolationLevel: 'repeatable read' });
}

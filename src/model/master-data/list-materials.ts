import type { Db } from '../../db/knex';
import { normalizeGtin } from './gs1-keys';
import { LotBridgeError } from '../../errors';
import { loadMaterialRecords } from './load-material-records';
import type { MaterialRecord, Page } from './master-data.types';

/** Filters and page of {@link listMaterials}. */
export interface ListMaterialsQuery {
  /** Page size (1–1000). */
  limit: number;
  /** Rows to skip. */
  offset: number;
  /** Only the material owning this GTIN (any packaging level). */
  gtin?: string;
  /** Only provisional (true) or only confirmed (false) materials. */
  provisional?: boolean;
  /** Case-insensitive substring of code or description. */
  q?: string;
}

/**
 * A page of materials ordered by code, with identifiers.
 * @param db - knex instance or transaction
 * @param query - filters and page
 * @throws LotBridgeError LB_ERR_MASTER_DATA_GTIN_INVALID for an invalid `gtin` filter
 */
export async function listMaterials(db: Db, query: ListMaterialsQuery): Promise<Page<MaterialRecord>> {
  const base = db('materials as m');
  if (query.gtin !== undefined) {
    const g = normalizeGtin(query.gtin);
    if (!g.ok) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_GTIN_INVALID', g.reason, { location: { path: 'gtin' }, details: { value: query.gtin } });
    }
    void base.whereIn('m.id', db('material_identifiers').whereIn('scheme', ['gtin', 'udi_di']).where({ value: g.gtin }).select('material_id'));
  }
  if (query.provisional !== undefined) {
    void base.where('m.provisional', query.provisional);
  }
  if (query.q) {
    const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    void base.where((w) => {
      void w.whereILike('m.code', like).orWhereILike('m.description', like);
    });
  }
  const [{ n }] = await base.clone().count<Array<{ n: number }>>({ n: '*' });
  const ids = (await base.clone().select('m.id').orderBy('m.code').limit(query.limit).offset(query.offset)) as Array<{ id: string }>;
  return { items: await loadMaterialRecords(db, ids.map((r) => r.id)), total: Number(n), limit: query.limit, offset: query.offset };
}

import type { Db } from '../../db/knex';
import { locationRecordQuery, toLocationRecord } from './load-location-records';
import type { LocationKind, LocationRecord, Page } from './master-data.types';

/** Filters and page of {@link listLocations}. */
export interface ListLocationsQuery {
  /** Page size (1–1000). */
  limit: number;
  /** Rows to skip. */
  offset: number;
  /** Only locations of this kind. */
  kind?: LocationKind;
  /** Only the direct children of the location with this code. */
  parentCode?: string;
  /** Only provisional (true) or only confirmed (false) locations. */
  provisional?: boolean;
}

/**
 * A page of locations ordered by code.
 * @param db - knex instance or transaction
 * @param query - filters and page
 */
export async function listLocations(db: Db, query: ListLocationsQuery): Promise<Page<LocationRecord>> {
  const q = locationRecordQuery(db);
  if (query.kind !== undefined) {
    void q.where('l.kind', query.kind);
  }
  if (query.parentCode !== undefined) {
    void q.where('p.code', query.parentCode);
  }
  if (query.provisional !== undefined) {
    void q.where('l.provisional', query.provisional);
  }
  const [{ n }] = await q.clone().clearSelect().count<Array<{ n: number }>>({ n: '*' });
  const rows = await q.orderBy('l.code').limit(query.limit).offset(query.offset);
  return { items: rows.map(toLocationRecord), total: Number(n), limit: query.limit, offset: query.offset };
}

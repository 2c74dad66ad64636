import type { Db } from '../../db/knex';
import { toPartyRecord } from './load-party-records';
import type { DbPartyRow, Page, PartyRecord, PartyRole } from './master-data.types';

/** Filters and page of {@link listParties}. */
export interface ListPartiesQuery {
  /** Page size (1–1000). */
  limit: number;
  /** Rows to skip. */
  offset: number;
  /** Only parties with this role. */
  role?: PartyRole;
  /** Only provisional (true) or only confirmed (false) parties. */
  provisional?: boolean;
}

/**
 * A page of parties ordered by name.
 * @param db - knex instance or transaction
 * @param query - filters and page
 */
export async function listParties(db: Db, query: ListPartiesQuery): Promise<Page<PartyRecord>> {
  const base = db<DbPartyRow>('parties');
  if (query.role !== undefined) {
    void base.where('role', query.role);
  }
  if (query.provisional !== undefined) {
    void base.where('provisional', query.provisional);
  }
  const [{ n }] = await base.clone().count<Array<{ n: number }>>({ n: '*' });
  const rows = (await base.clone().select('*').orderBy([{ column: 'name' }, { column: 'id' }]).limit(query.limit).offset(query.offset)) as DbPartyRow[];
  return { items: rows.map(toPartyRecord), total: Number(n), limit: query.limit, offset: query.offset };
}

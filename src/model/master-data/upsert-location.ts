import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../db/knex';
import { LotBridgeError } from '../../errors';
import { checkGln } from './gs1-keys';
import { loadLocationRecord } from './load-location-records';
import type { ChangeActor, DbLocationRow, LocationInput, LocationRecord, UpsertResult } from './master-data.types';
import { isUniqueViolation, round } from './master-data.util';
import { writeAdminAudit } from './write-admin-audit';

/** Options of {@link upsertLocation}. */
export interface UpsertLocationOptions extends ChangeActor {
  /** Reason written to the audit row. */
  reason?: string;
}

type LocationColumns = Pick<DbLocationRow, 'gln' | 'name' | 'kind' | 'parent_id' | 'party_id' | 'temperature_zone' | 'temp_min_c' | 'temp_max_c'>;

const DEFAULTS: LocationColumns = {
  gln: null,
  name: null,
  kind: 'bin',
  parent_id: null,
  party_id: null,
  temperature_zone: null,
  temp_min_c: null,
  temp_max_c: null,
};

function text(v: string | null | undefined, keep: string | null): string | null {
  if (v === undefined) {
    return keep;
  }
  const t = v === null ? '' : v.trim();
  return t === '' ? null : t;
}

function num(v: number | null | undefined, keep: number | null): number | null {
  if (v === undefined) {
    return keep;
  }
  return v === null ? null : round(v, 2);
}

async function resolveParent(trx: Knex.Transaction, input: LocationInput, code: string, selfId: string | undefined, keep: string | null): Promise<string | null> {
  const parentCode = input.parentCode === undefined ? undefined : text(input.parentCode, null);
  if (parentCode === undefined) {
    return keep;
  }
  if (parentCode === null) {
    return null;
  }
  if (parentCode === code) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `location ${code} cannot be its own parent`, { location: { path: '/parentCode' } });
  }
  const parent = await trx<DbLocationRow>('locations').where({ code: parentCode }).first('id');
  if (!parent) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_REFERENCE_UNKNOWN', `location ${code}: parent location ${parentCode} does not exist`, {
      location: { path: '/parentCode' },
      details: { parentCode },
    });
  }
  if (selfId) {
    // the new parent must not sit below this location
    const r = await trx.raw<{ rows: Array<{ hit: boolean }> }>(
      `WITH RECURSIVE up(id, parent_id, depth) AS (
         SELECT id, parent_id, 0 FROM locations WHERE id = ?
         UNION ALL SELECT l.id, l.parent_id, up.depth + 1 FROM locations l JOIN up ON l.id = up.parent_id WHERE up.depth < 64)
       SELECT EXISTS (SELECT 1 FROM up WHERE id = ?) AS hit`,
      [parent.id, selfId],
    );
    if (r.rows[0]?.hit) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `location ${code}: parent ${parentCode} lies inside ${code} (a cycle)`, {
        location: { path: '/parentCode' },
      });
    }
  }
  return parent.id;
}

async function resolveParty(trx: Knex.Transaction, input: LocationInput, code: string, keep: string | null): Promise<string | null> {
  const key = input.partyGln === undefined ? undefined : text(input.partyGln, null);
  if (key === undefined) {
    return keep;
  }
  if (key === null) {
    return null;
  }
  const party = await trx('parties').where({ gln: key }).orWhere({ code: key }).first<{ id: string } | undefined>('id');
  if (!party) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_REFERENCE_UNKNOWN', `location ${code}: no party has GLN or code ${key}`, {
      location: { path: '/partyGln' },
      details: { partyGln: key },
    });
  }
  return party.id;
}

async function upsertOnce(trx: Knex.Transaction, input: LocationInput, code: string, opts: UpsertLocationOptions): Promise<UpsertResult<LocationRecord>> {
  const existing = await trx<DbLocationRow>('locations').where({ code }).forUpdate().first();
  const base: LocationColumns = existing ?? DEFAULTS;
  const cols: LocationColumns = {
    gln: text(input.gln, base.gln),
    name: text(input.name, base.name),
    kind: input.kind ?? base.kind,
    parent_id: await resolveParent(trx, input, code, existing?.id, base.parent_id),
    party_id: await resolveParty(trx, input, code, base.party_id),
    temperature_zone: text(input.temperatureZone, base.temperature_zone),
    temp_min_c: num(input.tempMinC, base.temp_min_c),
    temp_max_c: num(input.tempMaxC, base.temp_max_c),
  };
  if (cols.gln !== null) {
    const g = checkGln(cols.gln);
    if (!g.ok) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_GLN_INVALID', `location ${code}: ${g.reason}`, { location: { path: '/gln' } });
    }
  }
  if (cols.temp_min_c !== null && cols.temp_max_c !== null && cols.temp_min_c > cols.temp_max_c) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `location ${code}: tempMinC ${cols.temp_min_c} is above tempMaxC ${cols.temp_max_c}`, {
      location: { path: '/tempMaxC' },
    });
  }

  if (existing) {
    const before = await loadLocationRecord(trx, existing.id);
    const changed = (Object.keys(cols) as Array<keyof LocationColumns>).some((k) => cols[k] !== existing[k]);
    if (!changed && !existing.provisional && before) {
      return { status: 'unchanged', record: before };
    }
    await trx('locations').where({ id: existing.id }).update({ ...cols, provisional: false, updated_at: trx.fn.now() });
    const after = await loadLocationRecord(trx, existing.id);
    const status = existing.provisional ? 'adopted' : 'updated';
    await writeAdminAudit(trx, {
      actor: opts.actor,
      action: `location.${status === 'adopted' ? 'adopt' : 'update'}`,
      entityType: 'location',
      entityId: existing.id,
      before,
      after,
      reason: opts.reason,
    });
    return { status, record: after as LocationRecord };
  }
  const id = uuidv7();
  const inserted = await trx.raw<{ rows: unknown[] }>(
    `INSERT INTO locations (id, code, gln, name, kind, parent_id, party_id, temperature_zone, temp_min_c, temp_max_c, provisional)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false) ON CONFLICT (code) DO NOTHING RETURNING id`,
    [id, code, cols.gln, cols.name, cols.kind, cols.parent_id, cols.party_id, cols.temperature_zone, cols.temp_min_c, cols.temp_max_c],
  );
  if (inserted.rows.length === 0) {
    throw Object.assign(new Error(`location ${code} created concurrently`), { code: '23505' });
  }
  const after = (await loadLocationRecord(trx, id)) as LocationRecord;
  await writeAdminAudit(trx, { actor: opts.actor, action: 'location.create', entityType: 'location', entityId: id, after, reason: opts.reason });
  return { status: 'created', record: after };
}

/**
 * Creates or updates a location keyed by `code`, with one `admin` audit row. `parentCode` and
 * `partyGln` (a party GLN or code) must name existing rows; a parent may not lie below the location.
 * A provisional location (created by a feed or a stock import) is adopted: `provisional` becomes false.
 * On update an omitted field keeps its value and `null` clears it; no change → `unchanged`, nothing written.
 * @param db - knex instance or an open transaction (then a savepoint is used)
 * @param input - the location
 * @param opts - actor (and reason) for the audit row
 */
export async function upsertLocation(db: Db, input: LocationInput, opts: UpsertLocationOptions): Promise<UpsertResult<LocationRecord>> {
  const code = input.code.trim();
  if (code === '') {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', 'location code is empty', { location: { path: '/code' } });
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((trx) => upsertOnce(trx, input, code, opts));
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 3) {
        continue;
      }
      if (isUniqueViolation(err)) {
        throw new LotBridgeError('LB_ERR_API_CONFLICT', `location ${code} was changed concurrently; try again`, { kind: 'transient', cause: err });
      }
      throw err;
    }
  }
}

import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../db/knex';
import { LotBridgeError } from '../../errors';
import { normalizeGtin } from './gs1-keys';
import { loadMaterialRecords } from './load-material-records';
import type {
  ChangeActor,
  DbMaterialRow,
  IdentifierScheme,
  MaterialIdentifier,
  MaterialInput,
  MaterialRecord,
  PackagingLevel,
  UpsertResult,
} from './master-data.types';
import { writeAdminAudit } from './write-admin-audit';
import { isUniqueViolation, round } from './master-data.util';

/** Options of {@link upsertMaterial}. */
export interface UpsertMaterialOptions extends ChangeActor {
  /** Reason written to the audit row, e.g. `import materials.csv line 7`. */
  reason?: string;
}

/** Column values of `materials` an upsert may set. */
type MaterialColumns = Pick<
  DbMaterialRow,
  | 'description'
  | 'kind'
  | 'base_uom'
  | 'shelf_life_days'
  | 'storage_temp_min_c'
  | 'storage_temp_max_c'
  | 'lot_controlled'
  | 'serial_controlled'
  | 'implantable'
  | 'risk_class'
  | 'unit_cost'
>;

const DEFAULTS: MaterialColumns = {
  description: null,
  kind: 'finished',
  base_uom: 'EA',
  shelf_life_days: null,
  storage_temp_min_c: null,
  storage_temp_max_c: null,
  lot_controlled: true,
  serial_controlled: false,
  implantable: false,
  risk_class: null,
  unit_cost: null,
};

/** Input field → column (the fields an omitted value leaves unchanged). */
const FIELD_COLUMNS: Array<[keyof MaterialInput, keyof MaterialColumns]> = [
  ['description', 'description'],
  ['kind', 'kind'],
  ['baseUom', 'base_uom'],
  ['shelfLifeDays', 'shelf_life_days'],
  ['storageTempMinC', 'storage_temp_min_c'],
  ['storageTempMaxC', 'storage_temp_max_c'],
  ['lotControlled', 'lot_controlled'],
  ['serialControlled', 'serial_controlled'],
  ['implantable', 'implantable'],
  ['riskClass', 'risk_class'],
  ['unitCost', 'unit_cost'],
];

/** A material that holds one of the input's identifiers. */
interface IdentifierOwner {
  material_id: string;
  code: string;
  provisional: boolean;
  created_at: Date;
  scheme: IdentifierScheme;
  value: string;
}

/**
 * Validates and normalizes the identifiers of an input: GTINs to 14 digits with a valid check digit,
 * other values trimmed, defaults for packaging level (each) and quantity (1), no repeats.
 * @throws LotBridgeError LB_ERR_MASTER_DATA_GTIN_INVALID / LB_ERR_MASTER_DATA_INVALID with `location.path`
 */
export function normalizeMaterialIdentifiers(input: MaterialInput): MaterialIdentifier[] | undefined {
  if (!input.identifiers) {
    return undefined;
  }
  const seen = new Map<string, number>();
  return input.identifiers.map((raw, i) => {
    let value = raw.value.trim();
    if (raw.scheme === 'gtin') {
      const g = normalizeGtin(value);
      if (!g.ok) {
        throw new LotBridgeError('LB_ERR_MASTER_DATA_GTIN_INVALID', `material ${input.code}: ${g.reason}`, {
          location: { path: `/identifiers/${i}/value` },
          details: { value: raw.value },
        });
      }
      value = g.gtin;
    }
    if (value === '') {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `material ${input.code}: identifier ${i} has an empty value`, {
        location: { path: `/identifiers/${i}/value` },
      });
    }
    const key = `${raw.scheme}:${value}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `material ${input.code}: ${raw.scheme} ${value} is listed twice (identifiers ${first} and ${i})`, {
        location: { path: `/identifiers/${i}/value` },
      });
    }
    seen.set(key, i);
    const quantityPerLevel = round(raw.quantityPerLevel ?? 1, 4);
    if (!(quantityPerLevel > 0)) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `material ${input.code}: quantityPerLevel must be greater than 0`, {
        location: { path: `/identifiers/${i}/quantityPerLevel` },
      });
    }
    const packagingLevel: PackagingLevel = raw.packagingLevel ?? 'each';
    return { scheme: raw.scheme, value, packagingLevel, quantityPerLevel };
  });
}

function columnsFromInput(input: MaterialInput, base: MaterialColumns): MaterialColumns {
  const out: MaterialColumns = { ...base };
  const set = out as unknown as Record<string, unknown>;
  for (const [field, column] of FIELD_COLUMNS) {
    const v = input[field];
    if (v !== undefined) {
      set[column] = typeof v === 'string' ? v.trim() : v;
    }
  }
  if (out.description === '') {
    out.description = null;
  }
  if (out.risk_class === '') {
    out.risk_class = null;
  }
  out.storage_temp_min_c = out.storage_temp_min_c === null ? null : round(out.storage_temp_min_c, 2);
  out.storage_temp_max_c = out.storage_temp_max_c === null ? null : round(out.storage_temp_max_c, 2);
  out.unit_cost = out.unit_cost === null ? null : round(out.unit_cost, 4);
  return out;
}

function validateColumns(code: string, c: MaterialColumns): void {
  if (c.storage_temp_min_c !== null && c.storage_temp_max_c !== null && c.storage_temp_min_c > c.storage_temp_max_c) {
    throw new LotBridgeError(
      'LB_ERR_MASTER_DATA_INVALID',
      `material ${code}: storageTempMinC ${c.storage_temp_min_c} is above storageTempMaxC ${c.storage_temp_max_c}`,
      { location: { path: '/storageTempMaxC' } },
    );
  }
  if (c.base_uom === '') {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `material ${code}: baseUom is empty`, { location: { path: '/baseUom' } });
  }
}

function sameRecord(a: MaterialRecord, b: MaterialRecord): boolean {
  const strip = (r: MaterialRecord): string => JSON.stringify({ ...r, createdAt: undefined, updatedAt: undefined });
  return strip(a) === strip(b);
}

/**
 * Deletes a provisional material that lost the race for an identifier, when nothing references it
 * (no lots, serials, trace items …). Runs in a savepoint: a foreign-key violation means it has
 * dependants and the upsert is refused, since merging stock booked against it is not automatic.
 */
async function dropProvisional(trx: Knex.Transaction, owner: IdentifierOwner, targetCode: string, opts: UpsertMaterialOptions): Promise<void> {
  const before = (await loadMaterialRecords(trx, [owner.material_id]))[0];
  try {
    await trx.transaction(async (sp) => {
      await sp('materials').where({ id: owner.material_id, provisional: true }).delete();
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23503') {
      throw new LotBridgeError(
        'LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT',
        `${owner.scheme} ${owner.value} belongs to provisional material ${owner.code}, which already has lots or events; ` +
          `material ${targetCode} cannot take it over automatically (merge the provisional material first)`,
        { details: { owner: owner.code, ownerId: owner.material_id }, cause: err },
      );
    }
    throw err;
  }
  await writeAdminAudit(trx, {
    actor: opts.actor,
    action: 'material.delete_provisional',
    entityType: 'material',
    entityId: owner.material_id,
    before,
    reason: `superseded by material ${targetCode}${opts.reason ? `; ${opts.reason}` : ''}`,
  });
}

async function upsertOnce(trx: Knex.Transaction, input: MaterialInput, ids: MaterialIdentifier[] | undefined, opts: UpsertMaterialOptions): Promise<UpsertResult<MaterialRecord>> {
  const code = input.code.trim();
  const byCode = await trx<DbMaterialRow>('materials').where({ code }).forUpdate().first();

  // materials that already hold one of the identifiers
  let owners: IdentifierOwner[] = [];
  if (ids && ids.length > 0) {
    owners = await trx('material_identifiers as mi')
      .join('materials as m', 'm.id', 'mi.material_id')
      .whereIn(['mi.scheme', 'mi.value'], ids.map((i) => [i.scheme, i.value]))
      .select<IdentifierOwner[]>('mi.material_id', 'm.code', 'm.provisional', 'm.created_at', 'mi.scheme', 'mi.value')
      .orderBy('m.created_at')
      .forUpdate('m');
  }
  const foreign = owners.filter((o) => o.material_id !== byCode?.id);
  const hard = foreign.find((o) => !o.provisional);
  if (hard && ids) {
    const idx = ids.findIndex((i) => i.scheme === hard.scheme && i.value === hard.value);
    throw new LotBridgeError(
      'LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT',
      `material ${code}: ${hard.scheme} ${hard.value} already belongs to material ${hard.code}`,
      { location: { path: `/identifiers/${idx}/value` }, details: { owner: hard.code, ownerId: hard.material_id } },
    );
  }
  // provisional materials (made by feeds that knew only a GTIN) holding our identifiers: adopt one, drop the rest
  const provisional = [...new Map(foreign.map((o) => [o.material_id, o])).values()];
  let target: DbMaterialRow | undefined = byCode;
  let adoptedFrom: DbMaterialRow | undefined;
  if (!target && provisional.length > 0) {
    // prefer the provisional material that has stock attached: try each, the first that is kept wins
    const rows = await trx<DbMaterialRow>('materials').whereIn('id', provisional.map((p) => p.material_id));
    const counts = await trx('lots')
      .whereIn('material_id', provisional.map((p) => p.material_id))
      .groupBy('material_id')
      .select<Array<{ material_id: string; n: number }>>('material_id', trx.raw('count(*)::int AS n'));
    const lotCount = new Map(counts.map((c) => [c.material_id, c.n]));
    rows.sort((a, b) => (lotCount.get(b.id) ?? 0) - (lotCount.get(a.id) ?? 0) || +new Date(a.created_at) - +new Date(b.created_at));
    target = rows[0];
    adoptedFrom = target;
  }
  for (const p of provisional) {
    if (p.material_id !== target?.id) {
      await dropProvisional(trx, p, code, opts);
    }
  }

  const before = target ? (await loadMaterialRecords(trx, [target.id]))[0] : undefined;
  const columns = columnsFromInput(input, target ?? DEFAULTS);
  validateColumns(code, columns);

  let id: string;
  if (target) {
    id = target.id;
    await trx('materials')
      .where({ id })
      .update({ ...pickColumns(columns), code, provisional: false, updated_at: trx.fn.now() });
  } else {
    id = uuidv7();
    const inserted = await trx.raw<{ rows: Array<{ id: string }> }>(
      `INSERT INTO materials (id, code, description, kind, base_uom, shelf_life_days, storage_temp_min_c, storage_temp_max_c,
         lot_controlled, serial_controlled, implantable, risk_class, unit_cost, provisional)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false)
       ON CONFLICT (code) DO NOTHING RETURNING id`,
      [
        id, code, columns.description, columns.kind, columns.base_uom, columns.shelf_life_days, columns.storage_temp_min_c,
        columns.storage_temp_max_c, columns.lot_controlled, columns.serial_controlled, columns.implantable, columns.risk_class,
        columns.unit_cost,
      ],
    );
    if (inserted.rows.length === 0) {
      throw new RetryUpsert();
    }
  }

  if (ids) {
    const keep = ids.map((i) => [i.scheme, i.value]);
    await trx('material_identifiers')
      .where({ material_id: id })
      .modify((q) => {
        if (keep.length > 0) {
          void q.whereNotIn(['scheme', 'value'], keep);
        }
      })
      .delete();
    for (const i of ids) {
      await trx.raw(
        `INSERT INTO material_identifiers (material_id, scheme, value, packaging_level, quantity_per_level)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (scheme, value) DO UPDATE SET material_id = EXCLUDED.material_id,
           packaging_level = EXCLUDED.packaging_level, quantity_per_level = EXCLUDED.quantity_per_level`,
        [id, i.scheme, i.value, i.packagingLevel, i.quantityPerLevel],
      );
    }
  }

  const after = (await loadMaterialRecords(trx, [id]))[0];
  let status: UpsertResult<MaterialRecord>['status'];
  if (!before) {
    status = 'created';
  } else if (before.provisional) {
    status = 'adopted';
  } else if (sameRecord(before, after)) {
    // nothing changed: undo the updated_at bump by rolling back to the savepoint (the caller does)
    throw new UnchangedUpsert(before);
  } else {
    status = 'updated';
  }
  await writeAdminAudit(trx, {
    actor: opts.actor,
    action: `material.${status === 'created' ? 'create' : status === 'adopted' ? 'adopt' : 'update'}`,
    entityType: 'material',
    entityId: id,
    before,
    after,
    reason: [adoptedFrom ? `adopted provisional material ${adoptedFrom.code}` : undefined, opts.reason].filter(Boolean).join('; ') || undefined,
  });
  return { status, record: after };
}

function pickColumns(c: MaterialColumns): MaterialColumns {
  const out = {} as MaterialColumns;
  const set = out as unknown as Record<string, unknown>;
  for (const [, column] of FIELD_COLUMNS) {
    set[column] = c[column];
  }
  return out;
}

/** Thrown inside the savepoint when another transaction created the same code meanwhile. */
class RetryUpsert extends Error {
  constructor() {
    super('material created concurrently; retrying');
    this.name = 'RetryUpsert';
  }
}

/** Thrown inside the savepoint when the upsert changed nothing, so its writes are rolled back. */
class UnchangedUpsert extends Error {
  constructor(readonly record: MaterialRecord) {
    super('material unchanged');
    this.name = 'UnchangedUpsert';
  }
}

/**
 * Creates or updates a material and its identifiers, keyed by `code`, with one `admin` audit row.
 *
 * - GTINs are validated (8/12/13/14 digits, left-padded to 14, mod-10 check digit) and stored as 14 digits.
 * - A GTIN (or other identifier) held by a **provisional** material (code `GTIN-<gtin>`, created by a feed)
 *   is taken over: when no material has `code` yet, the provisional row is **adopted** (same id, so its
 *   lots and balances stay attached; `provisional` becomes false, code and fields are set). Further
 *   provisional rows holding other identifiers of the input are deleted when nothing references them.
 * - An identifier held by another non-provisional material is a conflict (409).
 * - On update, omitted fields keep their value; `identifiers`, when given, is the complete set.
 * - An upsert that changes nothing writes nothing and answers `unchanged`.
 *
 * Runs in its own transaction, or in a savepoint when `db` is a transaction.
 * @param db - knex instance or an open transaction
 * @param input - the material (see MaterialInput)
 * @param opts - actor (and reason) for the audit row
 */
export async function upsertMaterial(db: Db, input: MaterialInput, opts: UpsertMaterialOptions): Promise<UpsertResult<MaterialRecord>> {
  if (input.code.trim() === '') {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', 'material code is empty', { location: { path: '/code' } });
  }
  const ids = normalizeMaterialIdentifiers(input);
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((trx) => upsertOnce(trx, input, ids, opts));
    } catch (err) {
      if (err instanceof UnchangedUpsert) {
        return { status: 'unchanged', record: err.record };
      }
      if ((err instanceof RetryUpsert || isUniqueViolation(err)) && attempt < 3) {
        continue;
      }
      if (isUniqueViolation(err)) {
        throw new LotBridgeError('LB_ERR_API_CONFLICT', `material ${input.code} was changed concurrently; try again`, { kind: 'transient', cause: err });
      }
      throw err;
    }
  }
}

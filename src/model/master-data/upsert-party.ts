import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../db/knex';
import { LotBridgeError } from '../../errors';
import { checkGln } from './gs1-keys';
import { toPartyRecord } from './load-party-records';
import type { ChangeActor, DbPartyRow, PartyInput, PartyRecord, UpsertResult } from './master-data.types';
import { isUniqueViolation } from './master-data.util';
import { writeAdminAudit } from './write-admin-audit';

/** Options of {@link upsertParty}. */
export interface UpsertPartyOptions extends ChangeActor {
  /** Reason written to the audit row. */
  reason?: string;
}

function clean(v: string | null | undefined): string | null | undefined {
  if (v === undefined || v === null) {
    return v;
  }
  const t = v.trim();
  return t === '' ? null : t;
}

async function upsertOnce(trx: Knex.Transaction, input: PartyInput, gln: string | null | undefined, code: string | null | undefined, opts: UpsertPartyOptions): Promise<UpsertResult<PartyRecord>> {
  const byGln = gln ? await trx<DbPartyRow>('parties').where({ gln }).forUpdate().first() : undefined;
  const byCode = code ? await trx<DbPartyRow>('parties').where({ code }).forUpdate().first() : undefined;
  if (byGln && byCode && byGln.id !== byCode.id) {
    throw new LotBridgeError(
      'LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT',
      `party GLN ${gln} belongs to "${byGln.name}" but code ${code} belongs to "${byCode.name}"`,
      { location: { path: '/code' }, details: { glnOwner: byGln.id, codeOwner: byCode.id } },
    );
  }
  const existing = byGln ?? byCode;
  const name = input.name?.trim();
  if (existing) {
    const cols = {
      gln: gln === undefined ? existing.gln : gln,
      code: code === undefined ? existing.code : code,
      name: name === undefined || name === '' ? existing.name : name,
      role: input.role ?? existing.role,
    };
    const before = toPartyRecord(existing);
    const changed = cols.gln !== existing.gln || cols.code !== existing.code || cols.name !== existing.name || cols.role !== existing.role;
    if (!changed && !existing.provisional) {
      return { status: 'unchanged', record: before };
    }
    if (cols.gln === null && cols.code === null) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', 'a party needs a GLN or a code', { location: { path: '/gln' } });
    }
    const [row] = await trx<DbPartyRow>('parties')
      .where({ id: existing.id })
      .update({ ...cols, provisional: false, updated_at: trx.fn.now() })
      .returning('*');
    const after = toPartyRecord(row);
    const status = existing.provisional ? 'adopted' : 'updated';
    await writeAdminAudit(trx, {
      actor: opts.actor,
      action: `party.${status === 'adopted' ? 'adopt' : 'update'}`,
      entityType: 'party',
      entityId: existing.id,
      before,
      after,
      reason: opts.reason,
    });
    return { status, record: after };
  }
  if (!name) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `party ${gln ?? code}: name is needed to create it`, { location: { path: '/name' } });
  }
  if (!input.role) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', `party ${gln ?? code}: role is needed to create it`, { location: { path: '/role' } });
  }
  const [row] = await trx<DbPartyRow>('parties')
    .insert({ id: uuidv7(), gln: gln ?? null, code: code ?? null, name, role: input.role, provisional: false })
    .returning('*');
  const after = toPartyRecord(row);
  await writeAdminAudit(trx, { actor: opts.actor, action: 'party.create', entityType: 'party', entityId: row.id, after, reason: opts.reason });
  return { status: 'created', record: after };
}

/**
 * Creates or updates a party, matched by `gln` and else by `code` (one of them is needed), with one
 * `admin` audit row. A GLN and a code that belong to two different parties are a conflict. A
 * provisional party (created by a feed) is adopted. Omitted fields keep their value; no change → `unchanged`.
 * @param db - knex instance or an open transaction (then a savepoint is used)
 * @param input - the party
 * @param opts - actor (and reason) for the audit row
 */
export async function upsertParty(db: Db, input: PartyInput, opts: UpsertPartyOptions): Promise<UpsertResult<PartyRecord>> {
  const gln = clean(input.gln);
  const code = clean(input.code);
  if (!gln && !code) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_INVALID', 'a party needs a GLN or a code', { location: { path: '/gln' } });
  }
  if (gln) {
    const g = checkGln(gln);
    if (!g.ok) {
      throw new LotBridgeError('LB_ERR_MASTER_DATA_GLN_INVALID', `party: ${g.reason}`, { location: { path: '/gln' } });
    }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((trx) => upsertOnce(trx, input, gln, code, opts));
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 3) {
        continue;
      }
      if (isUniqueViolation(err)) {
        throw new LotBridgeError('LB_ERR_API_CONFLICT', `party ${gln ?? code} was changed concurrently; try again`, { kind: 'transient', cause: err });
      }
      throw err;
    }
  }
}

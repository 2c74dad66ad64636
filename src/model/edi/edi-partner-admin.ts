import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { normalizeSecrets, type DeliverySecrets } from '../../delivery/destination';
import { LotBridgeError } from '../../errors';
import type { PhiProtector } from '../../security/phi';
import { writeAdminAudit } from '../master-data/write-admin-audit';
import { highestUsedControlNumber, type DbEdiPartnerRow } from './edi-partners';

/** A trading partner as the API, the CLI and lotbridge.config.json `partners[]` write it. */
export interface PartnerInput {
  standard: 'x12' | 'edifact';
  /** ISA05/07 or UNB 0007 qualifier; empty = any. */
  qualifier?: string;
  /** ISA06/08 or UNB 0004/0010. */
  interchangeId: string;
  name?: string;
  /** GLN of the party this partner is (found or created in `parties`). */
  partyGln?: string;
  ackType?: '997' | '999' | 'CONTRL';
  versions?: Record<string, string>;
  separators?: Record<string, string>;
  outboundDestination?: Record<string, unknown>;
  /**
   * Secret headers sent with every outbound delivery to this partner (e.g. `{"headers":
   * {"Authorization":"Bearer …"}}`): stored encrypted, never returned (the view lists the header
   * names only); `null` removes them.
   */
  outboundSecrets?: DeliverySecrets | null;
  ourQualifier?: string;
  ourId?: string;
  receivingLocation?: string;
  ackOverdueMinutes?: number;
  /** Next outbound interchange control number (ISA13 / UNB 0020); never at or below one used. */
  nextInterchangeControl?: number;
  nextGroupControl?: number;
}

/** JSON Schema of a partner body (POST; PUT takes the same properties, none required). */
export const partnerInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['standard', 'interchangeId'],
  properties: {
    standard: { enum: ['x12', 'edifact'] },
    qualifier: { type: 'string', maxLength: 4 },
    interchangeId: { type: 'string', minLength: 1, maxLength: 35 },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    partyGln: { type: 'string', pattern: '^\\d{13}$' },
    ackType: { enum: ['997', '999', 'CONTRL'] },
    versions: { type: 'object', additionalProperties: { type: 'string' } },
    separators: {
      type: 'object',
      additionalProperties: false,
      properties: {
        element: { type: 'string', minLength: 1, maxLength: 1 }, component: { type: 'string', minLength: 1, maxLength: 1 }, repetition: { type: 'string', minLength: 1, maxLength: 1 },
        segment: { type: 'string', minLength: 1, maxLength: 1 }, release: { type: 'string', minLength: 1, maxLength: 1 }, decimal: { enum: ['.', ','] },
      },
    },
    outboundDestination: { type: 'object' },
    outboundSecrets: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: { headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 8192 } } },
    },
    ourQualifier: { type: 'string', maxLength: 4 },
    ourId: { type: 'string', minLength: 1, maxLength: 35 },
    receivingLocation: { type: 'string', minLength: 1 },
    ackOverdueMinutes: { type: 'integer', minimum: 1 },
    nextInterchangeControl: { type: 'integer', minimum: 1, maximum: 999999999 },
    nextGroupControl: { type: 'integer', minimum: 1, maximum: 999999999 },
  },
} as const;

/** The API view of a partner, with its outbound control numbers. */
export interface PartnerView {
  id: string;
  standard: string;
  qualifier: string;
  interchangeId: string;
  name: string | null;
  partyId: string | null;
  partyGln: string | null;
  ackType: string;
  versions: Record<string, string> | null;
  separators: Record<string, string> | null;
  outboundDestination: Record<string, unknown> | null;
  /** The names of the secret headers kept for outbound deliveries (lower-case; never the values). */
  outboundSecrets: { headers: string[] } | null;
  ourQualifier: string | null;
  ourId: string | null;
  receivingLocation: string | null;
  ackOverdueMinutes: number;
  provisional: boolean;
  active: boolean;
  controlNumbers: { nextInterchange: number; nextGroup: number; usedUpTo: number };
  createdAt: Date;
  updatedAt: Date;
}

async function viewOf(db: Knex, r: DbEdiPartnerRow): Promise<PartnerView> {
  return {
    id: r.id, standard: r.standard, qualifier: r.qualifier, interchangeId: r.interchange_id, name: r.name, partyId: r.party_id, partyGln: r.party_gln,
    ackType: r.ack_type, versions: r.versions, separators: r.separators, outboundDestination: r.outbound_destination,
    outboundSecrets: r.outbound_secret_headers?.length ? { headers: r.outbound_secret_headers } : null, ourQualifier: r.our_qualifier,
    ourId: r.our_id, receivingLocation: r.receiving_location, ackOverdueMinutes: r.ack_overdue_minutes, provisional: r.provisional, active: r.active,
    controlNumbers: { nextInterchange: Number(r.next_interchange_control), nextGroup: Number(r.next_group_control), usedUpTo: await highestUsedControlNumber(db, r.id) },
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

async function partyIdOf(trx: Knex.Transaction, gln: string | undefined, name: string | undefined): Promise<string | null | undefined> {
  if (gln === undefined) return undefined;
  const found = await trx('parties').where({ gln }).first<{ id: string } | undefined>('id');
  if (found) return found.id;
  const id = uuidv7();
  await trx('parties').insert({ id, gln, name: name ?? gln, role: 'supplier', provisional: true });
  return id;
}

/** The encrypted secrets and their header names for the row; `null`/`{}` removes them. */
function secretColumns(secrets: DeliverySecrets | null, phi: PhiProtector | undefined): { outbound_secrets: Buffer | null; outbound_secret_headers: string[] | null } {
  let normalized: DeliverySecrets;
  try {
    normalized = normalizeSecrets(secrets ?? undefined);
  } catch (err) {
    if (err instanceof LotBridgeError) {
      const path = (err.location?.path ?? 'credentials.headers').replace(/^credentials\./, 'outboundSecrets.');
      throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', `${path}: ${err.message.replace(/^destination \S+: /, '')}`, { location: { path } });
    }
    throw err;
  }
  const names = Object.keys(normalized.headers ?? {});
  if (names.length === 0) return { outbound_secrets: null, outbound_secret_headers: null };
  if (!phi) throw new LotBridgeError('LB_ERR_INTERNAL', 'partner secrets are encrypted with the PHI key, which this caller does not have');
  return { outbound_secrets: phi.encryptJson(normalized), outbound_secret_headers: names.sort() };
}

/** A partner row for the audit log: the encrypted secrets left out (their header names stay). */
function auditRow(r: DbEdiPartnerRow): Omit<DbEdiPartnerRow, 'outbound_secrets'> {
  const { outbound_secrets: _sealed, ...rest } = r;
  return rest;
}

function columnsOf(input: Partial<PartnerInput>, phi?: PhiProtector): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  if (input.outboundSecrets !== undefined) Object.assign(c, secretColumns(input.outboundSecrets, phi));
  if (input.name !== undefined) c.name = input.name;
  if (input.partyGln !== undefined) c.party_gln = input.partyGln;
  if (input.ackType !== undefined) c.ack_type = input.ackType;
  if (input.versions !== undefined) c.versions = JSON.stringify(input.versions);
  if (input.separators !== undefined) c.separators = JSON.stringify(input.separators);
  if (input.outboundDestination !== undefined) c.outbound_destination = JSON.stringify(input.outboundDestination);
  if (input.ourQualifier !== undefined) c.our_qualifier = input.ourQualifier;
  if (input.ourId !== undefined) c.our_id = input.ourId;
  if (input.receivingLocation !== undefined) c.receiving_location = input.receivingLocation;
  if (input.ackOverdueMinutes !== undefined) c.ack_overdue_minutes = input.ackOverdueMinutes;
  return c;
}

async function checkControl(trx: Knex.Transaction, id: string, input: Partial<PartnerInput>, c: Record<string, unknown>): Promise<void> {
  if (input.nextInterchangeControl !== undefined) {
    const used = await highestUsedControlNumber(trx, id);
    if (input.nextInterchangeControl <= used) {
      throw new LotBridgeError('LB_ERR_EDI_CONTROL_NUMBER', `next interchange control number ${input.nextInterchangeControl} is not above ${used}, the highest already used for this partner: control numbers are never reused`, {
        location: { path: 'nextInterchangeControl' }, details: { usedUpTo: used },
      });
    }
    c.next_interchange_control = input.nextInterchangeControl;
  }
  if (input.nextGroupControl !== undefined) c.next_group_control = input.nextGroupControl;
}

/**
 * Creates a trading partner. A record LotBridge made itself (provisional under
 * LOTBRIDGE_EDI_UNKNOWN_PARTNERS=accept, or the inactive record of a rejected sender) is completed
 * and made a regular, active partner (`created` false); an existing regular partner is a conflict.
 */
export async function createPartner(db: Knex, input: PartnerInput, actor: string, phi?: PhiProtector): Promise<{ view: PartnerView; created: boolean }> {
  return db.transaction(async (trx) => {
    const key = { standard: input.standard, qualifier: input.qualifier ?? '', interchange_id: input.interchangeId };
    const existing = await trx<DbEdiPartnerRow>('edi_partners').where(key).forUpdate().first();
    if (existing && existing.active && !existing.provisional) {
      throw new LotBridgeError('LB_ERR_API_CONFLICT', `partner ${input.standard} ${key.qualifier ? `${key.qualifier}:` : ''}${input.interchangeId} exists (id ${existing.id}); change it with PUT /api/v1/partners/${existing.id}`, { details: { id: existing.id } });
    }
    const c = columnsOf(input, phi);
    const party = await partyIdOf(trx, input.partyGln, input.name);
    if (party !== undefined) c.party_id = party;
    let row: DbEdiPartnerRow;
    if (existing) {
      await checkControl(trx, existing.id, input, c);
      [row] = await trx<DbEdiPartnerRow>('edi_partners').where({ id: existing.id }).update({ ...c, provisional: false, active: true, updated_at: trx.fn.now() }).returning('*');
    } else {
      const id = uuidv7();
      await checkControl(trx, id, input, c);
      [row] = await trx<DbEdiPartnerRow>('edi_partners').insert({ id, ...key, ...c, ack_type: input.ackType ?? (input.standard === 'x12' ? '997' : 'CONTRL'), provisional: false, active: true }).returning('*');
    }
    await writeAdminAudit(trx, { actor, action: existing ? 'edi_partner.complete' : 'edi_partner.create', entityType: 'edi_partner', entityId: row.id, ...(existing ? { before: auditRow(existing) } : {}), after: auditRow(row) });
    return { view: await viewOf(trx, row), created: !existing };
  });
}

/** Changes a partner (any field but its key); setting control numbers never goes back to a used one. */
export async function updatePartner(db: Knex, id: string, input: Partial<PartnerInput>, actor: string, phi?: PhiProtector): Promise<PartnerView> {
  return db.transaction(async (trx) => {
    const before = await trx<DbEdiPartnerRow>('edi_partners').where({ id }).forUpdate().first();
    if (!before) throw new LotBridgeError('LB_ERR_EDI_PARTNER_NOT_FOUND', `no EDI partner ${id}`);
    if ((input.standard !== undefined && input.standard !== before.standard) || (input.interchangeId !== undefined && input.interchangeId !== before.interchange_id) || (input.qualifier !== undefined && input.qualifier !== before.qualifier)) {
      throw new LotBridgeError('LB_ERR_API_CONFLICT', 'standard, qualifier and interchangeId identify a partner and cannot change; create another partner');
    }
    const c = columnsOf(input, phi);
    const party = await partyIdOf(trx, input.partyGln, input.name ?? before.name ?? undefined);
    if (party !== undefined) c.party_id = party;
    await checkControl(trx, id, input, c);
    const [row] = await trx<DbEdiPartnerRow>('edi_partners').where({ id }).update({ ...c, provisional: false, active: true, updated_at: trx.fn.now() }).returning('*');
    await writeAdminAudit(trx, { actor, action: 'edi_partner.update', entityType: 'edi_partner', entityId: id, before: auditRow(before), after: auditRow(row) });
    return viewOf(trx, row);
  });
}

export async function getPartner(db: Knex, id: string): Promise<PartnerView> {
  const row = /^[0-9a-f-]{36}$/i.test(id) ? await db<DbEdiPartnerRow>('edi_partners').where({ id }).first() : undefined;
  if (!row) throw new LotBridgeError('LB_ERR_EDI_PARTNER_NOT_FOUND', `no EDI partner ${id}`);
  return viewOf(db, row);
}

export async function listPartners(db: Knex, q: { standard?: string; provisional?: boolean } = {}): Promise<PartnerView[]> {
  const rows: DbEdiPartnerRow[] = await db('edi_partners')
    .modify((b: Knex.QueryBuilder) => {
      if (q.standard) void b.where('standard', q.standard);
      if (q.provisional !== undefined) void b.where('provisional', q.provisional);
    })
    .orderBy([{ column: 'standard' }, { column: 'interchange_id' }]);
  return Promise.all(rows.map((r) => viewOf(db, r)));
}

/**
 * Applies `partners[]` of lotbridge.config.json at start: each is created, or its settings updated
 * (control numbers only move forward). The file is the source of truth for what it names.
 */
export async function syncConfiguredPartners(db: Knex, partners: PartnerInput[], phi?: PhiProtector): Promise<number> {
  let n = 0;
  for (const p of partners) {
    const key = { standard: p.standard, qualifier: p.qualifier ?? '', interchange_id: p.interchangeId };
    const existing = await db<DbEdiPartnerRow>('edi_partners').where(key).first();
    if (!existing || existing.provisional || !existing.active) {
      await createPartner(db, p, 'config:lotbridge.config.json', phi);
    } else {
      const next = p.nextInterchangeControl !== undefined && p.nextInterchangeControl <= Number(existing.next_interchange_control) ? { ...p, nextInterchangeControl: undefined } : p;
      const { standard: _s, qualifier: _q, interchangeId: _i, ...rest } = next;
      await updatePartner(db, existing.id, rest, 'config:lotbridge.config.json', phi);
    }
    n++;
  }
  return n;
}

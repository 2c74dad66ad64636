import type { Knex } from 'knex';

/** One audit entry for a master-data change (chain `admin`). */
export interface AdminAuditEntry {
  /** Who made the change (principal name). */
  actor: string;
  /** What happened, e.g. `material.create`, `material.adopt`, `location.update`. */
  action: string;
  /** Entity type, e.g. `material`. */
  entityType: string;
  /** Entity id. */
  entityId: string;
  /** The record before the change (absent for a create). */
  before?: unknown;
  /** The record after the change. */
  after?: unknown;
  /** Free-text reason, e.g. `import materials.csv line 7`. */
  reason?: string;
  /** Inbound message that caused the change, when there is one. */
  sourceMessageId?: string;
}

/**
 * Appends one row to the `admin` chain of audit_log in the caller's transaction. The database trigger
 * assigns chain_seq, prev_hash and hash; the table refuses UPDATE and DELETE.
 * @param trx - the transaction that makes the change
 * @param entry - what changed, who changed it
 */
export async function writeAdminAudit(trx: Knex.Transaction, entry: AdminAuditEntry): Promise<void> {
  await trx('audit_log').insert({
    chain: 'admin',
    actor: entry.actor,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId,
    before: entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === undefined ? null : JSON.stringify(entry.after),
    reason: entry.reason ?? null,
    source_message_id: entry.sourceMessageId ?? null,
  });
}

import type { Db } from '../db/knex';

/** A row that breaks its chain, and how. */
export interface AuditBreak {
  seq: number;
  chain: string;
  chainSeq: number;
  problem: 'hash' | 'link' | 'sequence';
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  chains: number;
  /** The first breaks found (at most 100), in chain order. */
  breaks: AuditBreak[];
}

/**
 * Recomputes every audit row's hash (lotbridge_audit_digest, the same function the insert trigger
 * uses) and checks each row's prev_hash against the previous row of its chain and the chain
 * sequence for gaps. Rows cannot be updated or deleted through SQL (the triggers refuse); a break
 * means someone went around them (disabled triggers, edited files, restored a partial backup).
 */
export async function verifyAuditLog(db: Db, opts: { chain?: string } = {}): Promise<AuditVerification> {
  const where = opts.chain ? 'WHERE chain = ?' : '';
  const params = opts.chain ? [opts.chain] : [];
  const r = await db.raw<{ rows: Array<{ seq: number; chain: string; chain_seq: number; hash_ok: boolean; link_ok: boolean; seq_ok: boolean }> }>(
    `SELECT seq, chain, chain_seq,
            hash = lotbridge_audit_digest(a) AS hash_ok,
            prev_hash = coalesce(lag(hash) OVER w, repeat('0', 64)) AS link_ok,
            chain_seq = coalesce(lag(chain_seq) OVER w, 0) + 1 AS seq_ok
       FROM audit_log a ${where}
     WINDOW w AS (PARTITION BY chain ORDER BY chain_seq)
     ORDER BY chain, chain_seq`,
    params,
  );
  const breaks: AuditBreak[] = [];
  const chains = new Set<string>();
  for (const row of r.rows) {
    chains.add(row.chain);
    const problem = !row.hash_ok ? 'hash' : !row.link_ok ? 'link' : !row.seq_ok ? 'sequence' : undefined;
    if (problem && breaks.length < 100) {
      breaks.push({ seq: Number(row.seq), chain: row.chain, chainSeq: Number(row.chain_seq), problem });
    }
  }
  return { ok: breaks.length === 0, rows: r.rows.length, chains: chains.size, breaks };
}

import type { Db } from '../db/knex';

/** The audit chain anchors are written to (one row per anchor). */
export const ANCHOR_CHAIN = 'audit:anchor';

/** The head of one audit chain when an anchor was taken. */
export interface ChainHead {
  chain: string;
  chain_seq: number;
  seq: number;
  hash: string;
}

export interface AuditAnchor {
  id: number;
  hash: string;
  maxSeq: number;
  chains: number;
  at: string;
}

/**
 * The head row of every audit chain, one index probe per chain (a loose index scan over
 * audit_log (chain, chain_seq)), so it stays cheap however long the log grows.
 */
export async function auditChainHeads(db: Db): Promise<ChainHead[]> {
  const r = await db.raw<{ rows: ChainHead[] }>(`
    WITH RECURSIVE c AS (
      (SELECT chain FROM audit_log ORDER BY chain LIMIT 1)
      UNION ALL
      SELECT (SELECT a.chain FROM audit_log a WHERE a.chain > c.chain ORDER BY a.chain LIMIT 1) FROM c WHERE c.chain IS NOT NULL
    )
    SELECT c.chain, h.chain_seq, h.seq, h.hash
      FROM c CROSS JOIN LATERAL (
        SELECT a.chain_seq, a.seq, a.hash FROM audit_log a WHERE a.chain = c.chain ORDER BY a.chain_seq DESC LIMIT 1
      ) h
     WHERE c.chain IS NOT NULL
     ORDER BY c.chain`);
  return r.rows.map((h) => ({ chain: h.chain, chain_seq: Number(h.chain_seq), seq: Number(h.seq), hash: h.hash }));
}

/**
 * Anchors every audit chain's head: one `audit_anchors` row (hash-chained, append-only) and one
 * `audit_log` row in chain `audit:anchor` that carries the anchor's hash. `audit verify` then checks
 * that every anchored head still exists with its hash, so deleting the newest rows of a chain (tail
 * truncation) is detected, not only edits and gaps in the middle.
 * @param db - knex instance
 * @param opts - actor (default `system:anchor`); `force` anchors even when no chain moved since the last anchor
 * @returns the anchor, or undefined when nothing changed since the last one
 */
export async function anchorAuditChains(db: Db, opts: { actor?: string; force?: boolean } = {}): Promise<AuditAnchor | undefined> {
  return db.transaction(async (trx) => {
    // one anchor at a time (the insert trigger takes the same lock; taking it first keeps the head read and the insert together)
    await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('lotbridge_audit_anchor'))`);
    const heads = await auditChainHeads(trx);
    if (heads.length === 0) {
      return undefined;
    }
    if (!opts.force) {
      const last = await trx('audit_anchors').orderBy('id', 'desc').first<{ heads: ChainHead[] } | undefined>('heads');
      if (last) {
        const before = new Map(last.heads.map((h) => [h.chain, Number(h.chain_seq)]));
        // the anchor chain moves with every anchor: it alone does not call for another
        const moved = heads.some((h) => h.chain !== ANCHOR_CHAIN && before.get(h.chain) !== h.chain_seq);
        if (!moved) {
          return undefined;
        }
      }
    }
    const maxSeq = heads.reduce((m, h) => Math.max(m, h.seq), 0);
    const [a] = await trx('audit_anchors')
      .insert({ max_seq: maxSeq, heads: JSON.stringify(heads) })
      .returning<Array<{ id: number; hash: string; at: Date }>>(['id', 'hash', 'at']);
    await trx('audit_log').insert({
      chain: ANCHOR_CHAIN,
      actor: opts.actor ?? 'system:anchor',
      action: 'audit.anchored',
      entity_type: 'audit_anchor',
      entity_id: String(a.id),
      after: JSON.stringify({ hash: a.hash, maxSeq, chains: heads.length }),
    });
    return { id: Number(a.id), hash: a.hash, maxSeq, chains: heads.length, at: a.at.toISOString() };
  });
}

/**
 * Runs `anchorAuditChains` every `intervalMs` until stopped (each anchor's hash is logged at info);
 * failures are logged and retried at the next tick (a missed anchor only widens the window in which
 * a tail truncation goes unnoticed).
 */
export function startAuditAnchoring(db: Db, intervalMs: number, logger: { info(o: object, m: string): void; warn(o: object, m: string): void }): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = anchorAuditChains(db)
      .then((a) => {
        // the hash goes to the log too: a copy outside the database is what makes a rewrite of the whole log detectable
        if (a) logger.info({ anchorId: a.id, chains: a.chains, maxSeq: a.maxSeq, hash: a.hash }, 'audit chains anchored');
      })
      .catch((err: unknown) => logger.warn({ err }, 'audit anchoring failed; retried at the next interval'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}

import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { ANCHOR_CHAIN, type ChainHead } from './anchor-audit-chains';

/** An anchor hash as printed by `lotbridge audit anchor`: 64 hex digits. */
export const ANCHOR_HASH_PATTERN = '^[0-9a-fA-F]{64}$';

/** A row that breaks its chain, and how. */
export interface AuditBreak {
  /** audit_log.seq of the row named (for a missing row: the row after the gap, or the anchored head that is gone). */
  seq: number;
  chain: string;
  chainSeq: number;
  problem: 'hash' | 'link' | 'sequence' | 'order' | 'version' | 'truncated' | 'anchor';
  /** What is wrong, in words, naming the row. */
  reason: string;
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  chains: number;
  anchors: number;
  /** The anchor asked for by hash (`anchor` option), when it is present. */
  anchor?: { id: number; hash: string; at: string; chains: number };
  /** The first breaks found (at most 100), by seq. */
  breaks: AuditBreak[];
}

/** The answer of `GET /api/v1/audit/verify` and `lotbridge audit verify --json`. */
export type AuditVerifyAnswer = { ok: true; rows: number } | { ok: false; firstBrokenRow: number; reason: string };

const MAX_BREAKS = 100;

async function verifyChains(db: Db, where: string, params: Knex.RawBinding[]): Promise<AuditBreak[]> {
  const r = await db.raw<{
    rows: Array<{
      seq: number; chain: string; chain_seq: number; hash_ok: boolean; link_ok: boolean; seq_ok: boolean; order_ok: boolean; version_ok: boolean;
      digest_version: number; prev_version: number | null; v2_from: string; prev_seq: number | null; prev_chain_seq: number | null;
    }>;
  }>(
    `SELECT * FROM (
       SELECT seq, chain, chain_seq, digest_version, lag(digest_version) OVER w AS prev_version, lotbridge_audit_v2_from()::text AS v2_from,
              coalesce(hash = lotbridge_audit_digest(a), false) AS hash_ok,
              prev_hash = coalesce(lag(hash) OVER w, repeat('0', 64)) AS link_ok,
              chain_seq = coalesce(lag(chain_seq) OVER w, 0) + 1 AS seq_ok,
              (seq <= lotbridge_audit_ordered_from() OR seq > coalesce(lag(seq) OVER w, 0)) AS order_ok,
              (digest_version = 2 OR (seq <= lotbridge_audit_v2_from() AND coalesce(lag(digest_version) OVER w, 1) = 1)) AS version_ok,
              lag(seq) OVER w AS prev_seq, lag(chain_seq) OVER w AS prev_chain_seq
         FROM audit_log a ${where}
       WINDOW w AS (PARTITION BY chain ORDER BY chain_seq)
     ) v
     WHERE NOT (hash_ok AND link_ok AND seq_ok AND order_ok AND version_ok)
     ORDER BY seq LIMIT ${MAX_BREAKS}`,
    params,
  );
  return r.rows.map((x) => {
    const seq = Number(x.seq);
    const cs = Number(x.chain_seq);
    const name = `row seq ${seq} (chain ${x.chain} #${cs})`;
    const reordered = `its seq is not after the seq of chain row #${cs - 1} (seq ${x.prev_seq}): rows were reordered`;
    if (!x.hash_ok) {
      const what = ![1, 2].includes(Number(x.digest_version)) ? `unknown digest version ${x.digest_version}` : 'its content does not match its hash (edited)';
      // seq is hashed since digest version 2: a reordered row fails its hash too
      return { seq, chain: x.chain, chainSeq: cs, problem: 'hash', reason: `${name}: ${what}${x.order_ok ? '' : `; ${reordered}`}` };
    }
    if (!x.version_ok) {
      // a consistent version 1 row where only version 2 can be: its hash was recomputed with the older digest
      const why = x.prev_version !== null && Number(x.prev_version) >= 2
        ? `digest version 1 after a version ${x.prev_version} row of its chain`
        : `digest version 1, but written after version 2 was introduced (seq > ${x.v2_from})`;
      return { seq, chain: x.chain, chainSeq: cs, problem: 'version', reason: `${name}: ${why} (downgraded)` };
    }
    if (!x.seq_ok) {
      const from = x.prev_chain_seq === null ? 1 : Number(x.prev_chain_seq) + 1;
      const missing = from === cs - 1 ? `#${from} is` : `#${from}–#${cs - 1} are`;
      return {
        seq, chain: x.chain, chainSeq: cs, problem: 'sequence',
        reason: `${name}: chain row ${missing} missing (deleted${x.prev_seq === null ? ' before it' : ` between seq ${x.prev_seq} and seq ${seq}`})`,
      };
    }
    if (!x.link_ok) {
      return { seq, chain: x.chain, chainSeq: cs, problem: 'link', reason: `${name}: prev_hash does not match the hash of the row before it in its chain (rows removed or replaced)` };
    }
    return { seq, chain: x.chain, chainSeq: cs, problem: 'order', reason: `${name}: ${reordered}` };
  });
}

/**
 * Recomputes every audit row's hash by its own digest version (lotbridge_audit_digest: version 2,
 * the one the insert trigger writes, or version 1 for rows written before migration 20260301002800;
 * a version 1 row after a version 2 row of its chain or written since then is a downgrade),
 * checks each row's prev_hash against the previous row of its chain, the chain sequence for gaps,
 * and that seq grows with the chain sequence (no reordering; for rows written since migration
 * 20260301001000, which draws seq under the chain lock). Then checks the anchors: the anchor
 * table's own hash chain, that every anchor has its `audit:anchor` log row and back, and that every
 * anchored chain head still exists with the anchored seq and hash (tail truncation, also when the
 * chain grew past the old head again and was anchored anew).
 * Rows cannot be changed through SQL (the triggers refuse); a break means someone went around them
 * (disabled triggers, replica mode, edited files, a partial restore).
 * @param db - knex instance
 * Deleting the newest anchor together with the rows after the anchor before it cannot be seen
 * from inside the database; `anchor` closes that: the hash of an anchor kept elsewhere (printed by
 * `lotbridge audit anchor`, logged by the hub) must still be in audit_anchors, and then its chain
 * heads are checked like every anchor's.
 * @param db - knex instance
 * @param opts - chain: verify one chain only (anchors are then checked for that chain only);
 *   anchor: the hex hash of an anchor kept outside the database, which must still be there
 */
export async function verifyAuditLog(db: Db, opts: { chain?: string; parallel?: number; anchor?: string } = {}): Promise<AuditVerification> {
  const breaks: AuditBreak[] = [];
  const parallel = opts.chain ? 1 : Math.max(1, opts.parallel ?? 2);
  const counts = db.raw<{ rows: Array<{ rows: number; chains: number }> }>(
    `SELECT count(*)::bigint AS rows, count(DISTINCT chain)::int AS chains FROM audit_log ${opts.chain ? 'WHERE chain = ?' : ''}`,
    opts.chain ? [opts.chain] : [],
  );
  const parts = opts.chain
    ? [verifyChains(db, 'WHERE chain = ?', [opts.chain])]
    : Array.from({ length: parallel }, (_, i) => verifyChains(db, parallel > 1 ? `WHERE abs(hashtext(chain)) % ${parallel} = ${i}` : '', []));
  const [c, ...found] = await Promise.all([counts, ...parts]);
  for (const f of found) breaks.push(...f);

  // anchors: their own chain
  const anchorRows = await db.raw<{ rows: Array<{ id: number; hash_ok: boolean; link_ok: boolean }> }>(
    `SELECT * FROM (
       SELECT id, hash = lotbridge_anchor_digest(a) AS hash_ok, prev_hash = coalesce(lag(hash) OVER (ORDER BY id), repeat('0', 64)) AS link_ok
         FROM audit_anchors a) v
      WHERE NOT (hash_ok AND link_ok) ORDER BY id LIMIT ${MAX_BREAKS}`,
  );
  const anchorLog = await db.raw<{ rows: Array<{ anchor_id: number | null; log_seq: number | null; log_chain_seq: number | null; entity_id: string | null; hash_ok: boolean }> }>(
    `SELECT a.id AS anchor_id, l.seq AS log_seq, l.chain_seq AS log_chain_seq, l.entity_id, coalesce(l.after->>'hash' = a.hash, false) AS hash_ok
       FROM audit_anchors a
       FULL JOIN (SELECT seq, chain_seq, entity_id, after FROM audit_log WHERE chain = ?) l ON l.entity_id = a.id::text
      WHERE a.id IS NULL OR l.seq IS NULL OR l.after->>'hash' IS DISTINCT FROM a.hash
      ORDER BY coalesce(l.seq, 0), a.id LIMIT ${MAX_BREAKS}`,
    [ANCHOR_CHAIN],
  );
  const anchorCount = await db.raw<{ rows: Array<{ n: number }> }>(`SELECT count(*)::int AS n FROM audit_anchors`);
  // the log row of each broken anchor (present or not: an edited anchor's log row is intact), so
  // that the break names a row of the log and not 0
  const brokenLogRows = anchorRows.rows.length
    ? (await db.raw<{ rows: Array<{ entity_id: string; seq: number; chain_seq: number }> }>(
      `SELECT entity_id, seq, chain_seq FROM audit_log WHERE chain = ? AND entity_id = ANY(?::text[])`,
      [ANCHOR_CHAIN, anchorRows.rows.map((a) => String(a.id))],
    )).rows
    : [];
  for (const a of anchorRows.rows) {
    const logRow = brokenLogRows.find((x) => x.entity_id === String(a.id));
    breaks.push({
      seq: logRow ? Number(logRow.seq) : 0, chain: ANCHOR_CHAIN, chainSeq: logRow ? Number(logRow.chain_seq) : 0, problem: 'anchor',
      reason: `audit anchor #${a.id}: ${!a.hash_ok ? 'its content does not match its hash (edited)' : 'its prev_hash does not match the anchor before it (anchors removed)'}`,
    });
  }
  for (const x of anchorLog.rows) {
    if (x.anchor_id === null) {
      breaks.push({ seq: Number(x.log_seq), chain: ANCHOR_CHAIN, chainSeq: Number(x.log_chain_seq), problem: 'anchor', reason: `row seq ${x.log_seq} (chain ${ANCHOR_CHAIN} #${x.log_chain_seq}) records audit anchor #${x.entity_id}, which is missing from audit_anchors (deleted)` });
    } else if (x.log_seq === null) {
      breaks.push({ seq: 0, chain: ANCHOR_CHAIN, chainSeq: 0, problem: 'anchor', reason: `audit anchor #${x.anchor_id} has no row in chain ${ANCHOR_CHAIN} of the log (deleted)` });
    } else {
      breaks.push({ seq: Number(x.log_seq), chain: ANCHOR_CHAIN, chainSeq: Number(x.log_chain_seq), problem: 'anchor', reason: `row seq ${x.log_seq} (chain ${ANCHOR_CHAIN} #${x.log_chain_seq}) carries another hash than audit anchor #${x.anchor_id}` });
    }
  }

  // tail truncation: every anchored head must still be there, with its seq and hash. Not only the
  // newest per chain: a tail deleted and then written again past the old head (ordinary appends)
  // gets anchored anew within the anchor interval, and only the older anchor still knows the rows
  // that are gone. A head anchored twice is checked against its first anchor
  const heads = await db.raw<{ rows: Array<{ anchor_id: number; chain: string; chain_seq: number; seq: number; hash: string; found_seq: number | null; found_hash: string | null; last_chain_seq: number | null }> }>(
    `WITH h AS (
       SELECT DISTINCT ON (x.chain, x.chain_seq) a.id AS anchor_id, x.chain, x.chain_seq, x.seq, x.hash
         FROM audit_anchors a CROSS JOIN LATERAL jsonb_to_recordset(a.heads) AS x(chain text, chain_seq bigint, seq bigint, hash text)
        ${opts.chain ? 'WHERE x.chain = ?' : ''}
        ORDER BY x.chain, x.chain_seq, a.id)
     SELECT h.*, l.seq AS found_seq, l.hash AS found_hash,
            (SELECT max(z.chain_seq) FROM audit_log z WHERE z.chain = h.chain) AS last_chain_seq
       FROM h LEFT JOIN audit_log l ON l.chain = h.chain AND l.chain_seq = h.chain_seq
      WHERE l.seq IS NULL OR l.hash IS DISTINCT FROM h.hash OR l.seq IS DISTINCT FROM h.seq`,
    opts.chain ? [opts.chain] : [],
  );
  for (const h of heads.rows) {
    const name = `row seq ${h.seq} (chain ${h.chain} #${h.chain_seq})`;
    if (h.found_seq === null) {
      const last = h.last_chain_seq === null ? 'the chain has no rows left' : `the chain now ends at #${h.last_chain_seq}`;
      breaks.push({ seq: Number(h.seq), chain: h.chain, chainSeq: Number(h.chain_seq), problem: 'truncated', reason: `${name}, anchored by audit anchor #${h.anchor_id}, is missing: ${last} (tail truncated)` });
    } else if (h.found_hash !== h.hash) {
      breaks.push({
        seq: Number(h.seq), chain: h.chain, chainSeq: Number(h.chain_seq), problem: 'truncated',
        reason: `${name}, anchored by audit anchor #${h.anchor_id}, is missing: the chain has another row #${h.chain_seq} now, seq ${h.found_seq} (rows replaced)`,
      });
    } else {
      breaks.push({ seq: Number(h.found_seq), chain: h.chain, chainSeq: Number(h.chain_seq), problem: 'truncated', reason: `${name}, anchored by audit anchor #${h.anchor_id}, has another seq than anchored, ${h.found_seq} (rows renumbered)` });
    }
  }
  let anchor: AuditVerification['anchor'];
  if (opts.anchor !== undefined) {
    const want = opts.anchor.trim().toLowerCase();
    const found = await db('audit_anchors').where({ hash: want }).first<{ id: number; hash: string; at: Date; heads: ChainHead[] } | undefined>('id', 'hash', 'at', 'heads');
    if (found) {
      // its heads were checked above with every anchor's (and its own hash with the anchor chain)
      anchor = { id: Number(found.id), hash: found.hash, at: found.at.toISOString(), chains: found.heads.length };
    } else {
      const newest = await db('audit_anchors').orderBy('id', 'desc').first<{ id: number; at: Date } | undefined>('id', 'at');
      breaks.push({
        seq: 0, chain: ANCHOR_CHAIN, chainSeq: 0, problem: 'anchor',
        reason: `the audit anchor with hash ${want} (kept outside the database) is not in audit_anchors: anchors were deleted or rewritten, and the rows they anchored may be gone with them (${newest ? `newest anchor now #${newest.id} of ${newest.at.toISOString()}` : 'no anchors left'})`,
      });
    }
  }
  // by seq; a break that names no row (seq 0: an anchor whose log row is gone, an outside anchor
  // missing) after those that do, so firstBrokenRow names a row whenever one is known
  const sortKey = (b: AuditBreak): number => (b.seq > 0 ? b.seq : Number.MAX_SAFE_INTEGER);
  breaks.sort((a, b) => sortKey(a) - sortKey(b));
  const total = c.rows[0];
  return { ok: breaks.length === 0, rows: Number(total.rows), chains: Number(total.chains), anchors: anchorCount.rows[0].n, ...(anchor ? { anchor } : {}), breaks: breaks.slice(0, MAX_BREAKS) };
}

/** The issue's answer shape: `{ok:true, rows}` or `{ok:false, firstBrokenRow, reason}`. */
export function verifyAnswer(v: AuditVerification): AuditVerifyAnswer {
  if (v.ok) {
    return { ok: true, rows: v.rows };
  }
  const first = v.breaks[0];
  const more = v.breaks.length > 1 ? ` (and ${v.breaks.length - 1} more break${v.breaks.length > 2 ? 's' : ''}${v.breaks.length >= MAX_BREAKS ? ' or more' : ''})` : '';
  return { ok: false, firstBrokenRow: first.seq, reason: `${first.reason}${more}` };
}

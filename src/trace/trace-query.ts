import type { Db } from '../db/knex';
import { previewRecallImpact, type RecallImpactPreview } from './recall-preview';
import { traceLots, type TracePage } from './trace-page';
import { resolveTraceSubject, type TraceQuery } from './trace-subject';

/** The trace queries a caller outside the API (Node-RED's lotbridge-trace node) can run. */
export type TraceMode = 'forward' | 'backward' | 'recall-impact';

export interface TraceRequest {
  mode: TraceMode;
  /** The subject, named like the trace API: gtin or material with lot, serial, or a GS1 barcode. */
  subject: TraceQuery;
  /** Table rows per page (forward/backward; 1–1000, default 1000). */
  limit?: number;
  /** page.nextCursor of the previous page (forward/backward). */
  cursor?: string;
  /** Stop the genealogy walk after this many levels (forward/backward). */
  maxDepth?: number;
}

/**
 * Resolves the subject and runs one trace query: a page of a forward/backward trace (as `GET
 * /api/v1/trace/forward|backward`) or a recall-impact preview (as `GET /api/v1/trace/recall-impact`).
 * @param db - knex instance (reads only)
 * @param req - mode, subject, paging
 * @throws LotBridgeError as resolveTraceSubject and traceLots (LB_ERR_LOT_NOT_FOUND, LB_ERR_SERIAL_NOT_FOUND,
 *   LB_ERR_API_BAD_REQUEST, LB_ERR_GS1_*, LB_ERR_API_CONFLICT, LB_ERR_TRACE_CURSOR_INVALID)
 */
export async function runTrace(db: Db, req: TraceRequest): Promise<TracePage | RecallImpactPreview> {
  const subject = await resolveTraceSubject(db, req.subject);
  if (req.mode === 'recall-impact') {
    return previewRecallImpact(db, subject);
  }
  return traceLots(db, subject, req.mode, { limit: req.limit, cursor: req.cursor, maxDepth: req.maxDepth });
}

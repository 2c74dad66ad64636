import type { Db } from '../db/knex';

/** Forward: from inputs to what was made of them. Backward: from a product to its components. */
export type TraceDirection = 'forward' | 'backward';

/** One genealogy link between two lots in the closure (always input → output, whatever the direction). */
export interface GenealogyEdge {
  from: string;
  to: string;
  /** Sum of the link quantities (input consumed), null when the links carry none. */
  quantity: number | null;
  uom: string | null;
}

/** Every lot reachable from the roots, with its shortest distance, and the links between them. */
export interface GenealogyClosure {
  direction: TraceDirection;
  /** lot id → depth (0 for the roots). */
  depth: Map<string, number>;
  /** Lot ids ordered by (depth, id): the order of trace pages. */
  order: string[];
  /** Links among the closure's lots (into lots of depth ≥ 1). */
  edges: GenealogyEdge[];
  /** Links per lot that is reached through them (forward: the output; backward: the input). */
  edgesInto: Map<string, GenealogyEdge[]>;
  maxDepth: number;
  /** True when the walk stopped at `maxDepth` with links still unexplored. */
  depthLimited: boolean;
  /** Links that led back to a lot already reached at a smaller or equal depth (diamonds, shared components, or cycles in bad data): not walked again. */
  revisits: number;
}

export interface GenealogyOptions {
  /** Stop after this many levels (default 64): the graph is a DAG of modest depth; this only guards bad data. */
  maxDepth?: number;
  /**
   * Forward trace of a single serial: the first level is what events made of that unit (outputs of
   * events naming it as input/child), not every lot made from its lot.
   */
  serialId?: string;
}

const CHUNK = 5000;

async function linksFrom(db: Db, frontier: string[], direction: TraceDirection): Promise<Array<{ input_lot_id: string; output_lot_id: string; quantity: number | null; uom: string | null }>> {
  const col = direction === 'forward' ? 'input_lot_id' : 'output_lot_id';
  const out: Array<{ input_lot_id: string; output_lot_id: string; quantity: number | null; uom: string | null }> = [];
  for (let i = 0; i < frontier.length; i += CHUNK) {
    const r = await db.raw<{ rows: typeof out }>(
      `SELECT input_lot_id, output_lot_id, sum(quantity) AS quantity, min(uom) AS uom
         FROM lot_links WHERE ${col} = ANY(?::uuid[])
        GROUP BY input_lot_id, output_lot_id`,
      [frontier.slice(i, i + CHUNK)],
    );
    out.push(...r.rows);
  }
  return out;
}

async function serialOutputs(db: Db, serialId: string, lotId: string): Promise<Array<{ input_lot_id: string; output_lot_id: string; quantity: number | null; uom: string | null }>> {
  const r = await db.raw<{ rows: Array<{ output_lot_id: string; quantity: number | null; uom: string | null }> }>(
    `SELECT o.lot_id AS output_lot_id, sum(i.quantity) AS quantity, min(i.uom) AS uom
       FROM trace_event_items i
       JOIN trace_event_items o ON o.event_id = i.event_id AND o.role IN ('output','parent') AND o.lot_id IS NOT NULL
      WHERE i.serial_id = ? AND i.role IN ('input','child') AND o.lot_id <> ?
      GROUP BY o.lot_id`,
    [serialId, lotId],
  );
  return r.rows.map((x) => ({ input_lot_id: lotId, ...x }));
}

/**
 * Walks lot_links breadth-first from the roots (one indexed query per level), keeping each lot's
 * shortest depth. A visited set makes the walk finish on any data: diamonds and shared components
 * are reached once, and a cycle (impossible in a correct genealogy, guarded all the same) stops.
 * @param db - knex instance or transaction
 * @param roots - lot ids of depth 0
 * @param direction - forward (to derived lots) or backward (to components)
 * @param opts - depth guard, serial subject
 */
export async function walkGenealogy(db: Db, roots: string[], direction: TraceDirection, opts: GenealogyOptions = {}): Promise<GenealogyClosure> {
  const maxDepth = opts.maxDepth ?? 64;
  const depth = new Map<string, number>();
  const edges: GenealogyEdge[] = [];
  const edgesInto = new Map<string, GenealogyEdge[]>();
  for (const r of roots) depth.set(r, 0);
  let frontier = [...new Set(roots)];
  let level = 0;
  let revisits = 0;
  let depthLimited = false;
  while (frontier.length > 0) {
    if (level >= maxDepth) {
      depthLimited = (await linksFrom(db, frontier.slice(0, 1000), direction)).length > 0;
      break;
    }
    const links = level === 0 && opts.serialId && direction === 'forward' && roots.length === 1
      ? await serialOutputs(db, opts.serialId, roots[0])
      : await linksFrom(db, frontier, direction);
    const next: string[] = [];
    for (const l of links) {
      const target = direction === 'forward' ? l.output_lot_id : l.input_lot_id;
      const e: GenealogyEdge = { from: l.input_lot_id, to: l.output_lot_id, quantity: l.quantity, uom: l.uom };
      const seen = depth.get(target);
      if (seen === undefined) {
        depth.set(target, level + 1);
        next.push(target);
      } else if (seen <= level) {
        revisits++;
      }
      // BFS: a target is new, or at this level + 1 (a diamond), or earlier (shared component / cycle)
      edges.push(e);
      const list = edgesInto.get(target);
      if (list) list.push(e);
      else edgesInto.set(target, [e]);
    }
    frontier = next;
    level++;
  }
  const order = [...depth.keys()].sort((a, b) => {
    const d = (depth.get(a) ?? 0) - (depth.get(b) ?? 0);
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });
  let maxD = 0;
  for (const d of depth.values()) if (d > maxD) maxD = d;
  return { direction, depth, order, edges, edgesInto, maxDepth: maxD, depthLimited, revisits };
}

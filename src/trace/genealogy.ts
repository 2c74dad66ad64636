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
 * A breadth-first walk over lot_links, one level (one indexed query) at a time, so a trace page
 * expands only as deep as it needs: lots are ordered by (depth, id), and depth d is complete once
 * levels 0..d are walked. Each lot keeps its shortest depth; a visited set makes the walk end on any
 * data: diamonds and shared components are reached once (every link into them is kept), a cycle
 * (impossible in a correct genealogy, guarded all the same) stops.
 */
export class GenealogyWalk {
  readonly depth = new Map<string, number>();
  /** Lot ids per level, each level sorted by id. */
  readonly levels: string[][] = [];
  readonly edgesInto = new Map<string, GenealogyEdge[]>();
  links = 0;
  revisits = 0;
  depthLimited = false;
  done = false;
  private readonly maxDepth: number;
  private readonly serialId?: string;
  private readonly roots: string[];

  constructor(private readonly db: Db, roots: string[], readonly direction: TraceDirection, opts: GenealogyOptions = {}) {
    this.maxDepth = opts.maxDepth ?? 64;
    this.serialId = opts.serialId;
    this.roots = [...new Set(roots)].sort();
    for (const r of this.roots) this.depth.set(r, 0);
    this.levels.push(this.roots);
    this.done = this.roots.length === 0;
  }

  /** Lots reached so far. */
  get size(): number {
    return this.depth.size;
  }

  /** Walks one more level; false when the walk is complete. */
  async expand(): Promise<boolean> {
    if (this.done) return false;
    const level = this.levels.length - 1;
    const frontier = this.levels[level];
    if (level >= this.maxDepth) {
      this.depthLimited = (await linksFrom(this.db, frontier.slice(0, 1000), this.direction)).length > 0;
      this.done = true;
      return false;
    }
    const links = level === 0 && this.serialId && this.direction === 'forward' && this.roots.length === 1
      ? await serialOutputs(this.db, this.serialId, this.roots[0])
      : await linksFrom(this.db, frontier, this.direction);
    const next: string[] = [];
    for (const l of links) {
      const target = this.direction === 'forward' ? l.output_lot_id : l.input_lot_id;
      const seen = this.depth.get(target);
      if (seen === undefined) {
        this.depth.set(target, level + 1);
        next.push(target);
      } else if (seen <= level) {
        this.revisits++; // a shared component reached again at another depth, or a cycle
      }
      // BFS: a target is new, at this level + 1 (a diamond), or earlier: the link is kept either way
      const e: GenealogyEdge = { from: l.input_lot_id, to: l.output_lot_id, quantity: l.quantity, uom: l.uom };
      this.links++;
      const list = this.edgesInto.get(target);
      if (list) list.push(e);
      else this.edgesInto.set(target, [e]);
    }
    if (next.length === 0) {
      this.done = true;
      return false;
    }
    this.levels.push(next.sort());
    return true;
  }

  /** Walks on until done, or until `maxLots` lots are reached. */
  async walk(maxLots = Infinity): Promise<void> {
    while (!this.done && this.size < maxLots) {
      await this.expand();
    }
  }

  get maxDepthReached(): number {
    return this.levels.length - 1;
  }
}

/**
 * The whole walk (every level) from the roots: what recalls need.
 * @param db - knex instance or transaction
 * @param roots - lot ids of depth 0
 * @param direction - forward (to derived lots) or backward (to components)
 * @param opts - depth guard, serial subject
 */
export async function walkGenealogy(db: Db, roots: string[], direction: TraceDirection, opts: GenealogyOptions = {}): Promise<GenealogyClosure> {
  const w = new GenealogyWalk(db, roots, direction, opts);
  await w.walk();
  const edges = [...w.edgesInto.values()].flat();
  return { direction, depth: w.depth, order: w.levels.flat(), edges, edgesInto: w.edgesInto, maxDepth: w.maxDepthReached, depthLimited: w.depthLimited, revisits: w.revisits };
}

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

type LinkRow = { input_lot_id: string; output_lot_id: string; quantity: number | null; uom: string | null };

async function linksFrom(db: Db, frontier: string[], direction: TraceDirection): Promise<LinkRow[]> {
  const col = direction === 'forward' ? 'input_lot_id' : 'output_lot_id';
  const out: LinkRow[] = [];
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

async function serialOutputs(db: Db, serialId: string, lotId: string): Promise<LinkRow[]> {
  return (await unitOutputs(db, serialId, lotId)).map((o) => ({ input_lot_id: lotId, output_lot_id: o.lotId, quantity: o.quantity, uom: o.uom }));
}

/**
 * What trace events made of one unit: the output/parent lots of events that name the serial as an
 * input or child, with the quantity of the unit's items (summed per output lot). For a unit without
 * a lot these are the first level (depth 1) of its forward trace; for a unit of a lot, the first
 * level of a serial subject's walk, without the unit's own lot (`exceptLot`).
 * @param db - knex instance or transaction
 * @param serialId - the serial's id
 * @param exceptLot - a lot to leave out (the unit's own)
 */
export async function unitOutputs(db: Db, serialId: string, exceptLot?: string): Promise<Array<{ lotId: string; quantity: number | null; uom: string | null }>> {
  const r = await db.raw<{ rows: Array<{ lot_id: string; quantity: number | null; uom: string | null }> }>(
    `SELECT o.lot_id, sum(i.quantity) AS quantity, min(i.uom) AS uom
       FROM trace_event_items i
       JOIN trace_event_items o ON o.event_id = i.event_id AND o.role IN ('output','parent') AND o.lot_id IS NOT NULL
      WHERE i.serial_id = ? AND i.role IN ('input','child')${exceptLot ? ' AND o.lot_id <> ?' : ''}
      GROUP BY o.lot_id
      ORDER BY o.lot_id`,
    exceptLot ? [serialId, exceptLot] : [serialId],
  );
  return r.rows.map((x) => ({ lotId: x.lot_id, quantity: x.quantity, uom: x.uom }));
}

/** A lot count as the walk's SQL takes it (bigint): Infinity as the largest safe integer. */
const bound = (n: number): number => (Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER);

/**
 * Lets a walk that reached its `maxLots` go on, in the same statement, while its last level is small
 * (at most `frontierAtMost` lots) and it holds fewer than `upTo` lots: the next level of a small
 * frontier costs that many index probes, less than a statement of its own.
 */
export interface WalkExtension { upTo: number; frontierAtMost: number }

/**
 * The levels below `frontier` (at `level`) in one statement, until a level adds no lot, `maxLots`
 * lots are reached (or, with `extend`, past them while the last level is small) or `maxDepth`
 * levels are walked: per level, the links found from the previous level's lots (grouped per
 * input/output pair). `seen` is every lot reached so far (the frontier's level included).
 */
async function linksByLevel(
  db: Db, frontier: string[], seen: string[], direction: TraceDirection, level: number, maxLots: number, maxDepth: number, extend: WalkExtension | undefined,
): Promise<Array<{ level: number; links: LinkRow[] }>> {
  const [from, to] = direction === 'forward' ? ['input_lot_id', 'output_lot_id'] : ['output_lot_id', 'input_lot_id'];
  // not a prepared statement (rawNamed): frontiers range from one lot to thousands, and the generic
  // plan chosen after a prepared statement's sixth run fits the small ones; recalls were 25–30 %
  // slower with it (docs/architecture.md, "The walk's statements unprepared again").
  // Each level's links come back as four json arrays of the same length and order (inputs,
  // outputs, quantities, units; one aggregate node feeds them all, so row i of each is link i),
  // not as a json_agg of json_build_array per link: json_build_array looks up each argument's type
  // and output function per call, which was about half of a bulk raw lot's walk-ahead (3,700 links
  // over three levels: 16–19 → 14–16 ms). json, not jsonb (jsonb built a binary value per link and
  // wrote it out as text again); the driver parses the json, so the values are those JSON.parse
  // gives: the same as before
  const r = await db.raw<{ rows: Array<{ level: number; li: string[] | null; lo: string[] | null; lq: Array<number | null> | null; lu: Array<string | null> | null }> }>(
    `WITH RECURSIVE w(level, frontier, seen, n, li, lo, lq, lu) AS (
       SELECT ?::int, ?::uuid[], ?::uuid[], ?::int, NULL::json, NULL::json, NULL::json, NULL::json
       UNION ALL
       SELECT w.level + 1, nx.ids, w.seen || nx.ids, w.n + cardinality(nx.ids), lk.li, lk.lo, lk.lq, lk.lu
         FROM w
         CROSS JOIN LATERAL (
           SELECT json_agg(g.input_lot_id) AS li, json_agg(g.output_lot_id) AS lo, json_agg(g.quantity) AS lq, json_agg(g.uom) AS lu,
                  array_agg(g.${to}) AS targets
             FROM (SELECT k.input_lot_id, k.output_lot_id, sum(k.quantity) AS quantity, min(k.uom) AS uom
                     FROM lot_links k WHERE k.${from} = ANY(w.frontier) GROUP BY 1, 2) g
         ) lk
         CROSS JOIN LATERAL (
           SELECT coalesce(array_agg(t), '{}') AS ids FROM (SELECT unnest(lk.targets) EXCEPT SELECT unnest(w.seen)) z(t)
         ) nx
        WHERE cardinality(w.frontier) > 0 AND w.level < ?::int
          AND (w.n < ?::bigint OR (w.n < ?::bigint AND cardinality(w.frontier) <= ?::int))
     )
     SELECT level, li, lo, lq, lu FROM w WHERE level > ? ORDER BY level`,
    [level, frontier, seen, seen.length, maxDepth, bound(maxLots), bound(extend?.upTo ?? 0), extend?.frontierAtMost ?? 0, level],
  );
  return r.rows.map((x) => {
    const inputs = x.li ?? [];
    const outputs = x.lo ?? [];
    const quantities = x.lq ?? [];
    const uoms = x.lu ?? [];
    const links: LinkRow[] = new Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) links[i] = { input_lot_id: inputs[i], output_lot_id: outputs[i], quantity: quantities[i], uom: uoms[i] };
    return { level: x.level, links };
  });
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
    return this.absorb(level, links);
  }

  /** Takes the links found from level `level`'s lots: the next level, the links into each lot, revisits. */
  private absorb(level: number, links: LinkRow[]): boolean {
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

  /**
   * Walks on until done, or until `maxLots` lots are reached (with `extend`, on past them in the
   * same statement while the last level is small, see {@link WalkExtension}). The levels are walked
   * by one SQL statement (a recursive CTE that carries each level's frontier and the lots seen so
   * far, and returns the links found per level), so a walk of n levels is one round trip, not n;
   * the links are then taken level by level exactly as {@link expand} takes them.
   */
  async walk(maxLots = Infinity, extend?: WalkExtension): Promise<void> {
    // as the statement's recursion decides it: below maxLots, or past it while the last level is small
    const wantMore = (): boolean => this.size < maxLots
      || (extend !== undefined && this.size < extend.upTo && this.levels[this.levels.length - 1].length <= extend.frontierAtMost);
    if (!this.done && wantMore() && this.levels.length === 1 && this.serialId && this.direction === 'forward' && this.roots.length === 1) {
      await this.expand(); // a serial's first level comes from events, not lot_links
    }
    while (!this.done && wantMore()) {
      const level = this.levels.length - 1;
      if (level >= this.maxDepth) {
        await this.expand(); // the depth guard: probes whether links are left, and ends the walk
        break;
      }
      const rows = await linksByLevel(this.db, this.levels[level], [...this.depth.keys()], this.direction, level, maxLots, this.maxDepth, extend);
      if (rows.length === 0) {
        await this.expand();
        continue;
      }
      for (const r of rows) {
        if (this.done) break;
        this.absorb(r.level - 1, r.links);
      }
    }
  }

  get maxDepthReached(): number {
    return this.levels.length - 1;
  }
}

/**
 * No depth guard: the visited set alone ends the walk (every level adds a lot not seen before, so
 * there are at most as many levels as lots). The largest value the walk's SQL takes (int4).
 */
export const UNLIMITED_DEPTH = 2_147_483_647;

/**
 * The whole walk (every level) from the roots: what recalls need. Unlike a trace page (maxDepth
 * 1–64, default 64, and `depthLimited` says when it stopped), it has no depth guard unless one is
 * given: a recall holds every derived lot, however deep.
 * @param db - knex instance or transaction
 * @param roots - lot ids of depth 0
 * @param direction - forward (to derived lots) or backward (to components)
 * @param opts - depth guard (default none), serial subject
 */
export async function walkGenealogy(db: Db, roots: string[], direction: TraceDirection, opts: GenealogyOptions = {}): Promise<GenealogyClosure> {
  const w = new GenealogyWalk(db, roots, direction, { ...opts, maxDepth: opts.maxDepth ?? UNLIMITED_DEPTH });
  await w.walk();
  const edges = [...w.edgesInto.values()].flat();
  return { direction, depth: w.depth, order: w.levels.flat(), edges, edgesInto: w.edgesInto, maxDepth: w.maxDepthReached, depthLimited: w.depthLimited, revisits: w.revisits };
}

/**
 * The lots made from one unit (a serial), at any depth, with their depth below the unit: what a
 * recall of that unit puts on hold. A unit of a lot: the lot's forward walk as a serial subject
 * (its first level is what events made of that unit), without the unit's own lot. A unit without a
 * lot: the lots trace events made of it ({@link unitOutputs}) at depth 1, then their forward walk.
 * @param db - knex instance or transaction
 * @param unit - the serial's id and its lot (null when it has none)
 */
export async function lotsMadeFromUnit(db: Db, unit: { id: string; lotId: string | null }): Promise<Map<string, number>> {
  const depth = new Map<string, number>();
  if (unit.lotId) {
    for (const [id, d] of (await walkGenealogy(db, [unit.lotId], 'forward', { serialId: unit.id })).depth) {
      if (id !== unit.lotId) depth.set(id, d); // the unit is recalled, not its lot
    }
    return depth;
  }
  const outputs = (await unitOutputs(db, unit.id)).map((o) => o.lotId);
  if (outputs.length > 0) {
    for (const [id, d] of (await walkGenealogy(db, outputs, 'forward')).depth) depth.set(id, d + 1);
  }
  return depth;
}

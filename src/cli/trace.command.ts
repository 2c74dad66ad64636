import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { TracePage, TraceLotRow } from '../trace/trace-page';

/** How CLI commands reach a running hub. */
export interface HubClient {
  url(opts: { url?: string }): string;
  key(opts: { key?: string }): string;
}

interface ConnOpts {
  url?: string;
  key?: string;
}

interface TraceOpts extends ConnOpts {
  gtin?: string;
  material?: string;
  lot?: string;
  serial?: string;
  barcode?: string;
  json?: string;
  csv?: string;
  maxRows: string;
  quiet?: boolean;
}

/** A whole trace: every page fetched and merged. */
export interface FullTrace {
  direction: TracePage['direction'];
  subject: TracePage['subject'];
  summary: TracePage['summary'];
  graph: TracePage['graph'];
  tables: TracePage['tables'];
  pages: number;
  /** True when --max-rows stopped the fetch before the last page. */
  truncated: boolean;
}

async function getJson(client: HubClient, opts: ConnOpts, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${client.url(opts)}${path}`, { headers: { authorization: `Bearer ${client.key(opts)}` } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

function apiError(status: number, body: any): Error {
  const e = body?.error;
  return new Error(e ? `${e.code}: ${e.message}` : `HTTP ${status}`);
}

/** Fetches every page of a trace (up to maxRows table rows) and merges them. */
export async function fetchFullTrace(client: HubClient, opts: TraceOpts, direction: 'forward' | 'backward'): Promise<FullTrace> {
  const q = new URLSearchParams();
  for (const k of ['gtin', 'material', 'lot', 'serial', 'barcode'] as const) {
    const v = opts[k];
    if (v !== undefined) q.set(k, v);
  }
  const maxRows = Number(opts.maxRows);
  let cursor: string | null = null;
  let merged: FullTrace | undefined;
  let rows = 0;
  const nodeIds = new Set<string>();
  do {
    const p = new URLSearchParams(q);
    p.set('limit', '1000');
    if (cursor) p.set('cursor', cursor);
    const r = await getJson(client, opts, `/api/v1/trace/${direction}?${p.toString()}`);
    if (r.status !== 200) throw apiError(r.status, r.body);
    const page = r.body as TracePage;
    if (!merged) {
      merged = { direction, subject: page.subject, summary: page.summary, graph: { nodes: [], edges: [] }, tables: { lots: [], onHand: [], shipments: [], consumption: [], qc: [] }, pages: 0, truncated: false };
    }
    for (const n of page.graph.nodes) {
      if (!nodeIds.has(n.id)) {
        nodeIds.add(n.id);
        merged.graph.nodes.push(n);
      }
    }
    merged.graph.edges.push(...page.graph.edges);
    for (const k of Object.keys(merged.tables) as Array<keyof FullTrace['tables']>) {
      (merged.tables[k] as unknown[]).push(...(page.tables[k] as unknown[]));
    }
    // a huge trace's first pages count only what was walked so far (summary.complete false); the
    // last page has the totals
    merged.summary = page.summary;
    merged.pages++;
    rows += page.page.rows;
    cursor = page.page.nextCursor;
    if (cursor && rows >= maxRows) {
      merged.truncated = true;
      break;
    }
  } while (cursor);
  return merged!;
}

const fmt = (n: number | null): string => (n === null ? '?' : String(Math.round(n * 10000) / 10000));

/**
 * The trace as an indented tree: lots under the lots they came from (forward) or went into
 * (backward), with stock, shipments, usages, QC. The trace of a serial without a lot starts at the
 * unit (its graph node of kind `serial`), with its own shipments and usages (rows with `lotId`
 * null), and the lots made of it below.
 */
export function traceTree(t: FullTrace): string {
  const lots = new Map(t.tables.lots.map((l) => [l.lotId, l]));
  const unit = t.graph.nodes.find((n) => n.kind === 'serial');
  const children = new Map<string, string[]>();
  for (const e of t.graph.edges) {
    if (e.kind !== 'derived') continue;
    const [parent, child] = t.direction === 'forward' ? [e.from, e.to] : [e.to, e.from];
    if (!(lots.has(parent) || parent === unit?.id) || !lots.has(child)) continue;
    const list = children.get(parent) ?? [];
    if (!list.includes(child)) list.push(child);
    children.set(parent, list);
  }
  // a lotless unit's own rows (lotId null) hang under its node
  const group = <T extends { lotId: string | null }>(rows: T[]): Map<string, T[]> => {
    const m = new Map<string, T[]>();
    for (const r of rows) {
      const key = r.lotId ?? unit?.id ?? '';
      const list = m.get(key);
      if (list) list.push(r);
      else m.set(key, [r]);
    }
    return m;
  };
  const onHand = group(t.tables.onHand);
  const ships = group(t.tables.shipments);
  const uses = group(t.tables.consumption);
  const qc = group(t.tables.qc);
  const out: string[] = [];
  const s = t.summary;
  out.push(`${t.direction} trace: ${s.lots} lot(s), ${s.links} link(s), depth ${s.maxDepth}${s.depthLimited ? ' (depth limit reached)' : ''}${t.truncated ? `; only the first ${t.tables.lots.length} lots fetched (--max-rows)` : ''}`);
  const printed = new Set<string>();
  // a line break inside a name (a party, a location) would start a line outside the tree
  const oneLine = (text: string): string => text.replace(/[ \t]*[\r\n]+[ \t]*/g, ' ');
  const line = (l: TraceLotRow): string => oneLine(`${l.material} / ${l.lot}  [${l.status}]${l.expiry ? `  exp ${l.expiry}` : ''}`);
  const walk = (id: string, prefix: string, last: boolean, top: boolean): void => {
    const l = lots.get(id);
    const text = l ? line(l) : oneLine(`${unit?.label ?? id}  [${unit?.status ?? '?'}]  (no lot)`);
    const branch = top ? '' : last ? '└─ ' : '├─ ';
    if (printed.has(id)) {
      out.push(`${prefix}${branch}${text}  (shown above)`);
      return;
    }
    printed.add(id);
    out.push(`${prefix}${branch}${text}`);
    const inner = top ? prefix : prefix + (last ? '   ' : '│  ');
    const details: string[] = [];
    for (const b of onHand.get(id) ?? []) details.push(`on hand ${fmt(b.quantity)} ${b.uom} at ${b.location} (${b.stockState})`);
    for (const x of ships.get(id) ?? []) {
      const who = x.party?.name ?? x.party?.code ?? x.shipTo ?? '?';
      details.push(`${x.direction === 'outbound' ? 'shipped' : 'received'} ${fmt(x.quantity)} ${x.uom ?? ''} ${x.direction === 'outbound' ? 'to' : 'from'} ${who} (${x.shipmentNumber}, ${x.status})${x.serial ? ` serial ${x.serial}` : ''}`);
    }
    for (const c of uses.get(id) ?? []) details.push(`used ${fmt(c.quantity)} ${c.uom} at ${c.hospital?.name ?? c.hospital?.gln ?? c.location} ${c.usedAt.slice(0, 10)}${c.procedureRef ? ` procedure ref ${c.procedureRef.slice(0, 12)}…` : ''}`);
    for (const q of qc.get(id) ?? []) details.push(`QC ${q.test} ${q.result}${q.value ? ` ${q.value}${q.unit ? ` ${q.unit}` : ''}` : ''} (${q.inspectedAt.slice(0, 10)})`);
    const kids = children.get(id) ?? [];
    for (const d of details) out.push(`${inner}${kids.length ? '│' : ' '}    · ${oneLine(d)}`);
    kids.forEach((k, i) => walk(k, inner, i === kids.length - 1, false));
  };
  if (unit) walk(unit.id, '', true, true);
  for (const l of t.tables.lots.filter((x) => x.depth === 0)) walk(l.lotId, '', true, true);
  // lots whose parent lies beyond --max-rows
  for (const l of t.tables.lots) if (!printed.has(l.lotId)) walk(l.lotId, '', true, true);
  return out.join('\n');
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const TRACE_CSV_COLUMNS = ['table', 'depth', 'material', 'lot', 'status', 'party', 'partyName', 'location', 'stockState', 'shipment', 'direction', 'serial', 'date', 'quantity', 'uom', 'reference', 'result'] as const;

/** The trace's flat tables as one CSV (a `table` column says which: lot, on_hand, shipment, consumption, qc). */
export function traceCsv(t: FullTrace): string {
  // a lotless unit's own rows (lotId null) are at depth 0
  const depth = new Map<string | null, number>([[null, 0], ...t.tables.lots.map((l): [string, number] => [l.lotId, l.depth])]);
  const rows: Array<Partial<Record<(typeof TRACE_CSV_COLUMNS)[number], unknown>>> = [];
  for (const l of t.tables.lots) rows.push({ table: 'lot', depth: l.depth, material: l.material, lot: l.lot, status: l.status, date: l.expiry });
  for (const b of t.tables.onHand) rows.push({ table: 'on_hand', depth: depth.get(b.lotId), material: b.material, lot: b.lot, party: b.party, location: b.location, stockState: b.stockState, quantity: b.quantity, uom: b.uom });
  for (const s of t.tables.shipments) rows.push({ table: 'shipment', depth: depth.get(s.lotId), material: s.material, lot: s.lot, party: s.party?.gln ?? s.party?.code ?? s.shipTo, partyName: s.party?.name, shipment: s.shipmentNumber, direction: s.direction, status: s.status, serial: s.serial, date: s.shippedAt, quantity: s.quantity, uom: s.uom });
  for (const c of t.tables.consumption) rows.push({ table: 'consumption', depth: depth.get(c.lotId), material: c.material, lot: c.lot, party: c.hospital?.gln ?? c.hospital?.code, partyName: c.hospital?.name, location: c.location, serial: c.serial, date: c.usedAt, quantity: c.quantity, uom: c.uom, reference: c.procedureRef });
  for (const q of t.tables.qc) rows.push({ table: 'qc', depth: depth.get(q.lotId), material: q.material, lot: q.lot, reference: q.test, result: q.result, quantity: q.value, uom: q.unit, date: q.inspectedAt, status: q.disposition });
  return [TRACE_CSV_COLUMNS.join(','), ...rows.map((r) => TRACE_CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n';
}

function connOptions(cmd: Command): Command {
  return cmd.option('--url <url>', 'hub base URL (default LOTBRIDGE_URL or http://127.0.0.1:$LOTBRIDGE_HTTP_PORT)').option('--key <key>', 'API key (default LOTBRIDGE_API_KEY)');
}

/**
 * `lotbridge trace forward|backward` and `lotbridge recall` (and `recall show`): both talk to a
 * running hub over its HTTP API.
 */
export function registerTraceCommands(program: Command, client: HubClient): void {
  const trace = program.command('trace').description('forward (what was made from a lot, where it went, who used it) or backward (what a lot was made of, suppliers, QC) trace, via a running hub');
  for (const direction of ['forward', 'backward'] as const) {
    connOptions(
      trace
        .command(direction)
        .description(`${direction} trace of a lot (gtin or material, and lot), a serial or a GS1 barcode: prints a tree; --json/--csv write the whole trace`)
        .option('--gtin <gtin>', 'GTIN of the material (any packaging level)')
        .option('--material <code>', 'material code')
        .option('--lot <lot>', 'lot number')
        .option('--serial <serial>', 'serial number')
        .option('--barcode <data>', 'GS1 element string, e.g. "(01)09506000134352(10)FG-1"')
        .option('--json <file>', 'write the whole trace (graph + tables) as JSON ("-" = stdout)')
        .option('--csv <file>', 'write the flat tables as one CSV ("-" = stdout)')
        .option('--max-rows <n>', 'stop after this many table rows', '100000')
        .option('-q, --quiet', 'no tree on stdout'),
    ).action(async (opts: TraceOpts) => {
      const t = await fetchFullTrace(client, opts, direction);
      const toStdout = opts.json === '-' || opts.csv === '-';
      if (!opts.quiet && !toStdout) console.log(traceTree(t));
      if (opts.json) writeOut(opts.json, `${JSON.stringify(t, null, 2)}\n`);
      if (opts.csv) writeOut(opts.csv, traceCsv(t));
    });
  }

  const recall = connOptions(
    program
      .command('recall')
      .description('open a recall via a running hub: the named lots become recalled, every derived lot on_hold; prints the impact (or `recall show <id>`)')
      .option('--gtin <gtin>', 'GTIN of the lots named with --lot')
      .option('--material <code>', 'material code of the lots named with --lot')
      .option('--lot <lot...>', 'lot number(s)')
      .option('--serial <serial...>', 'serial number(s) (with --gtin/--material when not unique)')
      .option('--reason <text>', 'why (required)')
      .addOption(new Option('--class <class>', 'recall class').choices(['I', 'II', 'III']))
      .option('--body <file>', 'a JSON request body instead of the options (several materials)')
      .option('--json <file>', 'write the recall with its impact as JSON ("-" = stdout)')
      .option('--csv <file>', 'write the impact as CSV ("-" = stdout)'),
  ).action(async (opts: ConnOpts & { gtin?: string; material?: string; lot?: string[]; serial?: string[]; reason?: string; class?: string; body?: string; json?: string; csv?: string }) => {
    let body: Record<string, unknown>;
    if (opts.body) {
      body = JSON.parse(fs.readFileSync(opts.body, 'utf8')) as Record<string, unknown>;
    } else {
      if (!opts.reason) throw new Error('--reason is required');
      if (!opts.lot?.length && !opts.serial?.length) throw new Error('name at least one --lot (with --gtin or --material) or --serial');
      if (opts.lot?.length && !opts.gtin && !opts.material) throw new Error('--lot needs --gtin or --material');
      const key = opts.gtin ? { gtin: opts.gtin } : { material: opts.material };
      body = {
        ...(opts.lot?.length ? { lots: opts.lot.map((lot) => ({ ...key, lot })) } : {}),
        ...(opts.serial?.length ? { serials: opts.serial.map((serial) => (opts.gtin || opts.material ? { ...key, serial } : serial)) } : {}),
        reason: opts.reason,
        ...(opts.class ? { class: opts.class } : {}),
      };
    }
    const res = await fetch(`${client.url(opts)}/api/v1/recalls`, { method: 'POST', headers: { authorization: `Bearer ${client.key(opts)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = (await res.json()) as any;
    if (res.status !== 201 && res.status !== 200) throw apiError(res.status, answer);
    await printRecall(client, opts, answer);
  });

  connOptions(
    recall
      .command('patients')
      .description("one hospital's usages of the recalled units with its own patient (PID-3) and encounter (PV1-19) identifiers in clear, for sending to that hospital (admin; audited)")
      .argument('<id>', 'recall id or number (RC-YYYY-NNNNN)')
      .requiredOption('--hospital <gln or code>', "the hospital party's GLN or code (MSH-4 of its messages)")
      .option('--json <file>', 'write the export as JSON ("-" = stdout) instead of CSV')
      .option('--csv <file>', 'write the export as CSV ("-" = stdout; the default)'),
  ).action(async (id: string, opts: ConnOpts & { hospital: string; json?: string; csv?: string }) => {
    // --json/--csv are also options of `recall` itself, which commander may give them to
    const o: ConnOpts & { hospital: string; json?: string; csv?: string } = { ...recall.opts(), ...opts };
    const format = o.json ? 'json' : 'csv';
    const res = await fetch(`${client.url(o)}/api/v1/recalls/${encodeURIComponent(id)}/patients?hospital=${encodeURIComponent(opts.hospital)}&format=${format}`, {
      headers: { authorization: `Bearer ${client.key(o)}` },
    });
    const text = await res.text();
    if (res.status !== 200) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      throw apiError(res.status, body);
    }
    writeOut(o.json ?? o.csv ?? '-', format === 'json' ? `${JSON.stringify(JSON.parse(text), null, 2)}\n` : text);
  });

  connOptions(
    recall
      .command('show')
      .description('show a recall and its impact by id or number')
      .argument('<id>', 'recall id or number (RC-YYYY-NNNNN)')
      .option('--json <file>', 'write the recall with its impact as JSON ("-" = stdout)')
      .option('--csv <file>', 'write the impact as CSV ("-" = stdout)'),
  ).action(async (id: string, opts: ConnOpts & { json?: string; csv?: string }) => {
    const r = await getJson(client, { ...recall.opts(), ...opts }, `/api/v1/recalls/${encodeURIComponent(id)}`);
    if (r.status !== 200) throw apiError(r.status, r.body);
    await printRecall(client, { ...recall.opts(), ...opts }, r.body);
  });
}

/** Units of impact rows summed per unit of measure, in order of first appearance: `31.6 KG + 2 EA`; `0` when there are none. */
function byUom(rows: Array<{ units: number; uom: string | null }>): string {
  const sums = new Map<string, number>();
  for (const x of rows) sums.set(x.uom ?? '', (sums.get(x.uom ?? '') ?? 0) + x.units);
  const parts = [...sums].map(([uom, n]) => `${Number(n.toFixed(4))}${uom ? ` ${uom}` : ''}`);
  return parts.length ? parts.join(' + ') : '0';
}

async function printRecall(client: HubClient, opts: ConnOpts & { json?: string; csv?: string }, r: any): Promise<void> {
  const toStdout = opts.json === '-' || opts.csv === '-';
  if (!toStdout) {
    const tt = r.impact.totals;
    if (r.message) console.log(r.message);
    console.log(`${r.recallNumber}  class ${r.class ?? '-'}  ${r.status}  opened ${r.openedAt} by ${r.openedBy}`);
    console.log(`reason: ${r.reason}`);
    const held = r.impact.lots.filter((l: any) => l.role === 'derived' && l.newStatus === 'on_hold' && l.previousStatus !== 'on_hold').length;
    console.log(`lots: ${tt.lots} (${tt.namedLots} recalled, ${tt.derivedLots} derived, ${held} of them put on hold)${tt.serials ? `, serials: ${tt.serials}` : ''}`);
    // each lot with what the recall made of it: RECALLED, on hold, or its status kept (already recalled, rejected, expired …)
    const label = (l: any): string => (l.newStatus === 'recalled' ? 'RECALLED' : l.newStatus === 'on_hold' ? 'on hold ' : `kept ${l.newStatus}`);
    for (const l of r.impact.lots.slice(0, 50)) console.log(`  ${label(l)}  ${l.material} / ${l.lot}  (${l.role}, depth ${l.depth}, was ${l.previousStatus})`);
    if (r.impact.lots.length > 50) console.log(`  … ${r.impact.lots.length - 50} more (see --json/--csv)`);
    // per unit of measure (the totals add KG and EA together: a number for sorting, not for reading)
    console.log(`on hand: ${byUom(r.impact.unitsByLocation)}; shipped: ${byUom(r.impact.unitsByCustomer)} to ${tt.customers} customer(s); consumed: ${byUom(r.impact.consumedByHospital)} at ${tt.hospitals} hospital(s)`);
    for (const c of r.impact.unitsByCustomer) console.log(`  customer ${c.customer}${c.name ? ` (${c.name})` : ''}: ${c.units} ${c.uom ?? ''} in ${c.shipments} shipment(s)`);
    for (const h of r.impact.consumedByHospital) console.log(`  hospital ${h.hospital}${h.name ? ` (${h.name})` : ''}: ${h.units} ${h.uom} used (${h.usages} usage(s), last ${h.lastUsedAt.slice(0, 10)})`);
    for (const b of r.impact.unitsByLocation) console.log(`  at ${b.location} (${b.stockState}): ${b.units} ${b.uom}`);
    if (r.impact.openShipments.length) {
      console.log(`open shipments to stop: ${r.impact.openShipments.length}`);
      for (const s of r.impact.openShipments) console.log(`  ${s.shipmentNumber} (${s.status}) to ${s.customer}: ${byUom(s.quantities ?? [])} [${s.lots.join(', ')}]`);
    }
  }
  if (opts.json) writeOut(opts.json, `${JSON.stringify(r, null, 2)}\n`);
  if (opts.csv) {
    const res = await fetch(`${client.url(opts)}/api/v1/recalls/${r.id}/export?format=csv`, { headers: { authorization: `Bearer ${client.key(opts)}` } });
    if (res.status !== 200) throw apiError(res.status, await res.json());
    writeOut(opts.csv, await res.text());
  }
}

function writeOut(file: string, text: string): void {
  if (file === '-') process.stdout.write(text);
  else fs.writeFileSync(file, text);
}

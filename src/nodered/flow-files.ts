import fs from 'node:fs';
import path from 'node:path';
import { LotBridgeError } from '../errors';

/** One node of a flow file as Node-RED stores it. */
export interface FlowNode {
  id: string;
  type: string;
  [key: string]: unknown;
}

/**
 * Parses and checks a flow file: a JSON array of objects, each with a string `id` and `type`, ids
 * unique.
 *
 * @param text - the file's text
 * @param file - its path, for the error message
 * @throws LotBridgeError LB_ERR_FLOWS_INVALID with the position (index, path, line when JSON fails)
 */
export function parseFlowFile(text: string, file: string): FlowNode[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const pos = m ? Number(m[1]) : undefined;
    const line = pos !== undefined ? text.slice(0, pos).split('\n').length : undefined;
    throw new LotBridgeError('LB_ERR_FLOWS_INVALID', `flow file ${file} is not valid JSON: ${(err as Error).message}`, { location: { path: file, ...(line ? { line } : {}) }, cause: err });
  }
  if (!Array.isArray(parsed)) {
    throw new LotBridgeError('LB_ERR_FLOWS_INVALID', `flow file ${file} must hold a JSON array of nodes, not ${parsed === null ? 'null' : typeof parsed}`, { location: { path: file } });
  }
  const ids = new Set<string>();
  parsed.forEach((n: unknown, i) => {
    if (!n || typeof n !== 'object' || Array.isArray(n)) {
      throw new LotBridgeError('LB_ERR_FLOWS_INVALID', `flow file ${file}: node [${i}] is not an object`, { location: { path: `${file}[${i}]`, index: i } });
    }
    const node = n as Record<string, unknown>;
    for (const k of ['id', 'type'] as const) {
      if (typeof node[k] !== 'string' || node[k] === '') {
        throw new LotBridgeError('LB_ERR_FLOWS_INVALID', `flow file ${file}: node [${i}] has no ${k}`, { location: { path: `${file}[${i}].${k}`, index: i } });
      }
    }
    if (ids.has(node.id as string)) {
      throw new LotBridgeError('LB_ERR_FLOWS_INVALID', `flow file ${file}: node [${i}] repeats id ${String(node.id)}`, { location: { path: `${file}[${i}].id`, index: i } });
    }
    ids.add(node.id as string);
  });
  return parsed as FlowNode[];
}

/** Reads every `*.json` of the default flows folder, in name order, checked and merged into one flow list. */
export function readDefaultFlows(dir: string): { nodes: FlowNode[]; files: string[] } {
  if (!fs.existsSync(dir)) {
    return { nodes: [], files: [] };
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const nodes: FlowNode[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const full = path.join(dir, f);
    for (const n of parseFlowFile(fs.readFileSync(full, 'utf8'), full)) {
      if (seen.has(n.id)) {
        throw new LotBridgeError('LB_ERR_FLOWS_INVALID', `default flow ${full}: id ${n.id} is used by another default flow file`, { location: { path: full } });
      }
      seen.add(n.id);
      nodes.push(n);
    }
  }
  return { nodes, files };
}

/** What {@link prepareFlowFile} found. */
export type FlowFileState =
  | { state: 'copied-defaults'; files: string[]; nodes: number }
  | { state: 'existing'; nodes: number }
  | { state: 'invalid'; error: LotBridgeError; movedTo?: string };

/**
 * Prepares `<userDir>/<flowFile>` before Node-RED starts: on first start (no file) the default
 * flows of `defaultsDir` are copied in; an existing file is checked. An invalid file is moved aside
 * to `<flowFile>.invalid-<time>` (kept for repair) and the runtime starts with no flows.
 */
export function prepareFlowFile(userDir: string, flowFile: string, defaultsDir: string): FlowFileState {
  const target = path.join(userDir, flowFile);
  fs.mkdirSync(userDir, { recursive: true });
  if (!fs.existsSync(target)) {
    let defaults: { nodes: FlowNode[]; files: string[] };
    try {
      defaults = readDefaultFlows(defaultsDir);
    } catch (err) {
      return { state: 'invalid', error: err as LotBridgeError };
    }
    fs.writeFileSync(target, `${JSON.stringify(defaults.nodes, null, 2)}\n`);
    return { state: 'copied-defaults', files: defaults.files, nodes: defaults.nodes.length };
  }
  try {
    return { state: 'existing', nodes: parseFlowFile(fs.readFileSync(target, 'utf8'), target).length };
  } catch (err) {
    const movedTo = `${target}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    fs.renameSync(target, movedTo);
    // Node-RED would fall back to its backup copy: that is not what the operator deployed last either
    fs.rmSync(path.join(userDir, `.${flowFile}.backup`), { force: true });
    return { state: 'invalid', error: err as LotBridgeError, movedTo };
  }
}

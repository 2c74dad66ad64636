/**
 * An element of the xml2js tree of a B2MML document (explicitArray, prefixes stripped): children
 * by local name (always arrays; a leaf without attributes is a string), text in `_`, attributes
 * in `$`. Helpers read it without caring which of those shapes a B2MML version used.
 */
export type XElement = { _?: string; $?: Record<string, string> } & { [child: string]: unknown };

/** A node of the tree: an element or the text of a leaf without attributes. */
export type XNode = XElement | string;

/**
 * The children of `node` named `name` (local name), in document order.
 * @param node - the parent
 * @param name - child local name
 */
export function children(node: XNode | undefined, name: string): XNode[] {
  if (node === undefined || typeof node === 'string') {
    return [];
  }
  const v = node[name];
  return Array.isArray(v) ? (v as XNode[]) : [];
}

/** The first child named `name`, if any. */
export function child(node: XNode | undefined, name: string): XNode | undefined {
  return children(node, name)[0];
}

/** The trimmed text of a node ('' when it has none). */
export function textOf(node: XNode | undefined): string {
  if (node === undefined) {
    return '';
  }
  if (typeof node === 'string') {
    return node.trim();
  }
  return typeof node._ === 'string' ? node._.trim() : '';
}

/** The trimmed text of the first child named `name` (undefined when absent or empty). */
export function childText(node: XNode | undefined, name: string): string | undefined {
  const t = textOf(child(node, name));
  return t === '' ? undefined : t;
}

/** An attribute value (undefined when absent). */
export function attr(node: XNode | undefined, name: string): string | undefined {
  return node === undefined || typeof node === 'string' ? undefined : node.$?.[name];
}

/** The source line of a line-tracked element (see parse-b2mml.ts), if known. */
export function lineOf(node: XNode | undefined): number | undefined {
  const l = attr(node, '__line');
  return l === undefined ? undefined : Number(l);
}

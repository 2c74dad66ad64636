/**
 * Event type patterns of lotbridge-event nodes: an exact type (`recall.opened`), a prefix with a
 * trailing `*` (`recall.*`), or `*` for every type. `message.received` is an alias of the two
 * types a message that got through the pipeline ends with: `message.processed` and
 * `message.routed` (stored and handed to flows without a canonical mapping).
 */
export const EVENT_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'message.received': ['message.processed', 'message.routed'],
};

/** Splits a node's comma/space separated list into patterns, aliases expanded. */
export function parseEventPatterns(list: string): string[] {
  const out = new Set<string>();
  for (const raw of list.split(/[\s,]+/)) {
    const p = raw.trim();
    if (p === '') {
      continue;
    }
    for (const t of EVENT_ALIASES[p] ?? [p]) {
      out.add(t);
    }
  }
  return [...out];
}

/** A pattern is well formed: `*`, `a.b`, `a.*`, letters/digits/_/- between dots. */
export function isValidEventPattern(p: string): boolean {
  return p === '*' || /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?$/.test(p);
}

/** True when `type` matches `pattern`. */
export function matchesEventType(pattern: string, type: string): boolean {
  if (pattern === '*') {
    return true;
  }
  if (pattern.endsWith('.*')) {
    return type.startsWith(pattern.slice(0, -1));
  }
  return pattern === type;
}

/** Glob match for connector ids and message types in filters (`*` = any run of characters). */
export function matchesGlob(glob: string, value: string | undefined | null): boolean {
  if (glob === '' || glob === '*') {
    return true;
  }
  if (value === undefined || value === null) {
    return false;
  }
  const re = new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

/** What routing reads of an event besides its type (lotbridge-event nodes filter on them): two payload fields. */
export interface EventRouting {
  connectorId?: string;
  messageType?: string;
}

/** The {@link EventRouting} fields of an event's payload (string values only). */
export function routingOf(payload: Record<string, unknown> | null | undefined): EventRouting {
  const connectorId = typeof payload?.connectorId === 'string' ? payload.connectorId : undefined;
  const messageType = typeof payload?.messageType === 'string' ? payload.messageType : undefined;
  return { connectorId, messageType };
}

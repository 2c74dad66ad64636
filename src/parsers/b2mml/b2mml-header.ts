import { LotBridgeError } from '../../errors';
import { lineColumnAt } from './decode-b2mml-text';

/** The B2MML documents LotBridge maps (the noun of a `Sync*`/`Process*` verb document, or the root itself). */
export const B2MML_NOUNS = [
  'MaterialInformation',
  'MaterialDefinition',
  'MaterialLot',
  'MaterialSubLot',
  'ProductionPerformance',
  'ProductionResponse',
  'QualityTest',
] as const;
/** A mapped B2MML document kind. */
export type B2mmlNoun = (typeof B2MML_NOUNS)[number];

/** Nouns whose own ID names the document (a MaterialLot's ID names the lot, not the message). */
const DOCUMENT_NOUNS: ReadonlySet<string> = new Set(['MaterialInformation', 'ProductionPerformance', 'ProductionResponse', 'QualityTest']);

/** Verbs of B2MML/OAGIS verb documents that carry information to take over. */
export const B2MML_VERBS = ['Sync', 'Process', 'Show', 'Notify'] as const;
export type B2mmlVerb = (typeof B2MML_VERBS)[number];

/** What the prescan of a B2MML document found (no full parse). */
export interface B2mmlHeader {
  /** Root element as written, e.g. `b2mml:SyncMaterialLot`. */
  rootName: string;
  /** Root element's local name, e.g. `SyncMaterialLot`. */
  localName: string;
  /** Namespace URI of the root element (null: none declared). */
  namespace: string | null;
  verb: B2mmlVerb | null;
  noun: B2mmlNoun;
  /** Schema release, normalized `V0401` … `V0700`. */
  version: string;
  /** The document id: ApplicationArea/BODID of a verb document, else the ID of a MaterialInformation, ProductionPerformance, ProductionResponse or QualityTest root. */
  docId?: string;
  /** ApplicationArea/Sender/LogicalID (verb documents). */
  sender?: string;
}

const NAMESPACE = /^(?:https?:\/\/)?www\.(?:mesa|wbf)\.org\/xml\/b2mml(?:[-_]v?(\d{4}))?\/?$/i;
const VERB_DOC = new RegExp(`^(${B2MML_VERBS.join('|')})(${B2MML_NOUNS.join('|')})$`);
const OTHER_VERB = /^(Get|Cancel|Change|Acknowledge|Respond|Confirm)([A-Z]\w+)$/;

function fail(code: 'LB_ERR_B2MML_NOT_WELL_FORMED' | 'LB_ERR_B2MML_DOCTYPE' | 'LB_ERR_B2MML_UNKNOWN_ROOT' | 'LB_ERR_B2MML_NAMESPACE' | 'LB_ERR_B2MML_VERSION', text: string, at: number, message: string, extra: { path?: string; details?: Record<string, unknown> } = {}): LotBridgeError {
  const lc = lineColumnAt(text, at);
  return new LotBridgeError(code, `${message} (line ${lc.line}, column ${lc.column})`, { location: { ...lc, ...(extra.path ? { path: extra.path } : {}) }, details: extra.details });
}

/** Decodes the five predefined entities and character references of XML text. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) {
    return s;
  }
  return s.replace(/&(lt|gt|amp|apos|quot|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default: {
        const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        // not a Unicode code point: left as written (the full parse reports it)
        return cp <= 0x10ffff ? String.fromCodePoint(cp) : `&${e};`;
      }
    }
  });
}

/**
 * Refuses a DOCTYPE or ENTITY declaration anywhere in the document (outside comments and CDATA)
 * before any parser sees it: no DTD is read, no entity is expanded.
 * @param text - the decoded document
 * @throws LotBridgeError LB_ERR_B2MML_DOCTYPE with line and column
 */
export function refuseDoctype(text: string): void {
  const re = /<!(DOCTYPE|ENTITY)\b/gi;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const at = m.index;
    const inCdata = text.lastIndexOf('<![CDATA[', at) > text.lastIndexOf(']]>', at);
    const inComment = text.lastIndexOf('<!--', at) > text.lastIndexOf('-->', at);
    if (!inCdata && !inComment) {
      throw fail('LB_ERR_B2MML_DOCTYPE', text, at, `a ${m[1].toUpperCase()} declaration is not accepted in a B2MML document (no DTDs, no entities)`, { details: { declaration: m[1].toUpperCase() } });
    }
  }
}

/** Normalizes a B2MML release id (`V0600`, `V06.00`, `6.0`, `0600`) to `V0600`; undefined when unreadable. */
export function normalizeRelease(raw: string): string | undefined {
  const t = raw.trim();
  let m = /^V?(\d{2})\.?(\d{2})$/i.exec(t);
  if (m) {
    return `V${m[1]}${m[2]}`;
  }
  m = /^(\d{1,2})\.(\d{1,2})$/.exec(t);
  if (m) {
    return `V${m[1].padStart(2, '0')}${m[2].padStart(2, '0')}`;
  }
  return undefined;
}

/** True for the releases LotBridge reads: V0401 through V0700. */
export function isSupportedRelease(v: string): boolean {
  const n = Number(v.slice(1));
  return n >= 401 && n <= 700;
}

/**
 * Reads what intake needs from a B2MML document without parsing it fully: DOCTYPE/ENTITY refused,
 * the root element (a mapped document or a `Sync*`/`Process*`/`Show*`/`Notify*` verb document),
 * its namespace (a B2MML namespace, prefixed or default, or none), the release (releaseID
 * attribute or the namespace's version, V0401–V0700), and the document id and sender
 * (ApplicationArea/BODID and Sender/LogicalID, else the root's ID).
 * @param text - the decoded document (BOM removed)
 * @throws LotBridgeError with line and column
 */
export function readB2mmlHeader(text: string): B2mmlHeader {
  refuseDoctype(text);
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) {
      i++;
    }
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i);
      if (end === -1) {
        throw fail('LB_ERR_B2MML_NOT_WELL_FORMED', text, i, 'a processing instruction or XML declaration is not closed');
      }
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i);
      if (end === -1) {
        throw fail('LB_ERR_B2MML_NOT_WELL_FORMED', text, i, 'a comment is not closed');
      }
      i = end + 3;
    } else {
      break;
    }
  }
  const tag = /<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
  tag.lastIndex = i;
  const m = tag.exec(text);
  if (!m) {
    throw fail('LB_ERR_B2MML_NOT_WELL_FORMED', text, i, i >= text.length ? 'the document has no root element' : 'the document does not start with an XML element');
  }
  const rootName = m[1];
  const colon = rootName.indexOf(':');
  const prefix = colon === -1 ? '' : rootName.slice(0, colon);
  const localName = colon === -1 ? rootName : rootName.slice(colon + 1);
  const attrs: Record<string, string> = {};
  for (const a of m[2].matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    attrs[a[1]] = decodeXmlText(a[2] ?? a[3] ?? '');
  }
  const namespace = (prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns) ?? null;
  if (prefix && namespace === null) {
    throw fail('LB_ERR_B2MML_NAMESPACE', text, i, `the root element's prefix "${prefix}" is not bound to a namespace`, { path: `/${rootName}` });
  }
  let nsVersion: string | undefined;
  if (namespace !== null) {
    const ns = NAMESPACE.exec(namespace.trim());
    if (!ns) {
      throw fail('LB_ERR_B2MML_NAMESPACE', text, i, `the root element <${rootName}> is in namespace "${namespace}", not a B2MML namespace (e.g. http://www.mesa.org/xml/B2MML or http://www.mesa.org/xml/B2MML-V0600)`, {
        path: `/${rootName}`,
        details: { namespace },
      });
    }
    nsVersion = ns[1] ? `V${ns[1]}` : undefined;
  }

  let verb: B2mmlVerb | null = null;
  let noun: B2mmlNoun;
  const vm = VERB_DOC.exec(localName);
  if (vm) {
    verb = vm[1] as B2mmlVerb;
    noun = vm[2] as B2mmlNoun;
  } else if ((B2MML_NOUNS as readonly string[]).includes(localName)) {
    noun = localName as B2mmlNoun;
  } else {
    const other = OTHER_VERB.exec(localName);
    throw fail(
      'LB_ERR_B2MML_UNKNOWN_ROOT',
      text,
      i,
      other
        ? `<${localName}> is a ${other[1]} request; LotBridge takes Sync, Process, Show and Notify documents of ${B2MML_NOUNS.join(', ')}`
        : `the root element <${localName}> is not a B2MML document LotBridge maps (${B2MML_NOUNS.join(', ')}, or their Sync/Process verb documents)`,
      { path: `/${rootName}`, details: { root: localName } },
    );
  }

  const releaseAttr = attrs.releaseID ?? attrs.ReleaseID ?? attrs.schemaVersion ?? attrs.version;
  let version: string;
  if (releaseAttr !== undefined) {
    const v = normalizeRelease(releaseAttr);
    if (v === undefined || !isSupportedRelease(v)) {
      throw fail('LB_ERR_B2MML_VERSION', text, i, `releaseID "${releaseAttr}" is not a B2MML release LotBridge reads (V0401 through V0700)`, { path: `/${rootName}/@releaseID`, details: { releaseID: releaseAttr } });
    }
    version = v;
  } else if (nsVersion !== undefined) {
    if (!isSupportedRelease(nsVersion)) {
      throw fail('LB_ERR_B2MML_VERSION', text, i, `namespace "${namespace}" is B2MML ${nsVersion}; LotBridge reads V0401 through V0700`, { path: `/${rootName}`, details: { namespace } });
    }
    version = nsVersion;
  } else {
    version = 'V0700';
  }

  const header: B2mmlHeader = { rootName, localName, namespace, verb, noun, version };
  if (m[3] === '/') {
    return header;
  }
  // the header elements: ApplicationArea (verb documents) and the root's own ID come first
  const limit = Math.min(text.length, tag.lastIndex + 65536);
  const tok = /<(\/?)(?:[\w.-]+:)?([\w.-]+)(?:\s[^>]*?)?(\/?)>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\?[\s\S]*?\?>/g;
  tok.lastIndex = tag.lastIndex;
  const stack: string[] = [];
  let textStart = tok.lastIndex;
  let buf = '';
  for (let t = tok.exec(text); t !== null && t.index < limit; t = tok.exec(text)) {
    buf += decodeXmlText(text.slice(textStart, t.index));
    textStart = tok.lastIndex;
    if (t[4] !== undefined) {
      buf += t[4];
      continue;
    }
    if (t[2] === undefined) {
      continue;
    }
    const name = t[2];
    if (t[1] === '/') {
      const path = stack.join('/');
      const value = buf.trim();
      if (value) {
        if (path === 'ID' && header.docId === undefined && header.verb === null && DOCUMENT_NOUNS.has(noun)) {
          header.docId = value;
        } else if (path === 'ApplicationArea/BODID') {
          header.docId = value;
        } else if (path === 'ApplicationArea/Sender/LogicalID') {
          header.sender = value;
        }
      }
      if (stack.pop() !== name) {
        break; // not well-formed: the full parse reports where
      }
      buf = '';
      continue;
    }
    buf = '';
    if (t[3] === '/') {
      continue;
    }
    if (stack.length === 0 && name !== 'ID' && name !== 'ApplicationArea' && name !== 'Description' && name !== 'PublishedDate' && name !== 'Location' && name !== 'HierarchyScope') {
      break;
    }
    stack.push(name);
  }
  return header;
}

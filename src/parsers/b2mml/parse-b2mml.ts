import { Parser, processors, type ParserOptions } from 'xml2js';
import { LotBridgeError } from '../../errors';
import { decodeB2mmlText } from './decode-b2mml-text';
import { readB2mmlHeader, type B2mmlHeader } from './b2mml-header';
import type { XElement } from './x-element';

/** Limits of one B2MML document (connector config `maxDocumentBytes`, `maxDepth`). */
export interface B2mmlLimits {
  /** Largest document, bytes (default 10 MiB). */
  maxDocumentBytes: number;
  /** Deepest element nesting (default 64; real B2MML stays below 15). */
  maxDepth: number;
}

export const DEFAULT_B2MML_LIMITS: B2mmlLimits = { maxDocumentBytes: 10 * 1024 * 1024, maxDepth: 64 };

/** A parsed B2MML document: the header and the root element (xml2js tree, prefixes stripped). */
export interface B2mmlDocument {
  header: B2mmlHeader;
  /** The root element (children by local name, each an array; text in `_`, attributes in `$`). */
  root: XElement;
  /** Characters of the decoded text. */
  length: number;
}

/** Elements whose start line is kept (attribute `__line`), so errors about them can name a line. */
const LINE_TRACKED = new Set([
  'MaterialDefinition', 'MaterialLot', 'MaterialSubLot', 'MaterialActual', 'SegmentResponse', 'ProductionResponse',
  'QAResult', 'TestResult', 'MaterialLotProperty', 'MaterialSubLotProperty', 'QualityTest', 'Quantity', 'MaterialConsumedActual', 'MaterialProducedActual',
]);

interface SaxLike {
  line: number;
  column: number;
  onopentag: (node: { name: string; attributes: Record<string, string> }) => void;
  onclosetag: (name: string) => void;
}

/** The xml2js options of the B2MML parser (also used by the bench's parse-only baseline). */
export const XML2JS_OPTIONS: ParserOptions = {
  explicitArray: true,
  explicitRoot: true,
  explicitCharkey: false,
  trim: false,
  normalize: false,
  emptyTag: '',
  strict: true,
  async: false,
  charkey: '_',
  attrkey: '$',
  tagNameProcessors: [processors.stripPrefix],
};

/**
 * Parses the decoded text with xml2js, refusing nesting deeper than `maxDepth` while parsing.
 * Not well-formed XML is LB_ERR_B2MML_NOT_WELL_FORMED with the parser's line and column.
 */
function parseXml(text: string, maxDepth: number): Record<string, XElement> {
  const parser = new Parser(XML2JS_OPTIONS);
  const sax = (parser as unknown as { saxParser: SaxLike }).saxParser;
  const open = sax.onopentag;
  const close = sax.onclosetag;
  let depth = 0;
  let tooDeep: LotBridgeError | undefined;
  sax.onopentag = (node): void => {
    depth++;
    if (depth > maxDepth) {
      tooDeep ??= new LotBridgeError('LB_ERR_B2MML_TOO_DEEP', `elements are nested deeper than ${maxDepth} levels (line ${sax.line + 1}); B2MML documents are far shallower`, {
        location: { line: sax.line + 1, column: sax.column },
        details: { maxDepth },
      });
      throw tooDeep;
    }
    const colon = node.name.indexOf(':');
    if (LINE_TRACKED.has(colon === -1 ? node.name : node.name.slice(colon + 1))) {
      node.attributes.__line = String(sax.line + 1);
    }
    open(node);
  };
  sax.onclosetag = (name): void => {
    depth--;
    close(name);
  };
  let result: Record<string, XElement> | undefined;
  let error: unknown;
  parser.parseString(text, (err: unknown, r: unknown) => {
    if (err) {
      error = err;
    } else {
      result = r as Record<string, XElement>;
    }
  });
  if (tooDeep) {
    throw tooDeep;
  }
  if (error !== undefined || result === undefined) {
    const msg = error instanceof Error ? error.message : String(error ?? 'no root element');
    const m = /Line: (\d+)\s+Column: (\d+)(?:\s+Char: ?(.*))?/.exec(msg);
    const what = msg.split('\n')[0];
    const line = m ? Number(m[1]) + 1 : undefined;
    const column = m ? Number(m[2]) : undefined;
    throw new LotBridgeError('LB_ERR_B2MML_NOT_WELL_FORMED', `the document is not well-formed XML: ${what}${line === undefined ? '' : ` (line ${line}, column ${column})`}`, {
      location: line === undefined ? {} : { line, column },
      cause: error,
    });
  }
  return result;
}

/**
 * Decodes and parses a B2MML document: encoding (BOM, charset, XML declaration), size cap,
 * DOCTYPE/ENTITY refused before parsing, root/namespace/release checked, then xml2js (namespace
 * prefixes stripped, values kept as strings: leading zeros and long ids survive; CDATA and
 * character references decoded) with a depth cap.
 * @param payload - the bytes as received
 * @param opts - declared charset and limits
 * @throws LotBridgeError (input) with line/column or path
 */
export function parseB2mml(payload: Buffer, opts: { charset?: string | null; limits?: Partial<B2mmlLimits> } = {}): B2mmlDocument {
  const limits = { ...DEFAULT_B2MML_LIMITS, ...opts.limits };
  if (payload.length > limits.maxDocumentBytes) {
    throw new LotBridgeError('LB_ERR_B2MML_TOO_LARGE', `the document has ${payload.length} bytes, over the connector's limit of ${limits.maxDocumentBytes} bytes (maxDocumentBytes)`, {
      details: { sizeBytes: payload.length, limitBytes: limits.maxDocumentBytes },
    });
  }
  const text = decodeB2mmlText(payload, opts.charset);
  const header = readB2mmlHeader(text);
  const tree = parseXml(text, limits.maxDepth);
  const rootKey = Object.keys(tree)[0];
  const root = tree[rootKey];
  return { header, root: typeof root === 'object' && root !== null ? root : {}, length: text.length };
}

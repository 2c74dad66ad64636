import { LotBridgeError } from '../../errors';
import { charsetOf, decodeWmsText } from './decode-text';
import { parseWmsCsv } from './wms-csv.parser';
import { parseWmsJson, parseWmsNdjson } from './wms-json.parser';
import type { WmsBodyInput, WmsParseResult, WmsSyntax } from './wms-parse.types';

const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonl', 'application/jsonlines', 'application/x-jsonlines']);
const CSV_TYPES = new Set(['text/csv', 'application/csv', 'text/comma-separated-values']);

/**
 * The media type of a Content-Type, lower-cased and without parameters.
 * @param contentType - e.g. `text/csv; charset=ISO-8859-1`
 */
export function mediaTypeOf(contentType: string | undefined | null): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * How a media type says a WMS body is written, or undefined for a type the WMS connector does not take.
 * @param media - lower-case media type without parameters (see {@link mediaTypeOf})
 */
export function wmsSyntaxOfMediaType(media: string): WmsSyntax | undefined {
  if (NDJSON_TYPES.has(media)) {
    return 'ndjson';
  }
  if (CSV_TYPES.has(media)) {
    return 'csv';
  }
  return media === 'application/json' || media.endsWith('+json') ? 'json' : undefined;
}

/**
 * How a body is written, from its Content-Type; without one, from the stored format and the text
 * itself (NDJSON when every non-blank line starts with `{` and there are several).
 * @param format - stored format (`json` or `csv`)
 * @param contentType - Content-Type as received, if any
 * @param text - the decoded body, for sniffing when there is no Content-Type
 */
export function wmsSyntaxOf(format: string, contentType: string | undefined | null, text: string): WmsSyntax {
  const declared = wmsSyntaxOfMediaType(mediaTypeOf(contentType));
  if (declared !== undefined) {
    return declared;
  }
  if (format === 'csv') {
    return 'csv';
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.length > 1 && lines.every((l) => l.trimStart().startsWith('{')) ? 'ndjson' : 'json';
}

/**
 * Parses a WMS body (JSON object or array, NDJSON, CSV) into records with their location. Pure.
 * Throws a LotBridgeError (kind input) when the body cannot be read at all: empty
 * (LB_ERR_INGEST_EMPTY), bytes not in its charset (LB_ERR_INGEST_ENCODING), invalid JSON
 * (LB_ERR_WMS_JSON_SYNTAX), a CSV header without a required column (LB_ERR_WMS_CSV_HEADER) or an
 * unreadable CSV (LB_ERR_WMS_CSV_SYNTAX). Records that cannot be read are listed in `errors`.
 * @param input - the stored bytes, format, Content-Type and declared charset
 */
export function parseWmsBody(input: WmsBodyInput): WmsParseResult {
  if (input.payload.length === 0) {
    throw new LotBridgeError('LB_ERR_INGEST_EMPTY', 'message body is empty', { location: { position: 0 } });
  }
  const text = decodeWmsText(input.payload, input.encoding ?? charsetOf(input.contentType));
  if (text.trim() === '') {
    throw new LotBridgeError('LB_ERR_INGEST_EMPTY', 'message body holds only white space', { location: { line: 1 } });
  }
  const syntax = wmsSyntaxOf(input.format, input.contentType, text);
  if (syntax === 'csv') {
    return parseWmsCsv(text);
  }
  return syntax === 'ndjson' ? parseWmsNdjson(text) : parseWmsJson(text);
}

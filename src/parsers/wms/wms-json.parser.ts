import { LotBridgeError } from '../../errors';
import { findJsonSyntaxError, topLevelArrayElementOffsets } from './json-syntax';
import { LineIndex } from './line-index';
import type { WmsParsedRecord, WmsParseResult } from './wms-parse.types';

function syntaxError(text: string, err: unknown): { offset: number; message: string } {
  return findJsonSyntaxError(text) ?? { offset: 0, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Parses a JSON body: one record object, or an array of records (each with the line it starts on).
 * Throws LB_ERR_WMS_JSON_SYNTAX with line and column for text that is not JSON, and
 * LB_ERR_WMS_RECORD_INVALID when the top-level value is neither an object nor an array.
 * @param text - the decoded body (byte-order mark removed)
 */
export function parseWmsJson(text: string): WmsParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const p = syntaxError(text, err);
    const { line, column } = new LineIndex(text).at(p.offset);
    throw new LotBridgeError('LB_ERR_WMS_JSON_SYNTAX', `invalid JSON at line ${line}, column ${column}: ${p.message}`, {
      location: { line, column, position: p.offset },
      cause: err,
    });
  }
  const lines = new LineIndex(text);
  if (Array.isArray(value)) {
    const offsets = topLevelArrayElementOffsets(text);
    const records: WmsParsedRecord[] = value.map((v: unknown, index) => ({ index, line: lines.at(offsets[index] ?? 0).line, value: v }));
    return { syntax: 'json', single: false, records, errors: [] };
  }
  if (value !== null && typeof value === 'object') {
    const start = text.search(/\S/);
    return { syntax: 'json', single: true, records: [{ index: 0, line: lines.at(Math.max(start, 0)).line, value }], errors: [] };
  }
  throw new LotBridgeError('LB_ERR_WMS_RECORD_INVALID', `the body is a JSON ${value === null ? 'null' : typeof value}; send one record object, an array of records or NDJSON`, {
    location: { line: 1, path: '' },
  });
}

/**
 * Parses NDJSON (one JSON record per line; blank lines skipped). A line that is not JSON is a
 * record error (LB_ERR_WMS_JSON_SYNTAX with its line and column); the other lines are records.
 * @param text - the decoded body (byte-order mark removed)
 */
export function parseWmsNdjson(text: string): WmsParseResult {
  const records: WmsParsedRecord[] = [];
  const errors: LotBridgeError[] = [];
  let index = 0;
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const lineText = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineText.trim() === '') {
      continue;
    }
    try {
      records.push({ index, line: lineNo, value: JSON.parse(lineText) as unknown });
    } catch (err) {
      const p = syntaxError(lineText, err);
      const column = p.offset + 1;
      errors.push(
        new LotBridgeError('LB_ERR_WMS_JSON_SYNTAX', `invalid JSON on NDJSON line ${lineNo}, column ${column}: ${p.message}`, {
          location: { index, line: lineNo, column },
          cause: err,
        }),
      );
    }
    index++;
  }
  return { syntax: 'ndjson', single: false, records, errors };
}

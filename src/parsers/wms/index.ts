export { parseWmsBody, wmsSyntaxOf, mediaTypeOf } from './wms-body.parser';
export { decodeWmsText, charsetOf, normalizeCharset, firstInvalidUtf8Offset, SUPPORTED_CHARSETS, type WmsCharset } from './decode-text';
export { parseWmsCsv } from './wms-csv.parser';
export { parseWmsJson, parseWmsNdjson } from './wms-json.parser';
export { parseReferenceText } from './wms-reference';
export { findJsonSyntaxError, topLevelArrayElementOffsets, type JsonSyntaxProblem } from './json-syntax';
export { LineIndex, type LineColumn } from './line-index';
export { WMS_CSV_COLUMNS } from './wms-csv-columns';
export type { WmsBodyInput, WmsParsedRecord, WmsParseResult, WmsSyntax } from './wms-parse.types';

import { LotBridgeError } from '../../errors';
import { decodeWindows1252 } from '../windows-1252';

/** Charsets a B2MML document may be written in. */
const CHARSETS: Readonly<Record<string, string>> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'us-ascii': 'utf-8',
  ascii: 'utf-8',
  'iso-8859-1': 'latin1',
  'iso8859-1': 'latin1',
  latin1: 'latin1',
  'windows-1252': 'windows-1252',
  cp1252: 'windows-1252',
  'utf-16': 'utf-16',
  'utf-16le': 'utf-16le',
  'utf-16be': 'utf-16be',
};

/** Line (1-based) and column (1-based) of a character offset in a text. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Decodes a B2MML document to text (RFC 7303 order): a byte-order mark (UTF-8, UTF-16 LE/BE) wins,
 * then the Content-Type charset, then the XML declaration's `encoding`, else UTF-8. UTF-8 must be
 * valid: LB_ERR_INGEST_ENCODING names the line and column of the first bad byte. The BOM is dropped.
 * @param payload - the bytes as received
 * @param declared - charset of the Content-Type, if any
 */
export function decodeB2mmlText(payload: Buffer, declared?: string | null): string {
  let charset: string | undefined;
  let start = 0;
  if (payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf) {
    charset = 'utf-8';
    start = 3;
  } else if (payload[0] === 0xff && payload[1] === 0xfe) {
    charset = 'utf-16le';
    start = 2;
  } else if (payload[0] === 0xfe && payload[1] === 0xff) {
    charset = 'utf-16be';
    start = 2;
  }
  if (charset === undefined) {
    const name = declared ?? /^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']+)["']/.exec(payload.toString('latin1', 0, Math.min(payload.length, 256)))?.[1];
    charset = name === undefined ? 'utf-8' : CHARSETS[name.trim().toLowerCase()];
    if (charset === undefined) {
      throw new LotBridgeError('LB_ERR_INGEST_ENCODING', `the document's encoding "${name}" is not supported (UTF-8, UTF-16 with a byte-order mark, ISO-8859-1, windows-1252)`, {
        location: { line: 1 },
        details: { encoding: name },
      });
    }
    if (charset === 'utf-16') {
      throw new LotBridgeError('LB_ERR_INGEST_ENCODING', 'a UTF-16 document must start with a byte-order mark', { location: { line: 1, column: 1 } });
    }
  }
  const bytes = start === 0 ? payload : payload.subarray(start);
  if (charset === 'latin1') {
    return bytes.toString('latin1');
  }
  if (charset === 'utf-8') {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (err) {
      const loose = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
      const at = loose.indexOf('\uFFFD');
      throw new LotBridgeError('LB_ERR_INGEST_ENCODING', `the document is not valid UTF-8 (first bad byte at line ${lineColumnAt(loose, at).line}); declare its encoding in the XML declaration`, {
        location: lineColumnAt(loose, Math.max(at, 0)),
        cause: err,
      });
    }
  }
  if (charset === 'windows-1252') {
    return decodeWindows1252(bytes);
  }
  return new TextDecoder(charset, { ignoreBOM: true }).decode(bytes).replace(/^\uFEFF/, '');
}

import { isUtf8 } from 'node:buffer';
import { LotBridgeError } from '../../errors';
import { decodeWindows1252 } from '../windows-1252';

/** Charsets a WMS body may declare (`charset=` of its Content-Type, or the watched folder's setting). */
export const SUPPORTED_CHARSETS = ['utf-8', 'us-ascii', 'iso-8859-1', 'windows-1252'] as const;
/** A charset the WMS parsers decode. */
export type WmsCharset = (typeof SUPPORTED_CHARSETS)[number];

const ALIASES: Record<string, WmsCharset> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'us-ascii': 'us-ascii',
  ascii: 'us-ascii',
  'iso-8859-1': 'iso-8859-1',
  'iso8859-1': 'iso-8859-1',
  'iso_8859-1': 'iso-8859-1',
  latin1: 'iso-8859-1',
  'latin-1': 'iso-8859-1',
  l1: 'iso-8859-1',
  'windows-1252': 'windows-1252',
  cp1252: 'windows-1252',
  'x-cp1252': 'windows-1252',
};

/**
 * The canonical name of a declared charset, or undefined when the WMS parsers cannot decode it.
 * @param declared - the charset as written (`UTF-8`, `latin1`, `"windows-1252"` …)
 */
export function normalizeCharset(declared: string): WmsCharset | undefined {
  return ALIASES[declared.trim().replace(/^"|"$/g, '').toLowerCase()];
}

/**
 * The `charset=` parameter of a Content-Type, when there is one.
 * @param contentType - e.g. `text/csv; charset=ISO-8859-1`
 */
export function charsetOf(contentType: string | undefined | null): string | undefined {
  const m = /;\s*charset\s*=\s*("?)([^";]+)\1/i.exec(contentType ?? '');
  return m?.[2]?.trim() || undefined;
}

/**
 * Decodes a WMS body to text. With no charset (or UTF-8) declared the bytes must be valid UTF-8;
 * otherwise LB_ERR_INGEST_ENCODING names the line and byte offset of the first bad byte.
 * ISO-8859-1 and windows-1252 are decoded as declared. A leading byte-order mark is dropped.
 * @param payload - the bytes as received
 * @param declared - the declared charset, if any
 */
export function decodeWmsText(payload: Buffer, declared?: string | null): string {
  const charset = declared ? normalizeCharset(declared) : 'utf-8';
  if (!charset) {
    throw new LotBridgeError('LB_ERR_INGEST_ENCODING', `charset "${declared}" is not supported (use ${SUPPORTED_CHARSETS.join(', ')})`, {
      details: { charset: declared },
    });
  }
  let text: string;
  if (charset === 'iso-8859-1') {
    text = payload.toString('latin1');
  } else if (charset === 'windows-1252') {
    // not TextDecoder('windows-1252'): Node 20's reads 0x80–0x9F as C1 control characters
    text = decodeWindows1252(payload);
  } else {
    const bad = firstInvalidUtf8Offset(payload);
    if (bad !== undefined) {
      const line = lineAtByte(payload, bad);
      throw new LotBridgeError(
        'LB_ERR_INGEST_ENCODING',
        `byte 0x${payload[bad].toString(16).padStart(2, '0').toUpperCase()} at byte offset ${bad} (line ${line}) is not valid UTF-8; ` +
          'declare the charset (e.g. Content-Type: text/csv; charset=iso-8859-1) or send UTF-8',
        { location: { line, position: bad }, details: { byteOffset: bad, charset: declared ?? null } },
      );
    }
    text = payload.toString('utf8');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * The byte offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
 * above U+10FFFF included), or undefined for valid UTF-8.
 * @param buf - the bytes to check
 */
export function firstInvalidUtf8Offset(buf: Buffer): number | undefined {
  if (isUtf8(buf)) {
    return undefined;
  }
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b & 0x07;
    } else {
      return i;
    }
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) {
        return i;
      }
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return i;
    }
    i += need + 1;
  }
  return undefined;
}

/** 1-based line of a byte offset (lines end at LF). */
function lineAtByte(buf: Buffer, offset: number): number {
  let line = 1;
  for (let i = buf.indexOf(0x0a); i !== -1 && i < offset; i = buf.indexOf(0x0a, i + 1)) {
    line += 1;
  }
  return line;
}

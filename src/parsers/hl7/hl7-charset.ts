import { LotBridgeError } from '../../errors';
import { firstInvalidUtf8Offset } from '../wms/decode-text';
import type { Hl7HexDecoding } from './hl7-escape';
import { hl7Location } from './hl7-location';
import { readMsh } from './read-msh';
import { decodeWindows1252 } from '../windows-1252';

/** How LotBridge decodes bytes declared with one MSH-18 value. */
export interface Hl7Encoding {
  /** `utf-8`, `latin1` (true ISO-8859-1, byte for byte) or a WHATWG TextDecoder label. */
  decoder: string;
  /** How `\X..\` escapes in such a message are read. */
  hexDecoding: Hl7HexDecoding;
}

const UTF8: Hl7Encoding = { decoder: 'utf-8', hexDecoding: 'utf-8' };
const LATIN1: Hl7Encoding = { decoder: 'latin1', hexDecoding: 'latin1' };
const whatwg = (label: string): Hl7Encoding => ({ decoder: label, hexDecoding: 'auto' });

/**
 * HL7 table 0211 values (and the spellings senders use instead) that Node can decode.
 * ASCII is read as ISO-8859-1 so stray 8-bit bytes survive instead of failing the message.
 * ISO IR14/IR87/IR159 (ISO 2022 switching), CNS 11643-1992, UTF-16 and UTF-32 are not supported.
 */
const ENCODINGS: Record<string, Hl7Encoding> = {
  ASCII: LATIN1,
  'ISO IR6': LATIN1,
  '8859/1': LATIN1,
  '8859/2': whatwg('iso-8859-2'),
  '8859/3': whatwg('iso-8859-3'),
  '8859/4': whatwg('iso-8859-4'),
  '8859/5': whatwg('iso-8859-5'),
  '8859/6': whatwg('iso-8859-6'),
  '8859/7': whatwg('iso-8859-7'),
  '8859/8': whatwg('iso-8859-8'),
  '8859/9': whatwg('iso-8859-9'),
  '8859/15': whatwg('iso-8859-15'),
  'GB 18030-2000': whatwg('gb18030'),
  'KS X 1001': whatwg('euc-kr'),
  'BIG-5': whatwg('big5'),
  UNICODE: UTF8,
  'UNICODE UTF-8': UTF8,
  // not in table 0211, but written by real senders
  'UTF-8': UTF8,
  UTF8: UTF8,
  'ISO-8859-1': LATIN1,
  'ISO8859-1': LATIN1,
  'ISO_8859-1': LATIN1,
  LATIN1: LATIN1,
  'LATIN-1': LATIN1,
  'ISO-8859-15': whatwg('iso-8859-15'),
  'WINDOWS-1252': whatwg('windows-1252'),
  CP1252: whatwg('windows-1252'),
};

/**
 * The decoding for an MSH-18 value (its first repetition), or undefined when unsupported.
 * Case and surrounding spaces do not matter.
 * @param msh18 - the value as written, e.g. `UNICODE UTF-8`, `8859/1`
 */
export function hl7CharsetEncoding(msh18: string): Hl7Encoding | undefined {
  return ENCODINGS[msh18.trim().replace(/\s+/g, ' ').toUpperCase()];
}

/**
 * The MSH-18 value a MIME charset name stands for (the `charset` of an HTTP Content-Type, the
 * default of a message without MSH-18), when LotBridge can decode it: `utf-8` → UNICODE UTF-8,
 * `iso-8859-1`/`latin1` → 8859/1, `us-ascii` → ASCII, `iso-8859-<n>` → 8859/<n> (those table 0211
 * has), `windows-1252`/`cp1252` → WINDOWS-1252; undefined for any other.
 * @param mime - the charset name, any case
 */
export function msh18OfMimeCharset(mime: string): string | undefined {
  const c = mime.trim().toLowerCase();
  if (/^utf-?8$/.test(c)) return 'UNICODE UTF-8';
  if (/^(iso-?8859-1|latin-?1)$/.test(c)) return '8859/1';
  if (/^(us-)?ascii$/.test(c)) return 'ASCII';
  const iso = /^iso[-_]?8859[-_](\d{1,2})$/.exec(c);
  if (iso && hl7CharsetEncoding(`8859/${iso[1]}`)) return `8859/${iso[1]}`;
  if (c === 'windows-1252' || c === 'cp1252') return 'WINDOWS-1252';
  return undefined;
}

/** The MSH-18 values {@link hl7CharsetEncoding} knows. */
export const SUPPORTED_HL7_CHARSETS: readonly string[] = Object.keys(ENCODINGS);

/** Text decoded from HL7 bytes, and the charset used. */
export interface DecodedHl7 {
  /** The decoded text (framing, if any, still there). */
  text: string;
  /** The charset the bytes were decoded with: MSH-18 as written, or the default. */
  charset: string;
  /** True when MSH-18 named it; false when the default was used. */
  declared: boolean;
  /** The decoding used. */
  encoding: Hl7Encoding;
}

/** Options of {@link decodeHl7Buffer}. */
export interface DecodeHl7Options {
  /** Charset for messages with an empty MSH-18 (an MSH-18 value or alias). Default `UNICODE UTF-8`. */
  defaultCharset?: string;
}

/**
 * Decodes HL7 bytes by peeking at MSH-18 of the first MSH (read as ISO-8859-1, which every
 * supported charset agrees with for the header's ASCII). UTF-8 must be valid
 * (LB_ERR_INGEST_ENCODING names the byte offset otherwise); an MSH-18 Node cannot decode is
 * LB_ERR_HL7_CHARSET. A UTF-8 byte-order mark is dropped (whatever MSH-18 says), and MSH-18 is
 * looked for after it; a message without MSH-18 that starts with one is read as UTF-8.
 * @param payload - the bytes as received (MLLP framing may still be there)
 * @param opts - the default charset
 */
export function decodeHl7Buffer(payload: Buffer, opts: DecodeHl7Options = {}): DecodedHl7 {
  // a UTF-8 byte-order mark is not part of the message: MSH-18 is looked for after it (read as
  // ISO-8859-1 the BOM is three characters that would hide the MSH), and a message without MSH-18
  // that starts with one is UTF-8 whatever the default says
  const bom = payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf;
  const fallback = bom ? 'UNICODE UTF-8' : (opts.defaultCharset ?? 'UNICODE UTF-8');
  const header = readMsh(payload.toString('latin1', bom ? 3 : 0));
  const declared = header.charset !== undefined && header.charset.trim() !== '';
  const charset = declared ? header.charset!.trim() : fallback;
  const encoding = hl7CharsetEncoding(charset);
  if (!encoding) {
    const location = declared ? hl7Location({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: 18, line: header.line }) : undefined;
    throw new LotBridgeError(
      'LB_ERR_HL7_CHARSET',
      declared
        ? `MSH-18 "${charset}" is not a character set LotBridge can decode (use UNICODE UTF-8 or 8859/1) (segment MSH, field 18${header.line ? `, line ${header.line}` : ''})`
        : `the default charset "${charset}" is not an MSH-18 value LotBridge can decode`,
      { ...(location ? { location } : {}), details: { charset } },
    );
  }
  const bytes = bom ? payload.subarray(3) : payload;
  let text: string;
  if (encoding.decoder === 'utf-8') {
    const bad = firstInvalidUtf8Offset(bytes);
    if (bad !== undefined) {
      throw new LotBridgeError(
        'LB_ERR_INGEST_ENCODING',
        `byte 0x${bytes[bad].toString(16).padStart(2, '0').toUpperCase()} at byte offset ${bad} is not valid UTF-8, the message's charset ` +
          `(${declared ? `MSH-18 "${charset}"` : `default "${charset}"`}); set MSH-18 to the charset the sender writes (e.g. 8859/1)`,
        { location: { position: bad }, details: { byteOffset: bad, charset } },
      );
    }
    text = bytes.toString('utf8');
  } else {
    text = decodeHl7Bytes(bytes, encoding);
  }
  return { text, charset, declared, encoding };
}

/**
 * Bytes as text in an HL7 charset (no validity check: a UTF-8 message is checked by
 * {@link decodeHl7Buffer} when it is received).
 * @param bytes - the bytes
 * @param encoding - the charset's decoding ({@link hl7CharsetEncoding})
 */
export function decodeHl7Bytes(bytes: Buffer, encoding: Hl7Encoding): string {
  if (encoding.decoder === 'utf-8') return bytes.toString('utf8');
  if (encoding.decoder === 'latin1') return bytes.toString('latin1');
  // Node 20's TextDecoder('windows-1252') reads 0x80–0x9F as C1 controls (€ as U+0080)
  if (encoding.decoder === 'windows-1252') return decodeWindows1252(bytes);
  return new TextDecoder(encoding.decoder).decode(bytes);
}

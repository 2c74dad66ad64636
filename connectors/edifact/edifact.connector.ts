import { ediConnector } from '../../src/connectors/edi-connector';
import type { EnvelopeInfo } from '../../src/connectors/types';
import { decodeEdiText } from '../../src/parsers/edi/edi-text';
import { scanEdifact } from '../../src/parsers/edifact/edifact-envelope';
import { tokenizeEdifact } from '../../src/parsers/edifact/edifact-tokenizer';

/**
 * Splits a body into its EDIFACT interchanges ([UNA] UNB … UNZ) as byte ranges. The boundaries are
 * found on a Latin-1 view (one character per byte), which is exact for every syntax level: the
 * service characters are ASCII and never part of a multi-byte UTF-8 sequence.
 */
export function splitEdifact(payload: Buffer): Buffer[] {
  const bom = payload.length >= 3 && payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf ? 3 : 0;
  let ics: ReturnType<typeof tokenizeEdifact>;
  try {
    ics = tokenizeEdifact(decodeEdiText(payload, 'latin1').text);
  } catch {
    return [payload];
  }
  if (ics.length < 2) return [payload];
  return ics.map((ic, i) => payload.subarray(bom + ic.start, bom + (ics[i + 1]?.start ?? payload.length - bom)));
}

/**
 * The EDIFACT envelope: UNB sender (S002 0004), recipient (S003 0010), control reference (0020),
 * the first UNH message type; dedup key `edifact:<sender>[:<0007>]|<recipient>[:<0007>]|<0020>`.
 * A party is its identification and its code qualifier (14 GLN, ZZZ mutually defined …): the same
 * 0004 under another qualifier is another sender, whose control references are its own (an
 * interchange without qualifiers keeps the key without them). The body is decoded with its syntax
 * level's charset (UNOC ISO-8859-1, UNOE ISO-8859-5, UNOW/UNOY UTF-8 …).
 */
export function edifactEnvelope(payload: Buffer): EnvelopeInfo {
  const scan = scanEdifact(payload);
  const ic = scan.interchanges[0];
  const unb = ic.segments[0];
  const el = (n: number, c = 0): string => (unb?.elements[n]?.[c] ?? '').trim();
  const sender = el(2);
  const recipient = el(3);
  const control = el(5);
  const party = (id: string, qualifier: string): string => (qualifier ? `${id}:${qualifier}` : id);
  const unh = ic.segments.find((s) => s.tag === 'UNH');
  return {
    ...(unh?.elements[2]?.[0] ? { messageType: unh.elements[2][0].trim() } : {}),
    ...(sender ? { sender } : {}),
    ...(recipient ? { receiver: recipient } : {}),
    ...(control ? { controlId: control, dedupKey: `edifact:${party(sender, el(2, 1))}|${party(recipient, el(3, 1))}|${control}` } : {}),
  };
}

/** The `edifact` connector: HTTP and a watched folder; CONTRL comes from the pipeline. */
export const edifactConnector = ediConnector({
  kind: 'edifact',
  format: 'edifact',
  contentTypes: /edifact|edi|text\/plain|application\/octet-stream/,
  split: splitEdifact,
  envelope: edifactEnvelope,
});

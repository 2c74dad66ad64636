import { ediConnector } from '../../src/connectors/edi-connector';
import type { EnvelopeInfo } from '../../src/connectors/types';
import { decodeEdiText } from '../../src/parsers/edi/edi-text';
import { tokenizeX12 } from '../../src/parsers/x12/x12-tokenizer';

/** Splits a body into its X12 interchanges (ISA … IEA), as bytes in the body's own encoding. */
export function splitX12(payload: Buffer): Buffer[] {
  let decoded: ReturnType<typeof decodeEdiText>;
  let scan: ReturnType<typeof tokenizeX12>;
  try {
    decoded = decodeEdiText(payload);
    scan = tokenizeX12(decoded.text);
  } catch {
    return [payload];
  }
  if (scan.interchanges.length < 2) {
    return [payload];
  }
  const enc: BufferEncoding = decoded.charset === 'utf-8' ? 'utf8' : 'latin1';
  return scan.interchanges.map((ic, i) => Buffer.from(decoded.text.slice(ic.start, scan.interchanges[i + 1]?.start ?? decoded.text.length), enc));
}

/**
 * The X12 envelope: ISA05/06 sender, ISA07/08 receiver, ISA13 control number (leading zeros kept),
 * the first ST01 as the message type; dedup key `x12:<sender>|<receiver>|<ISA13>`.
 * A body that is no X12 at all (empty, no ISA) is reported in `error`: stored, rejected, unanswerable.
 */
export function x12Envelope(payload: Buffer): EnvelopeInfo {
  const { text } = decodeEdiText(payload);
  const ic = tokenizeX12(text).interchanges[0];
  const isa = ic.segments[0].elements;
  const v = (n: number): string => (isa[n] ?? '').trim();
  const sender = `${v(5)}/${v(6)}`;
  const receiver = `${v(7)}/${v(8)}`;
  const control = /^\d{1,9}$/.test(v(13)) ? v(13) : undefined;
  const st = ic.segments.find((s) => s.id === 'ST');
  return {
    ...(st?.elements[1] ? { messageType: st.elements[1].trim() } : {}),
    sender,
    receiver,
    ...(control ? { controlId: control, dedupKey: `x12:${sender}|${receiver}|${control}` } : {}),
  };
}

/** The `x12` connector: HTTP and a watched folder; acks (TA1/997/999) come from the pipeline. */
export const x12Connector = ediConnector({
  kind: 'x12',
  format: 'x12',
  contentTypes: /x12|edi|text\/plain|application\/octet-stream/,
  split: splitX12,
  envelope: x12Envelope,
});

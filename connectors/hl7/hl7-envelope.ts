import { createHash } from 'node:crypto';
import { LotBridgeError, isLotBridgeError } from '../../src/errors';
import type { EnvelopeInfo } from '../../src/connectors/types';
import { checkHl7Version, decodeHl7Buffer, readMsh, splitHl7Lines, stripMllpFraming, type DecodedHl7, type MshHeader } from '../../src/parsers/hl7';

/** An inbound HL7 payload as far as intake reads it: text, header and what went wrong. */
export interface Hl7Envelope {
  decoded?: DecodedHl7;
  header: MshHeader;
  info: EnvelopeInfo;
}

/** `MSH-3|MSH-4`: the sender as the dedup key and FIFO group name it. */
export function hl7SenderOf(h: MshHeader): string | undefined {
  const s = [h.sendingApplication ?? '', h.sendingFacility ?? ''].join('|');
  return s === '|' ? undefined : s;
}

/**
 * A digest of the message's content that ignores MSH-7 (engines re-stamp it on a resend) and the
 * segment terminators used. Part of the dedup key: a resend of the same message is a duplicate,
 * while a different message that reuses an MSH-10 (a control-id collision) is stored and
 * processed as its own message and flagged.
 */
export function hl7ContentDigest(text: string, h: MshHeader): string {
  const field = h.delimiters.field;
  const lines = splitHl7Lines(stripMllpFraming(text, false).text).map((l) => l.text).filter((l) => l.length > 0);
  const normal = lines.map((l) => {
    if (!l.startsWith('MSH')) return l;
    const parts = l.split(field);
    if (parts.length > 6) parts[6] = ''; // MSH-7 (parts[0] = 'MSH', parts[1] = MSH-2)
    return parts.join(field);
  });
  return createHash('sha256').update(normal.join('\r')).digest('hex').slice(0, 32);
}

/**
 * Reads the envelope of one HL7 v2 message without the full parse: charset (MSH-18 or the
 * default), MSH fields, version check. Never throws: an unreadable message is reported in
 * `info.error` (stored as rejected and answered with AR) with whatever the header gave.
 */
export function readHl7Envelope(payload: Buffer, defaultCharset: string): Hl7Envelope {
  let decoded: DecodedHl7 | undefined;
  let error: LotBridgeError | undefined;
  try {
    decoded = decodeHl7Buffer(payload, { defaultCharset });
  } catch (err) {
    error = isLotBridgeError(err) ? err : new LotBridgeError('LB_ERR_INGEST_ENCODING', `the message cannot be decoded: ${(err as Error).message}`);
  }
  const text = decoded?.text ?? payload.toString('latin1');
  const header = readMsh(text);
  error ??= header.error;
  if (!error) {
    try {
      checkHl7Version(header);
    } catch (err) {
      error = isLotBridgeError(err) ? err : undefined;
    }
  }
  const sender = hl7SenderOf(header);
  const type = header.messageType ? [header.messageType, header.triggerEvent].filter(Boolean).join('^') : undefined;
  const receiver = [header.receivingApplication ?? '', header.receivingFacility ?? ''].join('|');
  const info: EnvelopeInfo = {
    messageType: type,
    sender,
    receiver: receiver === '|' ? undefined : receiver,
    controlId: header.controlId,
    ...(error ? { error } : {}),
  };
  if (!error && header.controlId) {
    info.dedupKey = `hl7:${sender ?? ''}|${header.controlId}|${hl7ContentDigest(text, header)}`;
  }
  return { decoded, header, info };
}

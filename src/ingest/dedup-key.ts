import type { MessageFormat } from '../connectors/types';
import type { EnvelopeInfo } from '../connectors/types';

/**
 * The dedup key of a message: one per format, the same across transports, so an MLLP and an HTTP
 * resend from the same sender are one message.
 *  - HL7: MSH-3 + MSH-4 + MSH-10 (the connector puts them in `dedupKey`)
 *  - X12: ISA05/06 + ISA07/08 + ISA13;  EDIFACT: UNB sender + recipient + 0020
 *  - documents with an id of their own (B2MML, WMS movementId): connector + sender + id
 *  - otherwise the body's sha256 (per connector).
 */
export function dedupKeyOf(connectorId: string, format: MessageFormat, info: EnvelopeInfo, sha256: string): string {
  if (info.dedupKey) {
    return info.dedupKey;
  }
  return `sha256:${connectorId}:${format}:${sha256}`;
}

import { isLotBridgeError, LotBridgeError } from '../../errors';
import type { EdiDocument } from '../edi/edi-documents';
import { EDIFACT_READERS } from './edifact-documents';
import { checkEdifactEnvelope, scanEdifact, type EdifactInterchange, type EdifactMessage, type EdifactNote } from './edifact-envelope';

export const EDIFACT_SUPPORTED: ReadonlySet<string> = new Set(Object.keys(EDIFACT_READERS));

export interface EdifactReadMessage {
  msg: EdifactMessage;
  doc?: EdiDocument;
}

export interface EdifactRead {
  ic: EdifactInterchange;
  messages: EdifactReadMessage[];
  count: number;
}

/**
 * Reads one interchange of a stored EDIFACT message: decode by syntax level, tokenize (release
 * characters), check the envelope, and read each supported message into its document. Problems
 * land on the interchange (UCI) or message (UCM with UCS/UCD from `details.edifact`); only a body
 * that cannot be tokenized at all throws.
 */
export function readEdifactMessage(payload: Buffer, index = 0): EdifactRead {
  const scan = scanEdifact(payload);
  const raw = scan.interchanges[index];
  if (!raw) {
    throw new LotBridgeError('LB_ERR_EDIFACT_NOT_EDIFACT', `the body holds ${scan.interchanges.length} interchange(s), not ${index + 1}`);
  }
  if (raw.fatal) throw raw.fatal;
  const ic = checkEdifactEnvelope(raw, EDIFACT_SUPPORTED, scan.charset);
  ic.warnings.push(...scan.warnings);
  const messages: EdifactReadMessage[] = [];
  if (!ic.envelopeError) {
    for (const msg of ic.messages) {
      const rm: EdifactReadMessage = { msg };
      if (msg.issues.length === 0) {
        try {
          rm.doc = EDIFACT_READERS[msg.type](msg, ic.delimiters);
        } catch (err) {
          if (!isLotBridgeError(err) || err.kind !== 'input') throw err;
          const note = err.details?.edifact as EdifactNote | undefined;
          msg.issues.push({ code: note?.code ?? '12', ...(note ? { note } : {}), error: err });
        }
      }
      messages.push(rm);
    }
  }
  return { ic, messages, count: scan.interchanges.length };
}

/** The first input error of a read. */
export function firstEdifactError(r: EdifactRead): LotBridgeError | undefined {
  if (r.ic.envelopeError) return r.ic.envelopeError.error;
  for (const m of r.ic.messages) if (m.issues.length > 0) return m.issues[0].error;
  return undefined;
}

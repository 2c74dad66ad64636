import { isLotBridgeError, LotBridgeError } from '../../errors';
import { decodeEdiText } from '../edi/edi-text';
import type { EdiDocument } from '../edi/edi-documents';
import { checkX12Envelope, type X12Group, type X12Interchange, type X12Set, type X12SegmentNote } from './x12-envelope';
import { tokenizeX12, type X12Delimiters } from './x12-tokenizer';
import { read856 } from './x12-856';
import { read810, read846, read850, read855, read861, readFunctionalAck } from './x12-documents';

/** Readers of the transaction sets LotBridge maps. */
export const X12_READERS: Record<string, (set: X12Set, d: X12Delimiters) => EdiDocument> = {
  '856': read856,
  '850': read850,
  '855': read855,
  '810': read810,
  '846': read846,
  '861': read861,
  '997': readFunctionalAck,
  '999': readFunctionalAck,
};

export const X12_SUPPORTED_SETS: ReadonlySet<string> = new Set(Object.keys(X12_READERS));

/** A transaction set with what its reader made of it (a document, or issues on the set). */
export interface X12ReadSet {
  group: X12Group;
  set: X12Set;
  doc?: EdiDocument;
}

/** One interchange read and checked, with a document per accepted set. */
export interface X12Read {
  ic: X12Interchange;
  sets: X12ReadSet[];
}

/**
 * Reads one interchange of a stored message: decode, tokenize, check the envelope, and read each
 * supported set into its document. Input problems land on the interchange (TA1) or set (AK5 with
 * AK3/AK4 from the error's `details.x12`); only a body that is no X12 at all throws.
 * @param payload - the stored bytes
 * @param index - which interchange of the body (0: the first)
 */
export function readX12Message(payload: Buffer, index = 0): X12Read & { count: number } {
  const { text } = decodeEdiText(payload);
  const scan = tokenizeX12(text);
  const raw = scan.interchanges[index];
  if (!raw) {
    throw new LotBridgeError('LB_ERR_X12_NOT_X12', `the body holds ${scan.interchanges.length} interchange(s), not ${index + 1}`);
  }
  const ic = checkX12Envelope(raw, X12_SUPPORTED_SETS);
  const sets: X12ReadSet[] = [];
  if (!ic.envelopeError) {
    for (const group of ic.groups) {
      for (const set of group.sets) {
        const rs: X12ReadSet = { group, set };
        if (set.issues.length === 0 && group.issues.length === 0) {
          try {
            rs.doc = X12_READERS[set.id](set, ic.delimiters);
          } catch (err) {
            if (!isLotBridgeError(err) || err.kind !== 'input') throw err;
            set.issues.push({ setCode: '5', segment: err.details?.x12 as X12SegmentNote | undefined, error: err });
          }
        } else if (group.issues.length > 0 && set.issues.length === 0) {
          // a set of a group whose trailer is wrong is not taken either (AK9 R)
        }
        sets.push(rs);
      }
    }
  }
  return { ic, sets, count: scan.interchanges.length };
}

/** The first input error of a read: the envelope's, a group's, or a set's (for a rejected message). */
export function firstX12Error(r: X12Read): LotBridgeError | undefined {
  if (r.ic.envelopeError) return r.ic.envelopeError.error;
  for (const g of r.ic.groups) {
    if (g.issues.length > 0) return g.issues[0].error;
    for (const s of g.sets) if (s.issues.length > 0) return s.issues[0].error;
  }
  return undefined;
}

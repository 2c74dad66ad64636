import { LotBridgeError } from '../errors';

/** What an HL7 ACK said, as kept on a delivery (`ack`). */
export interface Hl7AckSummary {
  type: 'hl7-ack';
  /** MSA-1: AA/AE/AR (original mode) or CA/CE/CR (enhanced mode). */
  code: string;
  /** MSA-2: the control id the ACK answers. */
  controlId?: string;
  /** MSA-3 text, when any. */
  text?: string;
  /** ERR segments' text (ERR-8 user message, else ERR-3 / ERR-1 components), when any. */
  errors?: string[];
}

function fieldSeparatorOf(msg: string): string {
  return msg.startsWith('MSH') && msg.length > 3 ? msg[3] : '|';
}

/** MSH-10 of an HL7 message (the control id its ACK must name), or undefined. */
export function controlIdOf(message: string): string | undefined {
  const msh = message.split(/\r\n|\r|\n/).find((s) => s.startsWith('MSH'));
  if (!msh) {
    return undefined;
  }
  const sep = fieldSeparatorOf(msh);
  // MSH-1 is the separator itself: MSH-10 is split index 9
  const v = msh.split(sep)[9];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * Reads the answer of an MLLP destination as an HL7 ACK for `sent`.
 *
 * @param answer - the answer's payload (text)
 * @param sent - the message that was sent (its MSH-10 must be MSA-2)
 * @returns the ACK summary when MSA-1 is AA or CA
 * @throws LotBridgeError LB_ERR_DELIVERY_NACK for AE/AR/CE/CR (details.ack has the summary),
 *   LB_ERR_DELIVERY_ACK_INVALID when the answer has no MSA or answers another control id
 */
export function checkHl7Ack(answer: string, sent: string): Hl7AckSummary {
  const segments = answer.split(/\r\n|\r|\n/).filter((s) => s.length > 0);
  const msh = segments.find((s) => s.startsWith('MSH'));
  const sep = msh ? fieldSeparatorOf(msh) : '|';
  const comp = msh && msh.length > 4 ? msh[4] : '^';
  const msa = segments.find((s) => s.startsWith(`MSA${sep}`));
  if (!msa) {
    throw new LotBridgeError('LB_ERR_DELIVERY_ACK_INVALID', `the MLLP answer has no MSA segment (first bytes: ${JSON.stringify(answer.slice(0, 40))})`, {
      location: { segment: 'MSA' },
    });
  }
  const f = msa.split(sep);
  const code = (f[1] ?? '').trim().toUpperCase();
  const controlId = f[2]?.trim() || undefined;
  const text = f[3]?.trim() || undefined;
  const errors = segments
    .filter((s) => s.startsWith(`ERR${sep}`))
    .map((s) => {
      const e = s.split(sep);
      const pick = [e[8], e[3], e[1]].find((x) => x && x.trim() !== '') ?? '';
      return pick.split(comp).filter((p) => p !== '').join(' ');
    })
    .filter((t) => t !== '');
  const summary: Hl7AckSummary = { type: 'hl7-ack', code, controlId, ...(text ? { text } : {}), ...(errors.length ? { errors } : {}) };
  const expected = controlIdOf(sent);
  if (!['AA', 'AE', 'AR', 'CA', 'CE', 'CR'].includes(code)) {
    throw new LotBridgeError('LB_ERR_DELIVERY_ACK_INVALID', `MSA-1 "${code}" is not an acknowledgement code (segment MSA, field 1)`, {
      location: { segment: 'MSA', field: '1' },
      details: { ack: summary },
    });
  }
  if (expected && controlId !== expected) {
    throw new LotBridgeError('LB_ERR_DELIVERY_ACK_INVALID', `the ACK answers control id "${controlId ?? ''}", not "${expected}" (segment MSA, field 2)`, {
      location: { segment: 'MSA', field: '2' },
      details: { ack: summary },
    });
  }
  if (code !== 'AA' && code !== 'CA') {
    const why = [text, ...errors].filter(Boolean).join('; ');
    throw new LotBridgeError('LB_ERR_DELIVERY_NACK', `the destination answered ${code}${why ? `: ${why}` : ''} (segment MSA, field 1)`, {
      location: { segment: 'MSA', field: '1' },
      details: { ack: summary },
    });
  }
  return summary;
}

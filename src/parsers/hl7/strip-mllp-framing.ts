import { LotBridgeError } from '../../errors';

const START_BLOCK = '\x0b';
const END_BLOCK = '\x1c';

/** Text with MLLP framing and byte-order mark removed. */
export interface UnframedHl7 {
  /** The message text between the frame bytes. */
  text: string;
  /** True when the text came in an MLLP block (0x0B … 0x1C 0x0D). */
  framed: boolean;
}

/**
 * Removes MLLP framing (start block 0x0B, end block 0x1C and the CR after it) and a UTF-8
 * byte-order mark, so a message stored exactly as received can be parsed. Text without framing
 * comes back as it is. A start block without an end block means the transmission was cut.
 * @param text - the message as received
 * @param strict - when true (the default), a start block without end block or data after the end
 *   block is an error (LB_ERR_HL7_FRAMING); when false, whatever is there is returned
 */
export function stripMllpFraming(text: string, strict = true): UnframedHl7 {
  let t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const start = t.indexOf(START_BLOCK);
  if (start < 0 || t.slice(0, start).trim() !== '') {
    // no start block; tolerate a lone end block at the very end (some senders add it to files)
    const end = t.lastIndexOf(END_BLOCK);
    if (end >= 0 && t.slice(end + 1).trim() === '') {
      t = t.slice(0, end);
    }
    return { text: t, framed: false };
  }
  const end = t.indexOf(END_BLOCK, start + 1);
  if (end < 0) {
    if (strict) {
      throw new LotBridgeError('LB_ERR_HL7_FRAMING', `the text opens an MLLP block (0x0B) at character ${start + 1} that is never closed by 0x1C: the message was cut`, {
        details: { length: text.length },
      });
    }
    return { text: t.slice(start + 1), framed: true };
  }
  const after = t.slice(end + 1);
  if (strict && after.replace(/^\r/, '').trim() !== '') {
    throw new LotBridgeError('LB_ERR_HL7_FRAMING', `the text has ${after.length} characters after the MLLP end block (0x1C): send one message per block`, {
      details: { length: text.length },
    });
  }
  return { text: t.slice(start + 1, end), framed: true };
}

import { LotBridgeError } from '../../errors';

/** MLLP start byte: vertical tab. */
export const MLLP_VT = 0x0b;
/** MLLP end byte: file separator. */
export const MLLP_FS = 0x1c;
/** MLLP trailer after FS: carriage return. */
export const MLLP_CR = 0x0d;

/**
 * Wraps a payload in an MLLP frame: `VT payload FS CR`. The payload is not inspected beyond the
 * framing bytes: MLLP is agnostic about HL7 content.
 *
 * @param payload - bytes to send (an HL7 message, an ACK, …)
 * @returns a new buffer holding the whole frame
 * @throws LotBridgeError `LB_ERR_MLLP_PAYLOAD_INVALID` when the payload holds a VT or FS byte,
 *   which the receiver would take for a frame boundary
 */
export function encodeMllpFrame(payload: Buffer): Buffer {
  assertFramable(payload);
  const frame = Buffer.allocUnsafe(payload.length + 3);
  frame[0] = MLLP_VT;
  payload.copy(frame, 1);
  frame[payload.length + 1] = MLLP_FS;
  frame[payload.length + 2] = MLLP_CR;
  return frame;
}

/**
 * Checks that a payload can travel inside one MLLP frame.
 *
 * @param payload - bytes to send
 * @throws LotBridgeError `LB_ERR_MLLP_PAYLOAD_INVALID` naming the first offending byte's offset
 */
export function assertFramable(payload: Buffer): void {
  const vt = payload.indexOf(MLLP_VT);
  const fs = payload.indexOf(MLLP_FS);
  if (vt === -1 && fs === -1) {
    return;
  }
  const at = vt === -1 ? fs : fs === -1 ? vt : Math.min(vt, fs);
  const name = payload[at] === MLLP_VT ? 'VT (0x0B)' : 'FS (0x1C)';
  throw new LotBridgeError('LB_ERR_MLLP_PAYLOAD_INVALID', `the payload holds a ${name} byte at offset ${at}; MLLP cannot frame it`, {
    details: { offset: at, size: payload.length },
  });
}

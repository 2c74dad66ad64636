import { isLotBridgeError } from '../../../../src/errors';
import { encodeMllpFrame } from '../../../../src/transport/mllp/mllp-framing';

describe('encodeMllpFrame', () => {
  it('wraps a payload as VT payload FS CR', () => {
    expect([...encodeMllpFrame(Buffer.from('MSH|x'))]).toEqual([0x0b, 0x4d, 0x53, 0x48, 0x7c, 0x78, 0x1c, 0x0d]);
    expect([...encodeMllpFrame(Buffer.alloc(0))]).toEqual([0x0b, 0x1c, 0x0d]);
  });

  it.each([
    ['VT (0x0B)', Buffer.from('ab\x0bc'), 2],
    ['FS (0x1C)', Buffer.from('a\x1cb\x0b'), 1],
  ])('refuses a payload holding a %s byte with LB_ERR_MLLP_PAYLOAD_INVALID and its offset', (name, payload, offset) => {
    let caught: unknown;
    try {
      encodeMllpFrame(payload);
    } catch (err) {
      caught = err;
    }
    expect(isLotBridgeError(caught) && { code: caught.code, message: caught.message, details: caught.details }).toEqual({
      code: 'LB_ERR_MLLP_PAYLOAD_INVALID',
      message: `the payload holds a ${name} byte at offset ${offset}; MLLP cannot frame it`,
      details: { offset, size: payload.length },
    });
  });
});

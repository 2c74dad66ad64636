import { isLotBridgeError } from '../../../src/errors/lotbridge-error';
import { decodeGs1 } from '../../../src/gs1/gs1-decode';

/** Small deterministic PRNG (mulberry32) so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  '(01)09506000134352(17)270331(10)L2403A(21)S1',
  ']d2010950600013435217270331' + '10L2403A\x1d21S1',
  'https://id.example.com/01/09506000134352/10/L2403A?17=270331',
  '(00)106141412345678908(02)09506000134352(37)24',
  '(8006)095060001343520102(8013)1987654Ad4X4bL5ttr2310c2K',
];
const ALPHABET = '0123456789()[]]%/?&=#+ \x1d\r\nABCdezé\\';

describe('decodeGs1 robustness', () => {
  it('answers any mutated input with a result or a LotBridgeError with a position, never another error', () => {
    const rand = prng(20260301);
    const now = new Date('2026-03-01T00:00:00Z');
    for (let n = 0; n < 4000; n++) {
      const chars = [...(SEEDS[n % SEEDS.length] ?? '')];
      const edits = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rand() * (chars.length + 1));
        const ch = ALPHABET[Math.floor(rand() * ALPHABET.length)] ?? '0';
        const op = rand();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.7) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      const text = chars.join('');
      try {
        const d = decodeGs1(text, { now });
        expect(d.elements.length).toBeGreaterThan(0);
      } catch (err) {
        if (!isLotBridgeError(err)) throw new Error(`non-LotBridge error for ${JSON.stringify(text)}: ${String(err)}`);
        expect([text, err.code.startsWith('LB_ERR_GS1_')]).toEqual([text, true]);
        expect([text, typeof err.location?.position]).toEqual([text, 'number']);
        expect(err.message).toContain(`at position ${err.location?.position ?? ''}`);
        const position = err.location?.position ?? 0;
        expect([text, position >= 1 && position <= text.length + 1]).toEqual([text, true]);
      }
    }
  });
});

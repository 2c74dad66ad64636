import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/config';
import { isLotBridgeError } from '../../../src/errors/lotbridge-error';
import type { LotBridgeError } from '../../../src/errors/lotbridge-error';
import { createPhiProtector, parsePhiKey, PHI_KEY_FILE } from '../../../src/security/phi';

const KEY_HEX = 'a1'.repeat(32);
const KEY_B64 = Buffer.alloc(32, 7).toString('base64');
const OTHER_B64 = Buffer.alloc(32, 9).toString('base64');

let dataDir: string;
beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-phi-'));
});
afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function thrown(fn: () => unknown): LotBridgeError {
  try {
    fn();
  } catch (err) {
    if (isLotBridgeError(err)) return err;
    throw err;
  }
  throw new Error('expected a LotBridgeError');
}

describe('PHI protector: encryption', () => {
  it('round-trips text, bytes and JSON, with a fresh IV each time', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    const a = phi.encrypt('Doe^Jane^Q');
    const b = phi.encrypt('Doe^Jane^Q');
    expect(a.equals(b)).toBe(false);
    expect(phi.decryptText(a)).toBe('Doe^Jane^Q');
    expect(phi.decrypt(phi.encrypt(Buffer.from([0, 1, 2, 255]))).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
    expect(phi.decryptText(phi.encrypt(''))).toBe('');
    expect(phi.decryptJson(phi.encryptJson({ mrn: 'MRN12345', dob: '1970-01-01', tags: [1, 2] }))).toEqual({ mrn: 'MRN12345', dob: '1970-01-01', tags: [1, 2] });
  });

  it('reads a blob written before the IVs came from a pool (format unchanged), and round-trips multi-byte and long texts', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    // written by the encrypt of 2026-11-26 (randomBytes IV, Buffer.concat) with this key
    expect(phi.decryptText(Buffer.from('AWm5vZdHJfyvnxU2Vv07Bx7Rm/WLNDx0BugguWwtESe+cFgyG8bBzLEQPy8Y+hI=', 'base64'))).toBe('Müller^Zoë^Q');
    const umlauts = phi.encrypt('Müller^Zoë^Q');
    expect(umlauts.length).toBe(1 + 4 + 12 + 16 + Buffer.byteLength('Müller^Zoë^Q'));
    expect(phi.decryptText(umlauts)).toBe('Müller^Zoë^Q');
    const long = 'PID|1||MRN0001^^^HOSP^MR||Doe^Jane\r'.repeat(400);
    expect(phi.decryptText(phi.encrypt(long))).toBe(long);
  });

  it('never repeats an IV, also across refills of the random pool', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    const ivs = new Set<string>();
    for (let i = 0; i < 3000; i++) ivs.add(phi.encrypt('x').subarray(5, 17).toString('hex'));
    expect(ivs.size).toBe(3000);
  });

  it('writes version 1, the 4-byte key id, a 12-byte IV and a 16-byte tag before the ciphertext', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    const blob = phi.encrypt('abc');
    expect(blob[0]).toBe(1);
    expect(blob.subarray(1, 5).toString('hex')).toBe(phi.keyId);
    expect(phi.keyId).toMatch(/^[0-9a-f]{8}$/);
    expect(blob.length).toBe(1 + 4 + 12 + 16 + 3);
    expect(blob.includes(Buffer.from('abc'))).toBe(false);
  });

  it('accepts the same key as hex or base64 (one key id), and a different key has another id', () => {
    const bytes = randomBytes(32);
    const hex = createPhiProtector({ key: bytes.toString('hex'), dataDir });
    const b64 = createPhiProtector({ key: bytes.toString('base64'), dataDir });
    const b64url = createPhiProtector({ key: bytes.toString('base64url'), dataDir });
    expect(b64.keyId).toBe(hex.keyId);
    expect(b64url.decryptText(hex.encrypt('x'))).toBe('x');
    expect(createPhiProtector({ key: OTHER_B64, dataDir }).keyId).not.toBe(hex.keyId);
  });

  it('refuses a blob of another key with LB_ERR_PHI_KEY_MISMATCH naming both key ids', () => {
    const writer = createPhiProtector({ key: KEY_B64, dataDir });
    const reader = createPhiProtector({ key: OTHER_B64, dataDir });
    const e = thrown(() => reader.decrypt(writer.encrypt('MRN12345')));
    expect(e.code).toBe('LB_ERR_PHI_KEY_MISMATCH');
    expect(e.message).toContain(writer.keyId);
    expect(e.message).toContain(reader.keyId);
  });

  it('decrypts with an old key after rotation and encrypts with the new one', () => {
    const before = createPhiProtector({ key: KEY_B64, dataDir });
    const old = before.encrypt('Doe^Jane');
    const after = createPhiProtector({ key: OTHER_B64, oldKeys: [KEY_B64], dataDir });
    expect(after.decryptText(old)).toBe('Doe^Jane');
    expect(after.encrypt('x').subarray(1, 5).toString('hex')).toBe(after.keyId);
    expect(after.hmacs('MRN1', 'PID-3')).toEqual([after.hmac('MRN1', 'PID-3'), before.hmac('MRN1', 'PID-3')]);
  });

  it('refuses a tampered, truncated or unknown-version blob with LB_ERR_PHI_DECRYPT', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    const blob = phi.encrypt('Doe^Jane');
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
    expect(thrown(() => phi.decrypt(flipped)).code).toBe('LB_ERR_PHI_DECRYPT');
    const badTag = Buffer.from(blob);
    badTag[20] = (badTag[20] ?? 0) ^ 0x80;
    expect(thrown(() => phi.decrypt(badTag)).code).toBe('LB_ERR_PHI_DECRYPT');
    expect(thrown(() => phi.decrypt(blob.subarray(0, blob.length - 1))).code).toBe('LB_ERR_PHI_DECRYPT');
    expect(thrown(() => phi.decrypt(blob.subarray(0, 20))).code).toBe('LB_ERR_PHI_DECRYPT');
    const v2 = Buffer.from(blob);
    v2[0] = 2;
    expect(thrown(() => phi.decrypt(v2)).message).toContain('version 2');
  });
});

describe('PHI protector: join hashes and masks', () => {
  it('hashes deterministically, trims the value, and separates contexts', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    const h = phi.hmac('MRN12345', 'PID-3');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(phi.hmac(' MRN12345 ', 'PID-3')).toBe(h);
    expect(createPhiProtector({ key: KEY_HEX, dataDir }).hmac('MRN12345', 'PID-3')).toBe(h);
    expect(phi.hmac('MRN12345', 'PV1-19')).not.toBe(h);
    expect(phi.hmac('MRN12346', 'PID-3')).not.toBe(h);
    expect(createPhiProtector({ key: OTHER_B64, dataDir }).hmac('MRN12345', 'PID-3')).not.toBe(h);
    expect(() => phi.hmac('x', '')).toThrow(TypeError);
  });

  it('masks all but the first and last character, and short values entirely', () => {
    const phi = createPhiProtector({ key: KEY_HEX, dataDir });
    expect(phi.mask('MRN12345')).toBe('M***5');
    expect(phi.mask('  Jane Doe ')).toBe('J***e');
    expect(phi.mask('1234')).toBe('***');
    expect(phi.mask('')).toBe('');
  });
});

describe('PHI protector: the key', () => {
  it('generates <dataDir>/phi.key (0600) on first use with a warning, and reuses it', () => {
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) };
    const first = createPhiProtector({ dataDir, logger });
    const file = path.join(dataDir, PHI_KEY_FILE);
    expect(fs.existsSync(file)).toBe(false); // nothing happens before first use
    const blob = first.encrypt('Doe^Jane');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain('LOTBRIDGE_PHI_KEY');
    expect(JSON.stringify(warnings[0])).toContain('"generated":true');
    const content = fs.readFileSync(file, 'utf8');
    expect(parsePhiKey(content, 'file')).toBeInstanceOf(Buffer);

    const second = createPhiProtector({ dataDir, logger });
    expect(second.decryptText(blob)).toBe('Doe^Jane');
    expect(second.keyId).toBe(first.keyId);
    expect(fs.readFileSync(file, 'utf8')).toBe(content);
    expect(JSON.stringify(warnings[1])).toContain('"generated":false');
    expect(fs.readdirSync(dataDir)).toEqual([PHI_KEY_FILE]); // no temporary file left
  });

  it('uses LOTBRIDGE_PHI_KEY rather than the key file when given', () => {
    createPhiProtector({ dataDir }).encrypt('x');
    const fromEnv = createPhiProtector({ key: KEY_HEX, dataDir });
    expect(fromEnv.keyId).toBe(createPhiProtector({ key: KEY_HEX, dataDir: path.join(dataDir, 'elsewhere') }).keyId);
    expect(fromEnv.keyId).not.toBe(createPhiProtector({ dataDir }).keyId);
  });

  it('rejects a key of the wrong length or form with a config error listing each problem, never the key', () => {
    const short = Buffer.alloc(16, 1).toString('base64');
    const e = thrown(() => createPhiProtector({ key: short, oldKeys: ['not a key!', KEY_HEX], dataDir }));
    expect(e.code).toBe('LB_ERR_CONFIG_INVALID');
    const problems = e.details?.problems as string[];
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('LOTBRIDGE_PHI_KEY');
    expect(problems[0]).toContain('16 bytes');
    expect(problems[1]).toContain('LOTBRIDGE_PHI_OLD_KEYS[1]');
    expect(e.message).not.toContain(short);
    expect(thrown(() => createPhiProtector({ key: 'ab'.repeat(31), dataDir })).code).toBe('LB_ERR_CONFIG_INVALID');
  });

  it('is read and checked by loadConfig: LOTBRIDGE_PHI_KEY and the comma-separated LOTBRIDGE_PHI_OLD_KEYS', () => {
    const c = loadConfig({ LOTBRIDGE_PHI_KEY: KEY_HEX, LOTBRIDGE_PHI_OLD_KEYS: ` ${KEY_B64} , ${OTHER_B64},` });
    expect(c.phiKey).toBe(KEY_HEX);
    expect(c.phiOldKeys).toEqual([KEY_B64, OTHER_B64]);
    expect(loadConfig({}).phiKey).toBeUndefined();
    const e = thrown(() => loadConfig({ LOTBRIDGE_PHI_KEY: 'abc', LOTBRIDGE_HTTP_PORT: 'x' }));
    expect(e.code).toBe('LB_ERR_CONFIG_INVALID');
    expect(e.message).toContain('LOTBRIDGE_PHI_KEY: a PHI key is 32 bytes');
    expect(e.message).toContain('LOTBRIDGE_HTTP_PORT');
  });
});

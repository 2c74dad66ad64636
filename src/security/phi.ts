import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LotBridgeError } from '../errors/lotbridge-error';
import type { Logger } from '../logging/logger';
import { fillRandom } from './random-pool';

/** Length of a PHI key and of each derived sub-key. */
export const PHI_KEY_BYTES = 32;
/** File in the data directory that holds a generated key when LOTBRIDGE_PHI_KEY is not set. */
export const PHI_KEY_FILE = 'phi.key';
/** Format version of {@link PhiProtector.encrypt} blobs. */
export const PHI_BLOB_VERSION = 1;

const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const MIN_BLOB_BYTES = HEADER_BYTES + IV_BYTES + TAG_BYTES;
/** HKDF salt: fixed, so one key always derives the same sub-keys; the `info` strings separate their uses. */
const HKDF_SALT = Buffer.from('lotbridge/phi/v1', 'utf8');

/** Options for {@link createPhiProtector}. */
export interface PhiProtectorOptions {
  /** LOTBRIDGE_PHI_KEY: 32 bytes as hex (64 characters) or base64/base64url (43-44 characters). */
  key?: string;
  /** LOTBRIDGE_PHI_OLD_KEYS: earlier keys, in the same forms; used only to decrypt (key rotation). */
  oldKeys?: readonly string[];
  /** LOTBRIDGE_DATA_DIR: where `phi.key` is generated (mode 0600) and reused when `key` is absent. */
  dataDir: string;
  /** Receives the warning that a generated key is in use. */
  logger?: Pick<Logger, 'warn'>;
}

/** Encryption, keyed hashing and masking of protected health information (PHI). */
export interface PhiProtector {
  /** Hex id of the current key: the first 4 bytes of its fingerprint (also in every blob header). */
  readonly keyId: string;
  /**
   * Encrypts with AES-256-GCM and a random 12-byte IV. Blob: version (1 byte) · key id (4) · IV (12) ·
   * tag (16) · ciphertext; the version and key id are authenticated too.
   * @param plain - text (UTF-8) or bytes.
   */
  encrypt(plain: string | Buffer): Buffer;
  /**
   * Decrypts a blob of {@link PhiProtector.encrypt} with the current or an old key (chosen by key id).
   * @throws LotBridgeError `LB_ERR_PHI_KEY_MISMATCH` when no configured key has the blob's key id,
   *   `LB_ERR_PHI_DECRYPT` when the blob is malformed or fails authentication (tampered, truncated).
   */
  decrypt(blob: Buffer): Buffer;
  /** {@link PhiProtector.decrypt} as UTF-8 text. */
  decryptText(blob: Buffer): string;
  /** Encrypts `JSON.stringify(value)`. */
  encryptJson(value: unknown): Buffer;
  /** Decrypts and parses a blob of {@link PhiProtector.encryptJson}. */
  decryptJson<T = unknown>(blob: Buffer): T;
  /**
   * Keyed join hash (HMAC-SHA256, hex) of a trimmed value within a context, e.g. `hmac(mrn, 'PID-3')`.
   * Deterministic for one key; equal text in different contexts (PID-3, PV1-19) gives different
   * hashes. Uses the current key only: rotating the key changes every hash.
   * @param context - a non-empty name without NUL characters.
   */
  hmac(value: string, context: string): string;
  /** The join hashes of a value under the current key, then under each old key (for look-ups during rotation). */
  hmacs(value: string, context: string): string[];
  /** A display form that shows at most the first and last character: `MRN12345` → `M***5`; 4 characters or fewer → `***`. */
  mask(value: string): string;
}

interface PhiKey {
  id: Buffer;
  /** The encryption sub-key's bytes: tell keys apart (rotation) by comparing them. */
  encKey: Buffer;
  /** The sub-keys as KeyObjects (createCipheriv/createHmac then skip preparing the key from bytes on every call). */
  encKeyObject: KeyObject;
  macKeyObject: KeyObject;
  /** A blob's header for this key: format version and key id (also the AES-GCM additional data). */
  header: Buffer;
}

function configError(problems: string[]): LotBridgeError {
  return new LotBridgeError('LB_ERR_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
}

/**
 * Reads a 32-byte key given as hex (64 characters) or base64/base64url (with or without padding).
 * @returns the key, or a problem sentence that names `source` and never quotes the key.
 */
export function parsePhiKey(value: string, source: string): Buffer | string {
  const s = value.trim();
  if (/^[0-9a-fA-F]+$/.test(s) && s.length === PHI_KEY_BYTES * 2) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const bytes = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === PHI_KEY_BYTES) return bytes;
    return `${source}: a PHI key is ${PHI_KEY_BYTES} bytes as hex (64 characters) or base64 (44 characters); this one is ${s.length} characters, ${bytes.length} bytes as base64`;
  }
  return `${source}: a PHI key is ${PHI_KEY_BYTES} bytes as hex (64 characters) or base64 (44 characters); this one (${s.length} characters) is neither`;
}

/** The problems of LOTBRIDGE_PHI_KEY and LOTBRIDGE_PHI_OLD_KEYS values (for loadConfig); empty when valid. */
export function phiKeyProblems(key: string | undefined, oldKeys: readonly string[] = []): string[] {
  const problems: string[] = [];
  if (key !== undefined) {
    const k = parsePhiKey(key, 'LOTBRIDGE_PHI_KEY');
    if (typeof k === 'string') problems.push(k);
  }
  oldKeys.forEach((old, i) => {
    const k = parsePhiKey(old, `LOTBRIDGE_PHI_OLD_KEYS[${i + 1}]`);
    if (typeof k === 'string') problems.push(k);
  });
  return problems;
}

function deriveKey(master: Buffer): PhiKey {
  const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', master, HKDF_SALT, Buffer.from(info, 'utf8'), PHI_KEY_BYTES));
  const id = derive('lotbridge phi key fingerprint').subarray(0, KEY_ID_BYTES);
  const encKey = derive('lotbridge phi aes-256-gcm');
  return {
    id, encKey, encKeyObject: createSecretKey(encKey), macKeyObject: createSecretKey(derive('lotbridge phi join hmac')),
    header: Buffer.concat([Buffer.from([PHI_BLOB_VERSION]), id]),
  };
}

/** Reads `<dataDir>/phi.key`, or creates it (0600, atomically: a second process reuses the first one's key). */
function loadOrCreateKeyFile(dataDir: string): { key: Buffer; file: string; generated: boolean } {
  const file = path.join(dataDir, PHI_KEY_FILE);
  let generated = false;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, `${randomBytes(PHI_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      fs.linkSync(tmp, file); // never replaces an existing file
      generated = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  const key = parsePhiKey(fs.readFileSync(file, 'utf8'), file);
  if (typeof key === 'string') throw configError([key]);
  return { key, file, generated };
}

/**
 * Creates the PHI protector. The key comes from `key` (LOTBRIDGE_PHI_KEY); without it, one is generated
 * on first use into `<dataDir>/phi.key` (mode 0600) and reused afterwards, with a warning that production
 * should set LOTBRIDGE_PHI_KEY. Two sub-keys are derived with HKDF-SHA256: one for AES-256-GCM, one for
 * the join HMAC. `oldKeys` only decrypt.
 *
 * @throws LotBridgeError `LB_ERR_CONFIG_INVALID` listing every invalid key (never quoting it).
 */
export function createPhiProtector(opts: PhiProtectorOptions): PhiProtector {
  const problems = phiKeyProblems(opts.key, opts.oldKeys);
  if (problems.length > 0) throw configError(problems);
  const oldKeys = (opts.oldKeys ?? []).map((k) => deriveKey(parsePhiKey(k, '') as Buffer));
  let current: PhiKey | undefined = opts.key === undefined ? undefined : deriveKey(parsePhiKey(opts.key, '') as Buffer);

  const currentKey = (): PhiKey => {
    if (!current) {
      const { key, file, generated } = loadOrCreateKeyFile(opts.dataDir);
      current = deriveKey(key);
      opts.logger?.warn({ keyFile: file, generated, keyId: current.id.toString('hex') }, 'PHI key read from the data directory; production should set LOTBRIDGE_PHI_KEY');
    }
    return current;
  };
  const allKeys = (): PhiKey[] => {
    const cur = currentKey();
    return [cur, ...oldKeys.filter((k) => !k.encKey.equals(cur.encKey))];
  };
  const decryptError = (message: string, cause?: unknown): LotBridgeError => new LotBridgeError('LB_ERR_PHI_DECRYPT', message, { cause });
  const hmacWith = (key: PhiKey, value: string, context: string): string => {
    if (context.length === 0 || context.includes('\u0000')) {
      throw new TypeError('PhiProtector.hmac: the context must be a non-empty name without NUL characters');
    }
    return createHmac('sha256', key.macKeyObject).update(`${context}\u0000${value.trim()}`, 'utf8').digest('hex');
  };

  const protector: PhiProtector = {
    get keyId(): string {
      return currentKey().id.toString('hex');
    },
    encrypt(plain) {
      // header | IV | tag | body, written into one buffer (GCM's body is as long as the plaintext)
      const key = currentKey();
      const length = typeof plain === 'string' ? Buffer.byteLength(plain, 'utf8') : plain.length;
      const blob = Buffer.allocUnsafe(MIN_BLOB_BYTES + length);
      key.header.copy(blob, 0);
      fillRandom(blob, HEADER_BYTES, IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key.encKeyObject, blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES));
      cipher.setAAD(key.header);
      const body = typeof plain === 'string' ? cipher.update(plain, 'utf8') : cipher.update(plain);
      const rest = cipher.final();
      if (body.length + rest.length !== length) throw new Error(`PhiProtector.encrypt: AES-GCM returned ${body.length + rest.length} bytes for ${length}`);
      body.copy(blob, MIN_BLOB_BYTES);
      rest.copy(blob, MIN_BLOB_BYTES + body.length);
      cipher.getAuthTag().copy(blob, HEADER_BYTES + IV_BYTES);
      return blob;
    },
    decrypt(blob) {
      if (!Buffer.isBuffer(blob) || blob.length < MIN_BLOB_BYTES) {
        throw decryptError(`The PHI blob is ${Buffer.isBuffer(blob) ? `${blob.length} bytes` : 'not a Buffer'}: at least ${MIN_BLOB_BYTES} bytes expected`);
      }
      const version = blob[0];
      if (version !== PHI_BLOB_VERSION) {
        throw decryptError(`The PHI blob has format version ${version ?? '?'}; this hub reads version ${PHI_BLOB_VERSION}`);
      }
      const header = blob.subarray(0, HEADER_BYTES);
      const id = blob.subarray(1, HEADER_BYTES);
      const candidates = allKeys().filter((k) => k.id.equals(id));
      if (candidates.length === 0) {
        throw new LotBridgeError(
          'LB_ERR_PHI_KEY_MISMATCH',
          `The PHI blob was encrypted with key ${id.toString('hex')}, which is neither LOTBRIDGE_PHI_KEY (${currentKey().id.toString('hex')}) nor one of LOTBRIDGE_PHI_OLD_KEYS`,
          { details: { blobKeyId: id.toString('hex'), knownKeyIds: allKeys().map((k) => k.id.toString('hex')) } },
        );
      }
      const iv = blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
      const tag = blob.subarray(HEADER_BYTES + IV_BYTES, MIN_BLOB_BYTES);
      const body = blob.subarray(MIN_BLOB_BYTES);
      let lastError: unknown;
      for (const key of candidates) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key.encKeyObject, iv);
          decipher.setAAD(header);
          decipher.setAuthTag(tag);
          return Buffer.concat([decipher.update(body), decipher.final()]);
        } catch (err) {
          lastError = err;
        }
      }
      throw decryptError(`The PHI blob (key ${id.toString('hex')}) failed authentication: it was altered or truncated`, lastError);
    },
    decryptText(blob) {
      return protector.decrypt(blob).toString('utf8');
    },
    encryptJson(value) {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError('PhiProtector.encryptJson: the value has no JSON form');
      return protector.encrypt(text);
    },
    decryptJson<T = unknown>(blob: Buffer): T {
      return JSON.parse(protector.decryptText(blob)) as T;
    },
    hmac(value, context) {
      return hmacWith(currentKey(), value, context);
    },
    hmacs(value, context) {
      return allKeys().map((k) => hmacWith(k, value, context));
    },
    mask(value) {
      const chars = [...value.trim()];
      if (chars.length === 0) return '';
      if (chars.length <= 4) return '***';
      return `${chars[0] ?? ''}***${chars[chars.length - 1] ?? ''}`;
    },
  };
  return protector;
}

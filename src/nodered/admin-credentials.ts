import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Logger } from '../logging/logger';

/** File (in the Node-RED user dir) holding the bcrypt hash of a generated admin password. */
export const ADMIN_HASH_FILE = 'admin-password.bcrypt';
/** File (in the Node-RED user dir) holding the generated credential secret. */
export const CREDENTIAL_SECRET_FILE = 'credential-secret.key';

function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
}

/**
 * The bcrypt hash of the editor's `admin` password: LOTBRIDGE_ADMIN_PASSWORD hashed at start, or
 * a password generated on first start, printed once to the log and kept only as its hash in the
 * user dir (a later start reuses the hash and prints nothing).
 *
 * @param password - LOTBRIDGE_ADMIN_PASSWORD, when set
 * @param userDir - the Node-RED user dir (under LOTBRIDGE_DATA_DIR)
 * @param logger - the one line with a generated password goes here (warn)
 * @returns the bcrypt hash and where the password came from
 */
export function resolveAdminPasswordHash(password: string | undefined, userDir: string, logger: Logger): { hash: string; source: 'env' | 'generated' | 'stored' } {
  if (password) {
    return { hash: bcrypt.hashSync(password, 10), source: 'env' };
  }
  const file = path.join(userDir, ADMIN_HASH_FILE);
  if (fs.existsSync(file)) {
    const hash = fs.readFileSync(file, 'utf8').trim();
    if (/^\$2[aby]\$\d\d\$.{53}$/.test(hash)) {
      return { hash, source: 'stored' };
    }
    logger.warn({ file }, 'the stored Node-RED admin password hash is not a bcrypt hash; generating a new password');
    fs.rmSync(file);
  }
  const generated = randomBytes(15).toString('base64url');
  const hash = bcrypt.hashSync(generated, 10);
  writeSecretFile(file, `${hash}\n`);
  // printed once: only the hash is kept
  logger.warn(
    { user: 'admin', initialPassword: generated, hashFile: file },
    'Node-RED editor password generated (shown only now; set LOTBRIDGE_ADMIN_PASSWORD to choose one, or delete the hash file to generate a new one)',
  );
  return { hash, source: 'generated' };
}

/**
 * The key Node-RED encrypts flow credentials with: LOTBRIDGE_NODERED_CREDENTIAL_SECRET, or a
 * random key generated once into the user dir (mode 0600). Never in `flows/`.
 */
export function resolveCredentialSecret(secret: string | undefined, userDir: string): { secret: string; source: 'env' | 'file' | 'generated' } {
  if (secret) {
    return { secret, source: 'env' };
  }
  const file = path.join(userDir, CREDENTIAL_SECRET_FILE);
  if (fs.existsSync(file)) {
    return { secret: fs.readFileSync(file, 'utf8').trim(), source: 'file' };
  }
  const generated = randomBytes(32).toString('hex');
  writeSecretFile(file, `${generated}\n`);
  return { secret: generated, source: 'generated' };
}

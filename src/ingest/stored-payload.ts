import { LotBridgeError } from '../errors';
import type { PhiProtector } from '../security/phi';

/** The stored form of a payload as kept in `inbound_messages` (bytes and envelope). */
interface StoredPayloadRow {
  payload: Buffer | null;
  envelope: Record<string, string> | null;
}

/** True when the row's payload is kept encrypted (a connector that carries PHI). */
export function isPayloadEncrypted(row: StoredPayloadRow): boolean {
  return typeof row.envelope?.payloadEncryption === 'string' && row.envelope.payloadEncryption.startsWith('phi:');
}

/**
 * The payload as received: decrypted when intake stored it encrypted. Throws LB_ERR_PHI_KEY_MISMATCH /
 * LB_ERR_PHI_DECRYPT when the hub's key cannot open it, and a defect when there is no key at all.
 */
export function plainPayload(row: StoredPayloadRow, phi: PhiProtector | undefined): Buffer | null {
  if (!row.payload || !isPayloadEncrypted(row)) {
    return row.payload;
  }
  if (!phi) {
    throw new LotBridgeError('LB_ERR_INTERNAL', 'the payload is stored encrypted and this process has no PHI key');
  }
  return phi.decrypt(row.payload);
}

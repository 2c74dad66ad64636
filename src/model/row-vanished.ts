import { LotBridgeError } from '../errors';

/**
 * The error of a find-or-create whose insert met a conflicting row that was gone by the time it
 * was read (deleted by a concurrent transaction, e.g. master data dropping a provisional row).
 * Transient: the next attempt finds or creates it cleanly.
 * @param what - the row, e.g. `location WH1-A01`
 */
export function rowVanished(what: string): LotBridgeError {
  return new LotBridgeError('LB_ERR_INTERNAL', `${what} was deleted by a concurrent transaction after a conflicting insert; the message will be retried`, {
    kind: 'transient',
  });
}

import type { ErrorCode } from '../errors/codes';
import { LotBridgeError } from '../errors/lotbridge-error';
import type { MessageLocation } from '../errors/lotbridge-error';

/** The HIBC elements an error can name in `location.path`. */
export type HibccElement =
  | 'symbology'
  | 'flag'
  | 'primary'
  | 'lic'
  | 'product'
  | 'unitOfMeasure'
  | 'secondary'
  | 'format'
  | 'expiry'
  | 'manufactureDate'
  | 'lot'
  | 'serial'
  | 'quantity'
  | 'supplementary'
  | 'linkCharacter'
  | 'checkCharacter';

/**
 * Builds a HIBC decoding error: `location.position` is the 1-based character offset in the input,
 * `location.path` the element concerned (`expiry`, `checkCharacter`, …) when there is one.
 */
export function hibccError(
  code: ErrorCode,
  message: string,
  position: number,
  element?: HibccElement,
  details?: Record<string, unknown>,
): LotBridgeError {
  const location: MessageLocation = element === undefined ? { position } : { position, path: element };
  return new LotBridgeError(code, message, { location, details });
}

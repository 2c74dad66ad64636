import type { ErrorCode } from '../errors/codes';
import { LotBridgeError } from '../errors/lotbridge-error';
import type { MessageLocation } from '../errors/lotbridge-error';

/**
 * Builds a GS1 decoding error: `location.position` is the 1-based character offset in the input,
 * `location.path` the AI in brackets, e.g. `(01)`, when the error concerns one AI.
 */
export function gs1Error(
  code: ErrorCode,
  message: string,
  position: number,
  ai?: string,
  details?: Record<string, unknown>,
): LotBridgeError {
  const location: MessageLocation = ai === undefined ? { position } : { position, path: `(${ai})` };
  return new LotBridgeError(code, message, { location, details });
}

/** Quotes a scanned value for an error message, showing GS as <GS> and other control characters as \uXXXX. */
export function showValue(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0x1d) out += '<GS>';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `'${out}'`;
}

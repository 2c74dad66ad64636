/**
 * GS1 keys used by master data: GTINs (normalized to 14 digits) and GLNs (13 digits), both with the
 * GS1 mod-10 check digit. Pure functions; the barcode decoder in src/gs1 has its own full AI table.
 */

/** Result of normalizing a GTIN: the 14-digit form, or why it is not a GTIN. */
export type GtinCheck = { ok: true; gtin: string } | { ok: false; reason: string };

/**
 * GS1 mod-10 check digit for the digits before it (any length): weights 3,1,3,… from the right.
 * @param body - the key without its check digit, digits only
 */
export function gs1CheckDigit(body: string): number {
  let sum = 0;
  for (let i = body.length - 1, w = 3; i >= 0; i--, w = w === 3 ? 1 : 3) {
    sum += (body.charCodeAt(i) - 48) * w;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * Normalizes a GTIN-8, -12, -13 or -14 to 14 digits (left-padded with zeros) and checks its check digit.
 * Surrounding spaces are ignored; anything else that is not a digit makes it invalid.
 * @param raw - the GTIN as written in a feed, CSV or API body
 */
export function normalizeGtin(raw: string): GtinCheck {
  const v = raw.trim();
  if (!/^[0-9]+$/.test(v)) {
    return { ok: false, reason: `GTIN "${raw}" must contain digits only` };
  }
  if (![8, 12, 13, 14].includes(v.length)) {
    return { ok: false, reason: `GTIN "${raw}" has ${v.length} digits; a GTIN has 8, 12, 13 or 14` };
  }
  const gtin = v.padStart(14, '0');
  const expected = gs1CheckDigit(gtin.slice(0, 13));
  if (expected !== gtin.charCodeAt(13) - 48) {
    return { ok: false, reason: `GTIN "${raw}" has check digit ${gtin[13]}; expected ${expected}` };
  }
  return { ok: true, gtin };
}

/**
 * Checks a GLN (13 digits with a GS1 check digit).
 * @param raw - the GLN as written
 * @returns the trimmed GLN, or the reason it is invalid
 */
export function checkGln(raw: string): { ok: true; gln: string } | { ok: false; reason: string } {
  const v = raw.trim();
  if (!/^[0-9]{13}$/.test(v)) {
    return { ok: false, reason: `GLN "${raw}" must be 13 digits` };
  }
  const expected = gs1CheckDigit(v.slice(0, 12));
  if (expected !== v.charCodeAt(12) - 48) {
    return { ok: false, reason: `GLN "${raw}" has check digit ${v[12]}; expected ${expected}` };
  }
  return { ok: true, gln: v };
}

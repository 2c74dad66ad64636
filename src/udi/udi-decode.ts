import { decodeGs1 } from '../gs1/gs1-decode';
import type { Gs1Decoded, Gs1DecodeOptions } from '../gs1/gs1-decode';
import { decodeHibcc } from '../gs1/hibcc-decode';
import type { HibccDecoded } from '../gs1/hibcc-decode';

/** A decoded UDI carrier: GS1 (`scheme: 'gs1'`) or HIBCC (`scheme: 'hibcc'`). */
export type UdiDecoded = Gs1Decoded | HibccDecoded;

/** Options for {@link decodeUdi}: those of decodeGs1 (`now` also serves the HIBC two-digit years). */
export type UdiDecodeOptions = Gs1DecodeOptions;

/**
 * True when the scanned text is HIBC data: after leading whitespace and an optional AIM symbology
 * identifier (`]xy`), it starts with the HIBC flag `+`, or with `*+` (Code 39 start character).
 */
export function looksLikeHibcc(text: string): boolean {
  let s = text.trimStart();
  if (s.startsWith(']')) s = s.slice(3);
  return s.startsWith('+') || s.startsWith('*+');
}

/**
 * Decodes scanned UDI data of either issuing agency: HIBC (see {@link looksLikeHibcc}) goes to
 * `decodeHibcc`, everything else to `decodeGs1`, whose results and errors are unchanged.
 *
 * @throws LotBridgeError `LB_ERR_HIBCC_*` or `LB_ERR_GS1_*` with `location.position` (1-based).
 */
export function decodeUdi(text: string, opts: UdiDecodeOptions = {}): UdiDecoded {
  if (looksLikeHibcc(text)) {
    return opts.now ? decodeHibcc(text, { now: opts.now }) : decodeHibcc(text);
  }
  return decodeGs1(text, opts);
}

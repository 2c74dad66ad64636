import { findGs1Ai } from './gs1-ai-lookup';
import { checkGs1Associations } from './gs1-associations';
import type { Gs1Decoded, Gs1DecodeOptions, Gs1Element, Gs1InputForm, Gs1UncheckedLinter } from './gs1-decoded';
import { gs1DateToIso } from './gs1-date';
import { gs1Error, showValue } from './gs1-error';
import { gs1Linters } from './gs1-linters';
import { parseGs1Bracketed } from './gs1-parse-bracketed';
import { parseGs1DigitalLink } from './gs1-parse-digital-link';
import { isGs1Separator, parseGs1Raw } from './gs1-parse-raw';
import type { Gs1ScannedElement } from './gs1-scanned-element';
import { validateGs1Element } from './gs1-validate-element';

export type { Gs1Decoded, Gs1DecodeOptions, Gs1Element } from './gs1-decoded';

/** AIM symbology identifiers whose data is a GS1 element string (FNC1 in first position). */
const GS1_SYMBOLOGIES: Readonly<Record<string, string>> = {
  ']C1': 'GS1-128',
  ']e0': 'GS1 DataBar',
  ']d2': 'GS1 DataMatrix',
  ']Q3': 'GS1 QR Code',
  ']J1': 'GS1 DotCode',
};
/** Plain (non-GS1-mode) 2D symbologies: accepted when they carry a Digital Link URI. */
const URI_SYMBOLOGIES = new Set([']Q1', ']d1']);
/** EAN/UPC: the data is a bare GTIN-13 (UPC-A as 13 digits) or GTIN-8. */
const EAN_SYMBOLOGIES: Readonly<Record<string, number>> = { ']E0': 13, ']E4': 8 };

const isUri = (s: string): boolean => /^https?:\/\//i.test(s);

/** A bare 8/12/13/14-digit number with a valid mod-10 check digit, read as a GTIN from EAN/UPC/ITF-14. */
function bareGtin(s: string, base: number): Gs1ScannedElement[] | undefined {
  if (!/^[0-9]+$/.test(s) || ![8, 12, 13, 14].includes(s.length)) return undefined;
  if (gs1Linters.csum.lint(s, { now: new Date(0) })) return undefined;
  return [gtinElement(s, base)];
}

function gtinElement(digits: string, base: number): Gs1ScannedElement {
  const pad = 14 - digits.length;
  const offsets = [...Array<number>(pad).fill(base + 1)];
  for (let i = 0; i < digits.length; i++) offsets.push(base + i + 1);
  return { ai: '01', value: '0'.repeat(pad) + digits, aiPosition: base + 1, offsets, endPosition: base + digits.length + 1, form: 'raw' };
}

interface Scanned {
  input: Gs1InputForm;
  symbology?: string;
  elements: Gs1ScannedElement[];
}

function scan(s: string, base: number): Scanned {
  if (s.startsWith(']')) {
    const id = s.slice(0, 3);
    const rest = s.slice(3);
    const restBase = base + 3;
    if (rest.length === 0) {
      throw gs1Error('LB_ERR_GS1_EMPTY', `The barcode data is empty after the symbology identifier '${id}' at position ${restBase + 1}`, restBase + 1);
    }
    if (GS1_SYMBOLOGIES[id]) return { input: 'raw', symbology: id, elements: parseGs1Raw(rest, restBase) };
    if (URI_SYMBOLOGIES.has(id) && isUri(rest)) return { input: 'digital-link', symbology: id, elements: parseGs1DigitalLink(rest, restBase) };
    const eanLength = EAN_SYMBOLOGIES[id];
    if (eanLength !== undefined) {
      if (!new RegExp(`^[0-9]{${eanLength}}$`).test(rest)) {
        throw gs1Error('LB_ERR_GS1_SYNTAX', `Symbology '${id}' should carry ${eanLength} digits, found ${showValue(rest)} at position ${restBase + 1}`, restBase + 1);
      }
      return { input: 'raw', symbology: id, elements: [gtinElement(rest, restBase)] };
    }
    throw gs1Error(
      'LB_ERR_GS1_SYNTAX',
      `Symbology identifier '${id}' does not mark GS1 data (GS1 element strings come as ]C1, ]e0, ]d2, ]Q3 or ]J1; a Digital Link URI as ]Q1 or ]d1) at position ${base + 1}`,
      base + 1,
      undefined,
      { symbology: id },
    );
  }
  if (s.startsWith('(')) return { input: 'bracketed', elements: parseGs1Bracketed(s, base) };
  if (isUri(s)) return { input: 'digital-link', elements: parseGs1DigitalLink(s, base) };
  const first = s[0] ?? '';
  if ((first >= '0' && first <= '9') || isGs1Separator(first)) {
    return { input: 'raw', elements: bareGtin(s, base) ?? parseGs1Raw(s, base) };
  }
  const hibc = first === '+' ? ", like an HIBC (HIBCC) barcode, which is not GS1 data" : '';
  throw gs1Error(
    'LB_ERR_GS1_SYNTAX',
    `The data is not a GS1 element string, scanner output or Digital Link URI: it starts with '${first}'${hibc} at position ${base + 1}`,
    base + 1,
  );
}

/**
 * Decodes scanned GS1 data: a bracketed element string `(01)…(17)…(10)…`, raw scanner output (FNC1 sent
 * as GS, ASCII 29, optionally after an AIM symbology identifier such as `]d2`), or a GS1 Digital Link URI.
 * Every value is checked against the GS1 Barcode Syntax Dictionary: length, character set, check digits,
 * dates and the other linters, duplicate AIs, and (unless turned off) mandatory associations and invalid
 * pairings. Leading/trailing whitespace and CR/LF are ignored.
 *
 * @throws LotBridgeError with a code `LB_ERR_GS1_*` and `location: { position, path: '(AI)' }`, where
 *   position is the 1-based character offset in `text`.
 */
export function decodeGs1(text: string, opts: Gs1DecodeOptions = {}): Gs1Decoded {
  const now = opts.now ?? new Date();
  const s = text.trim();
  const base = text.length - text.trimStart().length;
  if (s.length === 0) {
    throw gs1Error('LB_ERR_GS1_EMPTY', 'The barcode data is empty at position 1', 1);
  }

  const scanned = scan(s, base);
  if (scanned.elements.length === 0) {
    throw gs1Error('LB_ERR_GS1_EMPTY', `The barcode data holds no GS1 element at position ${base + 1}`, base + 1);
  }

  const unchecked: Gs1UncheckedLinter[] = [];
  const kept: Array<{ el: Gs1ScannedElement; title: string }> = [];
  const firstByAi = new Map<string, Gs1ScannedElement>();
  for (const el of scanned.elements) {
    const entry = findGs1Ai(el.ai);
    if (!entry) {
      throw gs1Error('LB_ERR_GS1_UNKNOWN_AI', `AI (${el.ai}) is not a GS1 Application Identifier at position ${el.aiPosition}`, el.aiPosition, el.ai);
    }
    const skipped = validateGs1Element(el, entry, { now });
    const earlier = firstByAi.get(el.ai);
    if (earlier) {
      if (earlier.value !== el.value) {
        throw gs1Error(
          'LB_ERR_GS1_DUPLICATE_AI',
          `AI (${el.ai}) appears twice with different values (${showValue(earlier.value)} at position ${earlier.aiPosition}, ${showValue(el.value)}) at position ${el.aiPosition}`,
          el.aiPosition,
          el.ai,
          { first: earlier.value, second: el.value, firstPosition: earlier.aiPosition },
        );
      }
      continue; // the same AI with the same value again (e.g. repeated across carriers): keep the first
    }
    firstByAi.set(el.ai, el);
    kept.push({ el, title: entry.title });
    unchecked.push(...skipped);
  }

  if (opts.checkAssociations !== false) {
    checkGs1Associations(kept.map(({ el }) => ({ ai: el.ai, position: el.aiPosition })));
  }

  const elements: Gs1Element[] = kept.map(({ el, title }) => ({ ai: el.ai, value: el.value, title }));
  const result: Gs1Decoded = { scheme: 'gs1', input: scanned.input, elements };
  if (scanned.symbology) result.symbology = scanned.symbology;
  const value = (ai: string): string | undefined => firstByAi.get(ai)?.value;

  const gtin = value('01') ?? value('02');
  if (gtin !== undefined) result.gtin = gtin;
  const lot = value('10');
  if (lot !== undefined) result.lot = lot;
  const expiry = value('17');
  if (expiry !== undefined) result.expiry = gs1DateToIso(expiry, now, 'last');
  const bestBefore = value('15');
  if (bestBefore !== undefined) result.bestBefore = gs1DateToIso(bestBefore, now, 'last');
  const productionDate = value('11');
  if (productionDate !== undefined) result.productionDate = gs1DateToIso(productionDate, now, 'first');
  const serial = value('21');
  if (serial !== undefined) result.serial = serial;
  const sscc = value('00');
  if (sscc !== undefined) result.sscc = sscc;
  const quantity = value('30') ?? value('37');
  if (quantity !== undefined) result.quantity = Number(quantity);
  if (unchecked.length > 0) result.unchecked = unchecked;
  return result;
}

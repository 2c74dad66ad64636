import type { LotBridgeError } from '../errors/lotbridge-error';
import { isLotBridgeError } from '../errors/lotbridge-error';
import { describeHibccChar, HIBCC_CHARSET_NAME, hibccCheckCharacter, hibccValue } from './hibcc-charset';
import type { HibccDecoded, HibccDecodeOptions, HibccStructure } from './hibcc-decoded';
import { hibccError } from './hibcc-error';
import type { HibccSecondaryData } from './hibcc-secondary';
import { parseHibccSecondary } from './hibcc-secondary';

export type { HibccDecoded, HibccDecodeOptions, HibccStructure } from './hibcc-decoded';

/** AIM symbology identifiers of the carriers HIBC data comes in (without GS1 FNC1 mode). */
export const HIBCC_SYMBOLOGIES: Readonly<Record<string, string>> = {
  ']A0': 'Code 39',
  ']C0': 'Code 128',
  ']d1': 'Data Matrix (ECC 200)',
  ']Q1': 'QR Code',
};

/** Longest product or catalog number (ANSI/HIBC 2.x: 18 characters). */
const MAX_PRODUCT = 18;
/** Characters between two symbols: line breaks, tab, GS; a space too, but only before a symbol's `+`. */
const SEPARATOR = /^[\r\n\t\x1d]$/;
const isUpper = (c: string | undefined): boolean => c !== undefined && c >= 'A' && c <= 'Z';
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlnum = (c: string | undefined): boolean => isUpper(c) || isDigit(c);

/** One symbol found in the input: `text[start, end)` runs from its `+` flag to its check character. */
interface RawSymbol {
  start: number;
  end: number;
  symbology?: string;
}

interface ParsedSymbol {
  kind: 'primary' | 'concatenated' | 'secondary';
  start: number;
  end: number;
  symbology?: string;
  checkCharacter: string;
  linkCharacter?: string;
  /** 0-based index of the link character. */
  linkIndex?: number;
  primary?: { lic: string; product: string; unitOfMeasure: number };
  secondary?: HibccSecondaryData;
}

/** `_` stands for a space check or link character in a Code 39 caption (ANSI/HIBC 2.x); read it as one. */
const asCheckChar = (c: string): string => (c === '_' ? ' ' : c);

/**
 * Where the symbol that starts with `+` at `i` ends, within `text[i, limit)`. A primary symbol is letters
 * and digits, then either `/` and secondary data up to the end (concatenated), or its check character
 * (any HIBC character). A secondary symbol runs to `limit`.
 */
function symbolEnd(text: string, i: number, limit: number): number {
  const next = text[i + 1];
  if (i + 1 >= limit || next === undefined) {
    throw hibccError('LB_ERR_HIBCC_SYNTAX', `The HIBC flag '+' at position ${i + 1} is followed by no data`, i + 1, 'flag');
  }
  if (next === '/') {
    throw hibccError(
      'LB_ERR_HIBCC_SYNTAX',
      `HIBC Provider Applications Standard data ('+/') is not supported, only the Supplier Labeling Standard, at position ${i + 2}`,
      i + 2,
      'flag',
    );
  }
  if (isUpper(next)) {
    let j = i + 1;
    while (j < limit && isAlnum(text[j])) j++;
    if (j >= limit) return limit;
    const c = text[j] ?? '';
    if (hibccValue(c) < 0 && c !== '_') throw charsetError(c, j + 1);
    if (c === '/' && j + 1 < limit && text[j + 1] !== '+') return limit; // concatenated primary/secondary
    if (c === '+' && j + 1 < limit && (text[j + 1] === '$' || isDigit(text[j + 1]))) return j; // a secondary symbol follows
    return j + 1; // c is the check character
  }
  if (next === '$' || isDigit(next)) return limit;
  throw unexpectedAfterFlag(next, i + 2);
}

function unexpectedAfterFlag(ch: string, position: number): LotBridgeError {
  if (hibccValue(ch) < 0) return charsetError(ch, position);
  return hibccError(
    'LB_ERR_HIBCC_SYNTAX',
    `After the HIBC flag '+' comes a letter (primary data: labeler code), '$' or a digit (secondary data), found ${describeHibccChar(ch)} at position ${position}`,
    position,
    'flag',
  );
}

function charsetError(ch: string, position: number): LotBridgeError {
  const hint = ch >= 'a' && ch <= 'z' ? ' (HIBC data is upper case)' : '';
  return hibccError('LB_ERR_HIBCC_CHARSET', `HIBC data has a character ${describeHibccChar(ch)} outside ${HIBCC_CHARSET_NAME}${hint} at position ${position}`, position, undefined, {
    character: ch,
  });
}

/** Splits the input into symbols: each may follow an AIM identifier and sit between Code 39 `*` start/stop characters. */
function splitSymbols(text: string, from: number, to: number): RawSymbol[] {
  const out: RawSymbol[] = [];
  let i = from;
  while (i < to) {
    const ch = text[i] ?? '';
    if (SEPARATOR.test(ch) || ch === ' ') {
      i++;
      continue;
    }
    let symbology: string | undefined;
    if (ch === ']') {
      const id = text.slice(i, i + 3);
      if (HIBCC_SYMBOLOGIES[id] === undefined) {
        throw hibccError(
          'LB_ERR_HIBCC_SYNTAX',
          `Symbology identifier '${id}' does not mark HIBC data (HIBC comes as ]A0 Code 39, ]C0 Code 128, ]d1 Data Matrix or ]Q1 QR Code) at position ${i + 1}`,
          i + 1,
          'symbology',
          { symbology: id },
        );
      }
      symbology = id;
      i += 3;
      if (i >= to || SEPARATOR.test(text[i] ?? '')) {
        throw hibccError('LB_ERR_HIBCC_SYNTAX', `The barcode data is empty after the symbology identifier '${id}' at position ${i + 1}`, i + 1, 'symbology');
      }
    }
    if (text[i] === '*') {
      const close = text.indexOf('*', i + 1);
      if (close < 0 || close >= to) {
        throw hibccError('LB_ERR_HIBCC_SYNTAX', `The Code 39 start character '*' at position ${i + 1} has no stop character '*'`, i + 1, 'flag');
      }
      if (text[i + 1] !== '+') throw flagExpected(text, i + 1);
      const end = symbolEnd(text, i + 1, close);
      if (end !== close) {
        throw hibccError('LB_ERR_HIBCC_SYNTAX', `A Code 39 symbol ('*…*') holds one HIBC data structure; more data follows at position ${end + 1}`, end + 1, 'flag');
      }
      out.push({ start: i + 1, end: close, symbology });
      i = close + 1;
      continue;
    }
    if (text[i] !== '+') throw flagExpected(text, i);
    let limit = i + 1;
    while (limit < to && !SEPARATOR.test(text[limit] ?? '') && text[limit] !== '*' && text[limit] !== ']') limit++;
    const end = symbolEnd(text, i, limit);
    out.push({ start: i, end, symbology });
    i = end;
  }
  return out;
}

function flagExpected(text: string, i: number): LotBridgeError {
  const ch = text[i] ?? '';
  return hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC data starts with the flag character '+', found ${describeHibccChar(ch)} at position ${i + 1}`, i + 1, 'flag');
}

/** Checks every character of the symbol against the HIBC set (`_` allowed as a check or link character). */
function checkCharset(text: string, sym: RawSymbol, linkIndex: number | undefined): void {
  for (let k = sym.start; k < sym.end; k++) {
    const ch = text[k] ?? '';
    if (hibccValue(ch) >= 0) continue;
    if (ch === '_' && (k === sym.end - 1 || k === linkIndex)) continue;
    throw charsetError(ch, k + 1);
  }
}

/** Parses one symbol: character set, check character, then the primary and secondary data. */
function parseSymbol(text: string, sym: RawSymbol, now: Date): ParsedSymbol {
  const { start, end } = sym;
  const isPrimary = isUpper(text[start + 1]);
  const length = end - start;
  if (length < (isPrimary ? 8 : 4)) {
    const what = isPrimary
      ? 'a primary symbol needs the flag, a 4-character labeler code, a product number, a unit-of-measure digit and the check character (at least 8 characters)'
      : 'a secondary symbol needs the flag, data, the link character and the check character (at least 4 characters)';
    throw hibccError('LB_ERR_HIBCC_LENGTH', `HIBC symbol '${text.slice(start, end)}' is ${length} characters long: ${what} at position ${start + 1}`, start + 1, isPrimary ? 'primary' : 'secondary', {
      value: text.slice(start, end),
    });
  }
  const linkIndex = isPrimary ? undefined : end - 2;
  checkCharset(text, sym, linkIndex);

  const data = text.slice(start, end - 1);
  const checkCharacter = asCheckChar(text[end - 1] ?? '');
  const covered = linkIndex === undefined ? data : data.slice(0, -1) + asCheckChar(text[linkIndex] ?? '');
  const expected = hibccCheckCharacter(covered);
  if (checkCharacter !== expected) {
    throw hibccError(
      'LB_ERR_HIBCC_CHECK_CHARACTER',
      `HIBC check character ${describeHibccChar(checkCharacter)} at position ${end} does not match the data: the modulo 43 check character of '${covered}' is ${describeHibccChar(expected)}`,
      end,
      'checkCharacter',
      { expected, found: checkCharacter },
    );
  }

  const out: ParsedSymbol = { kind: 'secondary', start, end, checkCharacter };
  if (sym.symbology) out.symbology = sym.symbology;
  if (!isPrimary) {
    out.linkCharacter = asCheckChar(text[end - 2] ?? '');
    out.linkIndex = end - 2;
    out.secondary = parseHibccSecondary(text, start + 1, end - 2, now);
    return out;
  }

  // primary data: letters and digits up to the check character, or up to '/' before the secondary data
  let j = start + 1;
  while (j < end - 1 && isAlnum(text[j])) j++;
  const concatenated = j < end - 1;
  if (concatenated && text[j] !== '/') {
    throw hibccError(
      'LB_ERR_HIBCC_SYNTAX',
      `HIBC primary data holds letters and digits only (then '/' and the secondary data, or the check character), found ${describeHibccChar(text[j] ?? '')} at position ${j + 1}`,
      j + 1,
      'primary',
    );
  }
  const primaryLength = j - (start + 1);
  if (primaryLength < 6 || primaryLength > 4 + MAX_PRODUCT + 1) {
    throw hibccError(
      'LB_ERR_HIBCC_LENGTH',
      `HIBC primary data '${text.slice(start + 1, j)}' is ${primaryLength} characters long: a 4-character labeler code, a product number of 1 to ${MAX_PRODUCT} characters and a unit-of-measure digit make 6 to ${4 + MAX_PRODUCT + 1} at position ${primaryLength < 6 ? start + 2 : start + 1 + 4 + MAX_PRODUCT + 1}`,
      primaryLength < 6 ? start + 2 : start + 1 + 4 + MAX_PRODUCT + 1,
      primaryLength < 6 ? 'primary' : 'product',
      { value: text.slice(start + 1, j) },
    );
  }
  const uom = text[j - 1] ?? '';
  if (!isDigit(uom)) {
    throw hibccError(
      'LB_ERR_HIBCC_SYNTAX',
      `HIBC unit of measure ${describeHibccChar(uom)} (the last character of the primary data) must be a digit 0-9 at position ${j}`,
      j,
      'unitOfMeasure',
    );
  }
  out.kind = concatenated ? 'concatenated' : 'primary';
  out.primary = { lic: text.slice(start + 1, start + 5), product: text.slice(start + 5, j - 1), unitOfMeasure: Number(uom) };
  if (concatenated) out.secondary = parseHibccSecondary(text, j + 1, end - 1, now);
  return out;
}

/**
 * Parses a symbol; when it ends in spaces (a space is a valid check character, but trailing spaces are
 * also what sloppy copying adds), the longest reading that is valid wins, else the error of the
 * reading without the spaces.
 */
function parseSymbolTolerant(text: string, sym: RawSymbol, now: Date): ParsedSymbol {
  let shortest = sym.end;
  while (shortest > sym.start + 1 && text[shortest - 1] === ' ') shortest--;
  if (shortest === sym.end) return parseSymbol(text, sym, now);
  for (let end = sym.end; end > shortest; end--) {
    try {
      return parseSymbol(text, { ...sym, end }, now);
    } catch (err) {
      if (!isLotBridgeError(err)) throw err;
    }
  }
  return parseSymbol(text, { ...sym, end: shortest }, now);
}

/**
 * Decodes HIBC Supplier Labeling Standard data (ANSI/HIBC 2.x, the HIBCC UDI format): a primary symbol
 * (`+` LIC product unit-of-measure check), a secondary symbol (`+` `$…`/`$$…`/Julian date … link check),
 * both in one symbol joined by `/` (one check character), or a primary and a secondary symbol one after
 * the other (directly, or separated by a line break or tab), whose link character must equal the
 * primary's check character. Supplementary fields (`/14D`, `/16D`, `/S`, `/Q`) may follow the secondary
 * data. An AIM symbology identifier (`]A0`, `]C0`, `]d1`, `]Q1`) and Code 39 `*` start/stop characters
 * are accepted around each symbol. Leading whitespace and trailing CR/LF/tab are ignored.
 *
 * @throws LotBridgeError with a code `LB_ERR_HIBCC_*` and `location: { position, path }`, where position
 *   is the 1-based character offset in `text` and path the element (`checkCharacter`, `expiry`, …).
 */
export function decodeHibcc(text: string, opts: HibccDecodeOptions = {}): HibccDecoded {
  const now = opts.now ?? new Date();
  let from = 0;
  while (from < text.length && /\s/.test(text[from] ?? '')) from++;
  let to = text.length;
  while (to > from && /[\r\n\t\x1d]/.test(text[to - 1] ?? '')) to--;
  if (from >= to) {
    throw hibccError('LB_ERR_HIBCC_SYNTAX', 'The barcode data is empty at position 1', 1);
  }
  const symbols = splitSymbols(text, from, to).map((s) => parseSymbolTolerant(text, s, now));
  const primaries = symbols.filter((s) => s.kind !== 'secondary');
  const secondaries = symbols.filter((s) => s.kind === 'secondary');
  const [first, second] = symbols;
  if (!first || symbols.length > 2 || primaries.length > 1 || secondaries.length > 1 || (symbols.length === 2 && first.kind === 'concatenated') || (second && second.kind === 'concatenated')) {
    const at = (second ?? first)?.start ?? from;
    throw hibccError(
      'LB_ERR_HIBCC_SYNTAX',
      `HIBC data holds ${symbols.length} symbols (${symbols.map((s) => s.kind).join(', ')}): expected one symbol, or a primary and a secondary symbol at position ${at + 1}`,
      at + 1,
      'flag',
    );
  }

  const primary = primaries[0];
  const secondary = secondaries[0];
  let structure: HibccStructure;
  if (primary && secondary) {
    structure = 'linked';
    if (secondary.linkCharacter !== primary.checkCharacter) {
      const pos = (secondary.linkIndex ?? secondary.end - 2) + 1;
      throw hibccError(
        'LB_ERR_HIBCC_LINK_CHARACTER',
        `HIBC link character ${describeHibccChar(secondary.linkCharacter ?? '')} of the secondary symbol at position ${pos} does not match the check character ${describeHibccChar(primary.checkCharacter)} of the primary symbol (position ${primary.end}): the two barcodes belong to different items`,
        pos,
        'linkCharacter',
        { expected: primary.checkCharacter, found: secondary.linkCharacter },
      );
    }
  } else if (primary) {
    structure = primary.kind === 'concatenated' ? 'concatenated' : 'primary';
  } else {
    structure = 'secondary';
  }

  const result: HibccDecoded = { scheme: 'hibcc', structure, checkCharacter: (primary ?? first).checkCharacter };
  const symbology = symbols.find((s) => s.symbology)?.symbology;
  if (symbology) result.symbology = symbology;
  if (primary?.primary) {
    const { lic, product, unitOfMeasure } = primary.primary;
    result.lic = lic;
    result.product = product;
    result.unitOfMeasure = unitOfMeasure;
    result.deviceIdentifier = `${lic}${product}${unitOfMeasure}`;
  }
  const sec = primary?.secondary ?? secondary?.secondary;
  if (sec) {
    if (sec.lot !== undefined) result.lot = sec.lot;
    if (sec.serial !== undefined) result.serial = sec.serial;
    if (sec.expiry) {
      result.expiry = sec.expiry.iso;
      if (sec.expiry.hour !== undefined) result.expiryHour = sec.expiry.hour;
      result.expiryFormat = sec.expiry.format;
    }
    if (sec.manufactureDate) result.manufactureDate = sec.manufactureDate.iso;
    if (sec.quantity !== undefined) result.quantity = sec.quantity;
  }
  if (secondary?.linkCharacter !== undefined) result.linkCharacter = secondary.linkCharacter;
  return result;
}

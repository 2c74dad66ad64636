import { LotBridgeError } from '../errors/lotbridge-error';
import { findGs1Ai } from './gs1-ai-lookup';
import { gs1Error } from './gs1-error';
import type { Gs1ScannedElement } from './gs1-scanned-element';

const URI = /^(https?):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i;

interface Decoded {
  value: string;
  /** 1-based input position of each character of value. */
  offsets: number[];
  /** 1-based input position of the raw text's first character. */
  start: number;
  /** 1-based input position just after the raw text. */
  end: number;
}

/** Percent-decodes (UTF-8) one URI part, keeping the input position of every decoded character. */
function percentDecode(raw: string, rawStart: number): Decoded {
  let value = '';
  const offsets: number[] = [];
  let i = 0;
  while (i < raw.length) {
    if (raw[i] !== '%') {
      value += raw[i] ?? '';
      offsets.push(rawStart + i + 1);
      i++;
      continue;
    }
    const bytes: number[] = [];
    const bytePositions: number[] = [];
    while (i < raw.length && raw[i] === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        const position = rawStart + i + 1;
        throw gs1Error('LB_ERR_GS1_SYNTAX', `Invalid percent-encoding '${raw.slice(i, i + 3)}' in the Digital Link URI at position ${position}`, position);
      }
      bytes.push(parseInt(hex, 16));
      bytePositions.push(rawStart + i + 1);
      i += 3;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch (err) {
      const position = bytePositions[0] ?? rawStart + 1;
      throw new LotBridgeError('LB_ERR_GS1_SYNTAX', `Percent-encoded bytes are not valid UTF-8 in the Digital Link URI at position ${position}`, {
        location: { position },
        cause: err,
      });
    }
    let b = 0;
    for (const ch of text) {
      const p = bytePositions[b] ?? rawStart + 1;
      for (let u = 0; u < ch.length; u++) offsets.push(p);
      value += ch;
      b += Buffer.byteLength(ch, 'utf8');
    }
  }
  return { value, offsets, start: rawStart + 1, end: rawStart + raw.length + 1 };
}

/** Splits `text` (found at 0-based `at` in the input) on `sep`, keeping each part's 0-based start. */
function splitWithIndex(text: string, at: number, sep: string): Array<{ raw: string; index: number }> {
  const parts: Array<{ raw: string; index: number }> = [];
  let index = at;
  for (const raw of text.split(sep)) {
    parts.push({ raw, index });
    index += raw.length + sep.length;
  }
  return parts;
}

const GTIN_AIS = new Set(['01', '02', '03']);

function element(ai: string, aiPosition: number, v: Decoded): Gs1ScannedElement {
  let { value, offsets } = v;
  // The Digital Link grammar admits GTIN-8/12/13 in a GTIN position; the element string is always 14 digits.
  if (GTIN_AIS.has(ai) && /^[0-9]+$/.test(value) && [8, 12, 13].includes(value.length)) {
    const pad = 14 - value.length;
    const first = offsets[0] ?? v.start;
    value = '0'.repeat(pad) + value;
    offsets = [...Array<number>(pad).fill(first), ...offsets];
  }
  return { ai, value, aiPosition, offsets, endPosition: v.end, form: 'digital-link' };
}

const isKnownAiSegment = (seg: string): boolean => /^[0-9]{2,4}$/.test(seg) && findGs1Ai(seg) !== undefined;

/** True when a qualifier list is, in order, a subsequence of one allowed sequence. */
function qualifiersFit(found: readonly string[], sequences: readonly (readonly string[])[]): boolean {
  if (found.length === 0) return true;
  return sequences.some((seq) => {
    let k = 0;
    for (const ai of seq) if (found[k] === ai) k++;
    return k === found.length;
  });
}

/**
 * Reads a GS1 Digital Link URI (any host, optional path prefix): the primary key and its qualifiers
 * from the path (in the order the dictionary's `dlpkey` allows), then AI data attributes from the
 * query in the order given; other query parameters (linkType, …) and the fragment are ignored.
 * Values are percent-decoded. `base` is the 0-based offset of `s` in the original input.
 */
export function parseGs1DigitalLink(s: string, base: number): Gs1ScannedElement[] {
  const m = URI.exec(s);
  if (!m || !m[2]) {
    throw gs1Error('LB_ERR_GS1_SYNTAX', `The text is not a valid http(s) Digital Link URI at position ${base + 1}`, base + 1);
  }
  const scheme = m[1] ?? '';
  const host = m[2];
  const path = m[3] ?? '';
  const query = m[4];
  const pathAt = base + scheme.length + 3 + host.length;

  const segments = splitWithIndex(path, pathAt, '/').slice(1);
  while (segments.length > 0 && segments[segments.length - 1]?.raw === '') segments.pop();
  const decoded = segments.map((seg) => ({ ...percentDecode(seg.raw, seg.index), raw: seg.raw }));

  // Walk (AI, value) pairs back from the end of the path; the leftmost primary key in that run starts the GS1 part.
  let pk = -1;
  for (let k = decoded.length - 2; k >= 0 && isKnownAiSegment(decoded[k]?.raw ?? ''); k -= 2) {
    if (findGs1Ai(decoded[k]?.raw ?? '')?.dlPrimaryKey) pk = k;
  }
  if (pk < 0) {
    throw gs1Error(
      'LB_ERR_GS1_SYNTAX',
      `The Digital Link URI has no GS1 primary key in its path (e.g. /01/<GTIN>) at position ${pathAt + 1}`,
      pathAt + 1,
    );
  }

  const out: Gs1ScannedElement[] = [];
  const qualifiers: string[] = [];
  const pkAi = decoded[pk]?.raw ?? '';
  const pkEntry = findGs1Ai(pkAi);
  for (let k = pk; k + 1 < decoded.length; k += 2) {
    const key = decoded[k];
    const val = decoded[k + 1];
    if (!key || !val) continue;
    if (k > pk) {
      qualifiers.push(key.raw);
      const sequences = pkEntry?.dlPrimaryKey?.qualifiers ?? [];
      if (!qualifiersFit(qualifiers, sequences)) {
        const allowed = sequences.length === 0 ? 'no qualifiers' : `qualifiers in the order ${sequences.map((q) => q.map((a) => `(${a})`).join(', ')).join(' or ')}`;
        throw gs1Error(
          'LB_ERR_GS1_SYNTAX',
          `AI (${key.raw}) is not a valid Digital Link path qualifier here: primary key (${pkAi}) takes ${allowed} at position ${key.start}`,
          key.start,
          key.raw,
        );
      }
    }
    out.push(element(key.raw, key.start, val));
  }

  if (query !== undefined) {
    for (const param of splitWithIndex(query.slice(1), pathAt + path.length + 1, '&')) {
      if (param.raw === '') continue;
      const eq = param.raw.indexOf('=');
      const keyRaw = eq >= 0 ? param.raw.slice(0, eq) : param.raw;
      const key = percentDecode(keyRaw, param.index);
      if (!/^[0-9]+$/.test(key.value)) continue; // not an AI: linkType, utm_* and other non-GS1 attributes
      const entry = findGs1Ai(key.value);
      if (!entry) {
        throw gs1Error('LB_ERR_GS1_UNKNOWN_AI', `AI (${key.value}) is not a GS1 Application Identifier at position ${key.start}`, key.start, key.value);
      }
      if (!entry.dlDataAttribute) {
        throw gs1Error(
          'LB_ERR_GS1_SYNTAX',
          `AI (${key.value}) is not permitted as a Digital Link data attribute (query parameter) at position ${key.start}`,
          key.start,
          key.value,
        );
      }
      const valueRaw = eq >= 0 ? param.raw.slice(eq + 1) : '';
      out.push(element(key.value, key.start, percentDecode(valueRaw, param.index + eq + 1)));
    }
  }
  return out;
}

import { isUtf8 } from 'node:buffer';
import type { Hl7Delimiters } from './hl7-delimiters';

/** How the bytes of a `\X..\` escape become text: as the message's charset says, or guessed. */
export type Hl7HexDecoding = 'utf-8' | 'latin1' | 'auto';

/**
 * Decodes the escape sequences of one HL7 value (a subcomponent, or a field without structure),
 * with the message's own escape character (written `\` here):
 * - `\F\ \S\ \T\ \R\ \E\` become the field, component, subcomponent, repetition and escape
 *   characters; `\P\` the truncation character (v2.7+, when MSH-2 declares one);
 * - `\Xhh..\` becomes the bytes it spells, read as `hexDecoding` (`auto`: UTF-8 when they are
 *   valid UTF-8, else ISO-8859-1);
 * - `\.br\` and `\.sp\` become a line break (`\n`); the other formatting commands (`\.fi\ \.nf\
 *   \.in\ \.ti\ \.sk\ \.ce\`), highlighting (`\H\ \N\`) and character-set switches (`\C..\ \M..\`)
 *   are dropped, since the value is plain text from here on;
 * - locally defined `\Z..\`, unknown sequences and an escape character without a closing one are
 *   kept as written.
 * @param text - the value as written in the message
 * @param d - the message's delimiters
 * @param hexDecoding - how `\X..\` bytes are read
 */
export function unescapeHl7(text: string, d: Hl7Delimiters, hexDecoding: Hl7HexDecoding = 'auto'): string {
  const esc = d.escape;
  let i = text.indexOf(esc);
  if (i < 0) {
    return text;
  }
  let out = text.slice(0, i);
  while (i >= 0) {
    const close = text.indexOf(esc, i + 1);
    if (close < 0) {
      out += text.slice(i);
      return out;
    }
    const seq = text.slice(i + 1, close);
    // a sequence we do not know (\Z..\, a typo) stays as written, delimiting escape characters included
    out += decodeSequence(seq, d, hexDecoding) ?? text.slice(i, close + 1);
    const next = text.indexOf(esc, close + 1);
    out += next < 0 ? text.slice(close + 1) : text.slice(close + 1, next);
    i = next;
  }
  return out;
}

function decodeSequence(seq: string, d: Hl7Delimiters, hexDecoding: Hl7HexDecoding): string | undefined {
  switch (seq) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation;
    case 'H':
    case 'N':
      return '';
    case '.br':
    case '.sp':
      return '\n';
    default:
      break;
  }
  const kind = seq.charAt(0);
  if (kind === 'X') {
    return decodeHex(seq.slice(1), hexDecoding);
  }
  if (kind === '.') {
    return /^\.(sp|fi|nf|in|ti|sk|ce)(\s*[+-]?\d+)?$/.test(seq) ? (seq.startsWith('.sp') ? '\n' : '') : undefined;
  }
  if ((kind === 'C' || kind === 'M') && /^[CM](?:[0-9A-Fa-f]{2}){2,3}$/.test(seq)) {
    return '';
  }
  return undefined;
}

function decodeHex(hex: string, hexDecoding: Hl7HexDecoding): string | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) {
    return undefined;
  }
  const bytes = Buffer.from(hex, 'hex');
  if (hexDecoding === 'latin1') {
    return bytes.toString('latin1');
  }
  if (hexDecoding === 'utf-8' || isUtf8(bytes)) {
    return bytes.toString('utf8');
  }
  return bytes.toString('latin1');
}

/**
 * Escapes text for an HL7 value with the message's own delimiters: the escape character first
 * (`\E\`), then field, component, repetition, subcomponent and truncation characters
 * (`\F\ \S\ \R\ \T\ \P\`); CR and LF become `\X0D\` and `\X0A\` so they cannot end the segment.
 * @param text - plain text
 * @param d - the delimiters of the message the value goes into
 */
export function escapeHl7(text: string, d: Hl7Delimiters): string {
  let out = '';
  let from = 0;
  const e = d.escape;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    let rep: string | undefined;
    if (c === e) {
      rep = `${e}E${e}`;
    } else if (c === d.field) {
      rep = `${e}F${e}`;
    } else if (c === d.component) {
      rep = `${e}S${e}`;
    } else if (c === d.repetition) {
      rep = `${e}R${e}`;
    } else if (c === d.subcomponent) {
      rep = `${e}T${e}`;
    } else if (d.truncation !== undefined && c === d.truncation) {
      rep = `${e}P${e}`;
    } else if (c === '\r') {
      rep = `${e}X0D${e}`;
    } else if (c === '\n') {
      rep = `${e}X0A${e}`;
    }
    if (rep !== undefined) {
      out += text.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

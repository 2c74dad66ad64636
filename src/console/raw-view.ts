import { parse as parseCsv } from 'csv-parse/sync';
import { html, raw, type SafeHtml } from './html';
import { decodeWindows1252 } from '../parsers/windows-1252';

/** A message's bytes as text for display: invalid bytes become `\xNN` (and `invalid` counts them). */
export interface DecodedText {
  text: string;
  charset: string;
  invalidBytes: number;
}

const LATIN1 = new Set(['iso-8859-1', 'latin1', 'windows-1252', 'cp1252', 'iso8859-1', '8859/1']);

/**
 * Decodes for display: the declared single-byte charset when there is one, else UTF-8 where every
 * byte that is not part of a valid UTF-8 sequence is shown as `\xNN` (never a silent U+FFFD).
 */
export function decodeForDisplay(bytes: Buffer, declared?: string | null): DecodedText {
  const cs = (declared ?? '').toLowerCase();
  if (LATIN1.has(cs)) {
    // Latin-1 labels read as windows-1252, as WHATWG decoders do (0x80–0x9F are € – ’ …, never C1 controls)
    return { text: decodeWindows1252(bytes), charset: cs, invalidBytes: 0 };
  }
  let out = '';
  let invalid = 0;
  let i = 0;
  let start = 0;
  const flush = (end: number): void => {
    if (end > start) out += bytes.subarray(start, end).toString('utf8');
  };
  while (i < bytes.length) {
    const b = bytes[i];
    let n = 0;
    if (b < 0x80) n = 1;
    else if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) n = 3;
    else if (b >= 0xf0 && b <= 0xf4) n = 4;
    let ok = n > 0 && i + n <= bytes.length;
    for (let k = 1; ok && k < n; k++) ok = (bytes[i + k] & 0xc0) === 0x80;
    if (ok && n === 3) {
      const b1 = bytes[i + 1];
      ok = !(b === 0xe0 && b1 < 0xa0) && !(b === 0xed && b1 > 0x9f);
    }
    if (ok && n === 4) {
      const b1 = bytes[i + 1];
      ok = !(b === 0xf0 && b1 < 0x90) && !(b === 0xf4 && b1 > 0x8f);
    }
    if (ok) {
      i += n;
      continue;
    }
    flush(i);
    out += `\\x${b.toString(16).padStart(2, '0').toUpperCase()}`;
    invalid++;
    i++;
    start = i;
  }
  flush(i);
  return { text: out, charset: invalid > 0 ? 'utf-8 (with invalid bytes)' : 'utf-8', invalidBytes: invalid };
}

/** Where a message's error points, as stored in `error_location`. */
export interface ErrorLocation {
  line?: number;
  segment?: string;
  segmentIndex?: number;
  occurrence?: number;
  field?: string | number;
  position?: number;
  index?: number;
  path?: string;
}

/** Lines the raw view renders at most (plus the error line). */
export const MAX_RAW_LINES = 5000;

/** One displayed line (an HL7/EDI segment or a text line). */
export interface RawLine {
  no: number;
  text: string;
  /** HL7/EDI segment id of the line. */
  segment?: string;
}

interface Hl7Delims {
  field: string;
  component: string;
  repetition: string;
}

function hl7Delims(text: string): Hl7Delims {
  const i = text.indexOf('MSH');
  if (i < 0 || text.length < i + 8) return { field: '|', component: '^', repetition: '~' };
  return { field: text[i + 3], component: text[i + 4] ?? '^', repetition: text[i + 5] ?? '~' };
}

/** Splits for display: HL7 by segment, X12 by its segment terminator, EDIFACT by `'`, anything else by line. */
export function splitLines(text: string, format: string): RawLine[] {
  let parts: string[];
  if (format === 'hl7v2') {
    parts = text.split(/\r\n|\r|\n/);
  } else if (format.startsWith('x12') && text.startsWith('ISA') && text.length > 106) {
    const term = text[105];
    parts = text.split(term).map((p) => p.replace(/^\r?\n/, '')).map((p, i, a) => (i < a.length - 1 ? p + term : p));
  } else if (format.startsWith('edifact')) {
    parts = text.split(/(?<=(?<!\?)')/).map((p) => p.replace(/^\r?\n/, ''));
  } else {
    parts = text.split(/\r\n|\n|\r/);
  }
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts.map((t, i) => {
    const m = /^([A-Z][A-Z0-9]{1,2})(?=[^A-Za-z0-9]|$)/.exec(t);
    return { no: i + 1, text: t, ...(m && format !== 'json' && format !== 'csv' && !format.startsWith('wms') ? { segment: m[1] } : {}) };
  });
}

/** The 1-based line an error location points at, or undefined. */
export function errorLine(lines: RawLine[], loc: ErrorLocation | null | undefined, text: string): number | undefined {
  if (!loc) return undefined;
  if (typeof loc.line === 'number' && loc.line >= 1 && loc.line <= lines.length) return loc.line;
  if (typeof loc.segmentIndex === 'number' && loc.segmentIndex >= 1 && loc.segmentIndex <= lines.length && (!loc.segment || lines[loc.segmentIndex - 1].segment === loc.segment)) return loc.segmentIndex;
  if (loc.segment) {
    const occ = loc.occurrence ?? 1;
    let seen = 0;
    for (const l of lines) {
      if (l.segment === loc.segment && ++seen === occ) return l.no;
    }
  }
  if (typeof loc.position === 'number' && loc.position >= 0 && loc.position <= text.length) {
    return text.slice(0, loc.position).split(/\r\n|\n|\r/).length;
  }
  return undefined;
}

/** PHI-bearing HL7 fields that are masked until an operator reveals them: segment → field numbers (`all` from 2). */
export const HL7_PHI_FIELDS: Record<string, number[] | 'all'> = {
  PID: [2, 3, 4, 5, 6, 7, 9, 11, 13, 14, 18, 19, 20, 21, 29],
  PD1: [2, 3, 4],
  NK1: 'all',
  GT1: 'all',
  IN1: [16, 17, 18, 19, 49],
  IN2: 'all',
  MRG: 'all',
  PV1: [19, 50],
};

/** Default display mask: first and last character of a value of more than 4 characters. */
export function maskValue(v: string): string {
  const chars = [...v];
  if (chars.length === 0) return '';
  if (chars.length <= 4) return '***';
  return `${chars[0]}***${chars[chars.length - 1]}`;
}

export function isPhiField(segment: string, field: number): boolean {
  const rule = HL7_PHI_FIELDS[segment];
  if (!rule) return false;
  return rule === 'all' ? field >= 2 : rule.includes(field);
}

/** The fields of an HL7 segment line with their numbers (MSH-1 is the separator itself). */
export function hl7Fields(line: string, d: Hl7Delims): Array<{ no: number; value: string }> {
  const parts = line.split(d.field);
  const name = parts[0];
  if (name === 'MSH' || name === 'BHS' || name === 'FHS') {
    return [{ no: 1, value: d.field }, ...parts.slice(1).map((v, i) => ({ no: i + 2, value: v }))];
  }
  return parts.slice(1).map((v, i) => ({ no: i + 1, value: v }));
}

/** An HL7 line with its PHI fields masked (component by component, so the structure stays readable). */
export function maskHl7Line(line: string, d: Hl7Delims, mask: (v: string) => string = maskValue): { text: string; masked: number } {
  const name = line.slice(0, 3);
  if (!HL7_PHI_FIELDS[name]) return { text: line, masked: 0 };
  let masked = 0;
  const fields = hl7Fields(line, d).map((f) => {
    if (!isPhiField(name, f.no) || f.value === '') return f.value;
    masked++;
    return f.value.split(d.repetition).map((rep) => rep.split(d.component).map((c) => (c === '' ? c : mask(c))).join(d.component)).join(d.repetition);
  });
  return { text: [name, ...fields].join(d.field), masked };
}

/** Masks every PHI field of an HL7 message text. */
export function maskHl7(text: string, mask?: (v: string) => string): { text: string; masked: number } {
  const d = hl7Delims(text);
  let masked = 0;
  const out = text.split(/(\r\n|\r|\n)/).map((piece) => {
    if (/^(\r\n|\r|\n)$/.test(piece)) return piece;
    const r = maskHl7Line(piece, d, mask);
    masked += r.masked;
    return r.text;
  });
  return { text: out.join(''), masked };
}

/**
 * The raw view: numbered lines, the error line highlighted and (HL7) the error field marked.
 * `text` must already be masked when PHI is not revealed.
 */
export function renderRaw(lines: RawLine[], format: string, text: string, loc: ErrorLocation | null | undefined): SafeHtml {
  const errLine = errorLine(lines, loc, text);
  const d = format === 'hl7v2' ? hl7Delims(text) : undefined;
  const field = loc?.field !== undefined ? Number(loc.field) : undefined;
  // a very long message shows its first lines (and the error line): the page stays light
  const shown = lines.length > MAX_RAW_LINES ? lines.filter((l) => l.no <= MAX_RAW_LINES || l.no === errLine) : lines;
  const rows = shown.map((l) => {
    const isErr = l.no === errLine;
    let body: SafeHtml = html`${l.text}`;
    if (isErr && d && field !== undefined && Number.isInteger(field) && l.segment) {
      const fields = hl7Fields(l.text, d);
      const target = fields.find((f) => f.no === field);
      if (target) {
        const name = l.text.slice(0, 3);
        const pieces = [html`${name}`];
        const start = name === 'MSH' || name === 'BHS' || name === 'FHS' ? 1 : 0;
        for (const f of fields.slice(start)) {
          pieces.push(html`${d.field}`);
          pieces.push(f.no === field ? html`<mark class="errfield" title="${`${name}-${field}`}">${f.value === '' ? ' ' : f.value}</mark>` : html`${f.value}`);
        }
        body = html`${pieces}`;
      }
    }
    return html`<tr class="${isErr ? 'errline' : ''}" id="L${l.no}"><td class="ln">${l.no}</td>${l.segment ? html`<td class="seg">${l.segment}</td>` : html`<td class="seg"></td>`}<td class="code">${body}</td></tr>`;
  });
  const more = lines.length - shown.length;
  return html`<table class="raw">${rows}</table>${more > 0 ? html`<p class="muted">… ${more} more lines not shown (the payload API <code>GET /api/v1/messages/{id}/payload</code> has all of it).</p>` : ''}`;
}

/** The parsed tree: HL7 segments → fields → components, JSON as a tree, CSV as a table, EDI segments → elements. */
export function renderParsed(text: string, format: string, lines: RawLine[]): SafeHtml {
  try {
    if (format === 'hl7v2') {
      const d = hl7Delims(text);
      const segs = lines.filter((l) => l.text.trim() !== '').slice(0, MAX_RAW_LINES).map((l) => {
        const name = l.text.slice(0, 3);
        const fields = hl7Fields(l.text, d).filter((f) => f.value !== '');
        return html`<details class="seg"><summary><b>${name}</b> <span class="muted">line ${l.no} · ${fields.length} fields</span></summary><ul>${fields.map((f) => {
          const reps = f.value.split(d.repetition);
          const comps = reps.map((r, ri) => {
            const cs = r.split(d.component);
            if (cs.length === 1 || (name === 'MSH' && f.no <= 2)) return html`<li><code>${name}-${f.no}${reps.length > 1 ? `(${ri + 1})` : ''}</code> ${r}</li>`;
            return html`<li><code>${name}-${f.no}${reps.length > 1 ? `(${ri + 1})` : ''}</code><ul>${cs.map((c, ci) => (c === '' ? '' : html`<li><code>.${ci + 1}</code> ${c}</li>`))}</ul></li>`;
          });
          return html`${comps}`;
        })}</ul></details>`;
      });
      return html`<div class="tree">${segs}</div>`;
    }
    const trimmed = text.trimStart();
    if (format === 'json' || trimmed.startsWith('{') || trimmed.startsWith('[')) {
      const lines2 = trimmed.split(/\r?\n/).filter((x) => x.trim() !== '');
      const values: unknown[] = [];
      try {
        values.push(JSON.parse(text));
      } catch {
        for (const l of lines2) values.push(JSON.parse(l)); // NDJSON
      }
      return html`<div class="tree">${values.map((v) => jsonTree(v, ''))}</div>`;
    }
    if (format === 'csv' || format.includes('csv')) {
      const rows = parseCsv(text, { relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
      const [head, ...body] = rows;
      return html`<table class="grid"><thead><tr><th>#</th>${(head ?? []).map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${body.slice(0, 1000).map((r, i) => html`<tr><td class="ln">${i + 2}</td>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table>`;
    }
    if (format.startsWith('x12') || format.startsWith('edifact')) {
      const elemSep = format.startsWith('x12') ? text[3] ?? '*' : '+';
      return html`<div class="tree">${lines.slice(0, MAX_RAW_LINES).map((l) => {
        const els = l.text.replace(/[~']$/, '').split(elemSep);
        return html`<details class="seg"><summary><b>${els[0]}</b> <span class="muted">segment ${l.no}</span></summary><ul>${els.slice(1).map((e, i) => (e === '' ? '' : html`<li><code>${els[0]}${String(i + 1).padStart(2, '0')}</code> ${e}</li>`))}</ul></details>`;
      })}</div>`;
    }
  } catch (err) {
    return html`<p class="muted">The payload does not parse as ${format}: ${(err as Error).message}. The raw view shows it as received.</p>`;
  }
  return html`<p class="muted">No parsed view for format ${format}; see the raw view.</p>`;
}

function jsonTree(v: unknown, key: string): SafeHtml {
  const label = key ? html`<code>${key}</code>: ` : raw('');
  if (Array.isArray(v)) {
    return html`<details open><summary>${label}<span class="muted">[${v.length}]</span></summary><ul>${v.map((x, i) => html`<li>${jsonTree(x, String(i))}</li>`)}</ul></details>`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return html`<details open><summary>${label}<span class="muted">{${entries.length}}</span></summary><ul>${entries.map(([k, x]) => html`<li>${jsonTree(x, k)}</li>`)}</ul></details>`;
  }
  return html`${label}<span class="val">${JSON.stringify(v)}</span>`;
}

/**
 * An error message about a PHI field (its location names PID-7, NK1-2, …) may quote the value: the
 * quoted parts are masked unless PHI is revealed.
 */
export function maskErrorMessage(message: string, loc: ErrorLocation | null | undefined, mask: (v: string) => string = maskValue): string {
  if (!loc?.segment || !HL7_PHI_FIELDS[loc.segment]) return message;
  const field = loc.field === undefined ? undefined : Number(loc.field);
  if (field !== undefined && Number.isInteger(field) && !isPhiField(loc.segment, field)) return message;
  return message.replace(/(["'\u201c])([^"'\u201d]*)(["'\u201d])/g, (_m, a: string, v: string, b: string) => `${a}${mask(v)}${b}`);
}

#!/usr/bin/env node
/*
 * Generates src/gs1/ai-table.generated.ts from the GS1 Barcode Syntax Dictionary.
 *
 *   npm run gen:gs1                       # reads ../shared/data/gs1-syntax-dictionary/gs1-syntax-dictionary.txt
 *   node scripts/gen-gs1-ai-table.js <dictionary.txt> [<output.ts>]
 *
 * Plain Node, no dependencies. The output is deterministic (no timestamps), so regenerating from the
 * same dictionary gives a byte-identical file; tests/unit/gs1/ai-table-generated.test.ts checks that.
 *
 * Dictionary line format (from the dictionary's own header):
 *   AIs  [Flags]  Specification  [Attributes...]  [# Title]
 *   AIs: one AI or a range "3100-3105"; Flags: "*" predefined length (no FNC1 needed), "?" permitted as a
 *   Digital Link data attribute; Specification: components "N6,csum,gcppos2", "X..20", "[N3],iso3166";
 *   Attributes: "req=01+21,02", "ex=01,02", "dlpkey", "dlpkey=22,10,21|235" (repeated keys all apply).
 *
 * The script fails loudly on anything it does not understand (an unknown flag, attribute, component
 * type, or overlapping AIs), so a new dictionary release cannot slip through half-parsed.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const DEFAULT_DICTIONARY = path.resolve(PROJECT_ROOT, '../shared/data/gs1-syntax-dictionary/gs1-syntax-dictionary.txt');
const DEFAULT_OUTPUT = path.resolve(PROJECT_ROOT, 'src/gs1/ai-table.generated.ts');

/**
 * Linters named in the dictionary that the LotBridge decoder (src/gs1/gs1-linters.ts) deliberately does
 * not run, with the reason. The decoder reports each skipped check in `Gs1Decoded.unchecked`; every
 * other linter the dictionary names must have an implementation, or src/gs1 no longer type-checks.
 */
const SKIPPED_LINTERS = {
  iso3166: 'needs the ISO 3166-1 numeric country list, which LotBridge does not ship; only "3 digits" is checked',
  iso3166999: 'needs the ISO 3166-1 numeric country list (or 999), which LotBridge does not ship; only "3 digits" is checked',
  iso3166alpha2: 'needs the ISO 3166-1 alpha-2 country list, which LotBridge does not ship; only CSET 82 is checked',
  iso4217: 'needs the ISO 4217 numeric currency list, which LotBridge does not ship; only "3 digits" is checked',
  iban: 'payment slips (AI 8007) are outside the device supply chain, and the check needs the ISO 3166 alpha-2 list',
  packagetype: 'needs the UN/ECE Recommendation 21 package-type code list, which LotBridge does not ship',
  couponcode: 'North American coupon data (AI 8110) is outside the device supply chain',
  couponposoffer: 'positive-offer coupon data (AI 8112) is outside the device supply chain',
};

const KNOWN_FLAGS = new Set(['*', '?']);
const FLAG_CHARS = /^[*!?"$%&'()+,\-./:;<=>@[\\\]^_`{|}~]+$/;
const COMPONENT = /^(\[)?([NXYZ])(\d+)?(?:\.\.(\d+))?(\])?((?:,[a-z0-9]+)*)$/;
const AI_PATTERN = /^[0-9n]{2,4}$/;

function fail(lineNo, message) {
  throw new Error(`gs1-syntax-dictionary line ${lineNo}: ${message}`);
}

/** Parses one component token such as "N6,csum,gcppos2", "X..20" or "[N3],iso3166". */
function parseComponent(token, lineNo) {
  const m = COMPONENT.exec(token);
  if (!m) fail(lineNo, `cannot parse component '${token}'`);
  const [, open, cset, fixedOrMin, max, close, linterList] = m;
  if (Boolean(open) !== Boolean(close)) fail(lineNo, `unbalanced brackets in component '${token}'`);
  let min;
  let maxLen;
  if (max !== undefined) {
    min = fixedOrMin !== undefined ? Number(fixedOrMin) : 1;
    maxLen = Number(max);
  } else if (fixedOrMin !== undefined) {
    min = Number(fixedOrMin);
    maxLen = min;
  } else {
    fail(lineNo, `component '${token}' has no length`);
  }
  const linters = linterList ? linterList.slice(1).split(',') : [];
  return { cset, min, max: maxLen, optional: Boolean(open), linters };
}

function parsePatternList(value, lineNo, key) {
  const list = value.split(',');
  for (const p of list) {
    if (!AI_PATTERN.test(p)) fail(lineNo, `bad AI pattern '${p}' in ${key}=`);
  }
  return list;
}

/** Parses one dictionary entry line into raw fields (AI range not yet expanded). */
function parseLine(line, lineNo) {
  const hash = line.indexOf('#');
  const title = hash >= 0 ? line.slice(hash + 1).trim() : '';
  const body = (hash >= 0 ? line.slice(0, hash) : line).trim();
  const tokens = body.split(/\s+/);
  const aiToken = tokens.shift();
  const range = /^(\d{2,4})(?:-(\d{2,4}))?$/.exec(aiToken);
  if (!range) fail(lineNo, `bad AI or AI range '${aiToken}'`);
  const first = range[1];
  const last = range[2] ?? range[1];
  if (first.length !== last.length || Number(last) < Number(first)) fail(lineNo, `bad AI range '${aiToken}'`);

  let flags = '';
  if (tokens.length > 0 && FLAG_CHARS.test(tokens[0])) {
    flags = tokens.shift();
    for (const f of flags) {
      if (!KNOWN_FLAGS.has(f)) fail(lineNo, `unknown flag '${f}' (the generator must learn it first)`);
    }
  }

  const components = [];
  while (tokens.length > 0 && /^[\[NXYZ]/.test(tokens[0])) {
    components.push(parseComponent(tokens.shift(), lineNo));
  }
  if (components.length === 0) fail(lineNo, 'no specification components');
  let seenOptional = false;
  components.forEach((c, i) => {
    if (c.optional) seenOptional = true;
    else if (seenOptional) fail(lineNo, 'a mandatory component follows an optional one');
    if (c.min !== c.max && i !== components.length - 1) fail(lineNo, 'only the final component may have variable length');
  });

  const req = [];
  const ex = [];
  let dlpkey;
  for (const tok of tokens) {
    const eq = tok.indexOf('=');
    const key = eq >= 0 ? tok.slice(0, eq) : tok;
    const value = eq >= 0 ? tok.slice(eq + 1) : undefined;
    if (key === 'req') {
      if (!value) fail(lineNo, 'empty req=');
      const alternatives = value.split(',').map((alt) => alt.split('+'));
      for (const alt of alternatives) for (const p of alt) if (!AI_PATTERN.test(p)) fail(lineNo, `bad AI pattern '${p}' in req=`);
      req.push(alternatives);
    } else if (key === 'ex') {
      if (!value) fail(lineNo, 'empty ex=');
      ex.push(...parsePatternList(value, lineNo, 'ex'));
    } else if (key === 'dlpkey') {
      if (dlpkey) fail(lineNo, 'dlpkey given twice');
      dlpkey = value === undefined ? [] : value.split('|').map((seq) => parsePatternList(seq, lineNo, 'dlpkey'));
    } else {
      fail(lineNo, `unknown attribute '${tok}' (the generator must learn it first)`);
    }
  }
  return { first, last, flags, components, req, ex, dlpkey, title };
}

/** Reads the dictionary text and returns { release, entries } with every AI range expanded. */
function parseDictionary(text) {
  const lines = text.split(/\r?\n/);
  let release;
  const entries = [];
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s*Release:\s*(.*)$/.exec(line);
      if (m && release === undefined) release = m[1].trim();
      return;
    }
    const e = parseLine(line, lineNo);
    const width = e.first.length;
    for (let n = Number(e.first); n <= Number(e.last); n++) {
      const ai = String(n).padStart(width, '0');
      const minLength = e.components.filter((c) => !c.optional).reduce((s, c) => s + c.min, 0);
      const maxLength = e.components.reduce((s, c) => s + c.max, 0);
      const predefinedLength = e.flags.includes('*');
      if (predefinedLength && minLength !== maxLength) fail(lineNo, `AI ${ai} is flagged '*' but has a variable length`);
      entries.push({
        ai,
        title: e.title,
        predefinedLength,
        fnc1Required: !predefinedLength,
        dlDataAttribute: e.flags.includes('?'),
        minLength,
        maxLength,
        components: e.components,
        req: e.req,
        ex: e.ex,
        dlPrimaryKey: e.dlpkey,
        line: lineNo,
      });
    }
  });
  if (entries.length === 0) throw new Error('gs1-syntax-dictionary: no entries found');

  // AIs are read from raw scanner data by prefix, so no AI may be a prefix of another (or repeat).
  const seen = new Map();
  for (const e of entries) {
    if (seen.has(e.ai)) throw new Error(`gs1-syntax-dictionary: AI ${e.ai} is defined twice (lines ${seen.get(e.ai)} and ${e.line})`);
    seen.set(e.ai, e.line);
  }
  for (const e of entries) {
    for (let len = 2; len < e.ai.length; len++) {
      const prefix = e.ai.slice(0, len);
      if (seen.has(prefix)) throw new Error(`gs1-syntax-dictionary: AI ${prefix} is a prefix of AI ${e.ai}; raw data would be ambiguous`);
    }
  }
  return { release: release ?? 'not stated', entries };
}

function q(s) {
  return `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function list(items, fmt = q) {
  return `[${items.map(fmt).join(', ')}]`;
}

function renderComponent(c) {
  const parts = [`cset: ${q(c.cset)}`, `min: ${c.min}`, `max: ${c.max}`];
  if (c.optional) parts.push('optional: true');
  parts.push(`linters: ${list(c.linters)}`);
  return `{ ${parts.join(', ')} }`;
}

function renderEntry(e) {
  const parts = [
    `ai: ${q(e.ai)}`,
    `title: ${q(e.title)}`,
    `predefinedLength: ${e.predefinedLength}`,
    `fnc1Required: ${e.fnc1Required}`,
    `dlDataAttribute: ${e.dlDataAttribute}`,
    `minLength: ${e.minLength}`,
    `maxLength: ${e.maxLength}`,
    `components: [${e.components.map(renderComponent).join(', ')}]`,
    `req: ${list(e.req, (rule) => list(rule, (alt) => list(alt)))}`,
    `ex: ${list(e.ex)}`,
  ];
  if (e.dlPrimaryKey) parts.push(`dlPrimaryKey: { qualifiers: ${list(e.dlPrimaryKey, (seq) => list(seq))} }`);
  return `  { ${parts.join(', ')} },`;
}

/** Renders the TypeScript module; deterministic for a given dictionary text. */
function render(text, sourceName) {
  const { release, entries } = parseDictionary(text);
  const sha256 = crypto.createHash('sha256').update(text, 'utf8').digest('hex');
  const linterNames = [...new Set(entries.flatMap((e) => e.components.flatMap((c) => c.linters)))].sort();
  const skipped = linterNames.filter((n) => Object.prototype.hasOwnProperty.call(SKIPPED_LINTERS, n));
  const implemented = linterNames.filter((n) => !skipped.includes(n));
  const union = (names) => (names.length === 0 ? 'never' : names.map(q).join(' | '));

  const out = [];
  out.push('/*');
  out.push(' * GS1 Application Identifier table, generated by scripts/gen-gs1-ai-table.js — do not edit.');
  out.push(' * Regenerate with `npm run gen:gs1` (see docs/gs1.md).');
  out.push(' *');
  out.push(` * Source: GS1 Barcode Syntax Dictionary, file ${sourceName}`);
  out.push(` *         (dictionary "Release: ${release}", sha256 ${sha256}).`);
  out.push(' * Licence: Apache-2.0. Copyright (c) 2021-2025 GS1 AISBL; (c) 2020-2021 BWIPP project; (c) 2020-2021 Zint Project.');
  out.push(' *          See the LICENSE file next to the dictionary (../shared/data/gs1-syntax-dictionary/LICENSE)');
  out.push(' *          and http://www.apache.org/licenses/LICENSE-2.0. This table is derived from that data.');
  out.push(' */');
  out.push('');
  out.push('/** Where this table came from. */');
  out.push('export const GS1_DICTIONARY_SOURCE = {');
  out.push(`  name: 'GS1 Barcode Syntax Dictionary',`);
  out.push(`  file: ${q(sourceName)},`);
  out.push(`  release: ${q(release)},`);
  out.push(`  sha256: ${q(sha256)},`);
  out.push(`  licence: 'Apache-2.0 (GS1 AISBL)',`);
  out.push('} as const;');
  out.push('');
  out.push('/** Every linter (content check) the dictionary names. */');
  out.push(`export type Gs1LinterName = ${union(linterNames)};`);
  out.push('');
  out.push('/** Linters LotBridge deliberately does not run (reasons in GS1_SKIPPED_LINTERS and docs/gs1.md). */');
  out.push(`export type Gs1SkippedLinterName = ${union(skipped)};`);
  out.push('');
  out.push('/** Linters the decoder must implement: every named linter that is not skipped. */');
  out.push('export type Gs1ImplementedLinterName = Exclude<Gs1LinterName, Gs1SkippedLinterName>;');
  out.push('');
  out.push('/** All linter names, sorted. */');
  out.push(`export const GS1_LINTER_NAMES: readonly Gs1LinterName[] = ${list(linterNames)};`);
  out.push('');
  out.push(`/** Implemented linters (${implemented.length}), sorted. */`);
  out.push(`export const GS1_IMPLEMENTED_LINTER_NAMES: readonly Gs1ImplementedLinterName[] = ${list(implemented)};`);
  out.push('');
  out.push('/** Skipped linters with the reason; the decoder lists each skipped check in its result. */');
  out.push('export const GS1_SKIPPED_LINTERS: Readonly<Record<Gs1SkippedLinterName, string>> = {');
  for (const n of skipped) out.push(`  ${n}: ${q(SKIPPED_LINTERS[n])},`);
  out.push('};');
  out.push('');
  out.push('/** One component of an AI value: the character set, its length range and the linters that check it. */');
  out.push('export interface Gs1AiComponent {');
  out.push('  /** N digits, X = CSET 82, Y = CSET 39, Z = CSET 64 (base64url). */');
  out.push("  readonly cset: 'N' | 'X' | 'Y' | 'Z';");
  out.push('  readonly min: number;');
  out.push('  readonly max: number;');
  out.push('  /** Optional trailing component: may be left out once the data is exhausted. */');
  out.push('  readonly optional?: true;');
  out.push('  readonly linters: readonly Gs1LinterName[];');
  out.push('}');
  out.push('');
  out.push('/** One GS1 Application Identifier as the dictionary defines it. */');
  out.push('export interface Gs1AiEntry {');
  out.push('  readonly ai: string;');
  out.push('  readonly title: string;');
  out.push('  /** Flag "*": predefined length, so no FNC1 separator is needed after it in raw data. */');
  out.push('  readonly predefinedLength: boolean;');
  out.push('  /** The opposite of predefinedLength: a variable or non-predefined value ends at FNC1 (GS) or the end. */');
  out.push('  readonly fnc1Required: boolean;');
  out.push('  /** Flag "?": permitted as a GS1 Digital Link data attribute (query parameter). */');
  out.push('  readonly dlDataAttribute: boolean;');
  out.push('  readonly minLength: number;');
  out.push('  readonly maxLength: number;');
  out.push('  readonly components: readonly Gs1AiComponent[];');
  out.push('  /** Mandatory associations: every rule must hold; a rule holds when one alternative has all its AI patterns present ("n" = any digit). */');
  out.push('  readonly req: readonly (readonly (readonly string[])[])[];');
  out.push('  /** Invalid pairings: no other AI present may match one of these patterns. */');
  out.push('  readonly ex: readonly string[];');
  out.push('  /** GS1 Digital Link primary key; `qualifiers` are the alternative ordered qualifier sequences ([] = none accepted). */');
  out.push('  readonly dlPrimaryKey?: { readonly qualifiers: readonly (readonly string[])[] };');
  out.push('}');
  out.push('');
  out.push(`/** Every AI of the dictionary (${entries.length}, ranges expanded), in dictionary order. */`);
  out.push('export const GS1_AI_TABLE: readonly Gs1AiEntry[] = [');
  for (const e of entries) out.push(renderEntry(e));
  out.push('];');
  out.push('');
  return { source: out.join('\n'), entries, linterNames, skipped, implemented, release };
}

function main(argv) {
  const dictPath = argv[2] ? path.resolve(argv[2]) : DEFAULT_DICTIONARY;
  const outPath = argv[3] ? path.resolve(argv[3]) : DEFAULT_OUTPUT;
  if (!fs.existsSync(dictPath)) {
    process.stderr.write(`gen-gs1-ai-table: dictionary not found at ${dictPath}\n`);
    process.exitCode = 1;
    return;
  }
  const text = fs.readFileSync(dictPath, 'utf8');
  const result = render(text, path.basename(dictPath));
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.writeFileSync(outPath, result.source, 'utf8');
  const rel = path.relative(process.cwd(), outPath) || outPath;
  process.stdout.write(
    `gen-gs1-ai-table: ${result.entries.length} AIs (release ${result.release}) -> ${rel}\n` +
      `  linters implemented (${result.implemented.length}): ${result.implemented.join(', ')}\n` +
      `  linters SKIPPED by the decoder (${result.skipped.length}): ${result.skipped.join(', ')}\n`,
  );
}

if (require.main === module) {
  main(process.argv);
}

module.exports = { parseDictionary, render, SKIPPED_LINTERS };

import { pooledRandomBytes } from '../../security/random-pool';
import { isLotBridgeError, type LotBridgeError, type MessageLocation } from '../../errors';
import { zoneOffsetMinutes } from '../../normalize/time/source-timestamp';
import { encodingCharactersOf, type Hl7Delimiters } from './hl7-delimiters';
import { HL7_ERROR_CODES, hl7ErrorCodeFor, type Hl7ErrorCode } from './hl7-error-codes';
import { escapeHl7 } from './hl7-escape';
import type { Hl7Location } from './hl7-location';
import { Hl7Message } from './hl7-message';
import { compareHl7Versions, isHl7Version, type Hl7Version } from './hl7-version';
import { readMsh, type MshHeader } from './read-msh';
import { encodeWindows1252 } from '../windows-1252';

/** What happened to the message: accepted, refused for its content (error), or rejected outright. */
export type Hl7AckStatus = 'accepted' | 'error' | 'rejected';
/** MSA-1 (table 0008): original mode AA/AE/AR, enhanced mode accept acknowledgments CA/CE/CR. */
export type Hl7AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';
/** ERR-4 (table 0516): error, warning, information. */
export type Hl7ErrorSeverity = 'E' | 'W' | 'I';

/** One problem reported in the ACK when it is not a LotBridgeError. */
export interface Hl7AckProblem {
  /** Our code (`LB_ERR_…`), shown in ERR-5/ERR-8; it picks the table 0357 code when `hl7Code` is omitted. */
  code?: string;
  /** Table 0357 code for ERR-3 (v2.5+) / ERR-1.4 (v2.1–2.4). Default: from `code`, else 207. */
  hl7Code?: Hl7ErrorCode;
  /** ERR-4; default `E`. */
  severity?: Hl7ErrorSeverity;
  /** The words for the sender (ERR-8). */
  message: string;
  /** Where in the inbound message. */
  location?: Hl7Location | MessageLocation;
}

/** Options of {@link buildHl7Ack}. */
export interface BuildHl7AckOptions {
  /** The message acknowledged: its text (even unreadable), its parse, or its header from `readMsh`. */
  inbound: string | Hl7Message | MshHeader;
  /** Default: `accepted` without errors of severity E; `rejected` for unusable headers, MSH-9/MSH-12 errors (table 0357 200–203) and transient errors; `error` otherwise. */
  status?: Hl7AckStatus;
  /** Problems to report, each becoming an ERR segment (v2.5+) or an ERR-1 repetition (v2.1–2.4). */
  errors?: ReadonlyArray<LotBridgeError | Hl7AckProblem>;
  /** MSA-3 text message, sent for versions before 2.7 (withdrawn in 2.7). Before 2.5 it defaults to the first error. */
  text?: string;
  /** `auto` (default): enhanced (CA/CE/CR) when the inbound MSH-15 or MSH-16 is set, original (AA/AE/AR) otherwise. */
  mode?: 'auto' | 'original' | 'enhanced';
  /** MSH-10 of the ACK; generated (20 characters) when omitted. */
  controlId?: string;
  /** MSH-7 time; default now. */
  now?: Date;
  /** IANA zone MSH-7 is written in; default UTC. */
  timeZone?: string;
  /** Used where the inbound header could not be read. */
  defaults?: {
    /** MSH-12 and ERR layout; default `2.5.1`. */
    version?: Hl7Version;
    /** MSH-3 of the ACK when the inbound MSH-5 is empty; default `LOTBRIDGE`. */
    sendingApplication?: string;
    /** MSH-4 of the ACK when the inbound MSH-6 is empty. */
    sendingFacility?: string;
    /** MSH-11 when the inbound one is empty; default `P`. */
    processingId?: string;
  };
}

/** A built acknowledgment. */
export interface Hl7Ack {
  /** The ACK message, segments ending with CR (no MLLP framing). */
  text: string;
  /** MSA-1. */
  code: Hl7AckCode;
  /** Original (AA/AE/AR) or enhanced accept acknowledgment (CA/CE/CR). */
  mode: 'original' | 'enhanced';
  /** MSH-10 of the ACK. */
  controlId: string;
  /** MSH-12 of the ACK. */
  version: string;
  /** The delimiters it is written with (the inbound message's). */
  delimiters: Hl7Delimiters;
}

const CODES: Record<'original' | 'enhanced', Record<Hl7AckStatus, Hl7AckCode>> = {
  original: { accepted: 'AA', error: 'AE', rejected: 'AR' },
  enhanced: { accepted: 'CA', error: 'CE', rejected: 'CR' },
};

/** A problem in the form the ERR writers need. */
interface AckError {
  lbCode?: string;
  hl7Code: Hl7ErrorCode;
  severity: Hl7ErrorSeverity;
  message: string;
  transient: boolean;
  segment?: string;
  occurrence?: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

/**
 * Builds an HL7 v2 ACK for an inbound message, in the inbound's own delimiters and version:
 * MSH with sending and receiving application/facility swapped, MSH-9 `ACK^<trigger>^ACK`, a
 * fresh MSH-10; MSA with the ack code and the inbound MSH-10; one ERR per problem as the
 * version defines ERR (v2.1–2.4: ERR-1 error code and location; v2.5+: ERR-2 location, ERR-3
 * table 0357 code, ERR-4 severity, ERR-5 our code, ERR-8 user message). All text is escaped.
 * Works on unreadable messages too: whatever `readMsh` found is used, defaults fill the rest.
 * @param opts - the inbound message, outcome and problems
 */
export function buildHl7Ack(opts: BuildHl7AckOptions): Hl7Ack {
  const header = headerOf(opts.inbound);
  const d = header.delimiters;
  const raw = header.rawFields;
  const version = raw[12] ? raw[12] : (opts.defaults?.version ?? '2.5.1');
  const inboundVersion = header.version;
  const layout: Hl7Version = isHl7Version(inboundVersion) ? inboundVersion : (opts.defaults?.version ?? '2.5.1');
  const errors = (opts.errors ?? []).map(toAckError);
  if (header.error && !errors.some((e) => e.lbCode === header.error!.code)) {
    errors.unshift(toAckError(header.error));
  }
  const mode = opts.mode && opts.mode !== 'auto' ? opts.mode : header.acceptAckType || header.applicationAckType ? 'enhanced' : 'original';
  const status = opts.status ?? statusOf(errors, header);
  const code = CODES[mode][status];
  const controlId = opts.controlId ?? generateControlId();
  const esc = (t: string): string => escapeHl7(t, d);

  const msh: string[] = [];
  msh[1] = d.field;
  msh[2] = header.delimitersRead && raw[2] ? raw[2] : encodingCharactersOf(d);
  msh[3] = raw[5] || esc(opts.defaults?.sendingApplication ?? 'LOTBRIDGE');
  msh[4] = raw[6] || esc(opts.defaults?.sendingFacility ?? '');
  msh[5] = raw[3] ?? '';
  msh[6] = raw[4] ?? '';
  msh[7] = formatHl7Time(opts.now ?? new Date(), opts.timeZone ?? 'UTC');
  msh[9] = messageTypeField(layout, header.triggerEvent, d);
  msh[10] = esc(controlId);
  msh[11] = raw[11] || esc(opts.defaults?.processingId ?? 'P');
  msh[12] = version;
  if (raw[18]) {
    msh[18] = raw[18];
  }
  const segments = [segment('MSH', msh, d, true)];

  const msa: string[] = [];
  msa[1] = code;
  msa[2] = raw[10] ?? '';
  if (compareHl7Versions(layout, '2.7') < 0) {
    const legacy = compareHl7Versions(layout, '2.5') < 0;
    const first = errors.find((e) => e.severity === 'E') ?? errors[0];
    const text = opts.text ?? (legacy && first ? userMessage(first) : undefined);
    if (text) {
      msa[3] = esc(legacy ? clipHl7Text(text, 80) : text);
    }
  }
  segments.push(segment('MSA', msa, d));

  if (errors.length > 0) {
    if (compareHl7Versions(layout, '2.5') < 0) {
      segments.push(segment('ERR', [undefined, errors.map((e) => errorCodeAndLocation(e, d)).join(d.repetition)], d));
    } else {
      for (const e of errors) {
        segments.push(segment('ERR', errSegmentFields(e, d), d));
      }
    }
  }
  return { text: `${segments.join('\r')}\r`, code, mode, controlId, version, delimiters: d };
}

/**
 * Whether the sender asked for this acknowledgment: in enhanced mode MSH-15 (accept) or MSH-16
 * (application) says AL always, NE never, ER only on error/reject, SU only on success; in
 * original mode (both empty) an ACK is always sent.
 * @param header - the inbound header
 * @param kind - the accept (commit) acknowledgment or the application acknowledgment
 * @param status - the outcome to acknowledge
 */
export function hl7AckRequested(header: MshHeader, kind: 'accept' | 'application', status: Hl7AckStatus): boolean {
  if (!header.acceptAckType && !header.applicationAckType) {
    return true;
  }
  const condition = (kind === 'accept' ? header.acceptAckType : header.applicationAckType)?.toUpperCase() ?? 'AL';
  switch (condition) {
    case 'NE':
      return false;
    case 'ER':
      return status !== 'accepted';
    case 'SU':
      return status === 'accepted';
    default:
      return true;
  }
}

function headerOf(inbound: BuildHl7AckOptions['inbound']): MshHeader {
  if (typeof inbound === 'string') {
    return readMsh(inbound);
  }
  return inbound instanceof Hl7Message ? inbound.header : inbound;
}

function statusOf(errors: AckError[], header: MshHeader): Hl7AckStatus {
  if (header.error) {
    return 'rejected';
  }
  const severe = errors.filter((e) => e.severity === 'E');
  if (severe.length === 0) {
    return 'accepted';
  }
  return severe.some((e) => e.transient || (e.hl7Code >= 200 && e.hl7Code <= 203)) ? 'rejected' : 'error';
}

function toAckError(e: LotBridgeError | Hl7AckProblem): AckError {
  const lb = isLotBridgeError(e) ? e : undefined;
  const lbCode = lb ? lb.code : (e as Hl7AckProblem).code;
  const hl7Code = (!lb && (e as Hl7AckProblem).hl7Code) || (lbCode ? hl7ErrorCodeFor(lbCode) : 207);
  const loc = (e.location ?? {}) as Hl7Location;
  const out: AckError = {
    lbCode,
    hl7Code,
    severity: (!lb && (e as Hl7AckProblem).severity) || 'E',
    message: e.message,
    transient: lb?.kind === 'transient',
  };
  // a location names a segment the ERR can point at only when its id is a real segment id
  // (not the "PR" of a cut line); without an occurrence the first one is meant
  if (loc.segment && /^[A-Z][A-Z0-9]{2}$/.test(loc.segment)) {
    out.segment = loc.segment;
    out.occurrence = loc.occurrence ?? 1;
    // MessageLocation.field is text: "18", or "9.2" (field.component) from other writers
    const [f, c] = (loc.field ?? '').split('.').map(Number);
    if (Number.isInteger(f) && f > 0) {
      out.field = f;
      out.repetition = loc.repetition;
      out.component = loc.component ?? (Number.isInteger(c) && c > 0 ? c : undefined);
      out.subcomponent = loc.component !== undefined ? loc.subcomponent : undefined;
    }
  }
  return out;
}

/** ERR-1 (v2.1–2.4), one repetition: segment^sequence^field^code&text&HL70357&our code&message&99LB. */
function errorCodeAndLocation(e: AckError, d: Hl7Delimiters): string {
  const esc = (t: string): string => escapeHl7(t, d);
  const ce = [String(e.hl7Code), esc(HL7_ERROR_CODES[e.hl7Code]), 'HL70357'];
  if (e.lbCode) {
    ce.push(esc(e.lbCode), esc(clipHl7Text(e.message, 200)), '99LB');
  }
  return trimEnd([e.segment ?? '', e.segment ? String(e.occurrence ?? 1) : '', e.field !== undefined ? String(e.field) : '', ce.join(d.subcomponent)]).join(d.component);
}

/** ERR fields (v2.5+): ERR-2 ERL, ERR-3 CWE, ERR-4 severity, ERR-5 our code, ERR-8 user message. */
function errSegmentFields(e: AckError, d: Hl7Delimiters): (string | undefined)[] {
  const esc = (t: string): string => escapeHl7(t, d);
  const fields: (string | undefined)[] = [];
  if (e.segment) {
    const n = (v: number | undefined): string => (v === undefined ? '' : String(v));
    fields[2] = trimEnd([e.segment, n(e.occurrence), n(e.field), n(e.field !== undefined ? e.repetition : undefined), n(e.component), n(e.subcomponent)]).join(d.component);
  }
  fields[3] = [String(e.hl7Code), esc(HL7_ERROR_CODES[e.hl7Code]), 'HL70357'].join(d.component);
  fields[4] = e.severity;
  if (e.lbCode) {
    fields[5] = [esc(e.lbCode), '', '99LB'].join(d.component);
  }
  fields[8] = esc(userMessage(e));
  return fields;
}

function userMessage(e: AckError): string {
  return e.lbCode ? `${e.lbCode}: ${e.message}` : e.message;
}

/** MSH-9 of an ACK: `ACK^<trigger>^ACK` from v2.3.1 (MSH-9.3 structure), `ACK^<trigger>` before, `ACK` in v2.1. */
function messageTypeField(layout: Hl7Version, trigger: string | undefined, d: Hl7Delimiters): string {
  if (layout === '2.1') {
    return 'ACK';
  }
  const t = escapeHl7(trigger ?? '', d);
  return compareHl7Versions(layout, '2.3.1') >= 0 ? ['ACK', t, 'ACK'].join(d.component) : trimEnd(['ACK', t]).join(d.component);
}

/** A segment from fields indexed by field number (MSH: from 1, the separator, so `fields[2]` is MSH-2). */
function segment(name: string, fields: (string | undefined)[], d: Hl7Delimiters, header = false): string {
  const values: string[] = [];
  for (let n = header ? 2 : 1; n < fields.length; n++) {
    values.push(fields[n] ?? '');
  }
  return [name, ...trimEnd(values)].join(d.field);
}

function trimEnd(values: string[]): string[] {
  let end = values.length;
  while (end > 0 && values[end - 1] === '') {
    end -= 1;
  }
  return values.slice(0, end);
}

/** Cuts text to `max` characters, ending in `...` (ASCII: the ACK may be written in ISO-8859-1). */
export function clipHl7Text(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/**
 * True for an acknowledgment (MSH-9.1 `ACK`, or `MCF`, v2.1's delayed acknowledgment): it is
 * stored and routed, but never acknowledged itself: an ACK of an ACK would loop between engines.
 */
export function isHl7Acknowledgment(messageType: string | undefined): boolean {
  const type = messageType?.toUpperCase();
  return type === 'ACK' || type === 'MCF';
}

/**
 * The bytes of an ACK, by the decoder name of the inbound charset (`Hl7Encoding.decoder`):
 * ISO-8859-1, windows-1252 or UTF-8 (every other charset). A character ISO-8859-1 has no byte for becomes `?` (Node's latin1 encoder
 * would keep only the low byte of its code: `…` U+2026 would become `&`, a subcomponent separator).
 */
export function encodeHl7Ack(text: string, decoder: string | undefined): Buffer {
  if (decoder === 'latin1') return Buffer.from(text.replace(/[^\u0000-\u00ff]/gu, '?'), 'latin1');
  if (decoder === 'windows-1252') return encodeWindows1252(text);
  return Buffer.from(text, 'utf8');
}

/** The charset an ACK encoded by {@link encodeHl7Ack} is in, as a MIME charset name. */
export function hl7AckMimeCharset(decoder: string | undefined): string {
  return decoder === 'latin1' ? 'ISO-8859-1' : decoder === 'windows-1252' ? 'windows-1252' : 'UTF-8';
}

/**
 * `YYYYMMDDHHMMSS+ZZZZ` in a zone.
 * @param at - the instant
 * @param zone - IANA zone
 */
export function formatHl7Time(at: Date, zone: string): string {
  const offset = zoneOffsetMinutes(zone, at);
  const local = new Date(Math.floor(at.getTime() / 1000) * 1000 + offset * 60000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const abs = Math.abs(offset);
  return (
    `${p(local.getUTCFullYear(), 4)}${p(local.getUTCMonth() + 1)}${p(local.getUTCDate())}` +
    `${p(local.getUTCHours())}${p(local.getUTCMinutes())}${p(local.getUTCSeconds())}` +
    `${offset < 0 ? '-' : '+'}${p(Math.floor(abs / 60))}${p(abs % 60)}`
  );
}

/** A fresh control id (MSH-10, BHS-11) of 20 characters (ST 20 before v2.7): `LB`, the time in base 36, random hex. */
export function generateControlId(): string {
  return `LB${Date.now().toString(36).toUpperCase().padStart(8, '0').slice(-8)}${pooledRandomBytes(5).toString('hex').toUpperCase()}`;
}

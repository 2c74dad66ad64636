import { LotBridgeError, type ErrorCode } from '../../errors';
import { centuryOf, decodeEdiText, isCalendarDate, isClockTime } from '../edi/edi-text';
import { EDIFACT_CHARSETS, tokenizeEdifact, type EdifactDelimiters, type EdifactRawInterchange, type EdifactSegment } from './edifact-tokenizer';

/** Where a CONTRL points: segment (UCS: tag, position in the message, UNH = 1) and element (UCD). */
export interface EdifactNote {
  tag: string;
  position: number;
  /** 0085 syntax error code (12 invalid value, 13 missing, 14 not supported in this position, 28 references differ, 29 count wrong, 37 invalid type of character …). */
  code: string;
  element?: { position: number; component?: number };
}

/** Why a message is rejected (UCM 0085) and where. */
export interface EdifactIssue {
  code: string;
  note?: EdifactNote;
  error: LotBridgeError;
}

/** A message (UNH … UNT). */
export interface EdifactMessage {
  ref: string;
  type: string;
  version: string;
  release: string;
  agency: string;
  assoc?: string;
  /** Index in `EdifactInterchange.groups` of the UNG group the message stands in. */
  groupIndex?: number;
  segments: EdifactSegment[];
  issues: EdifactIssue[];
}

/** A functional group (UNG … UNE): reference, application sender/recipient (for the CONTRL UCF) and trailer problems. */
export interface EdifactGroup {
  ref: string;
  /** UNG S006 and S007 as sent (id, qualifier). */
  sender: string[];
  recipient: string[];
  issues: EdifactIssue[];
  /** Where the trailer problem sits (UCF 0013 / S011): UNE element 1 (count) or 2 (reference). */
  errorElement?: number;
}

/** An interchange with its envelope checked. */
export interface EdifactInterchange {
  delimiters: EdifactDelimiters;
  hasUna: boolean;
  syntaxId: string;
  syntaxVersion: string;
  senderId: string;
  senderQualifier: string;
  recipientId: string;
  recipientQualifier: string;
  date: string;
  time: string;
  controlRef: string;
  /** UNB 0031 = 1: the sender asks for an acknowledgement. */
  ackRequested: boolean;
  test: boolean;
  messages: EdifactMessage[];
  /** Groups (UNG … UNE) when used. */
  groups: EdifactGroup[];
  /** The interchange itself is bad: answered with UCI action 4 and this code. */
  envelopeError?: { code: string; tag?: string; element?: { position: number; component?: number }; error: LotBridgeError };
  warnings: string[];
  charset: string;
}

function e(code: ErrorCode, message: string, seg: EdifactSegment | undefined, field?: string, details?: Record<string, unknown>): LotBridgeError {
  return new LotBridgeError(code, message, { location: { ...(seg ? { segment: seg.tag, line: seg.line } : {}), ...(field ? { field } : {}) }, ...(details ? { details } : {}) });
}

/**
 * Decodes EDIFACT bytes with the charset of the UNB syntax identifier (UNOA/UNOB ASCII subsets,
 * UNOC ISO-8859-1, UNOD -2, UNOE -5, UNOF -7, …, UNOW/UNOY UTF-8). The UNB header itself is ASCII
 * in every level, so it is read from a Latin-1 view first.
 * @throws LotBridgeError LB_ERR_EDIFACT_SYNTAX for an unknown syntax identifier, LB_ERR_INGEST_ENCODING for bytes invalid in it
 */
export function decodeEdifact(payload: Buffer): { text: string; syntaxId: string; charset: string; warnings: string[] } {
  const view = decodeEdiText(payload, 'latin1').text;
  const warnings: string[] = [];
  let body = view.replace(/^[\s\uFEFF]+/, '');
  let el = '+';
  let comp = ':';
  if (body.startsWith('UNA') && body.length >= 9) {
    comp = body[3];
    el = body[4];
    body = body.slice(9).replace(/^[\s]+/, '');
  } else if (body.startsWith('UNB\x1d')) {
    el = '\x1d';
    comp = '\x1f';
  }
  if (!body.startsWith('UNB')) {
    // tokenizeEdifact reports it with its location
    return { text: view, syntaxId: '', charset: 'latin1', warnings };
  }
  const s001 = body.slice(4).split(el)[0] ?? '';
  const syntaxId = s001.split(comp)[0] ?? '';
  const cs = EDIFACT_CHARSETS[syntaxId];
  if (!cs) {
    throw new LotBridgeError('LB_ERR_EDIFACT_SYNTAX', `UNB syntax identifier ${JSON.stringify(syntaxId)} is not one LotBridge decodes (${Object.keys(EDIFACT_CHARSETS).join(', ')})`, {
      location: { segment: 'UNB', field: 'S001/0001', line: 1 },
    });
  }
  let text: string;
  if (cs.charset === 'latin1' || cs.charset === 'iso-8859-1') {
    text = view;
  } else {
    text = decodeEdiText(payload, cs.charset).text;
  }
  if (syntaxId === 'UNOA' || syntaxId === 'UNOB') {
    const bad = /[^\x00-\x7e]/.exec(text);
    if (bad) {
      const line = text.slice(0, bad.index).split('\n').length;
      throw new LotBridgeError('LB_ERR_EDIFACT_SYNTAX', `character ${JSON.stringify(bad[0])} (line ${line}) is outside syntax level ${syntaxId === 'UNOA' ? 'A' : 'B'}; declare UNOC (ISO-8859-1) or UNOW/UNOY (UTF-8)`, {
        location: { line },
      });
    }
    if (syntaxId === 'UNOA' && /[a-z]/.test(text)) {
      warnings.push('lower-case letters in a UNOA interchange (level A has upper case only); read as sent');
    }
  }
  return { text, syntaxId, charset: cs.charset, warnings };
}

const v = (s: EdifactSegment, n: number, c = 0): string => (s.elements[n]?.[c] ?? '').trim();

/**
 * Checks an interchange's envelope: UNB (syntax id, sender, recipient, date/time, reference), UNZ
 * count and reference, UNG/UNE, each UNH/UNT (segment count, reference) and whether the message
 * type is one LotBridge maps. Never throws for bad input: problems are recorded for the CONTRL.
 * @param raw - the tokenized interchange
 * @param supported - message types that have a mapping (DESADV, ORDERS, …)
 * @param charset - the charset the text was decoded with
 */
export function checkEdifactEnvelope(raw: EdifactRawInterchange, supported: ReadonlySet<string>, charset: string): EdifactInterchange {
  const segs = raw.segments;
  const unb = segs[0];
  const ic: EdifactInterchange = {
    delimiters: raw.delimiters,
    hasUna: raw.hasUna,
    syntaxId: v(unb, 1, 0),
    syntaxVersion: v(unb, 1, 1),
    senderId: v(unb, 2, 0),
    senderQualifier: v(unb, 2, 1),
    recipientId: v(unb, 3, 0),
    recipientQualifier: v(unb, 3, 1),
    date: v(unb, 4, 0),
    time: v(unb, 4, 1),
    controlRef: v(unb, 5),
    ackRequested: v(unb, 9) === '1',
    test: v(unb, 11) === '1',
    messages: [],
    groups: [],
    warnings: [...raw.warnings],
    charset,
  };
  const fail = (code: string, error: LotBridgeError, tag?: string, element?: { position: number; component?: number }): EdifactInterchange => {
    ic.envelopeError ??= { code, ...(tag ? { tag } : {}), ...(element ? { element } : {}), error };
    return ic;
  };
  if (!EDIFACT_CHARSETS[ic.syntaxId]) {
    return fail('2', e('LB_ERR_EDIFACT_SYNTAX', `UNB syntax identifier ${JSON.stringify(ic.syntaxId)} is not supported`, unb, 'S001/0001'), 'UNB', { position: 1, component: 1 });
  }
  if (!/^[1-4]$/.test(ic.syntaxVersion)) {
    return fail('2', e('LB_ERR_EDIFACT_SYNTAX', `UNB syntax version ${JSON.stringify(ic.syntaxVersion)} is not 1 to 4`, unb, 'S001/0002'), 'UNB', { position: 1, component: 2 });
  }
  if (!ic.senderId) {
    return fail('13', e('LB_ERR_EDIFACT_SEGMENT_MISSING', 'UNB S002 0004 (interchange sender) is empty', unb, 'S002/0004'), 'UNB', { position: 2, component: 1 });
  }
  if (!ic.recipientId) {
    return fail('13', e('LB_ERR_EDIFACT_SEGMENT_MISSING', 'UNB S003 0010 (interchange recipient) is empty', unb, 'S003/0010'), 'UNB', { position: 3, component: 1 });
  }
  const dateOk = (ic.date.length === 6 && isCalendarDate(centuryOf(ic.date))) || (ic.date.length === 8 && isCalendarDate(ic.date));
  if (!dateOk || !isClockTime(ic.time)) {
    return fail('12', e('LB_ERR_EDIFACT_DATE', `UNB S004 date/time ${JSON.stringify(`${ic.date}:${ic.time}`)} is not a valid YYMMDD:HHMM`, unb, 'S004'), 'UNB', { position: 4, component: dateOk ? 2 : 1 });
  }
  if (!ic.controlRef) {
    return fail('13', e('LB_ERR_EDIFACT_SEGMENT_MISSING', 'UNB 0020 (interchange control reference) is empty', unb, '0020'), 'UNB', { position: 5 });
  }
  const last = segs[segs.length - 1];
  if (raw.truncated || last.tag !== 'UNZ') {
    return fail('13', e('LB_ERR_EDIFACT_TRUNCATED', `interchange ${ic.controlRef} ends without its UNZ trailer (the file was cut, or the segment terminator ${JSON.stringify(raw.delimiters.segment)} is wrong)`, last), 'UNZ');
  }
  let msg: EdifactMessage | undefined;
  let group: (EdifactGroup & { count: number }) | undefined;
  let usedGroups = false;
  const closeMsg = (at: EdifactSegment, unt?: EdifactSegment): void => {
    if (!msg) return;
    if (!unt) {
      msg.issues.push({ code: '13', note: { tag: 'UNT', position: msg.segments.length + 1, code: '13' }, error: e('LB_ERR_EDIFACT_TRUNCATED', `message ${msg.ref} (${msg.type}) has no UNT before ${at.tag} (line ${at.line})`, at) });
    } else {
      msg.segments.push(unt);
      const count = v(unt, 1);
      const ref = v(unt, 2);
      if (!/^\d+$/.test(count) || Number(count) !== msg.segments.length) {
        msg.issues.push({
          code: '29', note: { tag: 'UNT', position: msg.segments.length, code: '29', element: { position: 1 } },
          error: e('LB_ERR_EDIFACT_UNT_MISMATCH', `UNT 0074 says ${JSON.stringify(count)} segments but message ${msg.ref} has ${msg.segments.length} (UNH to UNT)`, unt, '0074', { expected: msg.segments.length, got: count }),
        });
      }
      if (ref !== msg.ref) {
        msg.issues.push({
          code: '28', note: { tag: 'UNT', position: msg.segments.length, code: '28', element: { position: 2 } },
          error: e('LB_ERR_EDIFACT_UNT_MISMATCH', `UNT 0062 reference ${JSON.stringify(ref)} does not match UNH ${JSON.stringify(msg.ref)}`, unt, '0062', { expected: msg.ref, got: ref }),
        });
      }
    }
    ic.messages.push(msg);
    if (group) group.count++;
    msg = undefined;
  };
  /** A group that ends (next UNG, or UNZ) without its UNE: kept, with code 13 (UNE missing) for its messages. */
  const closeOpenGroup = (at: EdifactSegment): void => {
    if (!group) return;
    group.issues.push({ code: '13', error: e('LB_ERR_EDIFACT_TRUNCATED', `group ${group.ref} has no UNE before ${at.tag} (line ${at.line})`, at) });
    ic.groups.push({ ref: group.ref, sender: group.sender, recipient: group.recipient, issues: group.issues });
    group = undefined;
  };
  for (let k = 1; k < segs.length - 1; k++) {
    const s = segs[k];
    switch (s.tag) {
      case 'UNG':
        if (msg) closeMsg(s);
        closeOpenGroup(s);
        usedGroups = true;
        group = { ref: v(s, 5), sender: (s.elements[2] ?? []).map((c) => c.trim()), recipient: (s.elements[3] ?? []).map((c) => c.trim()), count: 0, issues: [] };
        break;
      case 'UNE':
        if (msg) closeMsg(s);
        if (!group) return fail('14', e('LB_ERR_EDIFACT_UNE_MISMATCH', `UNE at line ${s.line} closes no group`, s), 'UNE');
        if (v(s, 2) !== group.ref) {
          group.issues.push({ code: '28', error: e('LB_ERR_EDIFACT_UNE_MISMATCH', `UNE 0048 ${JSON.stringify(v(s, 2))} does not match UNG ${JSON.stringify(group.ref)}`, s, '0048', { expected: group.ref, got: v(s, 2) }) });
          group.errorElement ??= 2;
        }
        if (Number(v(s, 1)) !== group.count || !/^\d+$/.test(v(s, 1))) {
          group.issues.push({ code: '29', error: e('LB_ERR_EDIFACT_UNE_MISMATCH', `UNE 0060 says ${JSON.stringify(v(s, 1))} messages but the group ${group.ref} holds ${group.count}`, s, '0060', { expected: group.count, got: v(s, 1) }) });
          group.errorElement ??= 1;
        }
        ic.groups.push({ ref: group.ref, sender: group.sender, recipient: group.recipient, issues: group.issues, ...(group.errorElement ? { errorElement: group.errorElement } : {}) });
        group = undefined;
        break;
      case 'UNH': {
        if (msg) closeMsg(s);
        const type = v(s, 2, 0);
        msg = { ref: v(s, 1), type, version: v(s, 2, 1), release: v(s, 2, 2), agency: v(s, 2, 3), ...(v(s, 2, 4) ? { assoc: v(s, 2, 4) } : {}), ...(group ? { groupIndex: ic.groups.length } : {}), segments: [s], issues: [] };
        if (!msg.ref) {
          msg.issues.push({ code: '13', note: { tag: 'UNH', position: 1, code: '13', element: { position: 1 } }, error: e('LB_ERR_EDIFACT_SEGMENT_MISSING', 'UNH 0062 (message reference) is empty', s, '0062') });
        } else if (ic.messages.some((m) => m.ref === msg?.ref)) {
          // 0062 identifies the message in the CONTRL (UCM): it must be unique in the interchange
          msg.issues.push({ code: '26', note: { tag: 'UNH', position: 1, code: '26', element: { position: 1 } }, error: e('LB_ERR_EDIFACT_UNT_MISMATCH', `UNH 0062 message reference ${JSON.stringify(msg.ref)} (line ${s.line}) is used by an earlier message of interchange ${ic.controlRef}`, s, '0062') });
        }
        if (!supported.has(type)) {
          msg.issues.push({ code: '14', note: { tag: 'UNH', position: 1, code: '14', element: { position: 2, component: 1 } }, error: e('LB_ERR_EDIFACT_MESSAGE_UNSUPPORTED', `message type ${JSON.stringify(type)} is not one LotBridge maps (${[...supported].join(', ')})`, s, 'S009/0065') });
        }
        break;
      }
      case 'UNT':
        if (!msg) return fail('14', e('LB_ERR_EDIFACT_TRUNCATED', `UNT at line ${s.line} closes no message`, s), 'UNT');
        closeMsg(s, s);
        break;
      default:
        // ISO 9735 0085 code 33: invalid occurrence outside message, package or group
        if (!msg) return fail('33', e('LB_ERR_EDIFACT_SEGMENT_MISSING', `segment ${s.tag} at line ${s.line} stands outside a message (no UNH before it)`, s), s.tag);
        msg.segments.push(s);
    }
  }
  if (msg) closeMsg(last);
  closeOpenGroup(last);
  const unz = last;
  if (v(unz, 2) !== ic.controlRef) {
    return fail('28', e('LB_ERR_EDIFACT_UNZ_MISMATCH', `UNZ 0020 ${JSON.stringify(v(unz, 2))} does not match UNB 0020 ${JSON.stringify(ic.controlRef)}`, unz, '0020', { expected: ic.controlRef, got: v(unz, 2) }), 'UNZ', { position: 2 });
  }
  const expected = usedGroups ? ic.groups.length : ic.messages.length;
  if (!/^\d+$/.test(v(unz, 1)) || Number(v(unz, 1)) !== expected) {
    return fail('29', e('LB_ERR_EDIFACT_UNZ_MISMATCH', `UNZ 0036 says ${JSON.stringify(v(unz, 1))} ${usedGroups ? 'groups' : 'messages'} but the interchange holds ${expected}`, unz, '0036', { expected, got: v(unz, 1) }), 'UNZ', { position: 1 });
  }
  const loose = usedGroups ? ic.messages.find((m) => m.groupIndex === undefined) : undefined;
  if (loose) {
    // ISO 9735 0085 code 30: functional groups and messages outside groups mixed in one interchange
    return fail('30', e('LB_ERR_EDIFACT_UNE_MISMATCH', `message ${loose.ref} (line ${loose.segments[0].line}) stands outside any UNG group, but interchange ${ic.controlRef} uses groups: groups and messages mixed`, loose.segments[0], '0062'), 'UNH');
  }
  if (ic.messages.length === 0) {
    return fail('32', e('LB_ERR_EDIFACT_SEGMENT_MISSING', `interchange ${ic.controlRef} holds no message`, unz), 'UNZ');
  }
  ic.groups.forEach((g, gi) => {
    if (g.issues.length > 0) {
      // a bad group trailer rejects its own messages (not those of the other groups)
      for (const m of ic.messages) if (m.groupIndex === gi && m.issues.length === 0) m.issues.push({ code: g.issues[0].code, error: g.issues[0].error });
    }
  });
  return ic;
}

/** Reads the interchanges of a body: decoded with their syntax level's charset, tokenized. */
export function scanEdifact(payload: Buffer): { interchanges: EdifactRawInterchange[]; text: string; syntaxId: string; charset: string; warnings: string[] } {
  const d = decodeEdifact(payload);
  return { interchanges: tokenizeEdifact(d.text), text: d.text, syntaxId: d.syntaxId, charset: d.charset, warnings: d.warnings };
}

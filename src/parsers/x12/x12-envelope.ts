import { LotBridgeError, type ErrorCode } from '../../errors';
import { isCalendarDate, isClockTime, centuryOf } from '../edi/edi-text';
import { ISA_ELEMENT_WIDTHS, type X12Delimiters, type X12RawInterchange, type X12Segment } from './x12-tokenizer';

/** An error inside a data element (997 AK4 / 999 IK4). */
export interface X12ElementNote {
  /** Element position in the segment (1-based). */
  position: number;
  /** Component position inside a composite, when the error sits in one. */
  component?: number;
  /** AK403/IK403 code: 1 mandatory missing, 2 conditional missing, 3 too many, 4 too short, 5 too long, 6 invalid character, 7 invalid code value, 8 invalid date, 9 invalid time, 10 exclusion violated. */
  code: string;
  /** Copy of the bad data element (AK404), when there is one. */
  value?: string;
}

/** An error at a segment (997 AK3 / 999 IK3). */
export interface X12SegmentNote {
  segmentId: string;
  /** Position in the transaction set, ST = 1. */
  position: number;
  /** Loop id (e.g. HL) when known. */
  loopId?: string;
  /** AK304/IK304 code: 1 unrecognized segment id, 2 unexpected segment, 3 mandatory segment missing, 4 loop occurs over maximum, 5 segment exceeds maximum use, 6 not in defined set, 7 not in proper sequence, 8 segment has data element errors. */
  code: string;
  elements: X12ElementNote[];
}

/** Why a transaction set is rejected: AK5/IK5 code, where, and the LotBridge error. */
export interface X12SetIssue {
  /** AK502/IK502 code: 1 not supported, 2 trailer missing, 3 control numbers differ, 4 segment count wrong, 5 segments in error, 6 bad set id, 7 bad control number. */
  setCode: string;
  segment?: X12SegmentNote;
  error: LotBridgeError;
}

/** A transaction set (ST … SE). */
export interface X12Set {
  id: string;
  controlNumber: string;
  /** ST03 implementation convention reference (999 AK203). */
  implementationRef?: string;
  /** ST … SE, both included. */
  segments: X12Segment[];
  issues: X12SetIssue[];
}

/** A functional group (GS … GE). */
export interface X12Group {
  functionalId: string;
  senderCode: string;
  receiverCode: string;
  date: string;
  time: string;
  controlNumber: string;
  agency: string;
  /** GS08, e.g. 005010 or 004010. */
  version: string;
  gs: X12Segment;
  sets: X12Set[];
  /** GE01 as the partner sent it (997/999 AK902), when the group has a GE. */
  declaredSets?: string;
  /** Group-level problems (997 AK905…: 3 trailer missing, 4 control numbers differ, 5 set count wrong). */
  issues: Array<{ code: string; error: LotBridgeError }>;
}

/** An interchange with its envelope checked. */
export interface X12Interchange {
  delimiters: X12Delimiters;
  senderQualifier: string;
  senderId: string;
  receiverQualifier: string;
  receiverId: string;
  /** ISA09 YYMMDD and ISA10 HHMM. */
  date: string;
  time: string;
  /** ISA12, e.g. 00501. */
  version: string;
  /** ISA13, nine digits as sent (leading zeros kept). */
  controlNumber: string;
  /** ISA14 = 1: the sender asks for a TA1. */
  ackRequested: boolean;
  /** ISA15: P production, T test, I information. */
  usage: string;
  groups: X12Group[];
  /** TA1 segments the partner sent (interchange acknowledgements of ours): [TA101 control number, TA104 code, TA105 note]. */
  ta1s: Array<{ controlNumber: string; code: string; note: string }>;
  /** Set when the envelope itself is bad: the interchange is answered with a TA1 only (TA105 note code). */
  envelopeError?: { ta1: string; error: LotBridgeError };
  warnings: string[];
  start: number;
  end: number;
}

function err(code: ErrorCode, message: string, seg: X12Segment | undefined, field: string | undefined, details?: Record<string, unknown>): LotBridgeError {
  return new LotBridgeError(code, message, {
    location: { ...(seg ? { segment: seg.id, line: seg.line } : {}), ...(field ? { field } : {}) },
    ...(details ? { details } : {}),
  });
}

/** Checks of each ISA element: the TA105 note code a bad value gets. */
const ISA_CHECKS: Array<{ n: number; ta1: string; ok: (v: string) => boolean; what: string }> = [
  { n: 5, ta1: '005', ok: (v) => /^[A-Z0-9]{2}$/.test(v), what: 'sender id qualifier' },
  { n: 6, ta1: '006', ok: (v) => v.trim() !== '', what: 'sender id' },
  { n: 7, ta1: '007', ok: (v) => /^[A-Z0-9]{2}$/.test(v), what: 'receiver id qualifier' },
  { n: 8, ta1: '008', ok: (v) => v.trim() !== '', what: 'receiver id' },
  { n: 9, ta1: '014', ok: (v) => /^\d{6}$/.test(v) && isCalendarDate(centuryOf(v)), what: 'interchange date (YYMMDD)' },
  { n: 10, ta1: '015', ok: (v) => /^\d{4}$/.test(v) && isClockTime(v), what: 'interchange time (HHMM)' },
  { n: 12, ta1: '017', ok: (v) => /^\d{5}$/.test(v), what: 'interchange version' },
  { n: 13, ta1: '018', ok: (v) => /^\d{9}$/.test(v), what: 'interchange control number (9 digits)' },
  { n: 14, ta1: '019', ok: (v) => v === '0' || v === '1', what: 'acknowledgment requested (0 or 1)' },
  { n: 15, ta1: '020', ok: (v) => v === 'P' || v === 'T' || v === 'I', what: 'usage indicator (P, T or I)' },
];

/**
 * Checks an interchange's envelope: the ISA (106 characters, element widths and values), IEA count
 * and control number, each GS/GE (set count, control number) and ST/SE (segment count, control
 * number), and whether each set's type is one LotBridge maps. Never throws for bad input: problems
 * are recorded on the interchange (a TA1 note), group (AK9 code) or set (AK5 code).
 * @param raw - the tokenized interchange
 * @param supported - transaction set ids that have a mapping (e.g. 856, 850)
 */
export function checkX12Envelope(raw: X12RawInterchange, supported: ReadonlySet<string>): X12Interchange {
  const isaSeg = raw.segments[0];
  const e = isaSeg.elements;
  const v = (n: number): string => (e[n] ?? '').trim();
  const ic: X12Interchange = {
    delimiters: raw.delimiters,
    senderQualifier: v(5),
    senderId: v(6),
    receiverQualifier: v(7),
    receiverId: v(8),
    date: v(9),
    time: v(10),
    version: v(12),
    controlNumber: v(13),
    ackRequested: v(14) === '1',
    usage: v(15),
    groups: [],
    ta1s: [],
    warnings: [...raw.warnings],
    start: raw.start,
    end: raw.end,
  };
  const fail = (ta1: string, error: LotBridgeError): X12Interchange => {
    ic.envelopeError ??= { ta1, error };
    return ic;
  };
  if (raw.fatal) {
    return fail(String(raw.fatal.details?.ta1 ?? '022'), raw.fatal);
  }
  if (raw.isaLength !== 106) {
    const widths = ISA_ELEMENT_WIDTHS;
    const off = widths.findIndex((w, k) => (e[k + 1] ?? '').length !== w);
    return fail(
      '022',
      err('LB_ERR_X12_ISA_LENGTH', `the ISA is ${raw.isaLength} characters long, not 106${off >= 0 ? `: ISA${String(off + 1).padStart(2, '0')} is ${(e[off + 1] ?? '').length} characters wide, not ${widths[off]}` : ''}`, isaSeg, off >= 0 ? `ISA${String(off + 1).padStart(2, '0')}` : undefined, { isaLength: raw.isaLength }),
    );
  }
  {
    // 106 in all is not enough: a short element and a long one can add up to it (each width is fixed)
    const off = ISA_ELEMENT_WIDTHS.findIndex((w, k) => (e[k + 1] ?? '').length !== w);
    if (off >= 0) {
      const name = `ISA${String(off + 1).padStart(2, '0')}`;
      return fail('022', err('LB_ERR_X12_ISA_LENGTH', `${name} is ${(e[off + 1] ?? '').length} characters wide, not ${ISA_ELEMENT_WIDTHS[off]} (the ISA is fixed-width; another element makes up the 106 characters)`, isaSeg, name, { isaLength: raw.isaLength }));
    }
  }
  for (const c of ISA_CHECKS) {
    const value = e[c.n] ?? '';
    if (!c.ok(value.trim() === '' ? value.trim() : c.n === 6 || c.n === 8 ? value : value.trim())) {
      return fail(c.ta1, err('LB_ERR_X12_ISA_INVALID', `ISA${String(c.n).padStart(2, '0')} ${JSON.stringify(value)} is not a valid ${c.what}`, isaSeg, `ISA${String(c.n).padStart(2, '0')}`));
    }
  }
  const segs = raw.segments;
  const last = segs[segs.length - 1];
  if (raw.truncated || last.id !== 'IEA') {
    return fail('023', err('LB_ERR_X12_TRUNCATED', `the interchange ${ic.controlNumber} ends without its IEA trailer (the file was cut or the segment terminator ${JSON.stringify(raw.delimiters.segment)} is wrong)`, last, undefined));
  }

  let group: X12Group | undefined;
  let set: X12Set | undefined;
  const closeSet = (at: X12Segment, trailer?: X12Segment): void => {
    if (!set) return;
    if (!trailer) {
      set.issues.push({ setCode: '2', error: err('LB_ERR_X12_SE_MISMATCH', `transaction set ${set.id} ${set.controlNumber} has no SE trailer before ${at.id} (line ${at.line})`, at, undefined) });
    } else {
      set.segments.push(trailer);
      const count = trailer.elements[1] ?? '';
      const ctl = (trailer.elements[2] ?? '').trim();
      if (!/^\d+$/.test(count.trim()) || Number(count) !== set.segments.length) {
        set.issues.push({
          setCode: '4',
          error: err('LB_ERR_X12_SE_MISMATCH', `SE01 says ${JSON.stringify(count)} segments but transaction set ${set.id} ${set.controlNumber} has ${set.segments.length} (ST to SE)`, trailer, 'SE01', { expected: set.segments.length, got: count }),
        });
      }
      if (ctl !== set.controlNumber) {
        set.issues.push({
          setCode: '3',
          error: err('LB_ERR_X12_SE_MISMATCH', `SE02 control number ${JSON.stringify(ctl)} does not match ST02 ${JSON.stringify(set.controlNumber)}`, trailer, 'SE02', { expected: set.controlNumber, got: ctl }),
        });
      }
    }
    group?.sets.push(set);
    set = undefined;
  };
  const closeGroup = (at: X12Segment, trailer?: X12Segment): void => {
    if (!group) return;
    if (set) closeSet(at);
    if (!trailer) {
      group.issues.push({ code: '3', error: err('LB_ERR_X12_GE_MISMATCH', `functional group ${group.controlNumber} has no GE trailer before ${at.id} (line ${at.line})`, at, undefined) });
    } else {
      const count = (trailer.elements[1] ?? '').trim();
      const ctl = (trailer.elements[2] ?? '').trim();
      group.declaredSets = count;
      if (ctl !== group.controlNumber) {
        group.issues.push({ code: '4', error: err('LB_ERR_X12_GE_MISMATCH', `GE02 control number ${JSON.stringify(ctl)} does not match GS06 ${JSON.stringify(group.controlNumber)}`, trailer, 'GE02', { expected: group.controlNumber, got: ctl }) });
      }
      if (!/^\d+$/.test(count) || Number(count) !== group.sets.length) {
        group.issues.push({ code: '5', error: err('LB_ERR_X12_GE_MISMATCH', `GE01 says ${JSON.stringify(count)} transaction sets but group ${group.controlNumber} holds ${group.sets.length}`, trailer, 'GE01', { expected: group.sets.length, got: count }) });
      }
    }
    ic.groups.push(group);
    group = undefined;
  };

  for (let k = 1; k < segs.length - 1; k++) {
    const s = segs[k];
    switch (s.id) {
      case 'GS': {
        if (group) closeGroup(s);
        const g = (n: number): string => (s.elements[n] ?? '').trim();
        group = { functionalId: g(1), senderCode: g(2), receiverCode: g(3), date: g(4), time: g(5), controlNumber: g(6), agency: g(7), version: g(8), gs: s, sets: [], issues: [] };
        if (!/^\d{1,9}$/.test(group.controlNumber)) {
          group.issues.push({ code: '6', error: err('LB_ERR_X12_GE_MISMATCH', `GS06 group control number ${JSON.stringify(group.controlNumber)} is not 1-9 digits`, s, 'GS06') });
        }
        break;
      }
      case 'GE':
        if (!group) {
          return fail('024', err('LB_ERR_X12_STRUCTURE', `GE at line ${s.line} closes no functional group`, s, undefined));
        }
        closeGroup(s, s);
        break;
      case 'ST': {
        if (!group) {
          return fail('024', err('LB_ERR_X12_STRUCTURE', `ST at line ${s.line} stands outside a functional group (no GS before it)`, s, undefined));
        }
        if (set) closeSet(s);
        const id = (s.elements[1] ?? '').trim();
        const ctl = (s.elements[2] ?? '').trim();
        set = { id, controlNumber: ctl, ...(s.elements[3] ? { implementationRef: s.elements[3].trim() } : {}), segments: [s], issues: [] };
        if (!/^\d{3}$/.test(id)) {
          set.issues.push({ setCode: '6', error: err('LB_ERR_X12_SET_UNSUPPORTED', `ST01 ${JSON.stringify(id)} is not a transaction set id`, s, 'ST01') });
        } else if (!supported.has(id)) {
          set.issues.push({ setCode: '1', error: err('LB_ERR_X12_SET_UNSUPPORTED', `transaction set ${id} is not one LotBridge maps (${[...supported].join(', ')})`, s, 'ST01') });
        }
        if (!/^[A-Za-z0-9]{4,9}$/.test(ctl)) {
          set.issues.push({ setCode: '7', error: err('LB_ERR_X12_SE_MISMATCH', `ST02 control number ${JSON.stringify(ctl)} is not 4-9 characters`, s, 'ST02') });
        } else if (group.sets.some((o) => o.controlNumber === ctl)) {
          set.issues.push({ setCode: '23', error: err('LB_ERR_X12_SE_MISMATCH', `ST02 control number ${ctl} is used twice in group ${group.controlNumber}`, s, 'ST02') });
        }
        break;
      }
      case 'SE':
        if (!set) {
          return fail('024', err('LB_ERR_X12_STRUCTURE', `SE at line ${s.line} closes no transaction set`, s, undefined));
        }
        closeSet(s, s);
        break;
      case 'TA1':
        // a TA1 from the partner for one of our interchanges
        ic.ta1s.push({ controlNumber: (s.elements[1] ?? '').trim(), code: (s.elements[4] ?? '').trim(), note: (s.elements[5] ?? '').trim() });
        break;
      default:
        if (!set) {
          return fail('024', err('LB_ERR_X12_STRUCTURE', `segment ${s.id} at line ${s.line} stands outside a transaction set`, s, undefined));
        }
        set.segments.push(s);
    }
  }
  if (group) closeGroup(last);
  const iea = last;
  const count = (iea.elements[1] ?? '').trim();
  const ctl = (iea.elements[2] ?? '').trim();
  if (ctl !== ic.controlNumber) {
    return fail('001', err('LB_ERR_X12_IEA_MISMATCH', `IEA02 control number ${JSON.stringify(ctl)} does not match ISA13 ${JSON.stringify(ic.controlNumber)}`, iea, 'IEA02', { expected: ic.controlNumber, got: ctl }));
  }
  if (!/^\d+$/.test(count) || Number(count) !== ic.groups.length) {
    return fail('021', err('LB_ERR_X12_IEA_MISMATCH', `IEA01 says ${JSON.stringify(count)} functional groups but the interchange holds ${ic.groups.length}`, iea, 'IEA01', { expected: ic.groups.length, got: count }));
  }
  if (ic.groups.length === 0 && ic.ta1s.length === 0) {
    return fail('024', err('LB_ERR_X12_STRUCTURE', `interchange ${ic.controlNumber} holds no functional group`, iea, undefined));
  }
  return ic;
}

/** The status of a set: accepted when it has no issue. */
export function setAccepted(s: X12Set): boolean {
  return s.issues.length === 0;
}

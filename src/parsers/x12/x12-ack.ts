import type { X12Interchange, X12Set } from './x12-envelope';
import type { X12Delimiters } from './x12-tokenizer';

/** What an acknowledgement says overall (the `ack.status` of the inbound message). */
export type AckStatus = 'accepted' | 'rejected' | 'partial';

/** The acknowledgement built for one inbound interchange. */
export interface BuiltAck {
  /** 997 / 999 (with a TA1 inside when ISA14 asked for one), or TA1 alone for a bad envelope. */
  type: '997' | '999' | 'TA1' | 'CONTRL';
  status: AckStatus;
  raw: string;
  /** ISA13 of the acknowledgement, nine digits. */
  controlNumber: string;
}

export interface X12AckOptions {
  type: '997' | '999';
  /** Our outbound interchange and group control numbers (allocated per partner). */
  interchangeControlNumber: number;
  groupControlNumber: number;
  now: Date;
  /** Separators to write with (the partner's; default: the inbound interchange's). */
  delimiters?: Partial<X12Delimiters>;
  /** Written after each segment terminator (default "\n"). */
  segmentSuffix?: string;
}

const pad = (v: string, n: number): string => (v.length >= n ? v.slice(0, n) : v + ' '.repeat(n - v.length));
const two = (n: number): string => String(n).padStart(2, '0');

function stamp(now: Date): { yymmdd: string; ccyymmdd: string; hhmm: string } {
  const ccyymmdd = `${now.getUTCFullYear()}${two(now.getUTCMonth() + 1)}${two(now.getUTCDate())}`;
  return { ccyymmdd, yymmdd: ccyymmdd.slice(2), hhmm: `${two(now.getUTCHours())}${two(now.getUTCMinutes())}` };
}

/** An X12 writer with one set of separators; values are cleaned of separator characters. */
export class X12Writer {
  private readonly out: string[] = [];
  constructor(
    readonly d: X12Delimiters,
    private readonly suffix = '\n',
  ) {}

  clean(v: string): string {
    let s = v;
    for (const c of [this.d.element, this.d.component, this.d.segment, this.d.repetition ?? '']) {
      if (c) s = s.split(c).join(' ');
    }
    return s;
  }

  /** Writes a segment; trailing empty elements are dropped. */
  seg(id: string, ...elements: Array<string | undefined>): void {
    const els = elements.map((e) => this.clean(e ?? ''));
    while (els.length > 0 && els[els.length - 1] === '') els.pop();
    this.out.push([id, ...els].join(this.d.element) + this.d.segment + this.suffix);
  }

  /** Writes a composite (components joined by the component separator). */
  composite(...parts: Array<string | undefined>): string {
    const p = parts.map((x) => this.clean(x ?? ''));
    while (p.length > 0 && p[p.length - 1] === '') p.pop();
    return p.join(this.d.component);
  }

  /** Writes the ISA (fixed width) with these identities. */
  isa(o: { senderQualifier: string; senderId: string; receiverQualifier: string; receiverId: string; version: string; controlNumber: string; usage: string; ackRequested?: boolean; now: Date }): void {
    const t = stamp(o.now);
    const rep = o.version >= '00402' ? (this.d.repetition ?? '^') : 'U';
    const e = [
      '00', pad('', 10), '00', pad('', 10), pad(o.senderQualifier, 2), pad(o.senderId, 15), pad(o.receiverQualifier, 2), pad(o.receiverId, 15),
      t.yymmdd, t.hhmm, rep, pad(o.version, 5), o.controlNumber, o.ackRequested ? '1' : '0', o.usage || 'P', this.d.component,
    ];
    this.out.push(['ISA', ...e].join(this.d.element) + this.d.segment + this.suffix);
  }

  count(): number {
    return this.out.length;
  }

  text(): string {
    return this.out.join('');
  }
}

function setIssues(s: X12Set): string[] {
  return [...new Set(s.issues.map((i) => i.setCode))].slice(0, 5);
}

/**
 * Builds the acknowledgement of one inbound interchange: a TA1 alone when its envelope is bad;
 * else a 997 or 999 per functional group (AK1/AK2/AK3/AK4/AK5/AK9 or IK3/IK4/IK5), preceded by a
 * TA1 (A, 000) when ISA14 asked for one. Our identities are the inbound receiver's; the partner's
 * are the inbound sender's.
 */
export function buildX12Ack(ic: X12Interchange, o: X12AckOptions): BuiltAck {
  const d: X12Delimiters = {
    element: o.delimiters?.element ?? ic.delimiters.element,
    component: o.delimiters?.component ?? ic.delimiters.component,
    repetition: o.delimiters?.repetition ?? ic.delimiters.repetition ?? '^',
    segment: o.delimiters?.segment ?? ic.delimiters.segment,
  };
  const w = new X12Writer(d, o.segmentSuffix ?? '\n');
  const controlNumber = String(o.interchangeControlNumber).padStart(9, '0');
  const version = /^\d{5}$/.test(ic.version) ? ic.version : '00501';
  const t = stamp(o.now);
  w.isa({
    senderQualifier: ic.receiverQualifier || 'ZZ', senderId: ic.receiverId, receiverQualifier: ic.senderQualifier || 'ZZ', receiverId: ic.senderId,
    version, controlNumber, usage: ic.usage, now: o.now,
  });
  const ta1 = (code: 'A' | 'E' | 'R', note: string): void => w.seg('TA1', ic.controlNumber, ic.date, ic.time, code, note);
  if (ic.envelopeError) {
    ta1('R', ic.envelopeError.ta1);
    w.seg('IEA', '0', controlNumber);
    return { type: 'TA1', status: 'rejected', raw: w.text(), controlNumber };
  }
  if (ic.ackRequested) {
    ta1('A', '000');
  }
  const is999 = o.type === '999';
  const gsVersion = is999 ? '005010X231A1' : (ic.groups[0]?.version || (version >= '00501' ? '005010' : '004010'));
  const gcn = String(o.groupControlNumber);
  w.seg('GS', 'FA', ic.groups[0]?.receiverCode || ic.receiverId, ic.groups[0]?.senderCode || ic.senderId, t.ccyymmdd, t.hhmm, gcn, 'X', gsVersion);
  let allA = true;
  let allR = true;
  ic.groups.forEach((g, gi) => {
    const start = w.count();
    const stCtl = String(gi + 1).padStart(4, '0');
    w.seg('ST', o.type, stCtl, is999 ? '005010X231A1' : undefined);
    w.seg('AK1', g.functionalId, g.controlNumber, version >= '00501' ? g.version : undefined);
    let accepted = 0;
    for (const s of g.sets) {
      w.seg('AK2', s.id, s.controlNumber, is999 ? s.implementationRef : undefined);
      for (const issue of s.issues) {
        const n = issue.segment;
        if (!n) continue;
        w.seg(is999 ? 'IK3' : 'AK3', n.segmentId, String(n.position), n.loopId, n.code);
        for (const el of n.elements) {
          w.seg(is999 ? 'IK4' : 'AK4', el.component ? w.composite(String(el.position), String(el.component)) : String(el.position), undefined, el.code, el.value);
        }
      }
      const codes = setIssues(s);
      if (codes.length === 0) accepted++;
      w.seg(is999 ? 'IK5' : 'AK5', codes.length === 0 ? 'A' : 'R', ...codes);
    }
    const groupCodes = [...new Set(g.issues.map((i) => i.code))].slice(0, 5);
    const status = groupCodes.length > 0 || accepted === 0 ? 'R' : accepted === g.sets.length ? 'A' : 'P';
    if (status !== 'A') allA = false;
    if (status !== 'R') allR = false;
    // AK902 = the GE01 the partner sent, AK903 = the sets received, AK904 = the sets accepted
    const included = g.declaredSets !== undefined && /^\d{1,6}$/.test(g.declaredSets) ? String(Number(g.declaredSets)) : String(g.sets.length);
    w.seg('AK9', status, included, String(g.sets.length), String(groupCodes.length > 0 ? 0 : accepted), ...groupCodes);
    w.seg('SE', String(w.count() - start + 1), stCtl);
  });
  w.seg('GE', String(ic.groups.length), gcn);
  w.seg('IEA', '1', controlNumber);
  return { type: o.type, status: allA ? 'accepted' : allR ? 'rejected' : 'partial', raw: w.text(), controlNumber };
}

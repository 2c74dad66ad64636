import type { BuiltAck } from '../x12/x12-ack';
import type { EdifactInterchange } from './edifact-envelope';
import { DEFAULT_DELIMITERS, type EdifactDelimiters } from './edifact-tokenizer';

/** An EDIFACT writer: escapes service characters with the release character. */
export class EdifactWriter {
  private readonly out: string[] = [];
  constructor(
    readonly d: EdifactDelimiters,
    private readonly suffix = '\n',
  ) {}

  esc(v: string): string {
    const specials = [this.d.release, this.d.component, this.d.element, this.d.segment, this.d.repetition].filter((c): c is string => !!c);
    let s = '';
    for (const c of v) {
      if (specials.includes(c)) {
        s += this.d.release ? this.d.release + c : ' ';
      } else s += c;
    }
    return s;
  }

  /** A segment from elements, each a string or its components; trailing empties dropped. */
  seg(tag: string, ...elements: Array<string | Array<string | undefined> | undefined>): void {
    const els = elements.map((e) => {
      if (Array.isArray(e)) {
        const comps = e.map((c) => this.esc(c ?? ''));
        while (comps.length > 0 && comps[comps.length - 1] === '') comps.pop();
        return comps.join(this.d.component);
      }
      return this.esc(e ?? '');
    });
    while (els.length > 0 && els[els.length - 1] === '') els.pop();
    this.out.push([tag, ...els].join(this.d.element) + this.d.segment + this.suffix);
  }

  una(): void {
    this.out.unshift(`UNA${this.d.component}${this.d.element}${this.d.decimal}${this.d.release ?? ' '}${this.d.repetition ?? ' '}${this.d.segment}${this.suffix}`);
  }

  count(): number {
    return this.out.length;
  }

  text(): string {
    return this.out.join('');
  }
}

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * Builds the CONTRL for one inbound interchange: UCI (action 7 acknowledged, or 4 rejected with the
 * syntax error code and, where known, the segment and element), a UCF per UNG group (action 7, or 4
 * with the UNE code), a UCM per message (action 7 or 4 with its code; under its group's UCF) and
 * UCS/UCD naming the segment position and element of each error. Our identity is
 * the inbound recipient; the partner's the inbound sender.
 * @param ic - the checked interchange
 * @param o - our control reference and the time
 */
export function buildContrl(ic: EdifactInterchange, o: { controlRef: number; now: Date; delimiters?: Partial<EdifactDelimiters>; segmentSuffix?: string }): BuiltAck {
  const d: EdifactDelimiters = { ...DEFAULT_DELIMITERS, ...ic.delimiters, ...(o.delimiters ?? {}) };
  if (d.segment === '\x1c') Object.assign(d, DEFAULT_DELIMITERS);
  const w = new EdifactWriter(d, o.segmentSuffix ?? '\n');
  const ref = String(o.controlRef).padStart(9, '0');
  const n = o.now;
  const version = /^[1-4]$/.test(ic.syntaxVersion) ? ic.syntaxVersion : '3';
  const syntaxId = ic.syntaxId && /^UNO[A-Z]$/.test(ic.syntaxId) ? ic.syntaxId : 'UNOC';
  const date = version === '4' ? `${n.getUTCFullYear()}${two(n.getUTCMonth() + 1)}${two(n.getUTCDate())}` : `${String(n.getUTCFullYear()).slice(2)}${two(n.getUTCMonth() + 1)}${two(n.getUTCDate())}`;
  w.seg('UNB', [syntaxId, version], [ic.recipientId, ic.recipientQualifier || undefined], [ic.senderId, ic.senderQualifier || undefined], [date, `${two(n.getUTCHours())}${two(n.getUTCMinutes())}`], ref, undefined, 'CONTRL');
  const start = w.count();
  w.seg('UNH', '1', ['CONTRL', version === '4' ? '4' : '2', version === '4' ? '1' : '2', 'UN']);
  const their = [[ic.senderId, ic.senderQualifier || undefined], [ic.recipientId, ic.recipientQualifier || undefined]] as const;
  let status: BuiltAck['status'];
  if (ic.envelopeError) {
    const ee = ic.envelopeError;
    w.seg('UCI', ic.controlRef, [...their[0]], [...their[1]], '4', ee.code, ee.tag, ee.element ? [String(ee.element.position), ee.element.component ? String(ee.element.component) : undefined] : undefined);
    status = 'rejected';
  } else {
    const rejected = ic.messages.filter((m) => m.issues.length > 0);
    const all = rejected.length === ic.messages.length;
    w.seg('UCI', ic.controlRef, [...their[0]], [...their[1]], all ? '4' : '7');
    const ucm = (m: (typeof ic.messages)[number]): void => {
      const bad = m.issues[0];
      if (!bad) {
        w.seg('UCM', m.ref, [m.type, m.version, m.release, m.agency, m.assoc], '7');
        return;
      }
      w.seg('UCM', m.ref, [m.type, m.version, m.release, m.agency, m.assoc], '4', bad.code);
      for (const issue of m.issues) {
        if (!issue.note) continue;
        w.seg('UCS', String(issue.note.position), issue.note.element ? undefined : issue.note.code);
        if (issue.note.element) {
          w.seg('UCD', issue.note.code, [String(issue.note.element.position), issue.note.element.component ? String(issue.note.element.component) : undefined]);
        }
      }
    };
    // messages outside any group first (UCM at interchange level), then per UNG group a UCF with its UCMs
    for (const m of ic.messages) if (m.groupIndex === undefined) ucm(m);
    ic.groups.forEach((g, gi) => {
      const msgs = ic.messages.filter((m) => m.groupIndex === gi);
      const gBad = g.issues[0];
      const gAll = msgs.length > 0 && msgs.every((m) => m.issues.length > 0);
      if (gBad) w.seg('UCF', g.ref, g.sender, g.recipient, '4', gBad.code, 'UNE', g.errorElement ? String(g.errorElement) : undefined);
      else w.seg('UCF', g.ref, g.sender, g.recipient, gAll ? '4' : '7');
      msgs.forEach(ucm);
    });
    status = all ? 'rejected' : rejected.length > 0 ? 'partial' : 'accepted';
  }
  w.seg('UNT', String(w.count() - start + 1), '1');
  w.seg('UNZ', '1', ref);
  if (ic.hasUna || d.component !== ':' || d.element !== '+' || d.segment !== "'" || d.release !== '?') w.una();
  return { type: 'CONTRL' as BuiltAck['type'], status, raw: w.text(), controlNumber: ref };
}

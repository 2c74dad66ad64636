import type { EnvelopeInfo } from '../connectors/types';

/**
 * Envelope readers for the formats whose full connectors come later: just enough to find the
 * message type, control number and the per-format dedup key. None of them throws.
 */

/** X12: ISA05/06 + ISA07/08 + ISA13; the first ST01 is the type. */
export function sniffX12(text: string): EnvelopeInfo {
  const t = text.replace(/^\uFEFF/, '').trimStart();
  if (!t.startsWith('ISA') || t.length < 106) {
    return {};
  }
  const el = t[3];
  const isa = t.slice(0, 106).split(el);
  const segTerm = t[105];
  const st = t.split(segTerm).map((s) => s.trim()).find((s) => s.startsWith(`ST${el}`));
  const sender = `${isa[5]?.trim()}/${isa[6]?.trim()}`;
  const receiver = `${isa[7]?.trim()}/${isa[8]?.trim()}`;
  const control = isa[13]?.trim();
  return {
    messageType: st ? st.split(el)[1] : undefined,
    sender,
    receiver,
    controlId: control || undefined,
    dedupKey: control ? `x12:${sender}|${receiver}|${control}` : undefined,
  };
}

/** EDIFACT: UNB sender + recipient + 0020; the first UNH's message type. */
export function sniffEdifact(text: string): EnvelopeInfo {
  let t = text.replace(/^\uFEFF/, '').trimStart();
  let comp = ':';
  let el = '+';
  let seg = "'";
  if (t.startsWith('UNA') && t.length >= 9) {
    comp = t[3];
    el = t[4];
    seg = t[8];
    t = t.slice(9).trimStart();
  }
  if (!t.startsWith('UNB')) {
    return {};
  }
  const segs = t.split(seg).map((s) => s.replace(/^[\r\n]+/, ''));
  const unb = segs[0].split(el);
  const sender = (unb[2] ?? '').split(comp)[0];
  const recipient = (unb[3] ?? '').split(comp)[0];
  const control = unb[5];
  const unh = segs.find((s) => s.startsWith(`UNH${el}`));
  return {
    messageType: unh ? (unh.split(el)[2] ?? '').split(comp)[0] || undefined : undefined,
    sender: sender || undefined,
    receiver: recipient || undefined,
    controlId: control || undefined,
    dedupKey: control ? `edifact:${sender}|${recipient}|${control}` : undefined,
  };
}

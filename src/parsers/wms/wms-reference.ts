/**
 * Reads a reference written as text, as CSV cells (and JSON strings) carry it:
 * `asn:ASN-77;po:PO-9` → `{ asn: 'ASN-77', po: 'PO-9' }`; a part without a `kind:` prefix is kept
 * under `ref` (`ref`, `ref2`, … when there are several).
 * @param text - the reference text
 */
export function parseReferenceText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let plain = 0;
  for (const part of text.split(';')) {
    const p = part.trim();
    if (p === '') {
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9_-]*)\s*[:=]\s*(\S.*)$/.exec(p);
    if (m) {
      out[m[1].toLowerCase()] = m[2].trim();
    } else {
      plain++;
      out[plain === 1 ? 'ref' : `ref${plain}`] = p;
    }
  }
  return out;
}

import { LotBridgeError, isLotBridgeError, type MessageLocation } from '../../errors';
import type { Hl7Segment, Hl7SegmentGroup } from '../../parsers/hl7';
import { readHl7DateTime, readHl7Number, readHl7Value } from '../../parsers/hl7';
import { decodeUdi } from '../../udi/udi-decode';
import { udiContradictions } from '../../udi/udi-contradictions';

/** Where sites put device data in Z-segments (connector config `zSegments`). */
export interface ZSegmentRule {
  segment: string;
  udi?: number;
  gtin?: number;
  lot?: number;
  serial?: number;
  expiry?: number;
  quantity?: number;
}

/** One device (or supply) named under an FT1, from a PRT, an OBX group or a Z-segment. */
export interface Hl7Device {
  /** 14-digit GTIN (from the UDI or the device identifier). */
  gtin?: string;
  /** HIBCC device identifier (LIC + product + unit of measure), for a HIBCC UDI. */
  hibccDi?: string;
  lot?: string;
  serial?: string;
  /** YYYY-MM-DD. */
  expiry?: string;
  manufactureDate?: string;
  /** The UDI carrier as sent. */
  udi?: string;
  /** Where the UDI was read (e.g. PRT-10). */
  udiSource?: MessageLocation;
  /** Units this device stands for (default 1 when several devices are listed). */
  quantity?: number;
  /** Where it was read. */
  source: MessageLocation;
  /** Disagreements between the UDI and the separate lot/expiry/serial/DI fields. */
  contradictions: Array<{ field: string; udiValue: string; givenValue: string; message: string }>;
}

/** Local OBX-3 identifiers for device observations (OBX-3.1, case-insensitive). */
const OBX_FIELDS: Readonly<Record<string, keyof Pick<Hl7Device, 'udi' | 'gtin' | 'lot' | 'serial' | 'expiry'>>> = {
  UDI: 'udi', 'UDI-CARRIER': 'udi', UDI_CARRIER: 'udi',
  DI: 'gtin', 'UDI-DI': 'gtin', UDI_DI: 'gtin', GTIN: 'gtin',
  LOT: 'lot', LOT_NUMBER: 'lot', 'LOT-NUMBER': 'lot', LOTNUMBER: 'lot',
  SERIAL: 'serial', SERIAL_NUMBER: 'serial', 'SERIAL-NUMBER': 'serial', SN: 'serial',
  EXPIRY: 'expiry', EXP_DATE: 'expiry', EXPIRATION_DATE: 'expiry', 'EXPIRY-DATE': 'expiry',
};

const gtin14 = (s: string | undefined): string | undefined => (s && /^\d{8}$|^\d{12,14}$/.test(s) ? s.padStart(14, '0') : undefined);

function dateOf(seg: Hl7Segment, field: number, zone: string): string | undefined {
  const d = readHl7DateTime(seg, field, { zone, type: 'DTM' });
  return d?.local.slice(0, 10);
}

/**
 * Decodes a UDI carrier (GS1 or HIBCC) and merges it with the separately sent fields. A bad
 * barcode is an input error at the field, with the character position from the decoder.
 */
function withUdi(d: Hl7Device, udi: string | undefined, where: MessageLocation): Hl7Device {
  if (!udi) {
    return d;
  }
  let decoded: ReturnType<typeof decodeUdi>;
  try {
    decoded = decodeUdi(udi);
  } catch (err) {
    if (isLotBridgeError(err)) {
      throw new LotBridgeError(err.code, `${where.segment}-${where.field}: UDI "${udi}": ${err.message}`, {
        location: { ...where, ...(err.location?.position !== undefined ? { position: err.location.position } : {}), ...(err.location?.path ? { path: err.location.path } : {}) },
        details: err.details,
        cause: err,
      });
    }
    throw err;
  }
  // the device identifier sent apart is compared with the UDI's own kind: a GTIN with a GS1 UDI, a HIBCC DI with a HIBCC UDI
  const given = { lot: d.lot, expiry: d.expiry, serial: d.serial, gtin: decoded.scheme === 'hibcc' ? d.hibccDi : d.gtin };
  const contradictions = udiContradictions(decoded, given);
  // the UDI's own lot, serial and expiry win over the fields sent apart (contradictions are flagged)
  const merged: Hl7Device = {
    ...d,
    udi,
    udiSource: where,
    lot: decoded.lot ?? d.lot,
    serial: decoded.serial ?? d.serial,
    expiry: decoded.expiry ?? d.expiry,
    contradictions,
  };
  if (decoded.scheme === 'gs1') {
    return { ...merged, gtin: decoded.gtin ?? d.gtin, ...(decoded.productionDate ? { manufactureDate: decoded.productionDate } : {}) };
  }
  return { ...merged, hibccDi: decoded.deviceIdentifier ?? d.hibccDi, ...(decoded.manufactureDate ? { manufactureDate: decoded.manufactureDate } : {}) };
}

/**
 * PRT (participation, HL7 v2.7+) as a device: PRT-10 participation device / UDI carrier,
 * PRT-16 device identifier (the UDI-DI), PRT-17 manufacture date, PRT-18 expiry, PRT-19 lot,
 * PRT-20 serial (positions of v2.8.2). Null when the PRT names no device.
 */
function deviceOfPrt(seg: Hl7Segment, zone: string): Hl7Device | null {
  const udi = readHl7Value(seg, 10);
  const di = readHl7Value(seg, 16);
  const lot = readHl7Value(seg, 19);
  const serial = readHl7Value(seg, 20);
  if (!udi && !di && !lot && !serial) {
    return null;
  }
  const base: Hl7Device = {
    gtin: gtin14(di),
    ...(di && !gtin14(di) ? { hibccDi: di.replace(/^\+/, '') } : {}),
    lot: lot || undefined,
    serial: serial || undefined,
    expiry: dateOf(seg, 18, zone),
    manufactureDate: dateOf(seg, 17, zone),
    source: seg.location(),
    contradictions: [],
  };
  return withUdi(base, udi, seg.location(10));
}

/** OBX device observations, grouped by OBX-4 (sub-id): each group with a known OBX-3 is a device. */
function devicesOfObx(segs: readonly Hl7Segment[], zone: string): Hl7Device[] {
  const bySubId = new Map<string, Hl7Segment[]>();
  for (const s of segs) {
    const code = (s.get(3) ?? '').toUpperCase();
    if (OBX_FIELDS[code] === undefined) continue;
    const k = s.get(4) ?? '';
    bySubId.set(k, [...(bySubId.get(k) ?? []), s]);
  }
  const out: Hl7Device[] = [];
  for (const group of bySubId.values()) {
    let d: Hl7Device = { source: group[0].location(), contradictions: [] };
    let udi: string | undefined;
    let udiAt: MessageLocation | undefined;
    const seen = new Map<string, { value: string; seg: Hl7Segment }>();
    for (const s of group) {
      const what = OBX_FIELDS[(s.get(3) ?? '').toUpperCase()];
      const v = readHl7Value(s, 5);
      if (!v) continue;
      // one group is one device: a second, different value for the same field is a second device
      // the sender did not tell apart by OBX-4; taking either value would lose the other device
      const before = seen.get(what);
      if (before && before.value !== v) {
        const subId = s.get(4) ?? '';
        throw new LotBridgeError(
          'LB_ERR_HL7_DEVICE_AMBIGUOUS',
          `OBX ${s.occurrence}: ${what} ${JSON.stringify(v)} contradicts ${what} ${JSON.stringify(before.value)} of OBX ${before.seg.occurrence} ` +
            `in the same device group (OBX-4 sub-id ${subId ? JSON.stringify(subId) : 'empty'}): give each device its own OBX-4 sub-id (segment OBX, occurrence ${s.occurrence}, field 5, line ${s.line})`,
          { location: s.location(5), details: { field: what, value: v, other: before.value, otherOccurrence: before.seg.occurrence, subId } },
        );
      }
      seen.set(what, { value: v, seg: s });
      if (what === 'udi') {
        udi = v;
        udiAt = s.location(5);
      } else if (what === 'gtin') {
        d = { ...d, gtin: gtin14(v), ...(gtin14(v) ? {} : { hibccDi: v.replace(/^\+/, '') }) };
      } else if (what === 'expiry') {
        d = { ...d, expiry: dateOf(s, 5, zone) };
      } else {
        d = { ...d, [what]: v };
      }
    }
    out.push(withUdi(d, udi, udiAt ?? d.source));
  }
  return out;
}

function deviceOfZ(seg: Hl7Segment, rule: ZSegmentRule, zone: string): Hl7Device | null {
  const at = (f: number | undefined): string | undefined => (f === undefined ? undefined : readHl7Value(seg, f));
  const udi = at(rule.udi);
  const gtin = at(rule.gtin);
  const lot = at(rule.lot);
  const serial = at(rule.serial);
  if (!udi && !gtin && !lot && !serial) {
    return null;
  }
  // the site's quantity field is a number like FT1-10: anything else is an input error at that field, never 1
  const qty = rule.quantity === undefined ? undefined : readHl7Number(seg, rule.quantity);
  const base: Hl7Device = {
    gtin: gtin14(gtin),
    lot,
    serial,
    expiry: rule.expiry === undefined ? undefined : dateOf(seg, rule.expiry, zone),
    ...(qty !== undefined ? { quantity: qty } : {}),
    source: seg.location(),
    contradictions: [],
  };
  return withUdi(base, udi, rule.udi === undefined ? seg.location() : seg.location(rule.udi));
}

/**
 * True when two descriptions (from different segments) name the same device: no identifying value
 * (GTIN, HIBCC DI, lot, serial, expiry) differs where both have one, and they share a lot or serial.
 */
function sameDevice(a: Hl7Device, b: Hl7Device): boolean {
  let shared = 0;
  for (const k of ['gtin', 'hibccDi', 'lot', 'serial', 'expiry'] as const) {
    const x = a[k];
    const y = b[k];
    if (x === undefined || y === undefined) continue;
    if (x !== y) return false;
    if (k === 'lot' || k === 'serial') shared++;
  }
  return shared > 0;
}

/** `a` completed with what only `b` has (the first description keeps its source). */
function mergeDevices(a: Hl7Device, b: Hl7Device): Hl7Device {
  const out: Hl7Device = { ...a, contradictions: [...a.contradictions, ...b.contradictions] };
  for (const k of ['gtin', 'hibccDi', 'lot', 'serial', 'expiry', 'manufactureDate', 'udi', 'udiSource', 'quantity'] as const) {
    if (out[k] === undefined && b[k] !== undefined) {
      (out as unknown as Record<string, unknown>)[k] = b[k];
    }
  }
  return out;
}

/**
 * Every device named under one FT1: its PRTs, configured Z-segments and OBX device observations,
 * in that order. Sites often describe one device twice (a PRT or Z-segment and OBX rows): a
 * description that names the same device as one from another segment type is merged into it
 * rather than counted as a second device.
 */
export function devicesOfFt1(group: Hl7SegmentGroup, zone: string, zRules: readonly ZSegmentRule[]): Hl7Device[] {
  const found: Hl7Device[] = [];
  for (const s of group.members) {
    if (s.name === 'PRT') {
      const d = deviceOfPrt(s, zone);
      if (d) found.push(d);
    } else if (s.name.startsWith('Z')) {
      const rule = zRules.find((r) => r.segment === s.name);
      const d = rule ? deviceOfZ(s, rule, zone) : null;
      if (d) found.push(d);
    }
  }
  found.push(...devicesOfObx(group.members.filter((s) => s.name === 'OBX'), zone));
  const devices: Hl7Device[] = [];
  const segmentsOf: Array<Set<string>> = [];
  for (const d of found) {
    const i = devices.findIndex((x, j) => !segmentsOf[j].has(d.source.segment ?? '') && sameDevice(x, d));
    if (i < 0) {
      devices.push(d);
      segmentsOf.push(new Set([d.source.segment ?? '']));
    } else {
      devices[i] = mergeDevices(devices[i], d);
      segmentsOf[i].add(d.source.segment ?? '');
    }
  }
  // compared by month above (a UDI expiry in that month agrees); stored as a date from here on
  return devices.map((d) => (d.expiry === undefined ? d : { ...d, expiry: expiryAsDate(d.expiry) }));
}

/**
 * An HL7 expiry (DTM read in local time: `YYYY-MM-DD`, or `YYYY-MM` / `YYYY` when sent with month
 * or year precision) as the date a lot expires: a month ends on its last day and a year on
 * 31 December, as GS1 (day `00`) and HIBC (`MMYY`) read an expiry known to the month.
 * @param local - the date as read, e.g. `readHl7DateTime(...).local`
 */
export function expiryAsDate(local: string): string {
  const m = /^(\d{4})(?:-(\d{2}))?/.exec(local);
  if (!m || local.length >= 10) {
    return local.slice(0, 10);
  }
  const year = Number(m[1]);
  const month = m[2] === undefined ? 12 : Number(m[2]);
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${m[1]}-${String(month).padStart(2, '0')}-${String(last).padStart(2, '0')}`;
}

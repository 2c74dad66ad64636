import { LotBridgeError, type ErrorCode } from '../../errors';
import type { LotStatus } from '../../db/tables';
import { child, children, childText, lineOf, textOf, type B2mmlDocument, type XNode } from '../../parsers/b2mml';
import { isTimestampProblem, parseCalendarDate, parseSourceTimestamp, type SourceInstant } from '../time/source-timestamp';

/** Where an element sits: XPath-like path with 1-based positions, and its line when known. */
export interface At {
  path: string;
  line?: number;
}

/** A quantity as written (validated number ≥ 0). */
export interface B2mmlQuantity {
  value: number;
  /** Unit as written (undefined: none given). */
  uom?: string;
  at: At;
  /** Every Quantity the element gave, when it gave more than one (this one is the first). */
  alternatives?: B2mmlQuantity[];
}

/** A MaterialDefinition. */
export interface MaterialDefinitionRecord {
  at: At;
  /** MES material id (internal code). */
  id: string;
  description?: string;
  baseUom?: string;
  gtin?: string;
  /** From MaterialClassID / a Kind property (raw, component, finished …). */
  kind?: 'raw' | 'component' | 'finished' | 'consumable' | 'implant' | 'packaging';
}

/** A QA / test result. */
export interface QaResultRecord {
  at: At;
  testCode: string;
  testName?: string;
  result: 'pass' | 'fail' | 'value';
  value?: string;
  unit?: string;
  disposition?: string;
  inspectedAt: SourceInstant;
}

/** A lot status decision (Status / Disposition) as the message gives it. */
export interface StatusDecision {
  raw: string;
  status: LotStatus;
  at: At;
}

/** A MaterialSubLot (a serial of the lot, or a sub-quantity). */
export interface SubLotRecord {
  at: At;
  id: string;
  quantity?: B2mmlQuantity;
  location?: string;
  status?: StatusDecision;
}

/** A MaterialLot (or a QualityTest about one lot). */
export interface LotRecord {
  at: At;
  /** 0-based position among the document's lots (recordErrors index). */
  index: number;
  lotNumber: string;
  material: { ref: string; at: At };
  description?: string;
  manufacturedAt?: string;
  expiry?: string;
  quantity?: B2mmlQuantity;
  location?: string;
  status?: StatusDecision;
  subLots: SubLotRecord[];
  qa: QaResultRecord[];
  override?: { reason: string; at: At };
}

/** One MaterialActual of a segment response. */
export interface MaterialActualRecord {
  at: At;
  use: 'consumed' | 'produced';
  /** MaterialUse as written. */
  useText: string;
  material: { ref: string; at: At };
  lotNumber: string;
  subLots: string[];
  quantity?: B2mmlQuantity;
  location?: string;
}

/** A SegmentResponse (one production step): its consumed and produced lots. */
export interface SegmentRecord {
  at: At;
  /** `<ProductionResponse ID>/<SegmentResponse ID>` or positional. */
  key: string;
  productionResponseId?: string;
  segmentId?: string;
  productionRequestId?: string;
  /** Description of the segment, else of its production response or document. */
  description?: string;
  eventTime: SourceInstant;
  location?: string;
  actuals: MaterialActualRecord[];
  /** Actuals with a use that is no genealogy (Sample, Carrier …) or no lot: counted, not mapped. */
  skipped: Array<{ at: At; reason: string }>;
}

type Fail = (code: ErrorCode, at: At, message: string, details?: Record<string, unknown>) => LotBridgeError;

/** Builds an input error located at an element (path and line). */
export const failAt: Fail = (code, at, message, details) =>
  new LotBridgeError(code, `${message} (at ${at.path}${at.line === undefined ? '' : `, line ${at.line}`})`, {
    location: { path: at.path, ...(at.line === undefined ? {} : { line: at.line }) },
    ...(details ? { details } : {}),
  });

/** Quality statuses by the words MES exports use (compared lower-case, without spaces, dashes, underscores). */
const STATUS_WORDS: Readonly<Record<string, LotStatus>> = {
  released: 'released', release: 'released', approved: 'released', accepted: 'released', unrestricted: 'released', passed: 'released', conforming: 'released', available: 'released',
  rejected: 'rejected', reject: 'rejected', scrapped: 'rejected', scrap: 'rejected', nonconforming: 'rejected', failed: 'rejected', destroyed: 'rejected',
  quarantine: 'quarantine', quarantined: 'quarantine', qualityinspection: 'quarantine', inqualityinspection: 'quarantine', pendingqa: 'quarantine', pendinginspection: 'quarantine', inspection: 'quarantine', pending: 'quarantine', awaitingrelease: 'quarantine',
  onhold: 'on_hold', hold: 'on_hold', held: 'on_hold', blocked: 'on_hold', restricted: 'on_hold', suspended: 'on_hold',
  recalled: 'recalled', recall: 'recalled',
  expired: 'expired',
};
/** Lifecycle statuses that say nothing about quality: no status change. */
const LIFECYCLE_WORDS = new Set(['active', 'inuse', 'inprogress', 'consumed', 'complete', 'completed', 'closed', 'open', 'new', 'created', 'planned', 'produced', 'finished', 'running', 'idle']);

/** Maps a Status/Disposition text to a lot status; undefined for lifecycle words. */
export function lotStatusOf(raw: string, at: At): LotStatus | undefined {
  const k = raw.toLowerCase().replace(/[\s_-]+/g, '');
  const s = STATUS_WORDS[k];
  if (s !== undefined) {
    return s;
  }
  if (LIFECYCLE_WORDS.has(k)) {
    return undefined;
  }
  throw failAt('LB_ERR_B2MML_STATUS', at, `status "${raw}" is not a lot quality status LotBridge maps (Released, Rejected, Quarantine, OnHold, Recalled, Expired) nor a lifecycle status it ignores`, { status: raw });
}

const MATERIAL_USES: Readonly<Record<string, 'consumed' | 'produced' | 'skip'>> = {
  consumed: 'consumed', materialconsumed: 'consumed', consumable: 'consumed', consumption: 'consumed',
  produced: 'produced', materialproduced: 'produced', byproductproduced: 'produced', coproductproduced: 'produced', yieldproduced: 'produced', production: 'produced',
  sample: 'skip', returnedsample: 'skip', carrier: 'skip', returnedcarrier: 'skip', replacedasset: 'skip', replacementasset: 'skip',
};

const PASS = new Set(['pass', 'passed', 'ok', 'conforming', 'conform', 'accepted', 'accept', 'good', 'true', 'inspec', 'withinspec', 'compliant']);
const FAIL = new Set(['fail', 'failed', 'nok', 'notok', 'nonconforming', 'rejected', 'reject', 'bad', 'false', 'outofspec', 'noncompliant']);

/**
 * Reads B2MML elements into records, checking values and naming the element path of every
 * problem. One reader per document.
 */
export class B2mmlReader {
  /** Offset-less timestamps are read in this zone. */
  constructor(
    readonly doc: B2mmlDocument,
    readonly timezone: string,
    /** When the message was received (last resort for a test time). */
    readonly receivedAt: Date,
  ) {}

  /** The document's own time: PublishedDate, ApplicationArea/CreationDateTime. */
  documentTime(): SourceInstant | undefined {
    const root = this.doc.root;
    const raw = childText(root, 'PublishedDate') ?? childText(child(root, 'ApplicationArea'), 'CreationDateTime');
    if (raw === undefined) {
      return undefined;
    }
    const t = parseSourceTimestamp(raw, this.timezone);
    return isTimestampProblem(t) ? undefined : t;
  }

  /** The elements a document maps: the DataArea's noun elements of a verb document, else the root. */
  nounElements(): Array<{ node: XNode; at: At }> {
    const { header, root } = this.doc;
    if (header.verb === null) {
      return [{ node: root, at: { path: `/${header.localName}`, line: lineOf(root) } }];
    }
    const data = child(root, 'DataArea');
    const base = `/${header.localName}/DataArea`;
    const list = children(data, header.noun);
    return list.map((node, i) => ({ node, at: { path: list.length > 1 ? `${base}/${header.noun}[${i + 1}]` : `${base}/${header.noun}`, line: lineOf(node) } }));
  }

  /** Indexed path of the `i`-th of `n` children named `name` under `parent`. */
  static pathOf(parent: string, name: string, i: number, n: number): string {
    return n > 1 ? `${parent}/${name}[${i + 1}]` : `${parent}/${name}`;
  }

  /** Each child named `name`, with its path. */
  each(node: XNode, at: At, name: string): Array<{ node: XNode; at: At }> {
    const list = children(node, name);
    return list.map((c, i) => ({ node: c, at: { path: B2mmlReader.pathOf(at.path, name, i, list.length), line: lineOf(c) ?? at.line } }));
  }

  /** A required text child. */
  required(node: XNode, at: At, name: string, what: string): string {
    const v = childText(node, name);
    if (v === undefined) {
      throw failAt('LB_ERR_B2MML_REQUIRED', { path: `${at.path}/${name}`, line: at.line }, `${what} has no ${name}`);
    }
    return v;
  }

  /** Properties (`<name>` with ID and Value/ValueString) as id → { value, at }. */
  properties(node: XNode, at: At, name: string): Map<string, { value: string; node: XNode; at: At }> {
    const out = new Map<string, { value: string; node: XNode; at: At }>();
    for (const p of this.each(node, at, name)) {
      const id = childText(p.node, 'ID');
      if (id === undefined) {
        continue;
      }
      const value = childText(child(p.node, 'Value'), 'ValueString') ?? childText(p.node, 'Value') ?? '';
      out.set(id.toLowerCase().replace(/[\s_-]+/g, ''), { value, node: p.node, at: p.at });
    }
    return out;
  }

  /**
   * The Quantity of an element: QuantityString (or its text) ≥ 0 and UnitOfMeasure. MES exports may
   * give several (12.5 KG and 100 EA of the same lot): the first is returned, all of them in
   * `alternatives`, and the writer takes the first whose unit converts to the material's base unit.
   */
  quantity(node: XNode, at: At): B2mmlQuantity | undefined {
    const list = children(node, 'Quantity');
    const out: B2mmlQuantity[] = [];
    list.forEach((q, i) => {
      const qat: At = { path: B2mmlReader.pathOf(at.path, 'Quantity', i, list.length), line: lineOf(q) ?? at.line };
      const raw = childText(q, 'QuantityString') ?? (typeof q === 'string' ? textOf(q) || undefined : undefined);
      if (raw === undefined) {
        return;
      }
      const s = raw.replace(/\s/g, '');
      const value = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : NaN;
      const vat = { path: `${qat.path}/QuantityString`, line: qat.line };
      if (!Number.isFinite(value)) {
        throw failAt('LB_ERR_B2MML_QUANTITY', vat, `quantity "${raw}" is not a number`, { quantity: raw });
      }
      if (value < 0) {
        throw failAt('LB_ERR_B2MML_QUANTITY', vat, `quantity ${raw} is negative`, { quantity: raw });
      }
      const uom = childText(q, 'UnitOfMeasure');
      out.push({ value, ...(uom === undefined ? {} : { uom }), at: qat });
    });
    if (out.length === 0) {
      return undefined;
    }
    return out.length === 1 ? out[0] : { ...out[0], alternatives: out };
  }

  /** A location: StorageLocation (text or EquipmentID), Location/EquipmentID, or HierarchyScope/EquipmentID. */
  location(node: XNode): string | undefined {
    for (const name of ['StorageLocation', 'Location', 'HierarchyScope']) {
      const n = child(node, name);
      if (n === undefined) {
        continue;
      }
      const v = childText(n, 'EquipmentID') ?? (textOf(n) || undefined);
      if (v !== undefined) {
        return v;
      }
    }
    return undefined;
  }

  /** A calendar date from a date or date-time text (the date as written). */
  date(raw: string, at: At, what: string): string {
    const t = raw.trim();
    const d = parseCalendarDate(t.length > 10 && /^\d{4}-\d{2}-\d{2}[T ]/.test(t) ? t.slice(0, 10) : t);
    if (isTimestampProblem(d)) {
      throw failAt('LB_ERR_B2MML_DATE', at, `${what} ${d.problem}`, { value: raw });
    }
    if (t.length > 10) {
      const ts = parseSourceTimestamp(t, this.timezone);
      if (isTimestampProblem(ts)) {
        throw failAt('LB_ERR_B2MML_DATE', at, `${what} ${ts.problem}`, { value: raw });
      }
    }
    return d;
  }

  /** A date-time. */
  timestamp(raw: string, at: At, what: string): SourceInstant {
    const ts = parseSourceTimestamp(raw, this.timezone);
    if (isTimestampProblem(ts)) {
      throw failAt('LB_ERR_B2MML_DATE', at, `${what} ${ts.problem}`, { value: raw });
    }
    return ts;
  }

  /** A status decision from Disposition (preferred) or Status. */
  statusOf(node: XNode, at: At): StatusDecision | undefined {
    for (const name of ['Disposition', 'Status', 'QualityStatus', 'Decision']) {
      const raw = childText(node, name);
      if (raw === undefined) {
        continue;
      }
      const sat = { path: `${at.path}/${name}`, line: at.line };
      const status = lotStatusOf(raw, sat);
      if (status !== undefined) {
        return { raw, status, at: sat };
      }
    }
    return undefined;
  }

  /** QA results: QAResult/TestResult under the element and under its properties. */
  qaResults(node: XNode, at: At, propertyName: string): QaResultRecord[] {
    const out: QaResultRecord[] = [];
    const read = (r: { node: XNode; at: At }, fallbackCode?: string): void => {
      const testCode = childText(r.node, 'ID') ?? childText(r.node, 'TestID') ?? fallbackCode;
      if (testCode === undefined) {
        throw failAt('LB_ERR_B2MML_REQUIRED', r.at, 'a test result has no ID (test code)');
      }
      const resultNode = child(r.node, 'Result') ?? child(r.node, 'Value');
      const value = childText(resultNode, 'ValueString') ?? (textOf(resultNode) || undefined) ?? childText(r.node, 'ResultString');
      const unit = childText(resultNode, 'UnitOfMeasure') ?? childText(r.node, 'UnitOfMeasure');
      const evaluation = childText(r.node, 'Evaluation') ?? childText(r.node, 'Disposition') ?? childText(r.node, 'Pass');
      const word = (s: string | undefined): string => (s ?? '').toLowerCase().replace(/[\s_-]+/g, '');
      let result: QaResultRecord['result'] = 'value';
      for (const w of [word(evaluation), word(value)]) {
        if (PASS.has(w)) {
          result = 'pass';
          break;
        }
        if (FAIL.has(w)) {
          result = 'fail';
          break;
        }
      }
      if (value === undefined && evaluation === undefined) {
        throw failAt('LB_ERR_B2MML_REQUIRED', r.at, `test result ${testCode} has no Result`);
      }
      const when = childText(r.node, 'TestDateTime') ?? childText(r.node, 'TestDate') ?? childText(r.node, 'DateTime');
      const inspectedAt = when !== undefined ? this.timestamp(when, { path: `${r.at.path}/TestDateTime`, line: r.at.line }, 'TestDateTime') : (this.documentTime() ?? { utc: this.receivedAt, offset: '+00:00', explicitOffset: true });
      const testName = childText(r.node, 'Description') ?? childText(r.node, 'TestName');
      out.push({
        at: r.at,
        testCode,
        ...(testName === undefined ? {} : { testName }),
        result,
        ...(value === undefined ? {} : { value }),
        ...(unit === undefined ? {} : { unit }),
        ...(evaluation === undefined ? {} : { disposition: evaluation }),
        inspectedAt,
      });
    };
    for (const name of ['QAResult', 'TestResult']) {
      for (const r of this.each(node, at, name)) {
        read(r);
      }
    }
    for (const p of this.each(node, at, propertyName)) {
      const pid = childText(p.node, 'ID');
      for (const name of ['QAResult', 'TestResult']) {
        for (const r of this.each(p.node, p.at, name)) {
          read(r, pid);
        }
      }
    }
    return out;
  }

  /** A release override: a `ReleaseOverride` element or property with a reason. */
  overrideOf(node: XNode, at: At, props: Map<string, { value: string; at: At }>): { reason: string; at: At } | undefined {
    const el = childText(node, 'ReleaseOverride');
    if (el !== undefined) {
      return { reason: el, at: { path: `${at.path}/ReleaseOverride`, line: at.line } };
    }
    const p = props.get('releaseoverride');
    if (p !== undefined) {
      if (p.value.trim() === '') {
        throw failAt('LB_ERR_B2MML_REQUIRED', p.at, 'a ReleaseOverride property needs a reason in Value/ValueString');
      }
      return { reason: p.value, at: p.at };
    }
    return undefined;
  }

  /** Reads a MaterialDefinition. */
  materialDefinition(node: XNode, at: At): MaterialDefinitionRecord {
    const id = this.required(node, at, 'ID', 'a MaterialDefinition');
    const props = this.properties(node, at, 'MaterialDefinitionProperty');
    const description = childText(node, 'Description');
    const baseUom = childText(node, 'BaseUnitOfMeasure') ?? childText(node, 'UnitOfMeasure') ?? props.get('baseunitofmeasure')?.value ?? props.get('uom')?.value ?? childText(child(node, 'Quantity'), 'UnitOfMeasure');
    const gtin = childText(node, 'GTIN') ?? props.get('gtin')?.value;
    const kindText = (props.get('kind')?.value ?? props.get('materialkind')?.value ?? childText(node, 'MaterialClassID') ?? '').toLowerCase();
    const kind = /raw/.test(kindText) ? 'raw' : /compon|part|sub/.test(kindText) ? 'component' : /implant/.test(kindText) ? 'implant' : /consum/.test(kindText) ? 'consumable' : /pack/.test(kindText) ? 'packaging' : /finish|fg|product/.test(kindText) ? 'finished' : undefined;
    return { at, id, ...(description === undefined ? {} : { description }), ...(baseUom ? { baseUom } : {}), ...(gtin ? { gtin: gtin.trim() } : {}), ...(kind ? { kind } : {}) };
  }

  /**
   * Reads a MaterialLot (kind `lot`) or a top-level MaterialSubLot naming its lot (kind `sublot`).
   * @param materialFallback - the MaterialDefinition the lot is nested in, if any
   */
  materialLot(node: XNode, at: At, index: number, materialFallback?: string): LotRecord {
    const lotNumber = this.required(node, at, 'ID', 'a MaterialLot');
    const props = this.properties(node, at, 'MaterialLotProperty');
    const matRef = childText(node, 'MaterialDefinitionID') ?? props.get('materialdefinitionid')?.value ?? props.get('gtin')?.value ?? materialFallback;
    if (matRef === undefined || matRef.trim() === '') {
      throw failAt('LB_ERR_B2MML_LOT_NO_MATERIAL', at, `lot ${lotNumber} names no material (MaterialDefinitionID)`, { lot: lotNumber });
    }
    const dateOf = (names: string[], propNames: string[], what: string): string | undefined => {
      for (const n of names) {
        const v = childText(node, n);
        if (v !== undefined) {
          return this.date(v, { path: `${at.path}/${n}`, line: at.line }, `${what} of lot ${lotNumber}`);
        }
      }
      for (const n of propNames) {
        const p = props.get(n);
        if (p !== undefined && p.value !== '') {
          return this.date(p.value, p.at, `${what} of lot ${lotNumber}`);
        }
      }
      return undefined;
    };
    const manufacturedAt = dateOf(['ManufactureDate', 'ManufacturingDate', 'ProductionDate', 'ManufacturedDate'], ['manufacturedate', 'manufacturingdate', 'productiondate', 'dateofmanufacture'], 'manufacture date');
    const expiry = dateOf(['ExpirationDate', 'ExpiryDate', 'ExpirationTime', 'UseByDate'], ['expirationdate', 'expirydate', 'expirationtime', 'usebydate', 'shelflifeexpirationdate'], 'expiration date');
    if (manufacturedAt !== undefined && expiry !== undefined && expiry < manufacturedAt) {
      throw failAt('LB_ERR_B2MML_EXPIRY_BEFORE_MANUFACTURE', at, `lot ${lotNumber} expires on ${expiry}, before its manufacture date ${manufacturedAt}`, { lot: lotNumber, expiry, manufacturedAt });
    }
    const subLots = this.each(node, at, 'MaterialSubLot').map((s) => this.subLot(s.node, s.at));
    const description = childText(node, 'Description');
    const quantity = this.quantity(node, at);
    const location = this.location(node);
    const status = this.statusOf(node, at);
    const override = this.overrideOf(node, at, props);
    return {
      at,
      index,
      lotNumber,
      material: { ref: matRef.trim(), at: { path: `${at.path}/MaterialDefinitionID`, line: at.line } },
      ...(description === undefined ? {} : { description }),
      ...(manufacturedAt === undefined ? {} : { manufacturedAt }),
      ...(expiry === undefined ? {} : { expiry }),
      ...(quantity === undefined ? {} : { quantity }),
      ...(location === undefined ? {} : { location }),
      ...(status === undefined ? {} : { status }),
      subLots,
      qa: this.qaResults(node, at, 'MaterialLotProperty'),
      ...(override === undefined ? {} : { override }),
    };
  }

  /** Reads a MaterialSubLot nested in a lot. */
  subLot(node: XNode, at: At): SubLotRecord {
    const id = this.required(node, at, 'ID', 'a MaterialSubLot');
    const quantity = this.quantity(node, at);
    const location = this.location(node);
    const status = this.statusOf(node, at);
    return { at, id, ...(quantity === undefined ? {} : { quantity }), ...(location === undefined ? {} : { location }), ...(status === undefined ? {} : { status }) };
  }

  /**
   * A top-level MaterialSubLot (it names its lot with MaterialLotID): read as its lot carrying it.
   */
  standaloneSubLot(node: XNode, at: At, index: number): LotRecord {
    const lotNumber = childText(node, 'MaterialLotID');
    if (lotNumber === undefined) {
      throw failAt('LB_ERR_B2MML_REQUIRED', { path: `${at.path}/MaterialLotID`, line: at.line }, 'a MaterialSubLot outside its MaterialLot has no MaterialLotID');
    }
    const matRef = childText(node, 'MaterialDefinitionID');
    if (matRef === undefined) {
      throw failAt('LB_ERR_B2MML_LOT_NO_MATERIAL', at, `sublot of lot ${lotNumber} names no material (MaterialDefinitionID)`, { lot: lotNumber });
    }
    return { at, index, lotNumber, material: { ref: matRef, at: { path: `${at.path}/MaterialDefinitionID`, line: at.line } }, subLots: [this.subLot(node, at)], qa: [] };
  }

  /** A QualityTest document: test results about one lot, with an optional decision and override. */
  qualityTest(node: XNode, at: At, index: number): LotRecord {
    const lotNumber = childText(node, 'MaterialLotID');
    if (lotNumber === undefined) {
      throw failAt('LB_ERR_B2MML_REQUIRED', { path: `${at.path}/MaterialLotID`, line: at.line }, 'a QualityTest names no MaterialLotID');
    }
    const matRef = childText(node, 'MaterialDefinitionID');
    if (matRef === undefined) {
      throw failAt('LB_ERR_B2MML_LOT_NO_MATERIAL', at, `the QualityTest of lot ${lotNumber} names no material (MaterialDefinitionID)`, { lot: lotNumber });
    }
    const props = this.properties(node, at, 'QualityTestProperty');
    const status = this.statusOf(node, at);
    const override = this.overrideOf(node, at, props);
    const qa = this.qaResults(node, at, 'QualityTestProperty');
    return {
      at,
      index,
      lotNumber,
      material: { ref: matRef, at: { path: `${at.path}/MaterialDefinitionID`, line: at.line } },
      subLots: [],
      qa,
      ...(status === undefined ? {} : { status }),
      ...(override === undefined ? {} : { override }),
    };
  }

  /**
   * Reads the segment responses of a ProductionPerformance / ProductionResponse (nested segment
   * responses included) with their material actuals: MaterialActual + MaterialUse (V0500+) or
   * MaterialConsumedActual / MaterialProducedActual (V0401).
   * @param docKey - the document's dedup id (for positional segment keys)
   */
  segments(docKey: string): SegmentRecord[] {
    const out: SegmentRecord[] = [];
    const docTime = this.documentTime();
    for (const noun of this.nounElements()) {
      const responses = this.doc.header.noun === 'ProductionResponse' ? [noun] : this.each(noun.node, noun.at, 'ProductionResponse');
      responses.forEach((pr, pi) => {
        const prId = childText(pr.node, 'ID');
        const prTime = childText(pr.node, 'EndTime') ?? childText(pr.node, 'ActualEndTime');
        const walk = (parent: { node: XNode; at: At }, inherited: { location?: string }): void => {
          this.each(parent.node, parent.at, 'SegmentResponse').forEach((sr, si) => {
            out.push(
              this.segment(sr.node, sr.at, {
                docKey, prId, prIndex: pi, segIndex: si, prTime, docTime,
                location: this.location(sr.node) ?? inherited.location,
                productionRequestId: childText(pr.node, 'ProductionRequestID'),
                description: childText(sr.node, 'Description') ?? childText(pr.node, 'Description') ?? childText(noun.node, 'Description'),
              }),
            );
            walk(sr, { location: this.location(sr.node) ?? inherited.location });
          });
        };
        walk(pr, { location: this.location(pr.node) ?? this.location(noun.node) });
      });
    }
    return out;
  }

  private segment(
    node: XNode,
    at: At,
    o: { docKey: string; prId?: string; prIndex: number; segIndex: number; prTime?: string; docTime?: SourceInstant; location?: string; productionRequestId?: string; description?: string },
  ): SegmentRecord {
    const segmentId = childText(node, 'ID');
    const end = childText(node, 'ActualEndTime') ?? childText(node, 'ActualStartTime');
    let eventTime: SourceInstant;
    if (end !== undefined) {
      eventTime = this.timestamp(end, { path: `${at.path}/${childText(node, 'ActualEndTime') !== undefined ? 'ActualEndTime' : 'ActualStartTime'}`, line: at.line }, 'segment time');
    } else if (o.prTime !== undefined) {
      eventTime = this.timestamp(o.prTime, at, 'production response EndTime');
    } else {
      eventTime = o.docTime ?? { utc: this.receivedAt, offset: '+00:00', explicitOffset: true };
    }
    const key = `${o.prId ?? `${o.docKey}#${o.prIndex + 1}`}/${segmentId ?? `#${o.segIndex + 1}`}`;
    const actuals: MaterialActualRecord[] = [];
    const skipped: SegmentRecord['skipped'] = [];
    const read = (a: { node: XNode; at: At }, impliedUse?: 'consumed' | 'produced'): void => {
      const useText = childText(a.node, 'MaterialUse') ?? (impliedUse === 'consumed' ? 'Consumed' : impliedUse === 'produced' ? 'Produced' : undefined);
      if (useText === undefined) {
        throw failAt('LB_ERR_B2MML_REQUIRED', { path: `${a.at.path}/MaterialUse`, line: a.at.line }, 'a MaterialActual has no MaterialUse');
      }
      const use = MATERIAL_USES[useText.toLowerCase().replace(/[\s_-]+/g, '')];
      if (use === undefined) {
        throw failAt('LB_ERR_B2MML_MATERIAL_USE', { path: `${a.at.path}/MaterialUse`, line: a.at.line }, `MaterialUse "${useText}" is neither consumed nor produced`, { materialUse: useText });
      }
      if (use === 'skip') {
        skipped.push({ at: a.at, reason: `MaterialUse ${useText}` });
        return;
      }
      const matRef = childText(a.node, 'MaterialDefinitionID');
      const lotNumber = childText(a.node, 'MaterialLotID');
      if (matRef === undefined) {
        throw failAt('LB_ERR_B2MML_LOT_NO_MATERIAL', a.at, `the ${use} material actual${lotNumber === undefined ? '' : ` of lot ${lotNumber}`} names no material (MaterialDefinitionID)`, { lot: lotNumber });
      }
      if (lotNumber === undefined) {
        if (use === 'produced') {
          throw failAt('LB_ERR_B2MML_REQUIRED', { path: `${a.at.path}/MaterialLotID`, line: a.at.line }, `the produced material ${matRef} has no MaterialLotID`);
        }
        skipped.push({ at: a.at, reason: `consumed ${matRef} without a lot` });
        return;
      }
      const quantity = this.quantity(a.node, a.at);
      const location = this.location(a.node);
      actuals.push({
        at: a.at,
        use,
        useText,
        material: { ref: matRef, at: { path: `${a.at.path}/MaterialDefinitionID`, line: a.at.line } },
        lotNumber,
        subLots: children(a.node, 'MaterialSubLotID').map((s) => textOf(s)).filter((s) => s !== ''),
        ...(quantity === undefined ? {} : { quantity }),
        ...(location === undefined ? {} : { location }),
      });
    };
    for (const a of this.each(node, at, 'MaterialActual')) {
      read(a);
    }
    for (const a of this.each(node, at, 'MaterialConsumedActual')) {
      read(a, 'consumed');
    }
    for (const a of this.each(node, at, 'MaterialProducedActual')) {
      read(a, 'produced');
    }
    return {
      at,
      key,
      ...(o.prId === undefined ? {} : { productionResponseId: o.prId }),
      ...(segmentId === undefined ? {} : { segmentId }),
      ...(o.productionRequestId === undefined ? {} : { productionRequestId: o.productionRequestId }),
      ...(o.description === undefined ? {} : { description: o.description }),
      eventTime,
      ...(o.location === undefined ? {} : { location: o.location }),
      actuals,
      skipped,
    };
  }
}

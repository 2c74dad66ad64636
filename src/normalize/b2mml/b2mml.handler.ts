import { isLotBridgeError, LotBridgeError } from '../../errors';
import { parseB2mml, type B2mmlLimits } from '../../parsers/b2mml';
import type { HandlerResult, MessageHandler, ProcessContext } from '../../pipeline/handler';
import { applyB2mmlLots } from './apply-b2mml-lots';
import { applyB2mmlMaterialDefinition } from './apply-b2mml-material-definition';
import { applyB2mmlSegment } from './apply-b2mml-production';
import { B2mmlReader, type LotRecord, type MaterialDefinitionRecord } from './b2mml-records';
import { B2mmlWriter } from './b2mml-writer';

/** Per-instance options of the MES handler (from the mes-b2mml connector config). */
export interface B2mmlHandlerConfig {
  /** Location code of production and MES lots without a StorageLocation/HierarchyScope (default `MES`). */
  location: string;
  limits: Partial<B2mmlLimits>;
}

function asRecordError(err: unknown, index: number): LotBridgeError {
  if (isLotBridgeError(err) && err.kind === 'input') {
    return new LotBridgeError(err.code, err.message, { location: { ...err.location, index }, ...(err.details ? { details: err.details } : {}), cause: err });
  }
  throw err;
}

/**
 * The mes-b2mml handler: parses the B2MML document (src/parsers/b2mml) and maps it by document kind
 * (docs/connectors/mes.md):
 *  - MaterialInformation / MaterialDefinition / MaterialLot / MaterialSubLot (bare or Sync/Process/
 *    Show/Notify verb documents): materials and lots, each element on its own — bad ones are listed
 *    in `recordErrors` with their index and path, the good ones mapped;
 *  - ProductionPerformance / ProductionResponse: one TransformationEvent per SegmentResponse — all or nothing;
 *  - QualityTest: test results and a release/reject decision about one lot.
 */
export function createB2mmlHandler(deps: { configOf(connectorId: string): B2mmlHandlerConfig }): MessageHandler {
  return {
    kind: 'mes-b2mml',
    async process(ctx: ProcessContext): Promise<HandlerResult> {
      const m = ctx.message;
      const cfg = deps.configOf(m.connectorId);
      const charset = /;\s*charset\s*=\s*"?([^";]+)/i.exec(m.contentType ?? '')?.[1] ?? m.encoding;
      const doc = parseB2mml(m.payload, { charset, limits: cfg.limits });
      const { header } = doc;
      const reader = new B2mmlReader(doc, ctx.timezone, m.receivedAt);
      const docName = `${header.localName}${header.docId ? ` ${header.docId}` : ''}`;
      const w = new B2mmlWriter(ctx, header.localName, header.version, cfg.location);
      const time = reader.documentTime() ?? { utc: m.receivedAt, offset: '+00:00', explicitOffset: true };
      const base = { messageType: header.localName };

      if (header.noun === 'ProductionPerformance' || header.noun === 'ProductionResponse') {
        const segments = reader.segments(header.docId ?? m.id);
        if (segments.length === 0 || segments.every((s) => s.actuals.length === 0)) {
          throw new LotBridgeError('LB_ERR_B2MML_EMPTY', `${docName} holds no SegmentResponse with a consumed or produced material lot`, { location: { path: `/${header.localName}` } });
        }
        for (const seg of segments) {
          w.summary.skipped.push(...seg.skipped.map((s) => `${s.reason} at ${s.at.path}`));
          if (seg.actuals.length === 0) {
            continue;
          }
          const outcome = await applyB2mmlSegment(w, seg, `b2mml:${m.connectorId}:${header.sender ?? ''}:segment:${seg.key}`, docName);
          if (outcome === 'applied') {
            w.summary.applied++;
          } else {
            w.summary.alreadyApplied++;
          }
        }
        return { status: 'processed', ...base, summary: { ...w.summary } };
      }

      // materials and lots: every element on its own
      const errors: LotBridgeError[] = [];
      const defs: MaterialDefinitionRecord[] = [];
      const lots: LotRecord[] = [];
      let index = 0;
      const defIndex = new Map<MaterialDefinitionRecord, number>();
      const read = <T>(fn: () => T, into: T[]): T | undefined => {
        const i = index++;
        try {
          const v = fn();
          into.push(v);
          return v;
        } catch (err) {
          errors.push(asRecordError(err, i));
          return undefined;
        }
      };
      const readDef = (fn: () => MaterialDefinitionRecord): MaterialDefinitionRecord | undefined => {
        const i = index;
        const d = read(fn, defs);
        if (d) {
          defIndex.set(d, i);
        }
        return d;
      };
      for (const noun of reader.nounElements()) {
        switch (header.noun) {
          case 'MaterialInformation':
            for (const d of reader.each(noun.node, noun.at, 'MaterialDefinition')) {
              const defId = readDef(() => reader.materialDefinition(d.node, d.at))?.id;
              for (const l of reader.each(d.node, d.at, 'MaterialLot')) {
                read(() => reader.materialLot(l.node, l.at, index - 1, defId), lots);
              }
            }
            for (const l of reader.each(noun.node, noun.at, 'MaterialLot')) {
              read(() => reader.materialLot(l.node, l.at, index - 1), lots);
            }
            for (const s of reader.each(noun.node, noun.at, 'MaterialSubLot')) {
              read(() => reader.standaloneSubLot(s.node, s.at, index - 1), lots);
            }
            break;
          case 'MaterialDefinition':
            readDef(() => reader.materialDefinition(noun.node, noun.at));
            break;
          case 'MaterialLot':
            read(() => reader.materialLot(noun.node, noun.at, index - 1), lots);
            break;
          case 'MaterialSubLot':
            read(() => reader.standaloneSubLot(noun.node, noun.at, index - 1), lots);
            break;
          case 'QualityTest':
            read(() => reader.qualityTest(noun.node, noun.at, index - 1), lots);
            break;
        }
      }
      const total = index;
      if (total === 0) {
        throw new LotBridgeError('LB_ERR_B2MML_EMPTY', `${docName} holds no MaterialDefinition, MaterialLot, MaterialSubLot or QualityTest`, { location: { path: `/${header.localName}` } });
      }
      for (const d of defs) {
        try {
          await applyB2mmlMaterialDefinition(w, d);
          w.summary.applied++;
        } catch (err) {
          errors.push(asRecordError(err, defIndex.get(d) ?? 0));
        }
      }
      const lotErrors = await applyB2mmlLots(w, lots, {
        provisionalIfNew: header.noun === 'QualityTest',
        document: docName,
        time,
        sourceKeyPrefix: `b2mml:${m.id}`,
      });
      for (const e of lotErrors) {
        const p = e.location?.path ?? '';
        const rec = lots.find((l) => p === l.at.path || p.startsWith(`${l.at.path}/`));
        errors.push(rec ? asRecordError(e, rec.index) : e);
      }
      errors.sort((a, b) => (a.location?.index ?? 0) - (b.location?.index ?? 0));
      w.summary.rejected = errors.length;
      if (w.summary.applied === 0 && errors.length > 0) {
        if (total === 1) {
          throw errors[0];
        }
        throw new LotBridgeError('LB_ERR_B2MML_ALL_RECORDS_REJECTED', `all ${total} elements of ${docName} were rejected; first: ${errors[0].message}`, {
          location: errors[0].location ?? {},
          details: { errors: errors.slice(0, 50).map((e) => e.toJSON()) },
        });
      }
      if (errors.length > 0) {
        ctx.logger.warn({ rejected: errors.length, elements: total, first: errors[0].code }, 'B2MML elements rejected inside a processed message');
      }
      return { status: 'processed', ...base, ...(errors.length > 0 ? { recordErrors: errors.map((e) => e.toJSON()) } : {}), summary: { ...w.summary } };
    },
  };
}

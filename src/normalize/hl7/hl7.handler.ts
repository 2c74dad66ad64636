import { LotBridgeError } from '../../errors';
import type { HandlerResult, MessageHandler, ProcessContext } from '../../pipeline/handler';
import { decodeHl7Buffer, parseHl7Message, type Hl7Message } from '../../parsers/hl7';
import type { PhiProtector } from '../../security/phi';
import { WmsWriter } from '../wms/wms-writer';
import { applyDftP03 } from './apply-dft-p03';
import { applyMfnM16 } from './apply-mfn-m16';
import { applyOmsO05 } from './apply-oms-o05';
import type { ZSegmentRule } from './hl7-devices';

/** What the handler needs of a connector instance's config. */
export interface Hl7HandlerConfig {
  defaultCharset: string;
  zSegments: readonly ZSegmentRule[];
}

export interface Hl7HandlerDeps {
  phi: PhiProtector;
  /** The instance config of an `hl7` connector (defaults when unknown). */
  configOf(connectorId: string): Hl7HandlerConfig;
}

/**
 * Flags a different message that reuses a sender's MSH-10 (a control-id collision): it is stored
 * and processed as its own message (its content differs, so its dedup key does), and an alert names both.
 */
async function flagControlIdCollision(w: WmsWriter): Promise<string | undefined> {
  const m = w.ctx.message;
  if (!m.controlId) return undefined;
  const other = await w.ctx
    .trx('inbound_messages')
    .where({ connector_kind: 'hl7', control_id: m.controlId })
    .whereRaw("coalesce(sender, '') = ?", [m.sender ?? ''])
    .whereNot({ id: m.id })
    .whereNotIn('status', ['duplicate', 'rejected'])
    .orderBy('received_at')
    .first<{ id: string } | undefined>('id');
  if (!other) return undefined;
  await w.alert({
    type: 'hl7_control_id_collision', severity: 'warning', subjectType: 'message', subjectId: m.id,
    message: `HL7 sender ${m.sender ?? '?'} reused MSH-10 ${m.controlId} for a different message (first: ${other.id}); both were processed`,
    details: { controlId: m.controlId, sender: m.sender, first: other.id, second: m.id },
    dedupKey: `hl7_control_id_collision:${m.id}`,
  });
  return other.id;
}

/**
 * The `hl7` connector kind's handler: decode (MSH-18 or the connector's default charset), parse,
 * then map by MSH-9: DFT^P03 device/supply usage, OMS^O05 supply requisitions, MFN^M16 item master.
 * Every other type is `routed` (stored, acknowledged, handed to flows) — never rejected for its type.
 */
export function createHl7Handler(deps: Hl7HandlerDeps): MessageHandler {
  return {
    kind: 'hl7',
    async process(ctx: ProcessContext): Promise<HandlerResult> {
      const cfg = deps.configOf(ctx.message.connectorId);
      const decoded = decodeHl7Buffer(ctx.message.payload, { defaultCharset: ctx.message.encoding ?? cfg.defaultCharset });
      const msg: Hl7Message = parseHl7Message(decoded.text);
      const h = msg.header;
      const type = [h.messageType, h.triggerEvent].filter(Boolean).join('^');
      const w = new WmsWriter(ctx, 1, 'HL7');
      const collisionWith = await flagControlIdCollision(w);
      const common = { version: h.version, charset: decoded.charset, ...(collisionWith ? { controlIdCollisionWith: collisionWith } : {}) };
      switch (type) {
        case 'DFT^P03': {
          const usage = await applyDftP03(w, msg, { phi: deps.phi, zRules: cfg.zSegments });
          return { status: 'processed', messageType: type, summary: { ...common, ...usage, created: w.summary.created, alerts: w.summary.alerts, ledgerRows: w.summary.ledgerRows } };
        }
        case 'OMS^O05': {
          const r = await applyOmsO05(w, msg);
          return { status: 'processed', messageType: type, summary: { ...common, ...r, created: w.summary.created } };
        }
        case 'MFN^M16': {
          const r = await applyMfnM16(w, msg);
          return { status: 'processed', messageType: type, summary: { ...common, ...r, created: w.summary.created } };
        }
        default:
          if (!type) {
            throw new LotBridgeError('LB_ERR_HL7_MESSAGE_TYPE', 'MSH-9 has no message type', { location: msg.msh.location(9) });
          }
          return { status: 'routed', messageType: type, summary: { ...common, reason: `no canonical mapping for ${type}: stored and routed as-is` } };
      }
    },
  };
}

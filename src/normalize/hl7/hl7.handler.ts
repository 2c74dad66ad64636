import { LotBridgeError, type LotBridgeErrorJson } from '../../errors';
import type { HandlerResult, MessageHandler, ProcessContext, StoredMessage } from '../../pipeline/handler';
import { buildHl7Ack, decodeHl7Buffer, hl7AckRequested, isHl7Acknowledgment, parseHl7Message, readMsh, type Hl7Message } from '../../parsers/hl7';
import type { PhiProtector } from '../../security/phi';
import { WmsWriter } from '../wms/wms-writer';
import { applyDftP03, planDftP03, type PlannedDft, type UsageSummary } from './apply-dft-p03';
import { applyDftP03Batch } from './apply-dft-p03-batch';
import { applyMfnM16 } from './apply-mfn-m16';
import { applyOmsO05 } from './apply-oms-o05';
import type { ZSegmentRule } from './hl7-devices';
import { rawNamed } from '../../db/named-statement';

/** What the handler needs of a connector instance's config. */
export interface Hl7HandlerConfig {
  defaultCharset: string;
  zSegments: readonly ZSegmentRule[];
  /** The instance's zone (its ACKs' MSH-7); default UTC. */
  timezone?: string;
  /** MSH-3 of its ACKs when the inbound MSH-5 is empty; default LOTBRIDGE. */
  ackApplication?: string;
  /** MSH-4 of its ACKs when the inbound MSH-6 is empty. */
  ackFacility?: string;
}

/** The options that make an application ACK read like the instance's accept ACKs (zone, our names). */
function ackOptionsOf(cfg: Hl7HandlerConfig) {
  return {
    timeZone: cfg.timezone ?? 'UTC',
    defaults: { sendingApplication: cfg.ackApplication ?? 'LOTBRIDGE', ...(cfg.ackFacility ? { sendingFacility: cfg.ackFacility } : {}) },
  };
}

export interface Hl7HandlerDeps {
  phi: PhiProtector;
  /** The instance config of an `hl7` connector (defaults when unknown). */
  configOf(connectorId: string): Hl7HandlerConfig;
}

/** A decoded and parsed message with its MSH-9 type. */
interface Parsed {
  ctx: ProcessContext;
  msg: Hl7Message;
  type: string;
  charset: string;
}

function parse(ctx: ProcessContext, cfg: Hl7HandlerConfig): Parsed {
  const decoded = decodeHl7Buffer(ctx.message.payload, { defaultCharset: ctx.message.encoding ?? cfg.defaultCharset });
  const msg = parseHl7Message(decoded.text);
  const h = msg.header;
  const type = [h.messageType, h.triggerEvent].filter(Boolean).join('^');
  if (!type) {
    throw new LotBridgeError('LB_ERR_HL7_MESSAGE_TYPE', 'MSH-9 has no message type', { location: msg.msh.location(9) });
  }
  return { ctx, msg, type, charset: decoded.charset };
}

/** Control-id collisions of a batch in one query: message id → the earlier message that used its MSH-10. */
async function collisionsOf(parsed: Parsed[]): Promise<Map<string, string>> {
  const withId = parsed.filter((p) => p.ctx.message.controlId);
  const out = new Map<string, string>();
  if (withId.length === 0) return out;
  const { rows } = await rawNamed<{ rows: Array<{ id: string; control_id: string; sender: string | null; received_at: Date }> }>(parsed[0].ctx.trx,
    `SELECT id, control_id, sender, received_at FROM inbound_messages
      WHERE connector_kind = 'hl7' AND control_id = ANY(?::text[]) AND status NOT IN ('duplicate', 'rejected')
      ORDER BY received_at, id`,
    [[...new Set(withId.map((p) => p.ctx.message.controlId as string))]],
  );
  for (const p of withId) {
    const m = p.ctx.message;
    // only an earlier message makes this one a reuse: the first of two that both wait in the queue,
    // or the first reprocessed after the second came, is the original, not a collision
    const at = new Date(m.receivedAt).getTime();
    const earlier = (r: { id: string; received_at: Date }): boolean => {
      const t = new Date(r.received_at).getTime();
      return t < at || (t === at && r.id < m.id);
    };
    const other = rows.find((r) => r.id !== m.id && r.control_id === m.controlId && (r.sender ?? '') === (m.sender ?? '') && earlier(r));
    if (other) out.set(m.id, other.id);
  }
  return out;
}

async function alertCollision(w: WmsWriter, first: string): Promise<void> {
  const m = w.ctx.message;
  await w.alert({
    type: 'control_id_collision', severity: 'warning', subjectType: 'message', subjectId: m.id,
    message: `HL7 sender ${m.sender ?? '?'} reused MSH-10 ${m.controlId ?? ''} for a different message (first: ${first}); both were processed`,
    details: { controlId: m.controlId, sender: m.sender, first, second: m.id },
    dedupKey: `control_id_collision:${m.id}`,
  });
}

/**
 * The `hl7` connector kind's handler: decode (MSH-18 or the connector's default charset), parse,
 * then map by MSH-9: DFT^P03 device/supply usage, OMS^O05 supply requisitions, MFN^M16 item master.
 * Every other type is `routed` (stored, acknowledged, handed to flows) — never rejected for its type.
 * A batch's DFT^P03 messages are mapped together, set-based (applyDftP03Batch).
 */
export function createHl7Handler(deps: Hl7HandlerDeps): MessageHandler {
  const options = (ctx: ProcessContext) => ({ phi: deps.phi, zRules: deps.configOf(ctx.message.connectorId).zSegments });
  const commonOf = (p: Parsed, collisionWith: string | undefined) => ({ version: p.msg.header.version, charset: p.charset, ...(collisionWith ? { controlIdCollisionWith: collisionWith } : {}) });
  const dftResult = (p: Parsed, w: WmsWriter, usage: UsageSummary, collisionWith: string | undefined): HandlerResult => ({
    status: 'processed', messageType: p.type,
    summary: { ...commonOf(p, collisionWith), ...usage, created: w.summary.created, alerts: w.summary.alerts, ledgerRows: w.summary.ledgerRows, events: w.summary.events },
  });
  /** Everything but a batched DFT^P03. */
  const mapOne = async (p: Parsed, w: WmsWriter, collisionWith: string | undefined): Promise<HandlerResult> => {
    const common = commonOf(p, collisionWith);
    switch (p.type) {
      case 'DFT^P03':
        return dftResult(p, w, await applyDftP03(w, p.msg, options(p.ctx)), collisionWith);
      case 'OMS^O05':
        return { status: 'processed', messageType: p.type, summary: { ...common, ...(await applyOmsO05(w, p.msg)), created: w.summary.created } };
      case 'MFN^M16':
        return { status: 'processed', messageType: p.type, summary: { ...common, ...(await applyMfnM16(w, p.msg)), created: w.summary.created } };
      default:
        return { status: 'routed', messageType: p.type, summary: { ...common, reason: `no canonical mapping for ${p.type}: stored and routed as-is` } };
    }
  };
  /**
   * A message processed or routed: when the sender asked for application ACKs on success (MSH-16
   * `AL` or `SU`), an AA for it as outbox event `hl7.application_ack`, written in the message's own
   * transaction. An operator's reprocess of a message that already got its AA sends no second one.
   */
  const acceptedAck = async (p: Parsed, result: HandlerResult): Promise<HandlerResult> => {
    const header = p.msg.header;
    if (header.applicationAckType && !isHl7Acknowledgment(header.messageType) && hl7AckRequested(header, 'application', 'accepted')) {
      const m = p.ctx.message;
      const sent = await p.ctx
        .trx('outbox_events')
        .where({ source_message_id: m.id, type: 'hl7.application_ack' })
        .whereRaw("payload->>'code' = 'AA'")
        .first('id');
      if (sent) {
        return result;
      }
      const ack = buildHl7Ack({ inbound: header, status: 'accepted', mode: 'original', ...ackOptionsOf(deps.configOf(m.connectorId)) });
      await p.ctx.emit('hl7.application_ack', { messageId: m.id, connectorId: m.connectorId, to: m.sender, controlId: ack.controlId, code: ack.code, acknowledges: m.controlId, raw: ack.text });
    }
    return result;
  };
  return {
    kind: 'hl7',
    contentAddressedDedup: true,
    /**
     * A message rejected or failed after its commit ACK: when the sender asked for application
     * ACKs (MSH-16 AL or ER), an AE for it as outbox event `hl7.application_ack` (delivered to the
     * sender's outbound destination by the deliver queue).
     */
    onFailure(message: StoredMessage, _status: 'rejected' | 'failed', error: LotBridgeErrorJson) {
      const cfg = deps.configOf(message.connectorId);
      const decoded = decodeHl7Buffer(message.payload, { defaultCharset: message.encoding ?? cfg.defaultCharset });
      const header = readMsh(decoded.text);
      if (!header.applicationAckType || isHl7Acknowledgment(header.messageType) || !hl7AckRequested(header, 'application', 'error')) {
        return [];
      }
      const ack = buildHl7Ack({ inbound: header, status: 'error', errors: [LotBridgeError.fromJSON(error)], mode: 'original', ...ackOptionsOf(cfg) });
      return [{
        type: 'hl7.application_ack',
        payload: { messageId: message.id, connectorId: message.connectorId, to: message.sender, controlId: ack.controlId, code: ack.code, acknowledges: message.controlId, raw: ack.text },
      }];
    },
    async process(ctx: ProcessContext): Promise<HandlerResult> {
      const p = parse(ctx, deps.configOf(ctx.message.connectorId));
      const w = new WmsWriter(ctx, 1, 'HL7');
      const collisionWith = (await collisionsOf([p])).get(ctx.message.id);
      if (collisionWith) await alertCollision(w, collisionWith);
      return acceptedAck(p, await mapOne(p, w, collisionWith));
    },
    async processMany(ctxs: ProcessContext[]): Promise<HandlerResult[]> {
      const parsed = ctxs.map((ctx) => parse(ctx, deps.configOf(ctx.message.connectorId)));
      const collisions = await collisionsOf(parsed);
      const results: HandlerResult[] = new Array<HandlerResult>(parsed.length);
      const plans: Array<{ i: number; p: Parsed; w: WmsWriter; plan: PlannedDft }> = [];
      for (const [i, p] of parsed.entries()) {
        const w = new WmsWriter(p.ctx, 1, 'HL7');
        const collisionWith = collisions.get(p.ctx.message.id);
        if (collisionWith) await alertCollision(w, collisionWith);
        if (p.type === 'DFT^P03') {
          plans.push({ i, p, w, plan: await planDftP03(w, p.msg, options(p.ctx), false) });
        } else {
          results[i] = await acceptedAck(p, await mapOne(p, w, collisionWith));
        }
      }
      if (plans.length > 0) {
        await applyDftP03Batch(ctxs[0].trx, plans.map((x) => x.plan));
        for (const x of plans) results[x.i] = await acceptedAck(x.p, dftResult(x.p, x.w, x.plan.summary, collisions.get(x.p.ctx.message.id)));
      }
      return results;
    },
  };
}

import type { IngestReceipt, MessageFormat } from '../connectors/types';
import type { DeliveryRequest, DeliveryView } from '../delivery/enqueue-delivery';
import type { LotKey, LotView } from '../model/lots/get-lot-view';
import type { TraceRequest } from '../trace/trace-query';

/** The settings key under which the embedded hub hands its services to the LotBridge nodes. */
export const BRIDGE_SETTING = 'lotbridge';

/** What travels on a msg so the end of a flow can complete the event's route job. */
export interface RouteTicket {
  /** `<job id>/<attempt>/<event node id>`: completions of an older attempt are ignored. */
  token: string;
  eventId: string;
}

/** A lotbridge-event node as the route consumer sees it. */
export interface EventSubscriber {
  id: string;
  /** Type patterns (see src/routing/event-pattern.ts), aliases expanded. */
  patterns: string[];
  /** Connector id glob on `payload.connectorId` ('' = any). */
  connector: string;
  /** Message type glob on `payload.messageType` ('' = any). */
  messageType: string;
  /** Attach the stored raw message (text) as msg.raw for message.* events. */
  includeRaw: boolean;
  /** Time for the flow to finish one event (ms). */
  timeoutMs: number;
  /** Sends a msg into the flow. */
  emit(msg: Record<string, unknown>): void;
  /** Shows a status on the node. */
  status(s: { fill?: string; shape?: string; text?: string }): void;
}

/** The embedded hub's services, read by nodes from `RED.settings.lotbridge`. */
export interface LotBridgeBridge {
  /** Bridge version, for a palette installed into another hub version. */
  readonly version: 1;
  /** Registers an event node; returns its unsubscribe. */
  subscribe(sub: EventSubscriber): () => void;
  /** Completes a ticket: `ok` finishes that node's share of the event's route job, an error fails the attempt. */
  complete(ticket: RouteTicket | undefined, result: { ok: true; by: string } | { ok: false; error: Error; by: string }): boolean;
  /** Queues a delivery (see enqueueDelivery). */
  deliver(req: DeliveryRequest): Promise<{ delivery: DeliveryView; created: boolean }>;
  /** Records a delivery not sent because its destination is unset. */
  skip(req: Omit<DeliveryRequest, 'destination' | 'body'> & { kind: 'http' | 'mllp' | 'file'; reason: string }): Promise<DeliveryView>;
  /** Resolves when the delivery reaches a final state in this process (delivered/failed), or undefined after `timeoutMs`. */
  outcome(deliveryId: string, timeoutMs: number): Promise<DeliveryView | undefined>;
  /** Stores a message through intake (store before ACK) and returns its receipt. */
  ingest(connectorId: string, body: Buffer, opts: { format?: MessageFormat; contentType?: string; envelope?: Record<string, string> }): Promise<IngestReceipt>;
  /** Connector ids of this hub. */
  connectorIds(): string[];
  /** A lot's view (balances, links, events), or undefined. */
  lot(key: LotKey): Promise<LotView | undefined>;
  /**
   * A forward/backward trace page or a recall-impact preview (src/trace/trace-query.ts). Optional so
   * that a palette of this version loaded into an older hub falls back to the lot lookup. Throws
   * LotBridgeError (LB_ERR_LOT_NOT_FOUND, LB_ERR_SERIAL_NOT_FOUND, LB_ERR_API_BAD_REQUEST, LB_ERR_GS1_*, …).
   */
  trace?(query: TraceRequest): Promise<unknown>;
}

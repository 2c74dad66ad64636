import type { MessageHandler } from './handler';
import { wmsHandler } from '../normalize/wms/wms.handler';
import { createHl7Handler, type Hl7HandlerConfig } from '../normalize/hl7/hl7.handler';
import { createB2mmlHandler, type B2mmlHandlerConfig } from '../normalize/b2mml/b2mml.handler';
import type { PhiProtector } from '../security/phi';
import type { ConnectorInstanceConfig } from '../connectors/types';
import { createX12Handler } from '../normalize/edi/x12.handler';
import { createEdifactHandler } from '../normalize/edi/edifact.handler';

export interface HandlerDeps {
  phi: PhiProtector;
  /** The configured connector instances (handlers read their instance's mapping options). */
  instances: readonly ConnectorInstanceConfig[];
  /** LOTBRIDGE_EDI_UNKNOWN_PARTNERS (default reject). */
  ediUnknownPartners?: 'accept' | 'reject';
  /** LOTBRIDGE_TIMEZONE: the zone of an `hl7` instance without `timezone` (its ACKs' MSH-7). Default UTC. */
  timezone?: string;
}

/** Message handlers by connector kind, registered explicitly. A kind with none is `routed`. */
export function messageHandlers(deps: HandlerDeps): Map<string, MessageHandler> {
  const hl7Config = (id: string): Hl7HandlerConfig => {
    const c = deps.instances.find((i) => i.id === id)?.config ?? {};
    return {
      defaultCharset: typeof c.defaultCharset === 'string' ? c.defaultCharset : 'UNICODE UTF-8',
      zSegments: Array.isArray(c.zSegments) ? (c.zSegments as Hl7HandlerConfig['zSegments']) : [],
      // what the connector's accept ACKs use, so application ACKs are built the same way
      timezone: typeof c.timezone === 'string' ? c.timezone : (deps.timezone ?? 'UTC'),
      ackApplication: typeof c.ackApplication === 'string' ? c.ackApplication : 'LOTBRIDGE',
      ...(typeof c.ackFacility === 'string' && c.ackFacility !== '' ? { ackFacility: c.ackFacility } : {}),
    };
  };
  const b2mmlConfig = (id: string): B2mmlHandlerConfig => {
    const c = deps.instances.find((i) => i.id === id)?.config ?? {};
    return {
      location: typeof c.location === 'string' && c.location.trim() !== '' ? c.location.trim() : 'MES',
      limits: {
        ...(typeof c.maxDocumentBytes === 'number' ? { maxDocumentBytes: c.maxDocumentBytes } : {}),
        ...(typeof c.maxDepth === 'number' ? { maxDepth: c.maxDepth } : {}),
      },
    };
  };
  const edi = { unknownPartners: deps.ediUnknownPartners ?? 'reject' };
  const list: MessageHandler[] = [wmsHandler, createHl7Handler({ phi: deps.phi, configOf: hl7Config }), createB2mmlHandler({ configOf: b2mmlConfig }), createX12Handler(edi), createEdifactHandler(edi)];
  return new Map(list.map((h) => [h.kind, h]));
}

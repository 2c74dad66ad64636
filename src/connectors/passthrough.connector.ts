import { LotBridgeError } from '../errors';
import type { ConnectorAdapter, ConnectorDefinition, EnvelopeInfo, MessageFormat, RawInbound } from './types';

/**
 * A connector that stores messages posted over HTTP and routes them to flows with no canonical
 * mapping (status `routed`). It stands in for the HL7, X12, EDIFACT and MES kinds until their own
 * connectors (MLLP, acks, mappers) land; the envelope reader already gives each format its dedup key.
 */
export function passthroughConnector(kind: string, format: MessageFormat, contentTypes: RegExp, sniff: (text: string) => EnvelopeInfo): ConnectorDefinition {
  return {
    kind,
    configSchema: {
      type: 'object',
      properties: { timezone: { type: 'string' } },
      additionalProperties: true,
    },
    create(instance, deps): ConnectorAdapter {
      let lastMessageAt: Date | undefined;
      return {
        id: instance.id,
        kind,
        timezone: typeof instance.config.timezone === 'string' ? instance.config.timezone : deps.timezone,
        start: () => Promise.resolve(),
        stop: () => Promise.resolve(),
        health: () => Promise.resolve({ status: 'up', detail: 'HTTP intake only (stored and routed)', lastMessageAt }),
        formatOf(contentType: string | undefined): { format: MessageFormat; encoding?: string } {
          const ct = (contentType ?? '').toLowerCase();
          if (ct && !contentTypes.test(ct)) {
            throw new LotBridgeError('LB_ERR_INGEST_UNSUPPORTED_MEDIA', `connector "${instance.id}" (${kind}) does not take Content-Type ${contentType}`);
          }
          const m = /charset=([^;]+)/.exec(ct);
          return { format, encoding: m?.[1]?.trim() };
        },
        readEnvelope(message: RawInbound): EnvelopeInfo {
          lastMessageAt = message.receivedAt;
          return sniff(message.payload.toString('latin1'));
        },
      };
    },
  };
}

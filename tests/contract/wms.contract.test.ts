import { wmsConnector } from '../../connectors/wms';
import type { ConnectorDefinition, RawInbound } from '../../src/connectors/types';
import { defineConnectorContractTests, viaWatchedFolder } from './connector.contract';

const movement = (n: number): Buffer =>
  Buffer.from(
    JSON.stringify({ movementId: `CONTRACT-${n}`, type: 'receive', occurredAt: '2026-03-01T10:00:00Z', location: 'A1', gtin: '09506000134352', lot: 'L1', quantity: n }),
  );

const http = (payload: Buffer): RawInbound => ({
  format: 'json',
  payload,
  contentType: 'application/json',
  receivedAt: new Date(),
  transport: 'http',
  envelope: {},
});

defineConnectorContractTests('wms', () => ({
  definition: wmsConnector as ConnectorDefinition,
  config: { inbox: { pollIntervalMs: 25 } },
  validMessage: (n) => http(movement(n)),
  unreadableMessage: () => http(Buffer.from('{"movementId": "X", "type": ')),
  viaTransport: viaWatchedFolder('.json'),
}));

import { mesB2mmlConnector } from '../../connectors/mes-b2mml';
import type { ConnectorDefinition, RawInbound } from '../../src/connectors/types';
import { defineConnectorContractTests, viaWatchedFolder } from './connector.contract';

const lotDocument = (n: number): Buffer =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700"><ID>MI-CONTRACT-${n}</ID>` +
      `<MaterialLot><ID>LOT-${n}</ID><MaterialDefinitionID>CMP-1</MaterialDefinitionID><Quantity><QuantityString>${n}</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialLot></MaterialInformation>`,
  );

const http = (payload: Buffer): RawInbound => ({ format: 'b2mml', payload, contentType: 'application/xml', receivedAt: new Date(), transport: 'http', envelope: {} });

defineConnectorContractTests('mes-b2mml', () => ({
  definition: mesB2mmlConnector as unknown as ConnectorDefinition,
  config: { inbox: { pollIntervalMs: 25 } },
  validMessage: (n) => http(lotDocument(n)),
  unreadableMessage: () => http(Buffer.from('<!DOCTYPE x [<!ENTITY e "e">]><MaterialInformation><ID>&e;</ID></MaterialInformation>')),
  viaTransport: viaWatchedFolder('.xml'),
}));

import fs from 'node:fs';
import path from 'node:path';
import { mesB2mmlConnector } from '../../connectors/mes-b2mml';
import type { ConnectorAdapter, ConnectorDefinition, RawInbound } from '../../src/connectors/types';
import { defineConnectorContractTests } from './connector.contract';

const lotDocument = (n: number): Buffer =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700"><ID>MI-CONTRACT-${n}</ID>` +
      `<MaterialLot><ID>LOT-${n}</ID><MaterialDefinitionID>CMP-1</MaterialDefinitionID><Quantity><QuantityString>${n}</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity></MaterialLot></MaterialInformation>`,
  );

const http = (payload: Buffer): RawInbound => ({ format: 'b2mml', payload, contentType: 'application/xml', receivedAt: new Date(), transport: 'http', envelope: {} });

/** Drops the document into the adapter's inbox and waits until the watcher moved it to done/ (after the store commit). */
async function viaFolder(adapter: ConnectorAdapter, dataDir: string, message: RawInbound): Promise<{ acked: boolean }> {
  const inbox = path.join(dataDir, 'inbox', adapter.id);
  const name = `contract-${Date.now()}.xml`;
  fs.writeFileSync(path.join(inbox, `.${name}`), message.payload);
  fs.renameSync(path.join(inbox, `.${name}`), path.join(inbox, name));
  const end = Date.now() + 10000;
  while (Date.now() < end) {
    if (fs.existsSync(path.join(inbox, 'done', name)) && !fs.existsSync(path.join(inbox, 'processing', name))) {
      return { acked: true };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { acked: false };
}

defineConnectorContractTests('mes-b2mml', () => ({
  definition: mesB2mmlConnector as unknown as ConnectorDefinition,
  config: { inbox: { pollIntervalMs: 25 } },
  validMessage: (n) => http(lotDocument(n)),
  unreadableMessage: () => http(Buffer.from('<!DOCTYPE x [<!ENTITY e "e">]><MaterialInformation><ID>&e;</ID></MaterialInformation>')),
  viaTransport: viaFolder,
}));

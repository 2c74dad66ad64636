import fs from 'node:fs';
import path from 'node:path';
import { wmsConnector } from '../../connectors/wms';
import type { ConnectorAdapter, ConnectorDefinition, RawInbound } from '../../src/connectors/types';
import { defineConnectorContractTests } from './connector.contract';

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

/** Drops the message into the adapter's inbox and waits for the watcher to move it to done/ (after the store commit). */
async function viaFolder(adapter: ConnectorAdapter, dataDir: string, message: RawInbound): Promise<{ acked: boolean }> {
  const inbox = path.join(dataDir, 'inbox', adapter.id);
  const name = `contract-${Date.now()}.json`;
  fs.writeFileSync(path.join(inbox, `.${name}`), message.payload);
  fs.renameSync(path.join(inbox, `.${name}`), path.join(inbox, name));
  const end = Date.now() + 10000;
  while (Date.now() < end) {
    if (fs.existsSync(path.join(inbox, 'done', name))) {
      return { acked: true };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { acked: false };
}

defineConnectorContractTests('wms', () => ({
  definition: wmsConnector as ConnectorDefinition,
  config: { inbox: { pollIntervalMs: 25 } },
  validMessage: (n) => http(movement(n)),
  unreadableMessage: () => http(Buffer.from('{"movementId": "X", "type": ')),
  viaTransport: viaFolder,
}));

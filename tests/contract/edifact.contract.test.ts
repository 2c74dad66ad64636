import { edifactConnector } from '../../connectors/edifact';
import type { ConnectorDefinition, RawInbound } from '../../src/connectors/types';
import { defineConnectorContractTests, viaWatchedFolder } from './connector.contract';

/** A small DESADV whose interchange control reference is n. */
const asn = (n: number): Buffer =>
  Buffer.from(
    [
      "UNA:+.? '",
      `UNB+UNOC:3+CONTRACTSUP:ZZZ+ACMEDEVICES:ZZZ+260301:1200+C${n}'`,
      "UNH+1+DESADV:D:96A:UN'", `BGM+351+C-DES-${n}+9'`, "LIN+1++09506000134352:SRV'", "QTY+12:1:PCE'", "GIN+BX+L1'", "UNT+6+1'",
      `UNZ+1+C${n}'`,
    ].join('\r\n'),
  );

const http = (payload: Buffer): RawInbound => ({ format: 'edifact', payload, contentType: 'application/edifact', receivedAt: new Date(), transport: 'http', envelope: {} });

defineConnectorContractTests('edifact', () => ({
  definition: edifactConnector as unknown as ConnectorDefinition,
  config: { inbox: { pollIntervalMs: 25 } },
  validMessage: (n) => http(asn(n)),
  unreadableMessage: () => http(Buffer.from('ISA*00*          *00*')),
  viaTransport: viaWatchedFolder('.edi'),
}));

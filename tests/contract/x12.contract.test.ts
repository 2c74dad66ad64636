import { x12Connector } from '../../connectors/x12';
import type { ConnectorDefinition, RawInbound } from '../../src/connectors/types';
import { defineConnectorContractTests, viaWatchedFolder } from './connector.contract';

/** A small 856 whose interchange control number is n (so each n is its own interchange). */
const asn = (n: number): Buffer => {
  const icn = String(n).padStart(9, '0');
  return Buffer.from(
    [
      `ISA*00*          *00*          *ZZ*CONTRACTSUP    *ZZ*ACMEDEVICES    *260301*1200*^*00501*${icn}*0*T*>~`,
      `GS*SH*CONTRACTSUP*ACMEDEVICES*20260301*1200*${n}*X*005010~`,
      'ST*856*0001~', `BSN*00*C-ASN-${n}*20260301*1200~`, 'HL*1**S~', 'HL*2*1*O~', 'PRF*PO-C~', 'HL*3*2*I~',
      'LIN**UK*09506000134352*LT*L1~', 'SN1**1*EA~', 'SE*10*0001~', `GE*1*${n}~`, `IEA*1*${icn}~`,
    ].join('\r\n'),
  );
};

const http = (payload: Buffer): RawInbound => ({ format: 'x12', payload, contentType: 'application/edi-x12', receivedAt: new Date(), transport: 'http', envelope: {} });

defineConnectorContractTests('x12', () => ({
  definition: x12Connector as unknown as ConnectorDefinition,
  config: { inbox: { pollIntervalMs: 25 } },
  validMessage: (n) => http(asn(n)),
  unreadableMessage: () => http(Buffer.from('UNB+UNOA:3+X+Y+260301:1200+1\'')),
  viaTransport: viaWatchedFolder('.x12'),
}));

import { hl7Connector } from '../../connectors/hl7';
import type { ConnectorAdapter, ConnectorDefinition, IngestPort, RawInbound } from '../../src/connectors/types';
import { hl7Fixture, mllpSend, parseAck, setHl7Field, singleImplantDft } from '../helpers/hl7';
import { defineConnectorContractTests } from './connector.contract';

/*
 * The hl7 connector stores raw HL7 encrypted (encryptPayload: PHI), but the shared contract suite
 * builds its IngestService without a PHI protector and compares the stored bytes with the sent
 * ones. So the suite runs the real connector through a view that only turns encryptPayload off:
 * every other member (start/stop, MLLP listener, envelope reader, answers) is the connector's own.
 * Encryption at rest is covered by the hub-level tests (tests/integration/hl7/transport-*.test.ts
 * read the payload back through the audited payload route).
 */
const ingestOf = new WeakMap<ConnectorAdapter, IngestPort>();
function plainStorageView(def: ConnectorDefinition): ConnectorDefinition {
  return {
    ...def,
    create(instance, deps) {
      const adapter = def.create(instance, deps);
      const view: ConnectorAdapter = new Proxy(adapter, {
        get(target, prop) {
          if (prop === 'encryptPayload') return false;
          if (prop === 'start') {
            return (ingest: IngestPort) => {
              ingestOf.set(view, ingest);
              return target.start(ingest);
            };
          }
          const v: unknown = Reflect.get(target, prop, target);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      return view;
    },
  };
}

const hl7 = (payload: Buffer, transport: 'mllp' | 'http'): RawInbound => ({
  format: 'hl7v2',
  payload,
  receivedAt: new Date(),
  transport,
  envelope: {},
  ...(transport === 'http' ? { contentType: 'x-application/hl7-v2+er7' } : {}),
});

/** The n-th distinct single-implant DFT^P03, with the contract's own control ids. */
const dft = (n: number): Buffer => singleImplantDft(n, { controlIdPrefix: 'CONTRACT' }).payload;

/** Bytes with no MSH at all: stored as rejected (LB_ERR_HL7_MSH_MISSING, location MSH). */
const unreadable = (): Buffer => hl7Fixture('missing-msh.hl7');

/** MLLP: sends the frame with the project's MLLP client to the adapter's own listener; acked = an AA for its MSH-10. */
async function viaMllp(adapter: ConnectorAdapter, _dataDir: string, message: RawInbound): Promise<{ acked: boolean }> {
  const port = (adapter as unknown as { mllpPort: number }).mllpPort;
  const [answer] = await mllpSend(port, message.payload);
  const ack = parseAck(answer);
  const sent = message.payload.toString('latin1').split('|')[9];
  return { acked: ack.code === 'AA' && ack.controlId === sent };
}

/**
 * HTTP: the steps of `POST /api/v1/ingest/{id}` (src/api/routes/ingest.routes.ts) on the adapter
 * (formatOf, receiveHttp, the hub's receive, httpAnswer), since the suite runs no HTTP server; the
 * real route is under test in tests/integration/hl7/transport-http.test.ts.
 */
async function viaHttpRoute(adapter: ConnectorAdapter, _dataDir: string, message: RawInbound): Promise<{ acked: boolean }> {
  const ingest = ingestOf.get(adapter);
  if (!ingest) throw new Error('adapter not started');
  const { format, encoding } = adapter.formatOf('x-application/hl7-v2+er7', message.payload);
  const raw: RawInbound = { ...message, format, ...(encoding ? { encoding } : {}), contentType: 'x-application/hl7-v2+er7' };
  const whole = await adapter.receiveHttp?.(raw);
  expect(whole).toBeUndefined(); // one message, not a batch file
  const receipt = await ingest.receive(adapter.id, raw);
  const answer = await adapter.httpAnswer?.(receipt, raw);
  if (!answer || answer.statusCode !== 200) return { acked: false };
  const ack = parseAck(Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(answer.body));
  return { acked: receipt.status === 'accepted' && ack.code === 'AA' && ack.controlId === message.payload.toString('latin1').split('|')[9] };
}

defineConnectorContractTests('hl7-mllp', () => ({
  definition: plainStorageView(hl7Connector as unknown as ConnectorDefinition),
  config: { mllp: { enabled: true, port: 0, host: '127.0.0.1', maxMessageBytes: 1048576, idleTimeoutMs: 300000 }, ackMode: 'store', ackTimeoutMs: 30000, defaultCharset: 'UNICODE UTF-8', ackApplication: 'LOTBRIDGE', fifo: false, zSegments: [] },
  validMessage: (n) => hl7(dft(n), 'mllp'),
  unreadableMessage: () => hl7(unreadable(), 'mllp'),
  viaTransport: viaMllp,
}));

defineConnectorContractTests('hl7-http', () => ({
  definition: plainStorageView(hl7Connector as unknown as ConnectorDefinition),
  config: { ackMode: 'store', ackTimeoutMs: 30000, defaultCharset: 'UNICODE UTF-8', ackApplication: 'LOTBRIDGE', fifo: false, zSegments: [] },
  validMessage: (n) => hl7(setHl7Field(dft(n), 'MSH', 10, `CONTRACT-HTTP-${n}`), 'http'),
  unreadableMessage: () => hl7(unreadable(), 'http'),
  viaTransport: viaHttpRoute,
}));

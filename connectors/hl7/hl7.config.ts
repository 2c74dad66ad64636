/** Configuration of one `hl7` connector instance (validated with ajv; defaults applied). */
export interface Hl7ConnectorConfig {
  /** MLLP listener; absent or `enabled: false` ⇒ HTTP only. */
  mllp?: {
    enabled: boolean;
    /** Default: LOTBRIDGE_MLLP_PORT (2575). */
    port?: number;
    /** Default: LOTBRIDGE_HTTP_HOST. */
    host?: string;
    maxMessageBytes: number;
    idleTimeoutMs: number;
    /** PEM files: MLLP over TLS. */
    tls?: { keyFile: string; certFile: string; caFile?: string; requestCert?: boolean };
  };
  /** `store`: ACK once the raw message is committed (default); `processed`: after the canonical commit. */
  ackMode: 'store' | 'processed';
  /** With ackMode `processed`: the longest wait for the pipeline before answering with a commit ACK. */
  ackTimeoutMs: number;
  /** MSH-18 value assumed when a message has none. */
  defaultCharset: string;
  /** MSH-3/MSH-4 of our ACKs when the inbound MSH-5/MSH-6 are empty. */
  ackApplication: string;
  ackFacility?: string;
  /** IANA zone for timestamps without an offset (default LOTBRIDGE_TIMEZONE). */
  timezone?: string;
  /** Process one sender's messages strictly in receipt order. */
  fifo: boolean;
  /** Where sites put lot/serial/UDI in Z-segments, e.g. `{ "segment": "ZSU", "lot": 3, "serial": 4 }`. */
  zSegments: Array<{ segment: string; udi?: number; gtin?: number; lot?: number; serial?: number; expiry?: number; quantity?: number }>;
  /**
   * Where application ACKs (MSH-16 AL/ER: the AE of a message rejected after its commit ACK) go, per
   * sender: the first entry whose `sender` glob matches `MSH-3|MSH-4` (`*` = any). A destination is
   * `{ kind: 'mllp', host, port, tls? }` (or http/file, as the deliver queue takes them), optional
   * `policy` (attempts, backoffMs, timeoutMs, concurrency). None matching: the AE is recorded as a
   * skipped delivery on the message.
   */
  applicationAckDestinations?: Array<{ sender?: string; destination: Record<string, unknown>; policy?: Record<string, number> }>;
}

export const hl7ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mllp: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: true },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        host: { type: 'string', minLength: 1 },
        maxMessageBytes: { type: 'integer', minimum: 1024, default: 1048576 },
        idleTimeoutMs: { type: 'integer', minimum: 0, default: 300000 },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['keyFile', 'certFile'],
          properties: { keyFile: { type: 'string' }, certFile: { type: 'string' }, caFile: { type: 'string' }, requestCert: { type: 'boolean' } },
        },
      },
    },
    ackMode: { enum: ['store', 'processed'], default: 'store' },
    ackTimeoutMs: { type: 'integer', minimum: 100, default: 30000 },
    defaultCharset: { type: 'string', default: 'UNICODE UTF-8' },
    ackApplication: { type: 'string', minLength: 1, default: 'LOTBRIDGE' },
    ackFacility: { type: 'string' },
    timezone: { type: 'string', minLength: 1 },
    fifo: { type: 'boolean', default: false },
    applicationAckDestinations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['destination'],
        properties: {
          sender: { type: 'string', minLength: 1 },
          destination: { type: 'object', required: ['kind'], properties: { kind: { enum: ['mllp', 'http', 'file'] } } },
          policy: {
            type: 'object',
            additionalProperties: false,
            properties: { attempts: { type: 'integer', minimum: 1, maximum: 50 }, backoffMs: { type: 'integer', minimum: 0 }, timeoutMs: { type: 'integer', minimum: 1 }, concurrency: { type: 'integer', minimum: 1, maximum: 64 } },
          },
        },
      },
    },
    zSegments: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['segment'],
        properties: {
          segment: { type: 'string', pattern: '^Z[A-Z0-9]{2}$' },
          udi: { type: 'integer', minimum: 1 },
          gtin: { type: 'integer', minimum: 1 },
          lot: { type: 'integer', minimum: 1 },
          serial: { type: 'integer', minimum: 1 },
          expiry: { type: 'integer', minimum: 1 },
          quantity: { type: 'integer', minimum: 1 },
        },
      },
    },
  },
} as const;

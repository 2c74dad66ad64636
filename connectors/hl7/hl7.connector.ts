import fs from 'node:fs';
import { isLotBridgeError, LotBridgeError } from '../../src/errors';
import type {
  ConnectorAdapter,
  ConnectorDefinition,
  ConnectorDeps,
  ConnectorHealth,
  IngestPort,
  IngestReceipt,
  MessageFormat,
  RawInbound,
  StoredAck,
} from '../../src/connectors/types';
import { isValidTimeZone } from '../../src/config/config';
import {
  buildHl7Ack, clipHl7Text, encodeHl7Ack, encodingCharactersOf, hl7AckMimeCharset, msh18OfMimeCharset, escapeHl7, formatHl7Time, generateControlId, hl7AckRequested, isHl7Acknowledgment, splitHl7Batch, type Hl7Ack, type Hl7AckStatus, type Hl7Delimiters, type Hl7Segment, type MshHeader,
} from '../../src/parsers/hl7';
import { createMllpServer, type MllpConnectionInfo, type MllpServer } from '../../src/transport/mllp';
import { hl7ConfigSchema, type Hl7ConnectorConfig } from './hl7.config';
import { readHl7Envelope, type Hl7Envelope } from './hl7-envelope';

/** Content-Types the HTTP variant takes. */
// the type must end there (parameters may follow): `application/hl7-v2+xml` (HL7 v2 XML) is not ER7
const HL7_MEDIA = /^(x-application\/hl7-v2\+er7|application\/hl7-v2(\+er7)?|text\/plain|application\/octet-stream)\s*(;|$)/i;


/** An answer: the ACK bytes (or none, when the sender asked for no accept ACK) and the receipts behind it. */
interface Hl7Answer {
  body?: Buffer;
  receipts: IngestReceipt[];
  codes: string[];
}

/**
 * The hospital HL7 v2 connector: MLLP listener (optional TLS) and `POST /api/v1/ingest/{id}`.
 * Every message is stored before it is acknowledged (deferred-commit ACK): AA/CA once the raw
 * bytes are committed (ack mode `store`) or once the canonical model has it (`processed`);
 * AR/CR for what cannot be read; a resend is answered with the ACK it got the first time.
 * Batch files (FHS/BHS … BTS/FTS) are split: each message is stored on its own and the answer
 * is a batch of ACKs.
 */
class Hl7Connector implements ConnectorAdapter {
  readonly kind = 'hl7';
  /** Envelopes read per payload buffer: intake, the answer and the HTTP route read the same one. */
  private readonly envelopeCache = new WeakMap<Buffer, { charset: string; env: Hl7Envelope }>();
  readonly encryptPayload = true;
  private ingest?: IngestPort;
  private server?: MllpServer;
  private lastMessageAt?: Date;
  /** Between start() and stop(): start and stop are idempotent, and the connector may start again after a stop. */
  private running = false;
  /** ACKs being built or written for first copies, by message id (resends wait for them). */
  private readonly pendingAcks = new Map<string, Promise<StoredAck | undefined>>();
  private starting?: Promise<void>;

  constructor(
    readonly id: string,
    private readonly config: Hl7ConnectorConfig,
    readonly timezone: string,
    private readonly deps: ConnectorDeps,
  ) {}

  start(ingest: IngestPort): Promise<void> {
    if (this.running) {
      return this.starting ?? Promise.resolve();
    }
    this.ingest = ingest;
    this.running = true;
    this.starting = this.listen().catch((err: unknown) => {
      this.running = false;
      throw err;
    });
    return this.starting;
  }

  /** Opens the MLLP listener, when the instance has one. */
  private async listen(): Promise<void> {
    const m = this.config.mllp;
    if (!m?.enabled) {
      return;
    }
    const port = m.port ?? this.deps.listen?.mllpPort ?? 2575;
    const tls = m.tls
      ? {
          key: fs.readFileSync(m.tls.keyFile),
          cert: fs.readFileSync(m.tls.certFile),
          ...(m.tls.caFile ? { ca: fs.readFileSync(m.tls.caFile) } : {}),
          ...(m.tls.requestCert ? { requestCert: true } : {}),
        }
      : undefined;
    const server = createMllpServer({
      host: m.host ?? this.deps.listen?.host,
      port,
      maxFrameBytes: m.maxMessageBytes,
      idleTimeoutMs: m.idleTimeoutMs,
      ...(tls ? { tls } : {}),
      logger: this.deps.logger,
      onFrame: async (payload, conn) => (await this.receive(payload, 'mllp', this.connEnvelope(conn))).body,
      onProtocolError: async (error, bytes, conn) => (await this.receiveBroken(error, bytes, conn)).body,
    });
    await server.start();
    this.server = server;
    this.deps.logger.info({ port: server.port, tls: tls !== undefined }, 'MLLP listener ready');
  }

  /** The bound MLLP port (0 when there is no listener). */
  get mllpPort(): number {
    return this.server?.port ?? 0;
  }

  async stop(options: { force?: boolean } = {}): Promise<void> {
    if (!this.running) {
      return;
    }
    this.running = false;
    await this.starting?.catch(() => undefined);
    const server = this.server;
    this.server = undefined;
    await server?.stop({ graceMs: options.force ? 0 : 10000 });
  }

  health(): Promise<ConnectorHealth> {
    if (!this.running) {
      return Promise.resolve({ status: 'down', detail: 'stopped' });
    }
    if (this.config.mllp?.enabled && !this.server) {
      return Promise.resolve({ status: 'down', detail: 'MLLP listener not started' });
    }
    const stats = this.server?.stats();
    return Promise.resolve({
      status: 'up',
      ...(stats ? { detail: `MLLP port ${this.server?.port}: ${stats.openConnections} connections, ${stats.framesReceived} frames` } : {}),
      ...(this.lastMessageAt ? { lastMessageAt: this.lastMessageAt } : {}),
    });
  }

  formatOf(contentType: string | undefined): { format: MessageFormat; encoding?: string } {
    if (contentType && !HL7_MEDIA.test(contentType)) {
      throw new LotBridgeError('LB_ERR_INGEST_UNSUPPORTED_MEDIA', `connector ${this.id} takes HL7 v2 (x-application/hl7-v2+er7 or text/plain), not ${contentType}`);
    }
    // a charset on the Content-Type is the default for a message without MSH-18
    const cs = /;\s*charset="?([^";]+)"?/i.exec(contentType ?? '')?.[1]?.trim().toLowerCase();
    const encoding = cs === undefined ? undefined : msh18OfMimeCharset(cs);
    return { format: 'hl7v2', ...(encoding ? { encoding } : {}) };
  }

  readEnvelope(message: RawInbound) {
    return this.envelopeOf(message.payload, message.encoding ?? this.config.defaultCharset).info;
  }

  /** HTTP: 200 with the ACK as the body, whatever its code; the receipt in the LotBridge-* headers. */
  async httpAnswer(receipt: IngestReceipt, message: RawInbound) {
    // a body over the size limit is answered from its head (AR with MSA-2 = its MSH-10)
    const bytes = message.payload.length === 0 && message.head ? message.head : message.payload;
    const env = this.envelopeOf(bytes, message.encoding ?? this.config.defaultCharset);
    const answer = await this.answer(receipt, env, message.transport);
    return {
      statusCode: 200,
      contentType: `x-application/hl7-v2+er7; charset=${hl7AckMimeCharset(env.decoded?.encoding.decoder)}`,
      body: answer ?? Buffer.alloc(0),
    };
  }

  /** HTTP batch files: split here, so each message is stored on its own. */
  async receiveHttp(raw: RawInbound): Promise<{ receipts: IngestReceipt[]; statusCode: number; contentType: string; body: Buffer } | undefined> {
    if (raw.oversizeBytes !== undefined) {
      return undefined; // too large: stored as one rejected message (metadata only) and answered with one AR
    }
    const text = raw.payload.toString('latin1');
    // the text is ISO-8859-1, one character per byte: a UTF-8 byte-order mark is the three characters EF BB BF
    if (!/^\s*(FHS|BHS)/.test(text.replace(/^\xef\xbb\xbf/, '').replace(/^\x0b/, ''))) {
      return undefined; // one message: the ingest route stores it and asks httpAnswer
    }
    // the Content-Type's charset is the default for the file's messages, as for a single message
    const a = await this.receive(raw.payload, 'http', raw.envelope, raw.encoding);
    return { receipts: a.receipts, statusCode: 200, contentType: 'x-application/hl7-v2+er7', body: a.body ?? Buffer.alloc(0) };
  }

  /** The envelope of a payload, read once per buffer and default charset. */
  private envelopeOf(payload: Buffer, defaultCharset: string): Hl7Envelope {
    const hit = this.envelopeCache.get(payload);
    if (hit && (hit.charset === defaultCharset || hit.env.decoded?.declared === true)) {
      return hit.env;
    }
    const env = readHl7Envelope(payload, defaultCharset);
    this.envelopeCache.set(payload, { charset: defaultCharset, env });
    return env;
  }

  private connEnvelope(conn: MllpConnectionInfo): Record<string, string> {
    return { remoteAddress: conn.remoteAddress, remotePort: String(conn.remotePort), connectionId: conn.id, tls: String(conn.tls) };
  }

  /** Stores one frame (a message or a batch file) and builds its answer. */
  private async receive(payload: Buffer, transport: 'mllp' | 'http', envelope: Record<string, string>, defaultCharset = this.config.defaultCharset): Promise<Hl7Answer> {
    const ingest = this.requireIngest();
    this.lastMessageAt = new Date();
    const head = payload.toString('latin1', 0, Math.min(payload.length, 16)).replace(/^\uFEFF|^\xef\xbb\xbf/, '').trimStart();
    if (head.startsWith('FHS') || head.startsWith('BHS')) {
      return this.receiveBatch(payload, transport, envelope, defaultCharset);
    }
    const env = this.envelopeOf(payload, defaultCharset);
    const raw: RawInbound = { format: 'hl7v2', payload, receivedAt: new Date(), transport, envelope, ...(env.decoded ? { encoding: env.decoded.charset } : {}) };
    const receipt = await ingest.receive(this.id, raw);
    const body = await this.answer(receipt, env, transport);
    return { body, receipts: [receipt], codes: [] };
  }

  /**
   * A batch file: every message stored on its own (concurrently, so one group commit), answered
   * with a batch of ACKs (BHS, ACK…, BTS) in the file's delimiters.
   */
  private async receiveBatch(payload: Buffer, transport: 'mllp' | 'http', envelope: Record<string, string>, defaultCharset: string): Promise<Hl7Answer> {
    const ingest = this.requireIngest();
    const whole = this.envelopeOf(payload, defaultCharset);
    const text = whole.decoded?.text ?? payload.toString('latin1');
    // The file is split on its bytes read as ISO-8859-1 (one character per byte; segment ends and
    // ids are ASCII in every supported charset), so each message is stored with exactly the bytes
    // it had in the file, whatever its charset, and is decoded (and refused) on its own. A file that
    // cannot be split (no MSH in it, unusable FHS/BHS delimiters) is stored as one rejected message
    // and answered with an AR, like any unreadable message.
    const bom = payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf ? 3 : 0;
    let batch: ReturnType<typeof splitHl7Batch> | undefined;
    let unsplittable: LotBridgeError | undefined;
    try {
      batch = splitHl7Batch(payload.toString('latin1', bom));
    } catch (err) {
      if (!isLotBridgeError(err)) throw err;
      unsplittable = err;
    }
    const receivedAt = new Date();
    if (!batch || batch.messages.length === 0) {
      const error = unsplittable ?? batch?.errors[0] ?? new LotBridgeError('LB_ERR_HL7_BATCH', 'the batch file holds no message');
      const receipt = await ingest.receive(this.id, { format: 'hl7v2', payload, receivedAt, transport, envelope, rejection: error });
      const ack = buildHl7Ack({ inbound: text, status: 'rejected', errors: [error], timeZone: this.timezone, defaults: { sendingApplication: this.config.ackApplication, ...(this.config.ackFacility ? { sendingFacility: this.config.ackFacility } : {}) } });
      void ingest.recordAck(receipt.messageId, this.storedAck(ack));
      return { body: encodeHl7Ack(ack.text, whole.decoded?.encoding.decoder), receipts: [receipt], codes: [ack.code] };
    }
    const split = batch;
    const results = await Promise.all(
      split.messages.map(async (m, i) => {
        const bytes = Buffer.from(m.text, 'latin1');
        // the first message's charset is the default; a message's own MSH-18 is what it is stored with
        const env = this.envelopeOf(bytes, whole.decoded?.charset ?? defaultCharset);
        const receipt = await ingest.receive(this.id, {
          format: 'hl7v2', payload: bytes, receivedAt, transport, encoding: env.decoded?.charset ?? whole.decoded?.charset ?? defaultCharset,
          envelope: { ...envelope, batchIndex: String(i + 1), ...(split.fileHeader ? { batchFile: 'FHS' } : {}) },
        });
        const ack = await this.answerText(receipt, env);
        return { receipt, ack, isAck: isHl7Acknowledgment(env.header.messageType) };
      }),
    );
    // an ACK in the file is not acknowledged; a file of ACKs only (a hospital's batch acknowledgment) gets no answer over MLLP
    const acks = results.filter((r) => !r.isAck).map((r) => r.ack?.text ?? '').filter(Boolean);
    if (acks.length === 0 && transport === 'mllp') {
      return { receipts: results.map((r) => r.receipt), codes: [] };
    }
    // the file's own header (BHS, else FHS) read from the decoded text, for the answer's header
    let header: Hl7Segment | undefined = split.batchHeaders[0] ?? split.fileHeader;
    if (whole.decoded) {
      try {
        const decoded = splitHl7Batch(text);
        header = decoded.batchHeaders[0] ?? decoded.fileHeader;
      } catch {
        // the bytes split, so the text does too; keep the byte view's header if not
      }
    }
    if (split.errors.length > 0) {
      this.deps.logger.warn({ errors: split.errors.map((e) => e.message), messages: split.messages.length }, 'hl7 batch file envelope does not add up (cut short?); its messages were taken one by one');
    }
    const body = this.batchOfAcks(acks, header, whole.header.delimiters, split.errors[0]);
    return { body: encodeHl7Ack(body, whole.decoded?.encoding.decoder), receipts: results.map((r) => r.receipt), codes: results.map((r) => r.ack?.code ?? '') };
  }

  /**
   * The answer to a batch file: BHS, the ACKs, BTS. BHS-3/4 are ours (`ackApplication`,
   * `ackFacility`), BHS-5/6 the file's sender (its BHS-3/4, else FHS-3/4), BHS-7 now, BHS-11 a
   * fresh control id and BHS-12 the control id of the batch answered (its BHS-11, else FHS-11).
   * BTS-1 counts the ACKs; BTS-2 (batch comment) names an envelope problem of the file (a BTS or
   * FTS count that does not match: a file cut short), whose messages were taken all the same.
   */
  private batchOfAcks(acks: string[], inbound: Hl7Segment | undefined, fallback: Hl7Delimiters, problem: LotBridgeError | undefined): string {
    const d = inbound?.delimiters ?? fallback;
    const f = d.field;
    const raw = (n: number): string => inbound?.rawField(n) ?? '';
    const bhs = [
      `BHS${f}${encodingCharactersOf(d)}`,
      escapeHl7(this.config.ackApplication, d),
      escapeHl7(this.config.ackFacility ?? '', d),
      raw(3),
      raw(4),
      formatHl7Time(new Date(), this.timezone),
      '', '', '',
      generateControlId(),
      raw(11),
    ];
    while (bhs.length > 1 && bhs[bhs.length - 1] === '') bhs.pop();
    const comment = problem ? escapeHl7(clipHl7Text(`${problem.code}: ${problem.message}`, 80), d) : '';
    const bts = [`BTS${f}${acks.length}`, ...(comment ? [comment] : [])];
    return `${[bhs.join(f), ...acks.map((a) => a.replace(/\r$/, '')), bts.join(f)].join('\r')}\r`;
  }

  /** Bytes that are not a good MLLP frame: stored as a rejected message, answered with AR. */
  private async receiveBroken(error: LotBridgeError, bytes: Buffer, conn: MllpConnectionInfo): Promise<Hl7Answer> {
    const ingest = this.requireIngest();
    const receipt = await ingest.receive(this.id, {
      format: 'hl7v2', payload: bytes, receivedAt: new Date(), transport: 'mllp', envelope: this.connEnvelope(conn), rejection: error,
      // an oversize frame: only its metadata is kept (details.size: the bytes seen; the payload holds just the first maxErrorBytes)
      ...(error.code === 'LB_ERR_MLLP_FRAME_TOO_LARGE' && typeof error.details?.size === 'number' ? { oversizeBytes: error.details.size } : {}),
    });
    // a frame we cut ourselves (our stop, our idle close) is not the sender's error: it gets no
    // answer (an AR would tell the sender not to resend it); it is stored for the record only
    const reason = error.details?.reason;
    if (reason === 'server-stop' || reason === 'idle-timeout') {
      return { receipts: [receipt], codes: [] };
    }
    // stray bytes a frame followed at once (a prefix, a keep-alive) are stored but not answered:
    // that AR would come before the frame's ACK, and a sender reading one answer per message would
    // take it for its message's ACK and be one answer behind from then on
    if (error.details?.endedBy === 'frame-start') {
      return { receipts: [receipt], codes: [] };
    }
    const env = this.envelopeOf(bytes, this.config.defaultCharset);
    const ack = buildHl7Ack({ inbound: env.header, status: 'rejected', errors: [error], timeZone: this.timezone, defaults: { sendingApplication: this.config.ackApplication, ...(this.config.ackFacility ? { sendingFacility: this.config.ackFacility } : {}) } });
    void ingest.recordAck(receipt.messageId, this.storedAck(ack));
    return { body: encodeHl7Ack(ack.text, env.decoded?.encoding.decoder), receipts: [receipt], codes: [ack.code] };
  }

  private async answer(receipt: IngestReceipt, env: Hl7Envelope, transport: 'mllp' | 'http' | string): Promise<Buffer | undefined> {
    const ack = await this.answerText(receipt, env);
    if (!ack) {
      return undefined;
    }
    // enhanced mode: MSH-15 NE/ER/SU may ask for no accept ACK; over HTTP there is always an answer
    if (transport === 'mllp' && ack.requested === false) {
      return undefined;
    }
    return encodeHl7Ack(ack.text, env.decoded?.encoding.decoder);
  }

  /**
   * The ACK for one receipt: the first ACK again for a resend; else built and kept on the message.
   * A resend that arrives while the first message's ACK is still being built or written (a resend
   * storm) waits for that ACK, so every copy is answered with the same bytes.
   */
  private async answerText(receipt: IngestReceipt, env: Hl7Envelope): Promise<{ text: string; code: string; requested?: boolean } | undefined> {
    const ingest = this.requireIngest();
    if (receipt.status === 'duplicate') {
      const first = receipt.duplicateOf ? await this.firstAckOf(receipt.duplicateOf) : undefined;
      if (first?.raw) {
        void ingest.recordAck(receipt.messageId, { ...first, sentAt: new Date().toISOString(), resentFor: receipt.duplicateOf });
        const firstStatus: Hl7AckStatus = first.code === 'AA' || first.code === 'CA' ? 'accepted' : first.code === 'AR' || first.code === 'CR' ? 'rejected' : 'error';
        return { text: first.raw, code: first.code, requested: !isHl7Acknowledgment(env.header.messageType) && hl7AckRequested(env.header, 'accept', firstStatus) };
      }
    }
    let settle: (ack: StoredAck | undefined) => void = () => undefined;
    if (receipt.status !== 'duplicate') {
      this.pendingAcks.set(receipt.messageId, new Promise((resolve) => (settle = resolve)));
    }
    try {
      let status: Hl7AckStatus = 'accepted';
      const errors: LotBridgeError[] = [];
      if (receipt.status === 'rejected') {
        status = 'rejected';
        errors.push(LotBridgeError.fromJSON(receipt.error));
      } else if (receipt.status === 'accepted' && this.config.ackMode === 'processed') {
        const verdict = await ingest.awaitVerdict(receipt.messageId, this.config.ackTimeoutMs);
        if ((verdict.status === 'rejected' || verdict.status === 'failed') && verdict.error) {
          status = 'error';
          errors.push(LotBridgeError.fromJSON(verdict.error));
        }
      }
      const ack = this.build(env.header, status, errors);
      const requested = !isHl7Acknowledgment(env.header.messageType) && hl7AckRequested(env.header, 'accept', status);
      // kept even when MSH-15 asked for none (then MLLP sends nothing; HTTP always answers with it)
      const stored = { ...this.storedAck(ack), requestedBySender: requested };
      settle(stored);
      void ingest.recordAck(receipt.messageId, stored).finally(() => this.pendingAcks.delete(receipt.messageId));
      return { text: ack.text, code: ack.code, requested };
    } catch (err) {
      settle(undefined);
      this.pendingAcks.delete(receipt.messageId);
      throw err;
    }
  }

  /**
   * The ACK the first copy of a message got: from this process while it is being built or written,
   * else from the message row (the first copy may have come in through another process), waiting
   * briefly for it to be kept; undefined when there is none (a fresh ACK is built then).
   */
  private async firstAckOf(messageId: string): Promise<StoredAck | undefined> {
    const ingest = this.requireIngest();
    const deadline = Date.now() + 2000 + (this.config.ackMode === 'processed' ? this.config.ackTimeoutMs : 0);
    for (;;) {
      const pending = this.pendingAcks.get(messageId);
      if (pending) {
        return pending;
      }
      const kept = await ingest.ackOf(messageId);
      if (kept?.raw || Date.now() >= deadline) {
        return kept;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private build(header: MshHeader, status: Hl7AckStatus, errors: LotBridgeError[]): Hl7Ack {
    return buildHl7Ack({
      inbound: header,
      status,
      errors,
      timeZone: this.timezone,
      defaults: { sendingApplication: this.config.ackApplication, ...(this.config.ackFacility ? { sendingFacility: this.config.ackFacility } : {}) },
    });
  }

  private storedAck(ack: Hl7Ack) {
    return { type: 'ACK', code: ack.code, mode: ack.mode, controlId: ack.controlId, sentAt: new Date().toISOString(), raw: ack.text };
  }

  private requireIngest(): IngestPort {
    if (!this.ingest) {
      throw new LotBridgeError('LB_ERR_INTERNAL', `connector ${this.id} received a message before start()`);
    }
    return this.ingest;
  }
}

export const hl7Connector: ConnectorDefinition<Hl7ConnectorConfig> = {
  kind: 'hl7',
  configSchema: hl7ConfigSchema,
  create(instance, deps: ConnectorDeps): ConnectorAdapter {
    const { id, config } = instance;
    const timezone = config.timezone ?? deps.timezone;
    if (!isValidTimeZone(timezone)) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_CONFIG_INVALID', `connector "${id}" (hl7): timezone "${timezone}" is not an IANA time zone`);
    }
    return new Hl7Connector(id, config, timezone, deps);
  },
};

import net from 'node:net';
import tls from 'node:tls';
import { LotBridgeError } from '../../errors';
import { silentLogger, type Logger } from '../../logging/logger';
import { DEFAULT_MAX_FRAME_BYTES, MllpFrameDecoder, type MllpDecodeEvent } from './mllp-frame-decoder';
import { encodeMllpFrame } from './mllp-framing';

/** TLS settings of an MLLP client; present ⇒ `tls.connect`. */
export interface MllpClientTlsOptions {
  /** PEM CA certificate(s) trusted for the server certificate (default: Node's CA store). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** PEM client certificate, for servers that ask for one. */
  cert?: string | Buffer;
  /** PEM private key of the client certificate. */
  key?: string | Buffer;
  /** Refuse a server whose certificate does not verify. Default true. */
  rejectUnauthorized?: boolean;
  /** Name checked against the server certificate (default: host, when it is a name). */
  servername?: string;
}

/** Options of {@link createMllpClient}. */
export interface MllpClientOptions {
  /** Server host name or address. */
  host: string;
  /** Server port. */
  port: number;
  /** Speak MLLP over TLS. */
  tls?: MllpClientTlsOptions;
  /** Longest wait for one answer, from `send()` (connecting included). Default 30 s. */
  timeoutMs?: number;
  /** Largest answer accepted, bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Default: silent. Payloads are never logged. */
  logger?: Logger;
}

/** An MLLP client: one connection, reused; requests are pipelined and answers matched in order. */
export interface MllpClient {
  /**
   * Sends one payload framed and resolves with the payload of its answer. Connects (again) when
   * there is no open connection. Several sends may be outstanding: they are written at once and
   * the n-th answer on the connection belongs to the n-th frame written.
   *
   * @param payload - bytes to send (must not hold VT or FS bytes)
   * @returns the answer's payload
   * @throws LotBridgeError `LB_ERR_MLLP_CONNECT`, `LB_ERR_MLLP_TIMEOUT`, `LB_ERR_MLLP_CONNECTION_CLOSED`,
   *   `LB_ERR_MLLP_FRAME_TOO_LARGE` / `LB_ERR_MLLP_FRAME_TRUNCATED` (for a bad answer),
   *   `LB_ERR_MLLP_PAYLOAD_INVALID`, `LB_ERR_MLLP_CLIENT_CLOSED`
   */
  send(payload: Buffer): Promise<Buffer>;
  /** Refuses new sends, waits for outstanding answers (each bounded by timeoutMs), then closes the connection. Idempotent. */
  close(): Promise<void>;
  /** Sends waiting for their answer. */
  readonly outstanding: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Creates an MLLP client (no I/O until the first `send()`).
 *
 * @param options - server address, optional TLS, answer timeout and size limit
 * @returns the client
 */
export function createMllpClient(options: MllpClientOptions): MllpClient {
  return new MllpClientImpl(options);
}

interface Request {
  frame: Buffer;
  resolve(answer: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

class MllpClientImpl implements MllpClient {
  private session: ClientSession | undefined;
  private readonly requests = new Set<Request>();
  private closing: Promise<void> | undefined;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: MllpClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.logger ?? silentLogger();
  }

  get outstanding(): number {
    return this.requests.size;
  }

  send(payload: Buffer): Promise<Buffer> {
    if (this.closing) {
      return Promise.reject(new LotBridgeError('LB_ERR_MLLP_CLIENT_CLOSED', `send() on the MLLP client for ${this.where} after close()`));
    }
    let frame: Buffer;
    try {
      frame = encodeMllpFrame(payload);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<Buffer>((resolve, reject) => {
      const req: Request = { frame, resolve, reject, timer: undefined, settled: false };
      this.requests.add(req);
      if (!this.session || this.session.closed) {
        this.session = new ClientSession(this.options, this.log, this.where, (r, outcome) => this.settle(r, outcome));
      }
      const session = this.session;
      req.timer = setTimeout(() => session.timedOut(req, this.timeoutMs), this.timeoutMs);
      session.enqueue(req);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async (): Promise<void> => {
      if (this.requests.size > 0) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      }
      await this.session?.end(this.timeoutMs);
      this.session = undefined;
    })();
    return this.closing;
  }

  private get where(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  private settle(req: Request, outcome: { answer: Buffer } | { error: Error }): void {
    if (req.settled) {
      return;
    }
    req.settled = true;
    clearTimeout(req.timer);
    this.requests.delete(req);
    if ('answer' in outcome) {
      req.resolve(outcome.answer);
    } else {
      req.reject(outcome.error);
    }
    if (this.requests.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) {
        w();
      }
    }
  }
}

/** One connection of a client: frames written in order, answers taken in the same order. */
class ClientSession {
  closed = false;
  private connected = false;
  private readonly socket: net.Socket;
  private readonly decoder: MllpFrameDecoder;
  /** Not yet written (still connecting). */
  private queued: Request[] = [];
  /** Written, waiting for their answer, oldest first. */
  private waiting: Request[] = [];
  private lastError: Error | undefined;
  /** Why we destroyed the socket ourselves (a timeout), for the errors of the other requests. */
  private destroyedFor: LotBridgeError | undefined;
  private readonly closedPromise: Promise<void>;

  constructor(
    options: MllpClientOptions,
    private readonly log: Logger,
    private readonly where: string,
    private readonly settle: (req: Request, outcome: { answer: Buffer } | { error: Error }) => void,
  ) {
    this.decoder = new MllpFrameDecoder({ maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
    const { host, port } = options;
    this.socket = options.tls
      ? tls.connect({ host, port, ...options.tls, servername: options.tls.servername ?? (net.isIP(host) ? undefined : host) }, () => this.onConnect())
      : net.connect({ host, port }, () => this.onConnect());
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 60_000);
    this.socket.on('data', (chunk: Buffer) => this.onEvents(this.decoder.push(chunk)));
    this.socket.on('error', (err) => {
      this.lastError = err;
      this.log.debug({ err, where }, 'mllp client socket error');
    });
    this.closedPromise = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('close', () => this.onClose());
  }

  enqueue(req: Request): void {
    if (this.connected) {
      this.waiting.push(req);
      this.socket.write(req.frame);
    } else {
      this.queued.push(req);
    }
  }

  /** A request's time is up: answers can no longer be matched on this connection, so it is closed. */
  timedOut(req: Request, timeoutMs: number): void {
    if (req.settled || this.closed) {
      return;
    }
    if (!this.connected) {
      this.destroyedFor = new LotBridgeError('LB_ERR_MLLP_CONNECT', `connecting to the MLLP server ${this.where} took longer than ${timeoutMs} ms`, {
        details: { where: this.where, timeoutMs },
      });
      this.settle(req, { error: this.destroyedFor });
    } else {
      const error = new LotBridgeError('LB_ERR_MLLP_TIMEOUT', `no MLLP answer from ${this.where} within ${timeoutMs} ms`, { details: { where: this.where, timeoutMs } });
      this.settle(req, { error });
      this.destroyedFor = error;
    }
    this.log.warn({ where: this.where, timeoutMs, connected: this.connected }, 'mllp client request timed out; closing the connection');
    // Closed from now on: new sends open a new connection, and the requests behind this one fail
    // with CONNECTION_CLOSED when the socket's close event comes, not with their own timeout.
    this.closed = true;
    this.socket.destroy();
  }

  /** Ends the connection and waits for it to close (destroyed after `timeoutMs`). */
  async end(timeoutMs: number): Promise<void> {
    if (this.closed) {
      return;
    }
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await this.closedPromise;
    clearTimeout(timer);
  }

  private onConnect(): void {
    this.connected = true;
    const queued = this.queued;
    this.queued = [];
    this.socket.cork();
    for (const req of queued) {
      if (!req.settled) {
        this.waiting.push(req);
        this.socket.write(req.frame);
      }
    }
    this.socket.uncork();
  }

  private onEvents(events: MllpDecodeEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'note') {
        this.log.debug({ where: this.where, offset: ev.offset }, 'mllp answer ended with FS but no CR; accepted');
        continue;
      }
      if (ev.type === 'error' && ev.error.code === 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME') {
        // Not a frame, so it answers nothing: the pairing of frames is unaffected.
        this.log.warn({ where: this.where, err: ev.error, details: ev.error.details }, 'mllp client received bytes outside a frame; ignored');
        continue;
      }
      const req = this.nextWaiting();
      if (!req) {
        this.log.warn({ where: this.where, type: ev.type }, 'mllp client received an answer nobody waits for; dropped');
        continue;
      }
      this.settle(req, ev.type === 'frame' ? { answer: ev.payload } : { error: ev.error });
    }
  }

  /** The oldest written request still waiting (skips those settled by a timeout). */
  private nextWaiting(): Request | undefined {
    while (this.waiting.length > 0) {
      const req = this.waiting.shift()!;
      if (!req.settled) {
        return req;
      }
    }
    return undefined;
  }

  private onClose(): void {
    this.closed = true;
    this.onEvents(this.decoder.end('end-of-stream'));
    const cause = this.destroyedFor ?? this.lastError;
    for (const req of this.queued) {
      this.settle(req, {
        error:
          this.destroyedFor?.code === 'LB_ERR_MLLP_CONNECT'
            ? this.destroyedFor
            : new LotBridgeError('LB_ERR_MLLP_CONNECT', `cannot connect to the MLLP server ${this.where}: ${cause?.message ?? 'connection closed'}`, {
                cause,
                details: { where: this.where },
              }),
      });
    }
    for (const req of this.waiting) {
      this.settle(req, {
        error: new LotBridgeError('LB_ERR_MLLP_CONNECTION_CLOSED', `the MLLP connection to ${this.where} closed before the answer arrived${cause ? `: ${cause.message}` : ''}`, {
          cause,
          details: { where: this.where },
        }),
      });
    }
    this.queued = [];
    this.waiting = [];
  }
}

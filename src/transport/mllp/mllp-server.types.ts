import type { LotBridgeError } from '../../errors';
import type { Logger } from '../../logging/logger';

/** What a handler learns about the connection a frame came in on. */
export interface MllpConnectionInfo {
  /** Unique per connection (a UUID); stored messages may keep it in their envelope. */
  readonly id: string;
  /** Peer address as the socket reports it (`::ffff:` prefix kept for IPv4 on dual-stack listeners). */
  readonly remoteAddress: string;
  /** Peer port. */
  readonly remotePort: number;
  /** True when the connection is TLS. */
  readonly tls: boolean;
  /** With TLS and `requestCert`: whether the client certificate chains to a trusted CA. */
  readonly tlsAuthorized?: boolean;
  /** When the connection was accepted (after the TLS handshake, with TLS). */
  readonly connectedAt: Date;
}

/** TLS settings of an MLLP server; present ⇒ `tls.createServer`. */
export interface MllpServerTlsOptions {
  /** PEM private key of the server certificate. */
  key: string | Buffer;
  /** PEM server certificate (chain). */
  cert: string | Buffer;
  /** PEM CA certificate(s) trusted for client certificates. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Ask clients for a certificate. */
  requestCert?: boolean;
  /** With `requestCert`: refuse clients without a valid certificate. Default true when `requestCert`. */
  rejectUnauthorized?: boolean;
}

/**
 * Answers one complete frame. The result is written back framed, in frame order; `undefined`
 * writes nothing (a pipelining client then pairs later answers wrongly: answer every frame).
 * A rejection closes the connection after the earlier answers, so the sender resends.
 *
 * @param payload - the bytes between VT and FS
 * @param conn - the connection it came on
 */
export type MllpFrameHandler = (payload: Buffer, conn: MllpConnectionInfo) => Promise<Buffer | undefined>;

/**
 * Answers bytes that are not a good frame: a garbage run, a truncated or an oversize frame.
 * The owner stores the bytes; the answer, if any, is written framed in stream order.
 *
 * @param error - `LB_ERR_MLLP_BYTES_OUTSIDE_FRAME`, `LB_ERR_MLLP_FRAME_TRUNCATED` or `LB_ERR_MLLP_FRAME_TOO_LARGE`
 * @param bytes - the bytes concerned (capped for garbage and oversize frames; see the error's details)
 * @param conn - the connection they came on
 */
export type MllpProtocolErrorHandler = (error: LotBridgeError, bytes: Buffer, conn: MllpConnectionInfo) => Promise<Buffer | undefined>;

/** Options of {@link createMllpServer}. */
export interface MllpServerOptions {
  /** Address to listen on. Default: every interface. */
  host?: string;
  /** Port to listen on; 0 picks a free one (read it from `server.port` after `start()`). */
  port: number;
  /** Largest frame payload accepted, bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Bytes of a garbage run or oversize frame handed to `onProtocolError`. Default 64 KiB. */
  maxErrorBytes?: number;
  /** A connection without traffic or work for this long is closed; 0 = never. Default 5 min. */
  idleTimeoutMs?: number;
  /** Frames per connection whose answer is not yet written; beyond it the socket is paused. Default 32. */
  maxInFlightPerConnection?: number;
  /** Refuse connections beyond this many (Node `server.maxConnections`). Default unlimited. */
  maxConnections?: number;
  /** A garbage run is reported after this long without more bytes (or at the next VT). Default 100 ms. */
  garbageQuietMs?: number;
  /** Serve MLLP over TLS. */
  tls?: MllpServerTlsOptions;
  /** Parent logger; each connection gets a child with its id and remote address. Payloads are never logged. */
  logger: Logger;
  /** Answers a complete frame. */
  onFrame: MllpFrameHandler;
  /** Answers a protocol error; when absent, protocol errors are logged and not answered. */
  onProtocolError?: MllpProtocolErrorHandler;
}

/** Counters for health and metrics; totals since `start()`. */
export interface MllpServerStats {
  /** Connections open now. */
  openConnections: number;
  /** Connections accepted in total. */
  acceptedConnections: number;
  /** Complete frames handed to `onFrame`. */
  framesReceived: number;
  /** Bytes read from all sockets. */
  bytesReceived: number;
  /** Answers written to a socket. */
  answersWritten: number;
  /** Answers not written because the peer had gone or the connection was broken. */
  answersDropped: number;
  /** Frames or protocol errors whose handler is running or whose answer waits for an earlier one. */
  inFlight: number;
  /** Protocol errors reported, by code. */
  protocolErrors: Record<string, number>;
  /** Frames that ended with FS but no CR (accepted). */
  framesWithoutCr: number;
  /** White space (CR, LF, space, tab) between frames, skipped: e.g. the LF of `FS CR LF` senders. */
  blankBytesOutsideFrames: number;
  /** Handler rejections (or invalid answers); each closed its connection. */
  handlerFailures: number;
  /** Socket errors (resets, TLS handshake failures …). */
  socketErrors: number;
}

/** Options of {@link MllpServer.stop}. */
export interface MllpStopOptions {
  /** How long in-flight handlers get to settle and their answers to be written before sockets are destroyed. Default 10 s. */
  graceMs?: number;
}

/** What {@link MllpServer.stop} did. */
export interface MllpStopResult {
  /** Connections closed after their answers were written. */
  closedGracefully: number;
  /** Connections destroyed when the grace ran out. */
  forced: number;
}

/** A listening MLLP server. */
export interface MllpServer {
  /** Bound port (the real one when started with port 0); 0 before `start()`. */
  readonly port: number;
  /** Listens; resolves with the bound port. Idempotent. */
  start(): Promise<number>;
  /**
   * Stops accepting, stops reading, lets in-flight handlers settle and their answers be written,
   * ends sockets, and destroys those still open after `graceMs`. Idempotent.
   */
  stop(options?: MllpStopOptions): Promise<MllpStopResult>;
  /** Counters for health and metrics. */
  stats(): MllpServerStats;
  /** The open connections. */
  connections(): MllpConnectionInfo[];
}

import { randomUUID } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { LotBridgeError } from '../../errors';
import type { Logger } from '../../logging/logger';
import { DEFAULT_MAX_ERROR_BYTES, DEFAULT_MAX_FRAME_BYTES } from './mllp-frame-decoder';
import { MllpServerConnection, type MllpConnectionSettings } from './mllp-server-connection';
import type { MllpConnectionInfo, MllpServer, MllpServerOptions, MllpServerStats, MllpStopOptions, MllpStopResult } from './mllp-server.types';

/** Default idle timeout: 5 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Default answers outstanding per connection before its socket is paused. */
export const DEFAULT_MAX_IN_FLIGHT = 32;
const DEFAULT_GARBAGE_QUIET_MS = 100;
const DEFAULT_STOP_GRACE_MS = 10_000;
/** Longest TLS handshake (shorter when idleTimeoutMs is). */
const MAX_TLS_HANDSHAKE_MS = 30_000;

/**
 * Creates an MLLP server (no I/O until `start()`). It knows framing only: every complete frame
 * goes to `onFrame`, every garbage run, truncated or oversize frame to `onProtocolError`, and what
 * they resolve to is written back framed, in the order the frames arrived.
 *
 * @param options - listen address, limits, optional TLS, logger and handlers
 * @returns the server; call `start()` to listen
 */
export function createMllpServer(options: MllpServerOptions): MllpServer {
  return new MllpServerImpl(options);
}

function emptyStats(): MllpServerStats {
  return {
    openConnections: 0,
    acceptedConnections: 0,
    framesReceived: 0,
    bytesReceived: 0,
    answersWritten: 0,
    answersDropped: 0,
    inFlight: 0,
    protocolErrors: {},
    framesWithoutCr: 0,
    blankBytesOutsideFrames: 0,
    handlerFailures: 0,
    socketErrors: 0,
  };
}

class MllpServerImpl implements MllpServer {
  private server: net.Server | undefined;
  private boundPort = 0;
  private readonly conns = new Set<MllpServerConnection>();
  private readonly rawSockets = new Set<net.Socket>();
  private readonly counters = emptyStats();
  private readonly settings: MllpConnectionSettings;
  private readonly log: Logger;
  private starting: Promise<number> | undefined;
  private stopping: Promise<MllpStopResult> | undefined;

  constructor(private readonly options: MllpServerOptions) {
    this.settings = {
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxErrorBytes: options.maxErrorBytes ?? DEFAULT_MAX_ERROR_BYTES,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxInFlightPerConnection: options.maxInFlightPerConnection ?? DEFAULT_MAX_IN_FLIGHT,
      garbageQuietMs: options.garbageQuietMs ?? DEFAULT_GARBAGE_QUIET_MS,
      onFrame: options.onFrame,
      onProtocolError: options.onProtocolError,
    };
    if (!(this.settings.maxInFlightPerConnection >= 1)) {
      throw new RangeError('maxInFlightPerConnection must be at least 1');
    }
    this.log = options.logger;
  }

  get port(): number {
    return this.boundPort;
  }

  start(): Promise<number> {
    this.starting ??= this.listen().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async listen(): Promise<number> {
    this.stopping = undefined;
    const { host, port, tls: tlsOptions } = this.options;
    const where = `${host ?? '*'}:${port}`;
    let server: net.Server;
    try {
      server = tlsOptions
        ? tls.createServer(
            {
              key: tlsOptions.key,
              cert: tlsOptions.cert,
              ca: tlsOptions.ca,
              requestCert: tlsOptions.requestCert ?? false,
              rejectUnauthorized: tlsOptions.rejectUnauthorized ?? tlsOptions.requestCert ?? false,
              handshakeTimeout: this.settings.idleTimeoutMs > 0 ? Math.min(this.settings.idleTimeoutMs, MAX_TLS_HANDSHAKE_MS) : MAX_TLS_HANDSHAKE_MS,
              // Half-open only once secure (see onConnection): a peer that leaves mid-handshake must close the socket.
              allowHalfOpen: false,
            },
            (socket) => this.onConnection(socket, true),
          )
        : net.createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket, false));
    } catch (err) {
      throw new LotBridgeError('LB_ERR_MLLP_LISTEN', `the MLLP server on ${where} cannot be created: ${(err as Error).message}`, { cause: err, details: { host, port, tls: Boolean(tlsOptions) } });
    }
    if (this.options.maxConnections !== undefined) {
      server.maxConnections = this.options.maxConnections;
    }
    if (tlsOptions) {
      // Raw sockets, so that stop() can cut those still in their TLS handshake (not yet a connection).
      server.on('connection', (raw: net.Socket) => {
        this.rawSockets.add(raw);
        raw.once('close', () => this.rawSockets.delete(raw));
      });
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
        this.counters.socketErrors++;
        this.log.warn({ err, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }, 'mllp TLS handshake failed');
        // Node leaves the socket open on a handshake timeout.
        socket.destroy();
      });
    }
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.log.warn({ remoteAddress: data?.remoteAddress, remotePort: data?.remotePort, maxConnections: server.maxConnections }, 'mllp connection refused: maxConnections reached');
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new LotBridgeError('LB_ERR_MLLP_LISTEN', `the MLLP server cannot listen on ${where}: ${err.message}`, { cause: err, details: { host, port, tls: Boolean(tlsOptions) } }));
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'mllp server error'));
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.log.info({ host: host ?? '*', port: this.boundPort, tls: Boolean(tlsOptions), maxFrameBytes: this.settings.maxFrameBytes }, 'mllp server listening');
    return this.boundPort;
  }

  private onConnection(socket: net.Socket, isTls: boolean): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (isTls) {
      // A peer may half-close after its last frame and still read the answers (as over plain TCP).
      socket.allowHalfOpen = true;
    }
    const info: MllpConnectionInfo = {
      id: randomUUID(),
      remoteAddress: socket.remoteAddress ?? 'unknown',
      remotePort: socket.remotePort ?? 0,
      tls: isTls,
      ...(isTls && (socket as tls.TLSSocket).authorized !== undefined && this.options.tls?.requestCert ? { tlsAuthorized: (socket as tls.TLSSocket).authorized } : {}),
      connectedAt: new Date(),
    };
    const log = this.log.child({ connectionId: info.id, remoteAddress: info.remoteAddress, remotePort: info.remotePort, tls: isTls });
    this.counters.openConnections++;
    this.counters.acceptedConnections++;
    const conn = new MllpServerConnection(socket, info, this.settings, this.counters, log);
    this.conns.add(conn);
    void conn.finished.then(() => this.conns.delete(conn));
    log.debug('mllp connection opened');
  }

  stop(options: MllpStopOptions = {}): Promise<MllpStopResult> {
    this.stopping ??= this.shutdown(options.graceMs ?? DEFAULT_STOP_GRACE_MS);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<MllpStopResult> {
    const server = this.server;
    this.server = undefined;
    this.starting = undefined;
    if (!server) {
      return { closedGracefully: 0, forced: 0 };
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const conns = [...this.conns];
    for (const c of conns) {
      c.shutdown();
    }
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>((resolve) => {
      graceTimer = setTimeout(() => resolve('grace-over'), graceMs);
    });
    const settled = new Set<MllpServerConnection>();
    await Promise.race([Promise.all(conns.map((c) => c.finished.then(() => settled.add(c)))), graceOver]);
    clearTimeout(graceTimer);
    let forced = 0;
    for (const c of conns) {
      if (!settled.has(c)) {
        forced++;
        c.destroy();
      }
    }
    // Left: TLS sockets still in their handshake, and those of the connections destroyed above.
    for (const raw of this.rawSockets) {
      raw.destroy();
    }
    await closed;
    const result = { closedGracefully: conns.length - forced, forced };
    this.log.info({ port: this.boundPort, ...result, graceMs }, 'mllp server stopped');
    return result;
  }

  stats(): MllpServerStats {
    return { ...this.counters, protocolErrors: { ...this.counters.protocolErrors } };
  }

  connections(): MllpConnectionInfo[] {
    return [...this.conns].filter((c) => !c.closed).map((c) => c.info);
  }
}

import type net from 'node:net';
import type { LotBridgeError } from '../../errors';
import type { Logger } from '../../logging/logger';
import { MllpFrameDecoder, type MllpDecodeEvent, type MllpEndReason } from './mllp-frame-decoder';
import { encodeMllpFrame } from './mllp-framing';
import type { MllpConnectionInfo, MllpServerOptions, MllpServerStats } from './mllp-server.types';

/** After our FIN is flushed, how long the peer gets to close its side before the socket is destroyed. */
const END_LINGER_MS = 2000;
const QUIET_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** Decoded work waiting for a free in-flight place. */
type WorkItem = { kind: 'frame'; payload: Buffer } | { kind: 'error'; error: LotBridgeError; bytes: Buffer };

/** One dispatched item, in stream order; its answer is written when every earlier slot is written. */
interface Slot {
  done: boolean;
  /** The framed answer, when the handler gave one. */
  frame?: Buffer;
  /** Set when the handler rejected or gave something that cannot be framed. */
  failure?: unknown;
}

/** Settings a connection takes from its server. */
export type MllpConnectionSettings = Required<Pick<MllpServerOptions, 'maxFrameBytes' | 'maxErrorBytes' | 'idleTimeoutMs' | 'maxInFlightPerConnection' | 'garbageQuietMs'>> &
  Pick<MllpServerOptions, 'onFrame' | 'onProtocolError'>;

/**
 * One accepted MLLP connection: decodes its bytes, runs the handlers with at most
 * `maxInFlightPerConnection` answers outstanding, writes answers in frame order, pauses the
 * socket when work or unsent answers pile up, and closes when idle, when the peer ends, or when
 * the server stops. Socket errors are logged, never thrown. Internal to {@link createMllpServer}.
 */
export class MllpServerConnection {
  /** Resolves when the socket is closed and every handler has settled. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private readonly decoder: MllpFrameDecoder;
  private readonly backlog: Array<WorkItem | undefined> = [];
  private backlogHead = 0;
  private readonly pending: Slot[] = [];
  private running = 0;
  private paused = false;
  private writeBlocked = false;
  /** No more bytes are read (peer ended, idle, stop, or a handler failed). */
  private readEnded = false;
  /** A handler failed: nothing more is written; the socket is being closed. */
  private broken = false;
  private endCalled = false;
  private socketClosed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private garbageTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private framesHere = 0;
  private discardedBytes = 0;
  /** Answers written in this tick are held (cork) and go out in one write at its end. */
  private corked = false;

  /**
   * @param socket - the accepted socket (TLS sockets after their handshake)
   * @param info - what handlers learn about the connection
   * @param settings - limits and handlers from the server options
   * @param stats - the server's counters, updated in place
   * @param log - the connection's child logger
   */
  constructor(
    private readonly socket: net.Socket,
    readonly info: MllpConnectionInfo,
    private readonly settings: MllpConnectionSettings,
    private readonly stats: MllpServerStats,
    private readonly log: Logger,
  ) {
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
    this.decoder = new MllpFrameDecoder({ maxFrameBytes: settings.maxFrameBytes, maxErrorBytes: settings.maxErrorBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.endReading('end-of-stream'));
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.updateFlow();
    });
    socket.on('finish', () => this.armLinger());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.stats.socketErrors++;
      const quiet = err.code !== undefined && QUIET_SOCKET_ERRORS.has(err.code);
      this.log[quiet ? 'debug' : 'warn']({ err }, 'mllp socket error');
    });
    socket.on('close', () => this.onClose());
    if (settings.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.onIdle(), settings.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  /** True once the socket has closed (handlers may still be running). */
  get closed(): boolean {
    return this.socketClosed;
  }

  /** True while a handler runs or an answer waits to be written. */
  get busy(): boolean {
    return this.pending.length > 0 || this.backlogHead < this.backlog.length;
  }

  /** Stops reading; the frame in progress is reported as truncated; answers are still written, then the socket ends. */
  shutdown(): void {
    this.endReading('server-stop');
  }

  /** Destroys the socket now (stop grace ran out). Handlers still running complete; their answers are dropped. */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.readEnded) {
      // Bytes after the end of reading (stop, idle, failed handler) were never answered: the sender resends them.
      this.discardedBytes += chunk.length;
      return;
    }
    this.stats.bytesReceived += chunk.length;
    this.idleTimer?.refresh();
    this.accept(this.decoder.push(chunk));
    if (this.decoder.hasPendingGarbage) {
      clearTimeout(this.garbageTimer);
      this.garbageTimer = setTimeout(() => this.onGarbageQuiet(), this.settings.garbageQuietMs);
      this.garbageTimer.unref();
    }
    this.pump();
  }

  private onGarbageQuiet(): void {
    this.garbageTimer = undefined;
    if (this.readEnded) {
      return;
    }
    this.accept(this.decoder.flushGarbage());
    this.pump();
  }

  private onIdle(): void {
    if (this.readEnded) {
      return;
    }
    if (this.busy) {
      this.idleTimer?.refresh();
      return;
    }
    if (this.writeBlocked) {
      // Answers written but not read for a whole idle period: our FIN would wait behind them forever.
      this.log.warn({ idleTimeoutMs: this.settings.idleTimeoutMs, unsentBytes: this.socket.writableLength }, 'mllp peer reads no answers; destroying the connection');
      this.endReading('idle-timeout');
      this.socket.destroy();
      return;
    }
    this.log.debug({ idleTimeoutMs: this.settings.idleTimeoutMs, openFrameBytes: this.decoder.openFrameBytes }, 'mllp connection idle; closing it');
    this.endReading('idle-timeout');
  }

  /** No more bytes will be read: report what the decoder holds, finish the work, then end the socket. */
  private endReading(reason: MllpEndReason): void {
    if (this.readEnded) {
      return;
    }
    this.readEnded = true;
    clearTimeout(this.garbageTimer);
    clearTimeout(this.idleTimer);
    this.accept(this.decoder.end(reason));
    this.pump();
  }

  /** Queues decoded events and counts/logs them (sizes and offsets only, never bytes). */
  private accept(events: MllpDecodeEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'frame':
          this.stats.framesReceived++;
          this.framesHere++;
          this.log.debug({ bytes: ev.payload.length, offset: ev.offset }, 'mllp frame received');
          this.backlog.push({ kind: 'frame', payload: ev.payload });
          break;
        case 'error':
          this.stats.protocolErrors[ev.error.code] = (this.stats.protocolErrors[ev.error.code] ?? 0) + 1;
          this.log.warn({ err: ev.error, code: ev.error.code, details: ev.error.details }, 'mllp protocol error');
          this.backlog.push({ kind: 'error', error: ev.error, bytes: ev.bytes });
          break;
        case 'note':
          if (ev.note === 'blank-outside-frame') {
            this.stats.blankBytesOutsideFrames += ev.size;
            this.log.debug({ offset: ev.offset, bytes: ev.size }, 'mllp white space between frames skipped');
          } else {
            this.stats.framesWithoutCr++;
            this.log.debug({ offset: ev.offset }, 'mllp frame ended with FS but no CR; accepted');
          }
          break;
      }
    }
  }

  /** Dispatches queued work while in-flight places are free, then adjusts reading. */
  private pump(): void {
    while (this.backlogHead < this.backlog.length && this.pending.length < this.settings.maxInFlightPerConnection) {
      const item = this.backlog[this.backlogHead]!;
      this.backlog[this.backlogHead++] = undefined;
      this.dispatch(item);
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog.length = 0;
      this.backlogHead = 0;
    }
    this.updateFlow();
    this.maybeEndSocket();
    this.maybeFinished();
  }

  private dispatch(item: WorkItem): void {
    const slot: Slot = { done: false };
    this.pending.push(slot);
    this.running++;
    this.stats.inFlight++;
    const { onFrame, onProtocolError } = this.settings;
    const run = (): Promise<Buffer | undefined> =>
      item.kind === 'frame' ? onFrame(item.payload, this.info) : onProtocolError ? onProtocolError(item.error, item.bytes, this.info) : Promise.resolve(undefined);
    // Started from a microtask so a handler that throws synchronously cannot re-enter pump().
    void Promise.resolve()
      .then(run)
      .then((answer) => {
        if (answer !== undefined) {
          if (!Buffer.isBuffer(answer)) {
            throw new TypeError(`an MLLP handler must resolve to a Buffer or undefined, not ${typeof answer}`);
          }
          slot.frame = encodeMllpFrame(answer);
        }
      })
      .catch((err: unknown) => {
        slot.failure = err ?? new Error('an MLLP handler rejected without a reason');
      })
      .finally(() => {
        slot.done = true;
        this.running--;
        this.flush();
      });
  }

  /** Writes the answers of the settled slots at the head of the line, in order. */
  private flush(): void {
    while (this.pending.length > 0 && this.pending[0].done) {
      const slot = this.pending.shift()!;
      this.stats.inFlight--;
      if (slot.failure !== undefined) {
        this.stats.handlerFailures++;
        if (!this.broken) {
          this.log.error({ err: slot.failure }, 'mllp handler failed; closing the connection after the earlier answers so the sender resends');
          this.breakConnection();
        }
        continue;
      }
      if (!slot.frame) {
        continue;
      }
      if (this.broken || this.socketClosed || !this.socket.writable) {
        this.stats.answersDropped++;
        continue;
      }
      if (!this.corked) {
        // answers settled together (one group commit releases many) leave in one write: a
        // system call per answer costs this VM more than the bytes do; nothing waits past this tick
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      if (!this.socket.write(slot.frame)) {
        this.writeBlocked = true;
      }
      this.stats.answersWritten++;
      this.idleTimer?.refresh();
    }
    this.pump();
  }

  /**
   * Pauses the socket while work is queued, in-flight places are used up or answers do not drain.
   * Once reading has ended the socket flows again and its bytes are discarded, so the peer's FIN
   * is seen (the socket can close) and no unread data turns our close into a reset.
   */
  private updateFlow(): void {
    if (this.socketClosed) {
      return;
    }
    const wantPause =
      !this.readEnded && (this.backlogHead < this.backlog.length || this.pending.length >= this.settings.maxInFlightPerConnection || this.writeBlocked);
    if (wantPause && !this.paused) {
      this.socket.pause();
      this.paused = true;
    } else if (!wantPause && this.paused) {
      this.socket.resume();
      this.paused = false;
    }
  }

  private breakConnection(): void {
    this.broken = true;
    if (!this.readEnded) {
      // Frames already decoded still reach their handler (the owner stores them); the sender resends the rest.
      this.readEnded = true;
      clearTimeout(this.garbageTimer);
      clearTimeout(this.idleTimer);
    }
    if (!this.endCalled && !this.socketClosed) {
      this.endCalled = true;
      this.socket.end();
    }
  }

  /** Ends our side once reading is over and every answer is written. */
  private maybeEndSocket(): void {
    if (this.readEnded && !this.endCalled && !this.socketClosed && !this.busy) {
      this.endCalled = true;
      this.socket.end();
    }
  }

  /** Our FIN went out; a peer that keeps its side open is cut after a short linger. */
  private armLinger(): void {
    if (this.socketClosed) {
      return;
    }
    this.lingerTimer = setTimeout(() => this.socket.destroy(), END_LINGER_MS);
    this.lingerTimer.unref();
  }

  private onClose(): void {
    this.socketClosed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.garbageTimer);
    clearTimeout(this.lingerTimer);
    if (!this.readEnded) {
      this.readEnded = true;
      this.accept(this.decoder.end('end-of-stream'));
    }
    this.stats.openConnections--;
    this.log.debug({ frames: this.framesHere, discardedBytes: this.discardedBytes, durationMs: Date.now() - this.info.connectedAt.getTime(), busy: this.busy }, 'mllp connection closed');
    this.pump();
  }

  private maybeFinished(): void {
    if (this.socketClosed && this.running === 0 && !this.busy) {
      this.resolveFinished();
    }
  }
}

import net from 'node:net';
import { createMllpServer, MllpFrameDecoder, type MllpServer, type MllpServerOptions } from '../../../../src/transport/mllp';
import { captureLogger, type CapturedLine } from '../../../helpers/capture-logger';

export const VT = '\x0b';
export const FS = '\x1c';
export const CR = '\r';
export const frame = (text: string): string => `${VT}${text}${FS}${CR}`;
/** A small HL7-like message; the transport never looks inside it. */
export const hl7 = (control: string): string => `MSH|^~\\&|LAB|HOSP|LOTBRIDGE|HUB|20260301101500||ORU^R01|${control}|P|2.5\rOBX|1|ST|LOT^Lot||L-${control}`;
/** The answer the test handlers give: "ACK <payload's control id>". */
export const ackFor = (payload: Buffer): Buffer => Buffer.from(`ACK ${payload.toString('latin1').split('|')[9] ?? '?'}`);

/** Polls until `probe` gives a value (not undefined/false), or fails naming what it waited for. */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) {
      return v;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A plain TCP peer that writes raw bytes and decodes what comes back. */
export class RawPeer {
  readonly answers: string[] = [];
  readonly closed: Promise<void>;
  closedAt: number | undefined;
  private readonly decoder: MllpFrameDecoder;

  private constructor(
    readonly socket: net.Socket,
    maxFrameBytes?: number,
  ) {
    this.decoder = new MllpFrameDecoder({ maxFrameBytes });
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.decoder.push(chunk)) {
        this.answers.push(ev.type === 'frame' ? ev.payload.toString('latin1') : `<${ev.type}>`);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  /** @param maxFrameBytes - largest answer decoded (default 1 MiB) */
  static connect(port: number, maxFrameBytes?: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(socket, maxFrameBytes)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  waitAnswers(n: number, timeoutMs?: number): Promise<string[]> {
    return until(`${n} answer(s) (have ${this.answers.length})`, () => this.answers.length >= n && this.answers.slice(), timeoutMs);
  }
}

/** Starts servers on ephemeral ports with a capturing logger; `stopAll()` in afterEach. */
export function serverKit(): {
  start(options: Omit<MllpServerOptions, 'port' | 'logger' | 'host'> & Partial<Pick<MllpServerOptions, 'logger'>>): Promise<MllpServer>;
  lines: CapturedLine[];
  stopAll(): Promise<void>;
} {
  const servers: MllpServer[] = [];
  const { logger, lines } = captureLogger('debug');
  return {
    lines,
    async start(options) {
      const server = createMllpServer({ host: '127.0.0.1', port: 0, logger, ...options });
      servers.push(server);
      await server.start();
      return server;
    },
    async stopAll() {
      await Promise.all(servers.splice(0).map((s) => s.stop({ graceMs: 500 })));
      lines.length = 0;
    },
  };
}

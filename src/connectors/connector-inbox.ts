import path from 'node:path';
import { FolderWatcher, type FileDisposition, type WatchedFile } from './folder-watcher';
import type { ConnectorAdapter, ConnectorDeps, ConnectorHealth, IngestPort, IngestReceipt } from './types';
import type { Logger } from '../logging/logger';

/** The `inbox` block of a connector instance's config (the watched folder). */
export interface InboxConfig {
  /** Folder files are dropped into (default `<LOTBRIDGE_DATA_DIR>/inbox/<connectorId>`); processing/, done/ and error/ live inside it. */
  dir?: string;
  /** Pause between scans, ms (default 1000). */
  pollIntervalMs?: number;
  /** Watch the folder (default true). */
  enabled?: boolean;
}

/** JSON Schema properties of {@link InboxConfig}; a connector may add its own (e.g. `charset`). */
export const inboxConfigProperties = {
  dir: { type: 'string', minLength: 1 },
  pollIntervalMs: { type: 'integer', minimum: 20, default: 1000 },
  enabled: { type: 'boolean', default: true },
} as const;

/** Options of a {@link ConnectorInbox}. */
export interface ConnectorInboxOptions {
  connectorId: string;
  /** Names the connector in the log line that says the folder is watched ("WMS", "x12", …). */
  label: string;
  inbox: InboxConfig;
  deps: Pick<ConnectorDeps, 'dataDir' | 'signal'>;
  logger: Logger;
  /** Handles one file (usually: hand it to IngestPort.receive, then {@link dispositionOf}). */
  handle(file: WatchedFile): Promise<FileDisposition>;
}

/**
 * The part every connector with HTTP intake and a watched folder shares: starting and stopping the
 * {@link FolderWatcher} with the connector (idempotently, and on the hub's abort signal), and the
 * connector's health (stopped → down; else the watcher's state; the newest message seen over HTTP
 * or in the folder). Used by the WMS, MES B2MML, X12 and EDIFACT connectors.
 */
export class ConnectorInbox {
  private started = false;
  private watcher: FolderWatcher | undefined;
  private lastMessageAt: Date | undefined;
  private readonly abortListener = (): void => {
    void this.stop({ force: true });
  };

  /** @param opts - connector, inbox config, hub dependencies and the file handler */
  constructor(private readonly opts: ConnectorInboxOptions) {}

  /** True between start() and stop(). */
  get isStarted(): boolean {
    return this.started;
  }

  /** Notes a message received by any transport (for the health's `lastMessageAt`). */
  noteMessage(at: Date): void {
    this.lastMessageAt = at;
  }

  /** Starts watching the folder unless `inbox.enabled` is false. Idempotent. */
  async start(): Promise<void> {
    if (this.started) {
      return;
    }
    this.started = true;
    this.opts.deps.signal.addEventListener('abort', this.abortListener, { once: true });
    if (this.opts.inbox.enabled !== false) {
      this.watcher ??= new FolderWatcher({
        dir: this.opts.inbox.dir ?? path.join(this.opts.deps.dataDir, 'inbox', this.opts.connectorId),
        pollIntervalMs: this.opts.inbox.pollIntervalMs ?? 1000,
        logger: this.opts.logger,
        handle: (file) => this.opts.handle(file),
      });
      await this.watcher.start();
      this.opts.logger.info({ dir: this.watcher.dirs.inbox }, `${this.opts.label} connector watching its folder`);
    }
  }

  /** Stops the watcher (after the file in hand, unless forced). Idempotent. */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    if (!this.started) {
      return;
    }
    this.started = false;
    this.opts.deps.signal.removeEventListener('abort', this.abortListener);
    await this.watcher?.stop(options);
  }

  /**
   * An adapter's start/stop/health when this inbox is all it runs (the HTTP intake needs nothing
   * started): start takes the hub's ingest port (`onStart`) and starts the folder.
   * @param onStart - keeps the port for the adapter's own receive paths
   */
  lifecycle(onStart: (port: IngestPort) => void): Pick<ConnectorAdapter, 'start' | 'stop' | 'health'> {
    return {
      start: async (port: IngestPort): Promise<void> => {
        onStart(port);
        await this.start();
      },
      stop: (options: { force?: boolean } = {}): Promise<void> => this.stop(options),
      health: (): Promise<ConnectorHealth> => this.health(),
    };
  }

  /** The connector's health: down when stopped, else the watcher's status with HTTP intake named. */
  health(): Promise<ConnectorHealth> {
    if (!this.started) {
      return Promise.resolve({ status: 'down', detail: 'stopped', ...(this.lastMessageAt ? { lastMessageAt: this.lastMessageAt } : {}) });
    }
    const w = this.watcher?.health();
    const last = [this.lastMessageAt, w?.lastMessageAt].filter((d): d is Date => d !== undefined).sort((a, b) => b.getTime() - a.getTime())[0];
    return Promise.resolve({
      status: w?.status ?? 'up',
      detail: w ? `HTTP intake; ${w.detail ?? ''}` : 'HTTP intake (watched folder disabled)',
      ...(last ? { lastMessageAt: last } : {}),
    });
  }
}

/**
 * Where a dropped file goes after intake: error/ when its message (or any of its messages, for a
 * file split into several) was rejected at intake, with the receipt(s) as the report beside it;
 * else done/ (accepted and duplicates alike).
 */
export function dispositionOf(file: WatchedFile, receivedAt: Date, received: IngestReceipt | IngestReceipt[]): FileDisposition {
  const all = Array.isArray(received) ? received : [received];
  if (all.some((r) => r.status === 'rejected')) {
    const report = Array.isArray(received) ? { receipts: received } : { receipt: received };
    return { to: 'error', report: { fileName: file.name, at: receivedAt.toISOString(), ...report } };
  }
  return { to: 'done' };
}

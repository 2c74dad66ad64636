import fs from 'node:fs/promises';
import path from 'node:path';
import { LotBridgeError } from '../errors';
import type { Logger } from '../logging/logger';
import type { ConnectorHealth } from './types';

/** A file taken from the inbox, read from processing/. */
export interface WatchedFile {
  /** File name as dropped (or as renamed to avoid a clash in processing/). */
  name: string;
  /** Absolute path in processing/. */
  path: string;
  payload: Buffer;
  /** True for a file found in processing/ at start or left there by a failed attempt. */
  recovered: boolean;
}

/** Where a handled file goes: done/, or error/ with a `<name>.error.json` report beside it. */
export type FileDisposition = { to: 'done' } | { to: 'error'; report: Record<string, unknown> };

/** Options of a {@link FolderWatcher}. */
export interface FolderWatcherOptions {
  /** The folder files are dropped into; processing/, done/ and error/ are kept inside it. */
  dir: string;
  /** Pause between scans, ms. A file is taken once its size and mtime are unchanged over one pause. */
  pollIntervalMs: number;
  logger: Logger;
  /**
   * Handles one file (e.g. hands it to IngestPort.receive) and says where it goes. The file is moved
   * only after this resolves; a rejection (database down …) leaves it in processing/ to be retried
   * with a growing pause.
   */
  handle(file: WatchedFile): Promise<FileDisposition>;
}

/** Names a watcher never takes: hidden files and uploads still in progress. */
const PARTIAL = /^\.|\.(tmp|part|partial|filepart|crdownload|swp)$/i;
const MAX_RETRY_MS = 60_000;

/**
 * A watched folder: `inbox/ → processing/ → done/ | error/`. A stable file is moved (atomically,
 * never overwriting) to processing/, read and handled; only after the handler resolved is it moved
 * to done/ or error/. Files are never deleted. Files left in processing/ by a crash are handled
 * again at start (a duplicate receipt then moves them to done/). Files are taken oldest first, one
 * at a time. Shared by every connector with a file drop (WMS, X12, EDIFACT, MES).
 */
export class FolderWatcher {
  /** processing/, done/ and error/ inside the watched folder. */
  readonly dirs: { inbox: string; processing: string; done: string; error: string };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Bumped by stop(), so a scan that finishes after a stop/start does not schedule a second loop. */
  private generation = 0;
  private current: Promise<void> | undefined;
  private readonly seen = new Map<string, string>();
  private readonly retries = new Map<string, { attempts: number; nextAt: number }>();
  private lastScanError: string | undefined;
  private lastFileAt: Date | undefined;
  private handled = 0;

  /** @param opts - folder, pause, logger and file handler */
  constructor(private readonly opts: FolderWatcherOptions) {
    const inbox = path.resolve(opts.dir);
    this.dirs = { inbox, processing: path.join(inbox, 'processing'), done: path.join(inbox, 'done'), error: path.join(inbox, 'error') };
  }

  /** Creates the folders, handles what a crash left in processing/, then scans every `pollIntervalMs`. Idempotent. */
  async start(): Promise<void> {
    if (this.running) {
      return;
    }
    for (const d of Object.values(this.dirs)) {
      await fs.mkdir(d, { recursive: true });
    }
    this.running = true;
    await this.scan();
    this.schedule();
  }

  /**
   * Stops scanning. Waits for the file in hand unless `force`. Idempotent.
   * @param options - `force`: do not wait for the file in hand (it stays in processing/ and is retried at the next start)
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    this.running = false;
    this.generation++;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!options.force) {
      await this.current;
    }
  }

  /** up while scanning; degraded when files wait for a retry; down when stopped or the folder cannot be read. */
  health(): ConnectorHealth {
    const base = { ...(this.lastFileAt ? { lastMessageAt: this.lastFileAt } : {}) };
    if (!this.running) {
      return { status: 'down', detail: `watched folder ${this.dirs.inbox} is not being scanned`, ...base };
    }
    if (this.lastScanError) {
      return { status: 'down', detail: `watched folder ${this.dirs.inbox}: ${this.lastScanError}`, ...base };
    }
    if (this.retries.size > 0) {
      return { status: 'degraded', detail: `${this.retries.size} file(s) in ${this.dirs.processing} wait for a retry`, ...base };
    }
    return { status: 'up', detail: `watching ${this.dirs.inbox} (${this.handled} file(s) handled)`, ...base };
  }

  /** Runs one scan now (after the one in progress, if any): retries in processing/, then stable inbox files. */
  scan(): Promise<void> {
    const run = (this.current ?? Promise.resolve()).then(() => this.scanOnce());
    this.current = run;
    return run;
  }

  private schedule(): void {
    const generation = this.generation;
    if (!this.running) {
      return;
    }
    this.timer = setTimeout(() => {
      void this.scan().finally(() => {
        if (generation === this.generation) {
          this.schedule();
        }
      });
    }, this.opts.pollIntervalMs);
  }

  private async scanOnce(): Promise<void> {
    try {
      for (const name of await this.files(this.dirs.processing)) {
        const retry = this.retries.get(name);
        if (!this.running || (retry && retry.nextAt > Date.now())) {
          continue;
        }
        await this.handleFile(name, true);
      }
      const now = new Map<string, string>();
      for (const name of await this.files(this.dirs.inbox)) {
        if (!this.running) {
          break;
        }
        const st = await fs.stat(path.join(this.dirs.inbox, name)).catch(() => undefined);
        if (!st) {
          continue;
        }
        const sig = `${st.size}:${st.mtimeMs}`;
        if (this.seen.get(name) !== sig) {
          now.set(name, sig);
          continue;
        }
        const taken = await moveNoClobber(path.join(this.dirs.inbox, name), this.dirs.processing, name);
        if (taken !== undefined) {
          await this.handleFile(taken, false);
        }
      }
      this.seen.clear();
      for (const [k, v] of now) {
        this.seen.set(k, v);
      }
      this.lastScanError = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.lastScanError !== message) {
        this.opts.logger.error({ err, dir: this.dirs.inbox }, 'watched folder scan failed');
      }
      this.lastScanError = message;
    }
  }

  /** Regular files of a folder that are not hidden or partial uploads, oldest first. */
  private async files(dir: string): Promise<string[]> {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    const files = entries.filter((e) => e.isFile() && !PARTIAL.test(e.name));
    const stats = await Promise.all(files.map(async (e) => ({ name: e.name, mtime: (await fs.stat(path.join(dir, e.name)).catch(() => undefined))?.mtimeMs })));
    return stats
      .filter((s): s is { name: string; mtime: number } => s.mtime !== undefined)
      .sort((a, b) => a.mtime - b.mtime || (a.name < b.name ? -1 : 1))
      .map((s) => s.name);
  }

  private async handleFile(name: string, recovered: boolean): Promise<void> {
    const file = path.join(this.dirs.processing, name);
    const log = this.opts.logger.child({ fileName: name });
    let disposition: FileDisposition;
    try {
      const payload = await fs.readFile(file);
      disposition = await this.opts.handle({ name, path: file, payload, recovered });
    } catch (err) {
      const attempts = (this.retries.get(name)?.attempts ?? 0) + 1;
      const pause = Math.min(MAX_RETRY_MS, this.opts.pollIntervalMs * 2 ** attempts);
      this.retries.set(name, { attempts, nextAt: Date.now() + pause });
      log.warn({ err, attempts, retryInMs: pause }, 'file could not be handed over; it stays in processing/ for a retry');
      return;
    }
    this.retries.delete(name);
    const target = disposition.to === 'done' ? this.dirs.done : this.dirs.error;
    const finalName = await uniqueName(target, name);
    if (disposition.to === 'error') {
      await fs.writeFile(path.join(target, `${finalName}.error.json`), `${JSON.stringify(disposition.report, null, 2)}\n`, { flag: 'w' });
    }
    const moved = await moveNoClobber(file, target, finalName);
    this.handled++;
    this.lastFileAt = new Date();
    log.info({ to: disposition.to, finalName: moved, recovered }, 'watched file handled');
  }
}

/** A name not taken in `dir`: the name itself, else `<base>.<n><ext>`. */
async function uniqueName(dir: string, name: string): Promise<string> {
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length);
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? name : `${base}.${n}${ext}`;
    const exists = await fs.stat(path.join(dir, candidate)).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          return false;
        }
        throw err;
      },
    );
    if (!exists) {
      return candidate;
    }
  }
}

/**
 * Moves a file into `dir` under `name` (or a free variant of it) without ever replacing a file:
 * hard link + unlink, or an exclusive copy where links are not supported.
 * @returns the name it got, or undefined when the source vanished (taken by another process)
 */
async function moveNoClobber(src: string, dir: string, name: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const target = await uniqueName(dir, name);
    const dst = path.join(dir, target);
    try {
      await fs.link(src, dst);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        return undefined;
      }
      if (code === 'EEXIST') {
        continue;
      }
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK' && code !== 'EOPNOTSUPP') {
        throw err;
      }
      try {
        await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
      } catch (copyErr) {
        if ((copyErr as NodeJS.ErrnoException).code === 'EEXIST') {
          continue;
        }
        throw copyErr;
      }
    }
    await fs.unlink(src).catch((err: NodeJS.ErrnoException) => {
      // another process moved the same file at the same moment: both copies go to intake, whose dedup key makes the second a duplicate
      if (err.code !== 'ENOENT') {
        throw err;
      }
    });
    return target;
  }
  throw new LotBridgeError('LB_ERR_INTERNAL', `no free name for ${name} in ${dir}`);
}

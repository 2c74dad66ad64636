import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LotBridgeConfig } from '../config/config';
import type { Logger } from '../logging/logger';

/** The compiled entry of a worker thread (absent when running from TypeScript sources, e.g. under jest). */
export const WORKER_THREAD_ENTRY = path.join(__dirname, 'worker-thread.js');

/** A metric observation a pipeline thread reports to the main thread (which serves /metrics). */
export type ThreadMetric = { kind: 'outcome'; status: string } | { kind: 'job'; seconds: number; outcome: 'completed' | 'failed' };

export interface WorkerThreads {
  /** Running threads. */
  readonly count: number;
  /**
   * The local hand-off: posts stored message ids to the thread holding the fewest (see
   * LocalHandoff), as many (from the front) as keep it under `limit`. Returns how many it took.
   */
  handOff(messageIds: readonly string[], limit: number): number;
  /** Message ids handed to a thread and not reported finished yet. */
  readonly handedOff: number;
  /** Asks every thread to stop (its jobs finish) and waits; terminates one that does not stop in time. */
  stop(graceMs?: number): Promise<void>;
}

/** True when worker threads can run here (compiled code). */
export function workerThreadsAvailable(): boolean {
  return fs.existsSync(WORKER_THREAD_ENTRY);
}

/**
 * Runs the pipeline in `n` worker threads beside the intake thread: mapping a batch (parse, plan,
 * encrypt, build statements) is CPU work that would otherwise sit between a socket and its ACK on one
 * event loop. Each thread is a hub in `worker` mode on the database the main thread resolved (an
 * embedded PostgreSQL is shared). A thread that dies is restarted after a second.
 */
export async function startWorkerThreads(
  config: LotBridgeConfig,
  databaseUrl: string,
  n: number,
  logger: Logger,
  onMetric?: (m: ThreadMetric) => void,
  /** Hand-offs a thread refused or did not finish (it died): they go on the `ingest` queue. */
  onOrphans?: (messageIds: string[]) => void,
): Promise<WorkerThreads> {
  const log = logger.child({ scope: 'worker-threads' });
  const threadConfig: LotBridgeConfig = { ...config, databaseUrl, databaseUrlExplicit: true };
  let stopping = false;
  const threads = new Map<number, Worker>();
  /** Per ready thread: the ids handed to it and not reported finished. */
  const outstanding = new Map<number, Set<string>>();
  const orphaned = (ids: string[]): void => {
    if (ids.length === 0) return;
    if (onOrphans) onOrphans(ids);
    else log.warn({ count: ids.length }, 'hand-offs of a pipeline thread left to the sweeper');
  };

  const spawn = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new Worker(WORKER_THREAD_ENTRY, { workerData: { config: threadConfig, thread: i } });
      threads.set(i, w);
      let ready = false;
      w.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'handOffDone' in m) {
          const mine = outstanding.get(i);
          for (const id of (m as { handOffDone: string[] }).handOffDone) mine?.delete(id);
        } else if (typeof m === 'object' && m !== null && 'handOffRefused' in m) {
          const ids = (m as { handOffRefused: string[] }).handOffRefused;
          const mine = outstanding.get(i);
          for (const id of ids) mine?.delete(id);
          orphaned(ids);
        } else if (typeof m === 'object' && m !== null && 'metrics' in m) {
          for (const one of (m as { metrics: ThreadMetric[] }).metrics) onMetric?.(one);
        } else if (typeof m === 'object' && m !== null && 'metric' in m) {
          onMetric?.((m as { metric: ThreadMetric }).metric);
        } else if (m === 'ready') {
          ready = true;
          outstanding.set(i, new Set());
          resolve();
        } else if (typeof m === 'object' && m !== null && 'error' in m && !ready) {
          reject(new Error(`pipeline worker thread ${i} did not start: ${(m as { error: string }).error}`));
        }
      });
      w.on('error', (err) => {
        log.error({ err, thread: i }, 'pipeline worker thread error');
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        threads.delete(i);
        // what it held and did not finish goes on the queue now (the rows are `queued`; processing is idempotent)
        const left = [...(outstanding.get(i) ?? [])];
        outstanding.delete(i);
        if (left.length > 0) {
          log.warn({ thread: i, count: left.length }, 'pipeline worker thread exited holding handed-off messages; they go on the queue');
          orphaned(left);
        }
        if (!stopping && ready) {
          log.error({ thread: i, code }, 'pipeline worker thread exited; restarting it');
          setTimeout(() => {
            if (!stopping) spawn(i).catch((err: unknown) => log.error({ err, thread: i }, 'pipeline worker thread did not restart'));
          }, 1000).unref();
        }
      });
    });

  try {
    await Promise.all(Array.from({ length: n }, (_, i) => spawn(i + 1)));
  } catch (err) {
    stopping = true;
    await Promise.all([...threads.values()].map((w) => w.terminate()));
    throw err;
  }
  log.info({ threads: n }, 'pipeline worker threads ready');
  return {
    get count() {
      return threads.size;
    },
    get handedOff() {
      let total = 0;
      for (const set of outstanding.values()) total += set.size;
      return total;
    },
    handOff(messageIds: readonly string[], limit: number): number {
      if (stopping) return 0;
      let best: number | undefined;
      for (const [i, set] of outstanding) {
        if (threads.has(i) && (best === undefined || set.size < (outstanding.get(best)?.size ?? 0))) best = i;
      }
      const target = best === undefined ? undefined : outstanding.get(best);
      const w = best === undefined ? undefined : threads.get(best);
      if (!target || !w) return 0;
      const taken = Math.max(0, Math.min(messageIds.length, limit - target.size));
      if (taken === 0) return 0;
      const ids = messageIds.slice(0, taken);
      for (const id of ids) target.add(id);
      w.postMessage({ handOff: ids });
      return taken;
    },
    async stop(graceMs = 15000): Promise<void> {
      stopping = true;
      await Promise.all(
        [...threads.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                void w.terminate().then(() => resolve());
              }, graceMs);
              w.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              w.once('message', (m: unknown) => {
                if (m === 'stopped') void w.terminate();
              });
              w.postMessage('stop');
            }),
        ),
      );
    },
  };
}

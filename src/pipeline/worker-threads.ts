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
export async function startWorkerThreads(config: LotBridgeConfig, databaseUrl: string, n: number, logger: Logger, onMetric?: (m: ThreadMetric) => void): Promise<WorkerThreads> {
  const log = logger.child({ scope: 'worker-threads' });
  const threadConfig: LotBridgeConfig = { ...config, databaseUrl, databaseUrlExplicit: true };
  let stopping = false;
  const threads = new Map<number, Worker>();

  const spawn = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new Worker(WORKER_THREAD_ENTRY, { workerData: { config: threadConfig, thread: i } });
      threads.set(i, w);
      let ready = false;
      w.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'metric' in m) {
          onMetric?.((m as { metric: ThreadMetric }).metric);
        } else if (m === 'ready') {
          ready = true;
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

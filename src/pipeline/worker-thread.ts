import { parentPort, workerData } from 'node:worker_threads';
import type { LotBridgeConfig } from '../config/config';
import { createLogger } from '../logging/logger';
import { startHub } from '../hub';

/**
 * Entry of a pipeline worker thread started by `lotbridge start` (src/pipeline/worker-threads.ts):
 * a hub in `worker` mode on the database the main thread resolved. Messages: main → 'stop';
 * thread → 'ready' | 'stopped' | { error }.
 */
async function main(): Promise<void> {
  const { config, thread } = workerData as { config: LotBridgeConfig; thread: number };
  const logger = createLogger(config.logLevel).child({ thread: `worker-${thread}` });
  const hub = await startHub(config, logger, { mode: 'worker', deliver: false });
  parentPort?.on('message', (m: unknown) => {
    if (m === 'stop') {
      hub.stop().then(
        () => parentPort?.postMessage('stopped'),
        (err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }),
      );
    }
  });
  parentPort?.postMessage('ready');
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ error: err instanceof Error ? `${err.message}` : String(err) });
  process.exitCode = 1;
});

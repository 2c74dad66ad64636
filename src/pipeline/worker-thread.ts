import { parentPort, workerData } from 'node:worker_threads';
import type { LotBridgeConfig } from '../config/config';
import { createLogger } from '../logging/logger';
import { startHub } from '../hub';

/**
 * Entry of a pipeline worker thread started by `lotbridge start` (src/pipeline/worker-threads.ts):
 * a hub in `worker` mode on the database the main thread resolved. Messages: main → 'stop' |
 * { handOff: ids }; thread → 'ready' | 'stopped' | { error } | { metric } | { metrics } | { handOffDone: ids } | { handOffRefused: ids }.
 */
async function main(): Promise<void> {
  const { config, thread } = workerData as { config: LotBridgeConfig; thread: number };
  const logger = createLogger(config.logLevel).child({ thread: `worker-${thread}` });
  const hub = await startHub(config, logger, { mode: 'worker', deliver: false });
  parentPort?.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && 'handOff' in m) {
      // the local hand-off: stored messages straight from the intake thread's group commit
      const ids = (m as { handOff: string[] }).handOff;
      const { taken, done } = hub.pipeline.handOff(ids);
      if (taken < ids.length) parentPort?.postMessage({ handOffRefused: ids.slice(taken) });
      if (taken > 0) void done.then(() => parentPort?.postMessage({ handOffDone: ids.slice(0, taken) }));
      return;
    }
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

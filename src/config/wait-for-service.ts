import { LotBridgeError } from '../errors';
import type { Logger } from '../logging/logger';

/** The answer of one probe of a service. */
export type ServiceProbe =
  | { ok: true }
  | {
      ok: false;
      /** Why it did not answer, in words (never a secret). */
      reason: string;
      /** True when waiting cannot help (wrong password, bad URL): stop at once. */
      fatal?: boolean;
      /** The original error, kept as `cause`. */
      error?: unknown;
    };

/** Timing of {@link waitForService}; every field is injectable for tests. */
export interface WaitForServiceTiming {
  /** Give up after this long (default 60000 ms). */
  waitTimeoutMs?: number;
  /** Pause between probes (default 1000 ms). */
  retryIntervalMs?: number;
  /** Log a "still waiting" line at most this often (default 5000 ms). */
  reportIntervalMs?: number;
}

/** What {@link waitForService} waits on. */
export interface WaitForServiceParams extends WaitForServiceTiming {
  /** Service name for logs: "PostgreSQL", "Redis". */
  service: string;
  /** Where, with the password redacted. */
  target: string;
  /** The environment variable that named it, e.g. DATABASE_URL. */
  envName: string;
  /** One probe; must not throw. */
  probe: () => Promise<ServiceProbe>;
  /** Logger for the waiting lines. */
  logger: Logger;
}

/**
 * Probes a service explicitly configured by the operator until it answers. While it does not, logs a
 * warn line at the first failure and then every `reportIntervalMs`; never falls back to anything else.
 *
 * @param params - the service, its probe and the timing
 * @throws LotBridgeError LB_ERR_SERVICE_UNAVAILABLE after `waitTimeoutMs`; LB_ERR_CONFIG_INVALID when a probe says waiting cannot help
 */
export async function waitForService(params: WaitForServiceParams): Promise<void> {
  const timeoutMs = params.waitTimeoutMs ?? 60000;
  const retryMs = params.retryIntervalMs ?? 1000;
  const reportMs = params.reportIntervalMs ?? 5000;
  const started = Date.now();
  let lastReport = -Infinity;
  let attempts = 0;
  for (;;) {
    attempts++;
    const r = await params.probe();
    if (r.ok) {
      if (attempts > 1) {
        params.logger.info({ service: params.service, target: params.target, waitedMs: Date.now() - started, attempts }, `${params.service} is reachable`);
      }
      return;
    }
    if (r.fatal) {
      throw new LotBridgeError('LB_ERR_CONFIG_INVALID', `${params.envName}: ${params.service} at ${params.target} refused LotBridge: ${r.reason}`, {
        cause: r.error,
        details: { service: params.service, target: params.target },
      });
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      throw new LotBridgeError(
        'LB_ERR_SERVICE_UNAVAILABLE',
        `${params.service} at ${params.target} (${params.envName}) did not answer within ${seconds(timeoutMs)}: ${r.reason}`,
        { cause: r.error, details: { service: params.service, target: params.target, waitedMs: waited, attempts } },
      );
    }
    if (Date.now() - lastReport >= reportMs) {
      lastReport = Date.now();
      params.logger.warn(
        { service: params.service, target: params.target, reason: r.reason, waitedMs: waited, timeoutMs },
        `${params.service} at ${params.target} is not reachable; waiting (${params.envName} is set, so LotBridge does not fall back)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(retryMs, Math.max(0, timeoutMs - waited))));
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

import IORedis from 'ioredis';
import type { LotBridgeConfig } from '../config/config';
import { waitForService, type ServiceProbe, type WaitForServiceTiming } from '../config/wait-for-service';
import type { Logger } from '../logging/logger';
import { redactUrl } from '../logging/redact-url';

/** Where the BullMQ queues run: Redis, or BullMQ's PostgreSQL backend in LotBridge's database. */
export type QueueBackendKind = 'redis' | 'postgres';

/** The decision of {@link resolveQueueBackend}. */
export interface QueueBackendDecision {
  /** `redis`: BullMQ on REDIS_URL; `postgres`: BullMQ's `createPostgresBackend` in the LotBridge database. */
  kind: QueueBackendKind;
  /** Why, in words, for the start-up log and `/readyz`. */
  reason: string;
}

/** Test and tuning knobs of {@link resolveQueueBackend}. */
export interface ResolveQueueBackendOptions extends WaitForServiceTiming {
  /** Timeout of one PING (connect + reply), default 1000 ms. */
  probeTimeoutMs?: number;
}

/**
 * Decides the queue backend (only the decision; the queues are built elsewhere):
 * - REDIS_URL set: `redis`, always. While that Redis is down, waits and logs every few seconds;
 *   after `waitTimeoutMs` throws LB_ERR_SERVICE_UNAVAILABLE. Never a switch to PostgreSQL: workers
 *   elsewhere on the same REDIS_URL would split the queue.
 * - unset, and a Redis answers PING at the default address: `redis`.
 * - otherwise: `postgres` (BullMQ's PostgreSQL backend; its migration must be run explicitly).
 *
 * @param config - the loaded configuration
 * @param logger - root or scoped logger
 * @param opts - wait timing and PING timeout (tests shorten them)
 * @returns the backend kind and the reason
 * @throws LotBridgeError LB_ERR_SERVICE_UNAVAILABLE (explicit Redis down too long) or LB_ERR_CONFIG_INVALID (e.g. wrong password)
 */
export async function resolveQueueBackend(config: LotBridgeConfig, logger: Logger, opts: ResolveQueueBackendOptions = {}): Promise<QueueBackendDecision> {
  const log = logger.child({ scope: 'pipeline' });
  const probeTimeoutMs = opts.probeTimeoutMs ?? 1000;
  const target = redactUrl(config.redisUrl);
  if (config.redisUrlExplicit) {
    await waitForService({ ...opts, service: 'Redis', target, envName: 'REDIS_URL', logger: log, probe: () => pingRedis(config.redisUrl, probeTimeoutMs, log) });
    return { kind: 'redis', reason: `REDIS_URL is set (${target})` };
  }
  const r = await pingRedis(config.redisUrl, probeTimeoutMs, log);
  if (r.ok) {
    return { kind: 'redis', reason: `REDIS_URL is unset and a Redis answered at the default address ${target}` };
  }
  return {
    kind: 'postgres',
    reason: `REDIS_URL is unset and no Redis answered at the default address ${target} (${r.reason}): queues run on BullMQ's PostgreSQL backend in the LotBridge database`,
  };
}

/**
 * One PING with ioredis: lazy connect, no reconnects, one attempt per command, short timeout;
 * the connection is closed afterwards (QUIT when it answered).
 *
 * @param url - redis:// or rediss:// URL
 * @param timeoutMs - budget for connect plus PING
 * @param log - debug lines for connection errors
 * @returns ok, or the reason (fatal when waiting cannot help, e.g. a wrong password)
 */
export async function pingRedis(url: string, timeoutMs: number, log: Logger): Promise<ServiceProbe> {
  const client = new IORedis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    // the connect() rejection only says "Connection is closed."; the socket error says why
    lastError = err;
    log.debug({ err }, 'Redis probe connection error');
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const pong = await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return pong === 'PONG' ? { ok: true } : { ok: false, reason: `PING answered ${JSON.stringify(pong)}`, fatal: true };
  } catch (err) {
    const cause = err instanceof Error && err.message === 'Connection is closed.' && lastError ? lastError : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    const code = (cause as { code?: unknown }).code;
    // a reply error (NOAUTH, WRONGPASS, ERR …) means Redis is up but refuses us; LOADING/BUSY pass
    const replyError = cause instanceof Error && cause.name === 'ReplyError';
    const fatal = replyError && !/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)\b/.test(message);
    return { ok: false, reason: `${message}${typeof code === 'string' ? ` (${code})` : ''}`, fatal, error: cause };
  } finally {
    if (timer) {
      clearTimeout(timer);
    }
    if (client.status === 'ready' || client.status === 'connect') {
      await client.quit().catch((quitErr: unknown) => {
        log.debug({ err: quitErr }, 'Redis probe QUIT failed; disconnecting');
        client.disconnect();
      });
    } else if (client.status !== 'end') {
      // not on an ended client: ioredis would arm a 2 s disconnect timer for a socket already closed
      client.disconnect();
    }
  }
}

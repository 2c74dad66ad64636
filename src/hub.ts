import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LotBridgeConfig } from './config/config';
import { createDb, ensureDatabase, type Db } from './db/knex';
import { migrateLatest } from './db/migrations';
import { resolveDatabase } from './db/resolve-database';
import type { Logger } from './logging/logger';
import { LotBridgeError } from './errors';
import { ConnectorRegistry, BUILT_IN_INSTANCES } from './connectors/registry';
import { connectorDefinitions } from '../connectors';
import type { ConnectorAdapter, ConnectorInstanceConfig } from './connectors/types';
import { IngestService } from './ingest/ingest-service';
import { SharedCache } from './pipeline/shared-cache';
import { startWorkerThreads, workerThreadsAvailable, type ThreadMetric, type WorkerThreads } from './pipeline/worker-threads';
import { isMainThread, parentPort } from 'node:worker_threads';
import { createPhiProtector } from './security/phi';
import { QueueKit } from './pipeline/queue-kit';
import { resolveQueueBackend } from './pipeline/resolve-queue-backend';
import { Pipeline } from './pipeline/pipeline';
import { messageHandlers } from './pipeline/handlers';
import { buildServer, closeServer, SERVER_CLOSE_GRACE_MS } from './api/server';
import { buildHealthServer } from './api/health-server';
import { HubMetrics } from './api/metrics';
import { ensureBootstrapKey } from './security/api-keys';
import { auditConfigAtStart } from './config/config-audit';
import { schemaRegistry } from './schemas/registry';
import Ajv from 'ajv';
import { partnerInputSchema, syncConfiguredPartners, type PartnerInput } from './model/edi/edi-partner-admin';
import { startEdiMonitor } from './model/edi/edi-monitor';
import { startAuditAnchoring } from './audit/anchor-audit-chains';
import { ConsoleJobs } from './console/jobs';
import { QUEUES } from './pipeline/queues';
import type { HubQueue } from './pipeline/queue-kit';
import { HandOffLimit } from './pipeline/handoff-limit';
import { ensureBootstrapUser } from './console/session';
import { DeliveryService } from './delivery/delivery-service';
import { ConnectorOutbound } from './delivery/connector-outbound';
import { NodeRedHost } from './nodered/nodered-host';

export interface HubOptions {
  /** `all`: HTTP + connectors + workers; `worker`: workers only. */
  mode: 'all' | 'worker';
  /** Run pipeline workers in this process (default true; false = stateless intake only). */
  workers?: boolean;
  /** Stalled-job check interval (tests shorten it; env LOTBRIDGE_STALLED_INTERVAL_MS). */
  stalledIntervalMs?: number;
  /** Job lock duration (env LOTBRIDGE_JOB_LOCK_MS). */
  lockDurationMs?: number;
  /** Run a `deliver` worker in this process (default true; pipeline worker threads say false: the main thread sends). */
  deliver?: boolean;
  /** How often the local hand-off's limit checks for other consumers of the ingest queue (default 5000 ms; tests shorten it). */
  consumerCheckMs?: number;
}

export interface RunningHub {
  db: Db;
  config: LotBridgeConfig;
  pipeline: Pipeline;
  app?: FastifyInstance;
  connectors: Map<string, ConnectorAdapter>;
  /** Outbound deliveries (`deliver` queue): `enqueue` for connectors that send answers. */
  deliveries: DeliveryService;
  /** Intake (store before ACK) of this process. */
  ingest: IngestService;
  /** How many handed-off messages a local pipeline thread holds now (LOTBRIDGE_PIPELINE_HANDOFF_MAX or _ALONE); absent without a local hand-off. */
  handOffLimit?: HandOffLimit;
  /** The embedded Node-RED, when this process runs it. */
  nodered?: NodeRedHost;
  /** Graceful stop: intake first, then workers finish, queues close, then the database. */
  stop(): Promise<void>;
}

/** Reads lotbridge.config.json (or LOTBRIDGE_CONFIG_FILE): `{ connectors: [{ id, kind, config }] }`. */
export function loadInstances(config: LotBridgeConfig): ConnectorInstanceConfig[] {
  const file = config.configFile ?? path.resolve('lotbridge.config.json');
  const instances = [...BUILT_IN_INSTANCES];
  if (!fs.existsSync(file)) {
    if (config.configFile) {
      throw new LotBridgeError('LB_ERR_CONFIG_INVALID', `LOTBRIDGE_CONFIG_FILE ${file} does not exist`);
    }
    return instances;
  }
  let parsed: { connectors?: ConnectorInstanceConfig[] };
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof parsed;
  } catch (err) {
    throw new LotBridgeError('LB_ERR_CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  for (const inst of parsed.connectors ?? []) {
    const i = instances.findIndex((x) => x.id === inst.id);
    if (i >= 0 && instances[i].kind === inst.kind) {
      instances[i] = inst; // configures a built-in instance
    } else {
      instances.push(inst);
    }
  }
  return instances;
}

/** Reads `partners[]` (EDI trading partners) of lotbridge.config.json (or LOTBRIDGE_CONFIG_FILE); every entry is checked against the partner schema. */
export function loadPartners(config: LotBridgeConfig): PartnerInput[] {
  const file = config.configFile ?? path.resolve('lotbridge.config.json');
  if (!fs.existsSync(file)) {
    return [];
  }
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { partners?: unknown };
  if (parsed.partners === undefined) {
    return [];
  }
  const validate = new Ajv({ allErrors: true, strict: false }).compile({ type: 'array', items: partnerInputSchema });
  if (!validate(parsed.partners)) {
    const problems = (validate.errors ?? []).map((e) => `partners${e.instancePath}: ${e.message ?? 'invalid'}`);
    throw new LotBridgeError('LB_ERR_CONFIG_INVALID', `${file}: invalid partners[]:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
  }
  return parsed.partners as PartnerInput[];
}

/** The composition root: config → database → migrations → queues → connectors → API → workers. */
export async function startHub(config: LotBridgeConfig, logger: Logger, opts: HubOptions): Promise<RunningHub> {
  const t0 = performance.now();
  fs.mkdirSync(config.dataDir, { recursive: true });
  schemaRegistry(); // compile every JSON Schema once, at boot
  const registry = new ConnectorRegistry(connectorDefinitions);
  const instances = registry.validateInstances(loadInstances(config));

  const database = await resolveDatabase(config, logger);
  const abort = new AbortController();
  const connectors = new Map<string, ConnectorAdapter>();
  let accepting = false;
  let app: FastifyInstance | undefined;
  let db: Db | undefined;
  let workerDb: Db | undefined;
  let pipeline: Pipeline | undefined;
  let ingestService: IngestService | undefined;
  let threads: WorkerThreads | undefined;
  let anchoring: { stop(): Promise<void> } | undefined;
  // the hand-off limit, once this process's local hand-off runs
  let handOffWatch: HandOffLimit | undefined;
  let ediMonitor: { stop(): Promise<void> } | undefined;
  let consoleJobs: ConsoleJobs | undefined;
  let boardQueues: HubQueue[] = [];
  let deliveries: DeliveryService | undefined;
  let nodered: NodeRedHost | undefined;
  let connectorOutbound: ConnectorOutbound | undefined;
  // PHI: created at once, its key read (or generated into the data dir) on first use
  const phi = createPhiProtector({ key: config.phiKey, oldKeys: config.phiOldKeys, dataDir: config.dataDir, logger: logger.child({ scope: 'phi' }) });
  try {
    await ensureDatabase(database.url);
    db = createDb({ url: database.url, poolMax: config.dbPoolMax, logger });
    // the pipeline's own pool: canonical transactions commit without waiting for the WAL flush
    workerDb = createDb({ url: database.url, poolMax: config.workerConcurrency + 4, logger, asyncCommit: true });
    if (opts.mode === 'all') {
      const applied = await migrateLatest(db);
      if (applied.length > 0) {
        logger.info({ applied }, 'migrations applied');
      }
      await db.raw('SELECT lotbridge_ensure_message_partition(now())');
      await db.raw("SELECT lotbridge_ensure_message_partition(now() + interval '1 month')");
      if (config.bootstrapAdminKey) {
        await ensureBootstrapKey(db, config.bootstrapAdminKey);
      }
      // a setting changed since the last start is an operator action too: into the audit log
      await auditConfigAtStart(db, config, logger);
      const partners = loadPartners(config);
      if (partners.length > 0) {
        logger.info({ partners: await syncConfiguredPartners(db, partners, phi) }, 'EDI trading partners from the config file applied');
      }
      if (config.adminPassword) {
        await ensureBootstrapUser(db, config.adminPassword);
      }
    }

    const backend = await resolveQueueBackend(config, logger);
    const kit = new QueueKit({ kind: backend.kind, url: backend.kind === 'redis' ? config.redisUrl : database.url, prefix: config.queuePrefix });
    await kit.prepare();
    logger.info({ queueBackend: backend.kind, reason: backend.reason, databaseEmbedded: database.embedded }, `queues run on ${backend.kind === 'redis' ? 'Redis' : "BullMQ's PostgreSQL backend"}`);

    for (const inst of instances) {
      const adapter = registry.get(inst.kind).create({ id: inst.id, config: inst.config }, {
        listen: { mllpPort: config.mllpPort, host: config.httpHost },
        logger: logger.child({ scope: 'connector', connectorId: inst.id, kind: inst.kind }),
        signal: abort.signal,
        dataDir: config.dataDir,
        timezone: config.timezone,
      });
      connectors.set(inst.id, adapter);
    }
    const metrics = new HubMetrics();
    // a pipeline thread reports its observations to the main thread, whose registry /metrics serves
    // (batched: one message to the main thread per turn of the event loop, not one per observation)
    let threadMetrics: ThreadMetric[] = [];
    const observe = (m: ThreadMetric): void => {
      if (opts.mode === 'worker' && !isMainThread && parentPort) {
        const port = parentPort;
        if (threadMetrics.push(m) === 1) {
          setImmediate(() => {
            const batch = threadMetrics;
            threadMetrics = [];
            port.postMessage({ metrics: batch });
          });
        }
      } else metrics.observe(m);
    };
    const fifoConnectors = new Set(instances.filter((i) => i.config.fifo === true).map((i) => i.id));
    // the local hand-off, once this process's pipeline (its worker threads, or its own workers) runs
    let localHandOff: ((messageIds: string[]) => number) | undefined;
    // LOTBRIDGE_PIPELINE_HANDOFF_MAX per thread (default 2000: ten batches of 200) while other
    // processes consume the ingest queue; a deeper backlog goes on the queue, where every worker
    // (and its claims) can take it. At one batch's worth (the earlier limit) a saturating load
    // overflowed onto the queue most of the time, and the queue's batches beside the local one cost
    // about 30 % more CPU per message (Redis jobs, claims, lock waits, smaller transactions; measured
    // with npm run bench, pipeline section). While no other process consumes the queue, its overflow
    // would come back to this process's own threads at that higher cost: the limit is then
    // LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE (50,000, a memory guard). See HandOffLimit.
    const handOffLimit = new HandOffLimit({
      shared: config.pipelineHandOffMax, alone: config.pipelineHandOffMaxAlone, intervalMs: opts.consumerCheckMs ?? 5000,
      otherConsumers: () => (pipeline as Pipeline).otherIngestConsumers(), logger: logger.child({ scope: 'pipeline' }),
    });
    pipeline = new Pipeline({
      db, logger, kit,
      handOffBatchMax: config.pipelineHandOff ? Math.max(1, config.pipelineBatchMax) : 0,
      processDeps: {
        db: workerDb, logger,
        handlers: messageHandlers({ phi, instances, ediUnknownPartners: config.ediUnknownPartners, timezone: config.timezone }),
        timezoneOf: (id) => connectors.get(id)?.timezone ?? config.timezone,
        onOutcome: (status) => observe({ kind: 'outcome', status }),
        fifoConnectors,
        phi,
        claimUpTo: config.pipelineBatchMax,
        shared: new SharedCache(),
      },
      concurrency: config.workerConcurrency,
      maxAttempts: config.maxAttempts,
      sweepIntervalMs: config.sweepIntervalMs,
      sweepGraceMs: config.sweepGraceMs,
      stalledIntervalMs: opts.stalledIntervalMs ?? config.stalledIntervalMs,
      lockDurationMs: opts.lockDurationMs ?? config.jobLockMs,
      onJobDone: (seconds, outcome) => observe({ kind: 'job', seconds, outcome }),
    });
    const ingest = (ingestService = new IngestService({
      db, asyncDb: workerDb, logger, connectors, enqueue: pipeline.enqueue, enqueueMany: pipeline.enqueueMany, maxBodyBytes: config.maxBodyBytes, phi,
      groupCommit: { maxInFlight: config.intakeFlushes },
      // FIFO connectors keep the queue (their per-sender order check may make a message wait)
      handOff: (items) => {
        if (!localHandOff) return items;
        const mine = items.filter((i) => !fifoConnectors.has(i.connectorId));
        const taken = mine.length > 0 ? localHandOff(mine.map((i) => i.messageId)) : 0;
        if (taken === 0) return items;
        const handed = new Set(mine.slice(0, taken));
        return items.filter((i) => !handed.has(i));
      },
      onReceipt: (connectorId, r, ms) => {
        metrics.receipts.inc({ connector: connectorId, status: r.status });
        metrics.received.inc({ connector: connectorId });
        (r.status === 'rejected' ? metrics.rejected : metrics.acked).inc({ connector: connectorId });
        metrics.ingestLatency.observe({ connector: connectorId }, ms / 1000);
      },
    }));

    consoleJobs = new ConsoleJobs({ db, kit, pipeline, logger });
    deliveries = new DeliveryService({
      db, kit, phi, logger, concurrency: config.deliverConcurrency, statusDb: workerDb,
      stalledIntervalMs: opts.stalledIntervalMs ?? config.stalledIntervalMs,
      lockDurationMs: opts.lockDurationMs ?? config.jobLockMs,
    });
    if (opts.mode === 'all' && config.noderedEnabled) {
      const hubDeliveries = deliveries;
      nodered = new NodeRedHost({
        dataDir: config.dataDir, adminPassword: config.adminPassword, credentialSecret: config.noderedCredentialSecret,
        logger, db, kit, phi, deliveries: hubDeliveries, ingest, connectorIds: () => [...connectors.keys()],
        routeConcurrency: config.routeConcurrency, routeAttempts: config.routeMaxAttempts, outboxPollMs: config.outboxPollMs,
        stalledIntervalMs: opts.stalledIntervalMs ?? config.stalledIntervalMs,
        lockDurationMs: opts.lockDurationMs ?? config.jobLockMs,
      });
    }
    metrics.gauge('lotbridge_db_pool_connections', 'Connections of the PostgreSQL pools by state (used, free, pending acquires)', ['pool', 'state'], async (set) => {
      for (const [name, d] of [['api', db!], ['pipeline', workerDb!]] as const) {
        const pool = (d.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
        if (!pool) continue;
        set({ pool: name, state: 'used' }, pool.numUsed());
        set({ pool: name, state: 'free' }, pool.numFree());
        set({ pool: name, state: 'pending' }, pool.numPendingAcquires());
      }
    });
    if (opts.mode === 'all') {
      app = buildServer({
        db, config, logger, connectors, ingest, pipeline, metrics,
        runtime: { databaseEmbedded: database.embedded, queueBackend: backend.kind, queueReason: backend.reason },
        isAccepting: () => accepting,
        phi,
        consoleJobs,
        // the queue dashboard shows every queue named in QUEUES (its own handles: they only read and act on jobs)
        boardQueues: (boardQueues = Object.values(QUEUES).map((name) => kit.queue(name, { producer: true }))),
        nodered: nodered ?? (config.noderedEnabled ? undefined : 'disabled'),
      });
      metrics.gauge('lotbridge_queue_jobs', 'Jobs in the ingest queue by state', ['state'], async (set) => {
        const counts = await pipeline!.ingestQueue.getJobCounts('waiting', 'active', 'delayed', 'failed');
        for (const [state, n] of Object.entries(counts)) set({ state }, n);
      });
      metrics.gauge('lotbridge_queue_oldest_waiting_seconds', 'Age of the oldest stored message not yet processed (received or queued)', [], async (set) => {
        const r = await db!.raw<{ rows: Array<{ oldest: Date | null }> }>("SELECT min(received_at) AS oldest FROM inbound_messages WHERE status IN ('received', 'queued')");
        const o = r.rows[0]?.oldest;
        set({}, o ? Math.max(0, (Date.now() - new Date(o).getTime()) / 1000) : 0);
      });
      metrics.gauge('lotbridge_messages_open', 'Stored messages not yet finished, by status', ['status'], async (set) => {
        const rows = await db!('inbound_messages').whereIn('status', ['received', 'queued', 'failed']).groupBy('status').select('status').count<Array<{ status: string; count: number }>>('* as count');
        for (const s of ['received', 'queued', 'failed']) set({ status: s }, Number(rows.find((r) => r.status === s)?.count ?? 0));
      });
    }
    // Node-RED first: the ready lines of worker threads then mean the hub is nearly up
    if (nodered && app) {
      await nodered.start(app.server);
    }
    if (opts.workers !== false) {
      // bulk console jobs run beside the pipeline workers
      await consoleJobs.start();
      if (opts.deliver !== false) {
        await deliveries.startWorker();
        // HL7 application ACKs and EDI acks/documents from the outbox to the deliver queue
        const d = deliveries;
        connectorOutbound = new ConnectorOutbound({ db, phi, enqueue: (req) => d.enqueue(req), instances, logger: logger.child({ scope: 'deliver' }), pollMs: Math.max(config.outboxPollMs, 200) });
        connectorOutbound.start();
      }
      if (opts.mode === 'all' && config.workerThreads > 0 && workerThreadsAvailable()) {
        // the pipeline in worker threads: mapping never holds up the intake thread's ACKs
        const queueOf = pipeline;
        const started = await startWorkerThreads(config, database.url, config.workerThreads, logger, (m) => metrics.observe(m), (ids) => {
          queueOf.fallBack(ids.map((messageId) => ({ messageId, outcome: 'error' as const }))).catch((err: unknown) =>
            logger.warn({ err, scope: 'pipeline', count: ids.length }, 'could not queue the hand-offs of a pipeline thread; the sweeper will'));
        });
        threads = started;
        if (config.pipelineHandOff) localHandOff = (ids) => started.handOff(ids, handOffLimit.value);
      } else {
        await pipeline.startWorkers();
        const local = pipeline;
        if (config.pipelineHandOff && opts.mode === 'all') {
          localHandOff = (ids) => local.handOff(ids, handOffLimit.value).taken;
        }
      }
      if (localHandOff) {
        await handOffLimit.start();
        handOffWatch = handOffLimit;
      }
    }
    if (opts.mode === 'all' && app) {
      for (const c of connectors.values()) {
        await c.start(ingest);
      }
      await app.listen({ port: config.httpPort, host: config.httpHost });
      accepting = true;
      if (config.auditAnchorIntervalMs > 0) {
        anchoring = startAuditAnchoring(db, config.auditAnchorIntervalMs, logger.child({ scope: 'audit' }));
      }
      // partner_ack_missing and shipment_late (ASNs not arrived by their date), once a minute
      ediMonitor = startEdiMonitor(db, 60_000, logger.child({ scope: 'edi' }));
    }
    if (opts.mode === 'worker' && isMainThread && config.workerHttpPort !== undefined) {
      // a worker process's probes and metrics (worker threads of `lotbridge start` have none: the main thread serves theirs)
      app = buildHealthServer({
        db, logger, pipeline, metrics,
        connectors: new Map(), // a worker runs no connector (it only maps what they received)
        runtime: { databaseEmbedded: database.embedded, queueBackend: backend.kind, queueReason: backend.reason },
        isAccepting: () => accepting,
      });
      await app.listen({ port: config.workerHttpPort, host: config.httpHost });
    }
    if (opts.mode === 'worker') {
      accepting = true;
    }
    logger.info({ mode: opts.mode, httpPort: opts.mode === 'all' ? config.httpPort : app ? config.workerHttpPort : undefined, startMs: Math.round(performance.now() - t0), connectors: [...connectors.keys()] }, 'LotBridge ready');

  } catch (err) {
    // a failed start releases what it opened (pools, queues, the embedded PostgreSQL)
    await nodered?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await threads?.stop(1000).catch(() => undefined);
    await consoleJobs?.close().catch(() => undefined);
    await Promise.all(boardQueues.map((q) => q.close().catch(() => undefined)));
    await connectorOutbound?.stop().catch(() => undefined);
    await deliveries?.close(true).catch(() => undefined);
    await pipeline?.close(true).catch(() => undefined);
    await workerDb?.destroy().catch(() => undefined);
    await db?.destroy().catch(() => undefined);
    await database.stop().catch(() => undefined);
    throw err;
  }
  const hubDb = db;
  const hubWorkerDb = workerDb;
  const hubPipeline = pipeline;
  const hubConsoleJobs = consoleJobs!;
  const hubDeliveries = deliveries;
  const hubIngest = ingestService;
  let stopping: Promise<void> | undefined;
  return {
    db: hubDb, config, pipeline: hubPipeline, app, connectors, deliveries: hubDeliveries, ingest: hubIngest, nodered,
    ...(handOffWatch ? { handOffLimit: handOffWatch } : {}),
    stop(): Promise<void> {
      stopping ??= (async () => {
        accepting = false;
        if (opts.mode === 'all') {
          // connectors settle what they hold (a file half-handed to intake) before anything is aborted
          await Promise.all([...connectors.values()].map((c) => c.stop().catch((err: unknown) => logger.warn({ err, connectorId: c.id }, 'connector stop failed'))));
          await nodered?.stop();
          if (app) await closeServer(app, SERVER_CLOSE_GRACE_MS);
          await ingestService?.drained();
        }
        if (opts.mode === 'worker') {
          await app?.close();
        }
        abort.abort();
        handOffWatch?.stop();
        await anchoring?.stop();
        await ediMonitor?.stop();
        await threads?.stop();
        await hubConsoleJobs.close();
        await Promise.all(boardQueues.map((q) => q.close()));
        await connectorOutbound?.stop();
        await hubDeliveries.close();
        await hubPipeline.close();
        await hubWorkerDb.destroy();
        await hubDb.destroy();
        await database.stop();
        logger.info('LotBridge stopped');
      })();
      return stopping;
    },
  };
}

import { FlowAudit, NODERED_AUDIT_LEVEL, type FlowsStarted, type NodeRedAuditEntry } from './flow-audit';
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import express from 'express';
import type { Logger } from '../logging/logger';
import { LotBridgeError } from '../errors';
import { fromRoot, projectRoot } from '../paths';
import type { Db } from '../db/knex';
import type { QueueKit } from '../pipeline/queue-kit';
import type { PhiProtector } from '../security/phi';
import type { DeliveryService } from '../delivery/delivery-service';
import { recordSkippedDelivery } from '../delivery/enqueue-delivery';
import type { DeliveryView } from '../delivery/enqueue-delivery';
import type { IngestPort, MessageFormat } from '../connectors/types';
import { getLotView } from '../model/lots/get-lot-view';
import { runTrace } from '../trace/trace-query';
import { OutboxRelay } from '../routing/outbox-relay';
import { resolveAdminPasswordHash, resolveCredentialSecret } from './admin-credentials';
import { prepareFlowFile, type FlowFileState } from './flow-files';
import { RouteConsumer } from './route-consumer';
import { BRIDGE_SETTING, type LotBridgeBridge } from './bridge';

/** Where the editor and the flows' HTTP endpoints live on the hub's HTTP server. */
export const EDITOR_ROOT = '/flows';
export const HTTP_NODE_ROOT = '/api/flows';
const FLOW_FILE = 'flows.json';

/** The surface of the `node-red` package the hub uses. */
export interface NodeRedRuntime {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: express.Express;
  httpNode: express.Express;
  events: { on(ev: string, cb: (...a: any[]) => void): void; removeListener(ev: string, cb: (...a: any[]) => void): void };
  hooks: { add(id: string, cb: (ev: any) => void): void; remove(id: string): void };
  version(): string;
}

/** Options of {@link NodeRedHost}. */
export interface NodeRedHostOptions {
  dataDir: string;
  adminPassword?: string;
  credentialSecret?: string;
  logger: Logger;
  db: Db;
  kit: QueueKit;
  phi: PhiProtector;
  deliveries: DeliveryService;
  ingest: IngestPort;
  connectorIds(): string[];
  /** Folder of the default flows (default: flows/ of the project). */
  defaultFlowsDir?: string;
  routeConcurrency: number;
  routeAttempts: number;
  outboxPollMs: number;
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** Longest wait for the flows to start at boot (ms). */
  startTimeoutMs?: number;
}

/** Node-RED's state for /readyz. */
export interface NodeRedStatus {
  state: 'up' | 'down';
  /** started: flows run; stopped: between deploys; waiting: missing node types; disabled: an invalid flow file was set aside. */
  flows: 'starting' | 'started' | 'stopped' | 'waiting' | 'disabled';
  reason?: string;
  missingTypes?: string[];
  version?: string;
  eventNodes?: number;
}

/** What {@link createBridge} needs from the hub. */
export type BridgeDeps = Pick<NodeRedHostOptions, 'db' | 'deliveries' | 'ingest' | 'connectorIds'>;

/**
 * The services the LotBridge nodes reach through `RED.settings.lotbridge` (see bridge.ts).
 *
 * @param o - database, deliveries, intake and connector ids of the hub
 * @param routes - the route consumer that feeds lotbridge-event nodes and takes completions
 */
export function createBridge(o: BridgeDeps, routes: Pick<RouteConsumer, 'subscribe' | 'complete'>): LotBridgeBridge {
  const waiting = new Map<string, Array<(v: DeliveryView) => void>>();
  o.deliveries.on('outcome', (v: DeliveryView) => {
    const ws = waiting.get(v.id);
    if (ws) {
      waiting.delete(v.id);
      ws.forEach((w) => w(v));
    }
  });
  return {
    version: 1,
    subscribe: (sub) => routes.subscribe(sub),
    complete: (ticket, result) => routes.complete(ticket, result),
    deliver: (req) => o.deliveries.enqueue(req),
    skip: (req) => recordSkippedDelivery(o.db, req),
    outcome: (id, timeoutMs) =>
      new Promise((resolve) => {
        let settled = false;
        const finish = (v: DeliveryView | undefined): void => {
          if (settled) {
            return;
          }
          settled = true;
          clearTimeout(timer);
          clearInterval(poll);
          const ws = waiting.get(id)?.filter((w) => w !== finish);
          if (ws && ws.length > 0) {
            waiting.set(id, ws);
          } else {
            waiting.delete(id);
          }
          resolve(v);
        };
        const check = (): void => {
          // finished before we started waiting, or sent by another process (a `lotbridge worker`)
          o.deliveries.get(id).then(
            (v) => {
              if (v && (v.status === 'delivered' || v.status === 'failed')) {
                finish(v);
              }
            },
            () => undefined,
          );
        };
        const timer = setTimeout(() => finish(undefined), timeoutMs);
        timer.unref();
        // the in-process outcome event is the fast path; the row is read now and then for sends of other processes
        const poll = setInterval(check, 5000);
        poll.unref();
        waiting.set(id, [...(waiting.get(id) ?? []), finish]);
      }),
    ingest: (connectorId, body, x) =>
      o.ingest.receive(connectorId, {
        format: (x.format ?? 'json') as MessageFormat,
        payload: body,
        contentType: x.contentType,
        receivedAt: new Date(),
        transport: 'flow',
        envelope: { ...(x.envelope ?? {}) },
      }),
    connectorIds: () => o.connectorIds(),
    lot: (key) => getLotView(o.db, key),
    trace: (q) => runTrace(o.db, q),
  };
}


/**
 * Flow errors fail the event's attempt: a node's done(err) (`onComplete` hook) or an error msg
 * reaching a Catch node (`onReceive` hook). Returns the remover.
 */
export function installFlowErrorHooks(RED: Pick<NodeRedRuntime, 'hooks'>, routes: Pick<RouteConsumer, 'complete'>): () => void {
  RED.hooks.add('onComplete.lotbridge', (ev: { msg?: Record<string, unknown>; error?: unknown; node?: { id: string } }) => {
    if (ev.error && ev.msg && ev.msg._lotbridge) {
      routes.complete(ev.msg._lotbridge as never, { ok: false, error: ev.error instanceof Error ? ev.error : new Error(String(ev.error)), by: ev.node?.id ?? '?' });
    }
  });
  RED.hooks.add('onReceive.lotbridge', (ev: { msg?: Record<string, unknown>; destination?: { node?: { type?: string } } }) => {
    if (ev.destination?.node?.type === 'catch' && ev.msg?._lotbridge && ev.msg.error) {
      const e = ev.msg.error as { message?: string };
      routes.complete(ev.msg._lotbridge as never, { ok: false, error: new LotBridgeError('LB_ERR_FLOW_FAILED', e.message ?? 'a node reported an error'), by: 'catch' });
    }
  });
  return () => RED.hooks.remove('*.lotbridge');
}

/**
 * Node-RED's editor keeps a referenced timer for the expiry of login sessions (a week ahead) that
 * its stop() does not clear, so a process whose hub stopped would not end. Timers of that one
 * function are unreferenced; everything else is untouched. Installed once per process.
 */
function unrefNodeRedSessionTimers(): void {
  const g = globalThis as typeof globalThis & { __lotbridgeTimerPatch?: boolean };
  if (g.__lotbridgeTimerPatch) {
    return;
  }
  g.__lotbridgeTimerPatch = true;
  const original = g.setTimeout;
  const patched = function (this: unknown, fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout {
    const t = original(fn, ms, ...args);
    if (typeof fn === 'function' && fn.name === 'expireSessions') {
      t.unref();
    }
    return t;
  };
  g.setTimeout = Object.assign(patched, original) as unknown as typeof setTimeout;
}

const NR_LEVELS: Record<number, 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'> = { 10: 'fatal', 20: 'error', 30: 'warn', 40: 'info', 50: 'debug', 60: 'trace' };

/**
 * Embeds Node-RED 4 in the hub process. It shares the hub's HTTP server: requests under `/flows`
 * (editor, Admin API) and `/api/flows` (flow HTTP-in endpoints) go to an Express 4 app holding
 * Node-RED's apps; everything else stays with Fastify. Admin auth is always on.
 */
export class NodeRedHost {
  private red?: NodeRedRuntime;
  private app?: express.Express;
  private routes?: RouteConsumer;
  private relay?: OutboxRelay;
  private readonly status: NodeRedStatus = { state: 'down', flows: 'starting' };
  private readonly listeners: Array<[string, (...a: any[]) => void]> = [];
  private flowsOpen = false;
  private startError?: Error;
  /** Writes the flow editor's changes (deploys, node modules) into the audit log. */
  private flowAudit?: FlowAudit;

  constructor(private readonly opts: NodeRedHostOptions) {}

  /** True for paths Node-RED serves. */
  static owns(url: string | undefined): boolean {
    if (!url) {
      return false;
    }
    const p = url.split('?')[0];
    return p === EDITOR_ROOT || p.startsWith(`${EDITOR_ROOT}/`) || p === HTTP_NODE_ROOT || p.startsWith(`${HTTP_NODE_ROOT}/`);
  }

  /** Serves a Node-RED request (see {@link NodeRedHost.owns}). */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.app) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' });
      res.end(JSON.stringify({ error: new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', this.startError ? `Node-RED did not start: ${this.startError.message}` : 'Node-RED is starting').toJSON() }));
      return;
    }
    this.app(req, res);
  }

  /** State for /readyz. */
  health(): NodeRedStatus {
    return { ...this.status, eventNodes: this.routes?.subscribers ?? 0 };
  }

  /**
   * Initializes Node-RED on `server` and starts it with the flows of the data dir (defaults copied
   * on first start). Resolves when the flows started (or could not: then the hub runs on with flows
   * disabled, and {@link NodeRedHost.health} says why).
   */
  async start(server: http.Server): Promise<void> {
    const o = this.opts;
    const log = o.logger.child({ scope: 'nodered' });
    const userDir = path.join(o.dataDir, 'node-red');
    fs.mkdirSync(userDir, { recursive: true });
    const flowState: FlowFileState = prepareFlowFile(userDir, FLOW_FILE, o.defaultFlowsDir ?? fromRoot('flows'));
    if (flowState.state === 'invalid') {
      this.status.flows = 'disabled';
      this.status.reason = `${flowState.error.code}: ${flowState.error.message}${flowState.movedTo ? ` (kept as ${flowState.movedTo})` : ''}`;
      log.error({ code: flowState.error.code, err: flowState.error.message, location: flowState.error.location, movedTo: flowState.movedTo }, 'invalid flow file: Node-RED starts with flows disabled');
    } else if (flowState.state === 'copied-defaults') {
      log.info({ files: flowState.files, nodes: flowState.nodes }, 'default flows copied to the data dir');
    }
    const admin = resolveAdminPasswordHash(o.adminPassword, userDir, log);
    const secret = resolveCredentialSecret(o.credentialSecret, userDir);

    const routes = (this.routes = new RouteConsumer({
      db: o.db, kit: o.kit, phi: o.phi, logger: o.logger, concurrency: o.routeConcurrency,
      stalledIntervalMs: o.stalledIntervalMs, lockDurationMs: o.lockDurationMs,
      isOpen: () => this.flowsOpen,
    }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const RED = (this.red = require('node-red') as NodeRedRuntime);
    unrefNodeRedSessionTimers();
    const settings: Record<string, unknown> = {
      userDir,
      flowFile: FLOW_FILE,
      flowFilePretty: true,
      credentialSecret: secret.secret,
      httpAdminRoot: EDITOR_ROOT,
      httpNodeRoot: HTTP_NODE_ROOT,
      adminAuth: {
        type: 'credentials',
        users: [{ username: 'admin', password: admin.hash, permissions: '*' }],
      },
      // our own nodes: this package's "node-red" section (compiled to dist/)
      nodesDir: [projectRoot],
      functionGlobalContext: {},
      diagnostics: { enabled: false },
      runtimeState: { enabled: false },
      telemetry: { enabled: false },
      editorTheme: {
        page: { title: 'LotBridge flows' },
        header: { title: 'LotBridge flows' },
        projects: { enabled: false },
        tours: false,
        palette: { categories: ['LotBridge', 'common', 'function', 'network', 'sequence', 'parser', 'storage'] },
      },
      logging: {
        lotbridge: {
          level: 'info',
          metrics: false,
          // the Admin API's audit entries: configuration changes go to LotBridge's audit log (FlowAudit)
          audit: true,
          handler: () => (m: { level: number; msg: unknown; type?: string; id?: string; name?: string }) => {
            if (m.level === NODERED_AUDIT_LEVEL) {
              flowAudit.onAudit(m as unknown as NodeRedAuditEntry);
              return;
            }
            const level = NR_LEVELS[m.level] ?? 'info';
            const text = m.msg instanceof Error ? m.msg.message : typeof m.msg === 'string' ? m.msg : JSON.stringify(m.msg);
            log[level]({ nodeType: m.type, nodeId: m.id, nodeName: m.name }, text);
          },
        },
      },
      [BRIDGE_SETTING]: createBridge(o, routes),
    };
    const flowAudit = (this.flowAudit = new FlowAudit(o.db, log));
    const started = new Promise<void>((resolve) => {
      let boots = 0;
      const onStarted = (ev: FlowsStarted): void => {
        flowAudit.onStarted(ev ?? {});
        this.flowsOpen = true;
        // flows set aside at boot stay reported as disabled until the first deploy after it
        if (this.status.flows !== 'disabled' || boots++ > 0) {
          this.status.flows = 'started';
          delete this.status.reason;
          delete this.status.missingTypes;
        }
        resolve();
      };
      const onStopping = (): void => {
        this.flowsOpen = false;
        if (this.status.flows !== 'disabled' || boots > 0) {
          this.status.flows = 'stopped';
        }
      };
      const onRuntimeEvent = (ev: { id?: string; payload?: { error?: string; types?: string[]; state?: string } }): void => {
        if (ev.id !== 'runtime-state' || !ev.payload) {
          return;
        }
        if (ev.payload.error === 'missing-types') {
          const err = new LotBridgeError('LB_ERR_FLOWS_MISSING_TYPE', `flows use node types no installed module provides: ${(ev.payload.types ?? []).join(', ')}; those flows stay stopped`, { details: { types: ev.payload.types } });
          this.status.flows = 'waiting';
          this.status.missingTypes = ev.payload.types;
          this.status.reason = `${err.code}: ${err.message}`;
          log.error({ code: err.code, types: ev.payload.types }, err.message);
          flowAudit.onNotStarted(ev.payload.types ?? []);
          resolve();
        }
      };
      this.listen('flows:started', onStarted);
      this.listen('flows:stopping', onStopping);
      this.listen('runtime-event', onRuntimeEvent);
    });
    try {
      RED.init(server, settings);
      this.listeners.forEach(([ev, cb]) => RED.events.on(ev, cb));
      // a flow that throws fails the event's attempt
      installFlowErrorHooks(RED, routes);
      const app = express();
      app.disable('x-powered-by');
      app.use(EDITOR_ROOT, RED.httpAdmin);
      app.use(HTTP_NODE_ROOT, RED.httpNode);
      await RED.start();
      this.app = app;
      this.status.state = 'up';
      this.status.version = (require('node-red/package.json') as { version: string }).version;
      await Promise.race([started, new Promise((r) => setTimeout(r, o.startTimeoutMs ?? 15000).unref())]);
      // the route worker starts once the flows (and their lotbridge-event nodes) are there
      await routes.start();
    } catch (err) {
      this.startError = err as Error;
      this.status.state = 'down';
      this.status.flows = 'disabled';
      this.status.reason = `LB_ERR_NODERED_START: ${(err as Error).message}`;
      log.error({ err, code: 'LB_ERR_NODERED_START' }, 'Node-RED did not start; the hub runs on without flows');
      return;
    }
    this.relay = new OutboxRelay({
      db: o.db, queue: routes.queue, logger: log, pollMs: o.outboxPollMs, attempts: o.routeAttempts,
      wanted: (t, routing) => routes.wants(t, routing),
      isOpen: () => this.flowsOpen,
    });
    this.relay.start();
    log.info({ editor: EDITOR_ROOT, httpNodeRoot: HTTP_NODE_ROOT, userDir, adminPassword: admin.source, credentialSecret: secret.source, flows: this.status.flows, version: this.status.version }, 'Node-RED started');
  }

  private listen(ev: string, cb: (...a: any[]) => void): void {
    this.listeners.push([ev, cb]);
  }

  /** Stops the relay, Node-RED's flows and the route worker. */
  async stop(): Promise<void> {
    await this.relay?.stop();
    const RED = this.red;
    if (RED && this.status.state === 'up') {
      this.flowsOpen = false;
      await this.routes?.close();
      await RED.stop().catch((err: unknown) => this.opts.logger.warn({ err }, 'Node-RED stop failed'));
      RED.hooks.remove('*.lotbridge');
      this.listeners.forEach(([ev, cb]) => RED.events.removeListener(ev, cb));
    } else {
      await this.routes?.close();
    }
    // audit rows of the last changes are written before the database pool closes
    await this.flowAudit?.flushed();
    this.status.state = 'down';
    this.app = undefined;
  }
}

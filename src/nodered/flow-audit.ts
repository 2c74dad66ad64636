import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';

/** A Node-RED audit log entry (`settings.logging.<handler>.audit: true`): level 98, the event and the request's user, path and ip. */
export interface NodeRedAuditEntry {
  level: number;
  event?: string;
  type?: string;
  id?: string;
  module?: string;
  version?: string;
  enabled?: boolean;
  scope?: string;
  store?: string;
  key?: string;
  error?: string;
  message?: string;
  user?: { username?: string };
  path?: string;
  ip?: string;
}

/** The payload of Node-RED's `flows:started` event. */
export interface FlowsStarted {
  config?: { flows?: Array<{ id?: string; type?: string }>; rev?: string };
  type?: string;
  diff?: { added?: string[]; changed?: string[]; removed?: string[]; rewired?: string[] } | null;
}

/** Node-RED's audit level. */
export const NODERED_AUDIT_LEVEL = 98;

/** Admin API events that change what runs: written to LotBridge's audit log as they happen. */
const IMMEDIATE = new Set(['nodes.install', 'nodes.remove', 'nodes.module.set', 'nodes.info.set', 'context.delete', 'library.set']);
/** Admin API events that (re)deploy flows: written once the flows they deployed have started, with their revision. */
const DEPLOYS = new Set(['flows.set', 'flow.add', 'flow.update', 'flow.remove']);

/**
 * Writes the flow editor's configuration changes into LotBridge's hash-chained audit log (chain
 * `admin`): who deployed (the editor user), what kind of deploy, the flows' revision once they
 * started and how many nodes it added, changed and removed; installs and removals of node
 * modules, enabling and disabling nodes, deleted context. Node-RED reports them through its audit
 * log level; reads (flows.get, nodes.list.get …) and logins are not written.
 */
export class FlowAudit {
  private pending: Array<{ event: string; actor: string; type?: string; id?: string; ip?: string }> = [];
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly logger: Logger) {}

  /** One Node-RED audit entry. */
  onAudit(e: NodeRedAuditEntry): void {
    if (!e.event) return;
    const actor = `nodered:${e.user?.username ?? 'anonymous'}`;
    if (DEPLOYS.has(e.event) && !e.error) {
      this.pending.push({ event: e.event, actor, type: e.type, id: e.id, ip: e.ip });
      return;
    }
    if (!IMMEDIATE.has(e.event) && !(DEPLOYS.has(e.event) && e.error)) return;
    const detail = Object.fromEntries(
      (['type', 'id', 'module', 'version', 'enabled', 'scope', 'store', 'key', 'error', 'message', 'path', 'ip'] as const).filter((k) => e[k] !== undefined).map((k) => [k, e[k]]),
    );
    this.write({
      actor, action: `nodered.${e.event}`, entityType: e.module ? 'nodered.module' : 'flows', entityId: e.module ?? e.id ?? e.key ?? '',
      after: detail, reason: e.error ? `Node-RED ${e.event} failed: ${e.error}` : `Node-RED ${e.event}`,
    });
  }

  /** Node-RED's flows:started: the deploys waiting for it are written with the revision that runs now. */
  onStarted(ev: FlowsStarted): void {
    const done = this.pending;
    this.pending = [];
    for (const p of done) this.write(this.deployRow(p, ev, true));
  }

  /** The flows did not start (node types missing): the deploys waiting are written as not started. */
  onNotStarted(missingTypes: string[]): void {
    const done = this.pending;
    this.pending = [];
    for (const p of done) this.write(this.deployRow(p, { type: p.type }, false, missingTypes));
  }

  /** Resolves when every audit row handed over so far is written (or its failure logged). */
  flushed(): Promise<void> {
    return this.writes;
  }

  private deployRow(p: FlowAudit['pending'][number], ev: FlowsStarted, started: boolean, missingTypes?: string[]) {
    const flows = ev.config?.flows ?? [];
    const n = (a: string[] | undefined): number => a?.length ?? 0;
    return {
      actor: p.actor,
      action: `nodered.${p.event}`,
      entityType: 'flows',
      entityId: ev.config?.rev ?? p.id ?? '',
      after: {
        deploymentType: p.type ?? ev.type ?? null,
        ...(p.id ? { flowId: p.id } : {}),
        started,
        ...(ev.config?.rev ? { rev: ev.config.rev } : {}),
        ...(started ? { tabs: flows.filter((f) => f.type === 'tab').length, nodes: flows.length } : {}),
        ...(ev.diff ? { added: n(ev.diff.added), changed: n(ev.diff.changed), removed: n(ev.diff.removed), rewired: n(ev.diff.rewired) } : {}),
        ...(missingTypes ? { missingTypes } : {}),
        ...(p.ip ? { ip: p.ip } : {}),
      },
      reason: `Node-RED ${p.type ?? ''} deploy`.replace(/\s+/g, ' '),
    };
  }

  private write(r: { actor: string; action: string; entityType: string; entityId: string; after: unknown; reason: string }): void {
    this.writes = this.writes.then(async () => {
      try {
        await this.db('audit_log').insert({
          chain: 'admin', actor: r.actor, action: r.action, entity_type: r.entityType, entity_id: r.entityId,
          before: null, after: JSON.stringify(r.after), reason: r.reason,
        });
      } catch (err) {
        this.logger.error({ err, action: r.action, actor: r.actor }, 'could not write the audit row of a flow editor change');
      }
    });
  }
}

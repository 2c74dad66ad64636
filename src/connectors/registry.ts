import Ajv from 'ajv';
import { LotBridgeError } from '../errors';
import type { ConnectorDefinition, ConnectorInstanceConfig } from './types';

/** Connector kinds by name. Built explicitly from connectors/index.ts; never by scanning folders. */
export class ConnectorRegistry {
  private readonly defs = new Map<string, ConnectorDefinition>();
  private readonly ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

  constructor(definitions: ReadonlyArray<ConnectorDefinition>) {
    for (const d of definitions) {
      if (this.defs.has(d.kind)) {
        throw new LotBridgeError('LB_ERR_CONNECTOR_DUPLICATE_KIND', `connector kind "${d.kind}" is registered twice`);
      }
      this.defs.set(d.kind, d);
    }
  }

  get(kind: string): ConnectorDefinition {
    const d = this.defs.get(kind);
    if (!d) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_UNKNOWN_KIND', `no connector kind "${kind}" (known: ${[...this.defs.keys()].join(', ')})`);
    }
    return d;
  }

  kinds(): string[] {
    return [...this.defs.keys()];
  }

  /** Validates instance configs (unique ids, known kinds, config schema with defaults applied). */
  validateInstances(instances: ConnectorInstanceConfig[]): ConnectorInstanceConfig[] {
    const seen = new Set<string>();
    const problems: string[] = [];
    const out: ConnectorInstanceConfig[] = [];
    for (const inst of instances) {
      if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(inst.id)) {
        problems.push(`connector id "${inst.id}" must be lower-case letters, digits, - or _`);
      }
      if (seen.has(inst.id)) {
        throw new LotBridgeError('LB_ERR_CONNECTOR_DUPLICATE_ID', `connector id "${inst.id}" is configured twice`);
      }
      seen.add(inst.id);
      const def = this.get(inst.kind);
      const config = structuredClone(inst.config ?? {});
      const validate = this.ajv.compile(def.configSchema);
      if (!validate(config)) {
        for (const e of validate.errors ?? []) {
          problems.push(`connector "${inst.id}" (${inst.kind}) config${e.instancePath}: ${e.message ?? 'invalid'}`);
        }
      }
      out.push({ ...inst, config });
    }
    if (problems.length > 0) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_CONFIG_INVALID', `invalid connector configuration:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
    }
    return out;
  }
}

/** Instances present with no config file. */
export const BUILT_IN_INSTANCES: ConnectorInstanceConfig[] = [
  { id: 'wms', kind: 'wms', config: {} },
  { id: 'hl7', kind: 'hl7', config: {} },
  { id: 'hl7-mllp', kind: 'hl7', config: { mllp: { enabled: true } } },
  { id: 'x12', kind: 'x12', config: {} },
  { id: 'edifact', kind: 'edifact', config: {} },
  { id: 'mes', kind: 'mes-b2mml', config: {} },
];

import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { fromRoot } from '../paths';

/** Every JSON Schema under schemas/ (except config), compiled once with one ajv instance. */
export class SchemaRegistry {
  readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(dir: string = fromRoot('schemas')) {
    this.ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
    addFormats(this.ajv);
    for (const file of listJsonFiles(dir)) {
      const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as { $id?: string };
      if (!schema.$id) {
        throw new Error(`schema ${path.relative(dir, file)} has no $id`);
      }
      this.ajv.addSchema(schema);
    }
    for (const id of Object.keys(this.ajv.schemas)) {
      if (id.startsWith('https://lotbridge.dev/')) {
        this.get(id);
      }
    }
  }

  /** The compiled validator for a schema $id (throws when none is registered). */
  get(id: string): ValidateFunction {
    let fn = this.compiled.get(id);
    if (!fn) {
      fn = this.ajv.getSchema(id);
      if (!fn) {
        throw new Error(`no JSON Schema with $id ${id}`);
      }
      this.compiled.set(id, fn);
    }
    return fn;
  }

  /** Ids of all registered LotBridge schemas. */
  ids(): string[] {
    return Object.keys(this.ajv.schemas).filter((id) => id.startsWith('https://lotbridge.dev/'));
  }
}

function listJsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...listJsonFiles(p));
    } else if (entry.name.endsWith('.json') && entry.name !== 'config.schema.json' && entry.name !== 'openapi.json') {
      out.push(p);
    }
  }
  return out.sort();
}

/** One-line summary of ajv errors: "/2/quantity must be number; /2 must have required property 'type'". */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const where = e.instancePath || '/';
      if (e.keyword === 'required') {
        return `${where} is missing required property '${(e.params as { missingProperty: string }).missingProperty}'`;
      }
      if (e.keyword === 'additionalProperties') {
        return `${where} has unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
      }
      if (e.keyword === 'enum') {
        return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      }
      return `${where} ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}

let shared: SchemaRegistry | undefined;
/** The process-wide registry, compiled at first use (the hub calls it at boot). */
export function schemaRegistry(): SchemaRegistry {
  shared ??= new SchemaRegistry();
  return shared;
}

import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * GS1's EPCIS 2.0 JSON Schema and JSON-LD context, kept outside the repository
 * (`../shared/data/epcis/`, see ../shared/data/README.md); `LOTBRIDGE_EPCIS_SCHEMA` names another
 * schema file (its context beside it), e.g. when the tests run in a worktree without `../shared`.
 */
const EPCIS_DIR = path.resolve(__dirname, '../../../shared/data/epcis');
export const EPCIS_SCHEMA_FILE = process.env.LOTBRIDGE_EPCIS_SCHEMA ?? path.join(EPCIS_DIR, 'EPCIS-JSON-Schema.json');
export const EPCIS_CONTEXT_FILE = path.join(path.dirname(EPCIS_SCHEMA_FILE), 'epcis-context.jsonld');

/** Whether the schema and the context are there; when not, the tests that need them are skipped (and say so once). */
export const haveEpcisSchema = fs.existsSync(EPCIS_SCHEMA_FILE) && fs.existsSync(EPCIS_CONTEXT_FILE);
if (!haveEpcisSchema) {
  console.warn(`EPCIS 2.0 JSON Schema/context not found at ${EPCIS_SCHEMA_FILE}: the schema-validation tests are skipped`);
}

/** `it` when the schema is there, `it.skip` otherwise. */
export const withEpcisSchema = haveEpcisSchema ? it : it.skip;

/** The EPCIS 2.0 JSON Schema compiled (ajv, formats, every error). */
export function epcisValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(fs.readFileSync(EPCIS_SCHEMA_FILE, 'utf8')));
}

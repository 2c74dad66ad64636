import fs from 'node:fs';
import path from 'node:path';
import { startTestHub, type TestHub } from './start-hub';
import { importMasterDataCsv } from '../../src/model/master-data/import/import-master-data';

/** A fixture of tests/fixtures/<dir>/ as bytes. */
export function ediFixture(dir: 'x12' | 'edifact', name: string): Buffer {
  return fs.readFileSync(path.join(__dirname, '..', 'fixtures', dir, name));
}

/** The same fixture with text replaced (e.g. a fresh control number), as bytes. */
export function ediVariant(dir: 'x12' | 'edifact', name: string, edits: Array<[string | RegExp, string]>): Buffer {
  let t = ediFixture(dir, name).toString('latin1');
  for (const [a, b] of edits) t = t.replace(a, b);
  return Buffer.from(t, 'latin1');
}

/** POST /api/v1/ingest/<connector> with the admin key. */
export async function postEdi(h: TestHub, connector: 'x12' | 'edifact', body: Buffer, contentType = connector === 'x12' ? 'application/edi-x12' : 'application/edifact'): Promise<{ status: number; json: any; text: string }> {
  const r = await h.api('POST', `/api/v1/ingest/${connector}`, body, { 'content-type': contentType });
  return { status: r.status, json: r.json, text: r.text };
}

/** Posts and waits for the message's terminal status; returns the message view. */
export async function postAndWait(h: TestHub, connector: 'x12' | 'edifact', body: Buffer): Promise<any> {
  const r = await postEdi(h, connector, body);
  if (!r.json?.messageId) throw new Error(`no messageId in ${r.status} ${r.text}`);
  return h.waitForStatus(r.json.messageId);
}

/** Segments of an X12 text (terminator ~, CR/LF dropped). */
export function x12Segments(raw: string, term = '~', el = '*'): string[][] {
  return raw.split(term).map((s) => s.replace(/^[\r\n]+/, '')).filter((s) => s.length > 0).map((s) => s.split(el));
}

/**
 * A hub that takes unknown EDI senders (LOTBRIDGE_EDI_UNKNOWN_PARTNERS=accept) with the materials of
 * tests/fixtures/master-data/materials-case-box-gtins.csv (IMP-KNEE-4: each GTIN 09506000134352,
 * case GTIN 19506000134359 of `caseSize`, 10 unless given), as the ASN case-unit tests need it.
 */
export async function startEdiHubWithCaseMaterials(caseSize?: number): Promise<TestHub> {
  const h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
  const file = path.join(__dirname, '..', 'fixtures', 'master-data', 'materials-case-box-gtins.csv');
  const r = await importMasterDataCsv(h.hub.db, 'materials', file, { actor: 'test' });
  if (r.errors.length > 0) throw new Error(`materials-case-box-gtins.csv: ${JSON.stringify(r.errors)}`);
  if (caseSize !== undefined) await setCaseSize(h, caseSize);
  return h;
}

/** Sets the units per case of IMP-KNEE-4's case GTIN 19506000134359 in master data. */
export async function setCaseSize(h: TestHub, caseSize: number): Promise<void> {
  await h.hub.db('material_identifiers').where({ scheme: 'gtin', value: '19506000134359' }).update({ quantity_per_level: caseSize });
}

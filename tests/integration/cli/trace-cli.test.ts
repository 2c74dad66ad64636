/**
 * `lotbridge trace forward|backward`, `lotbridge recall` and `lotbridge audit verify|anchor` as
 * child processes (compiled CLI) against a test hub holding the hand-built knee genealogy.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { buildKneeGenealogy } from '../../helpers/genealogy-fixture';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'lotbridge.js');

function lotbridge(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'DATABASE_URL' && k !== 'REDIS_URL' && !k.startsWith('LOTBRIDGE_')) base[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('trace, recall and audit commands', () => {
  let th: TestHub;
  let env: Record<string, string>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-trace-cli-'));

  beforeAll(async () => {
    ensureCompiled('src/cli/main.ts');
    th = await startTestHub({ env: { LOTBRIDGE_AUDIT_ANCHOR_INTERVAL_MS: '0' } });
    await buildKneeGenealogy(th.hub.db);
    env = { DATABASE_URL: th.databaseUrl, LOTBRIDGE_DATA_DIR: th.dataDir, LOTBRIDGE_URL: th.url, LOTBRIDGE_API_KEY: th.key };
  }, 60000);
  afterAll(async () => {
    await th?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('trace forward prints a readable tree (diamond lots shown once) and writes JSON and CSV', async () => {
    const json = path.join(dir, 'f.json');
    const csv = path.join(dir, 'f.csv');
    const r = await lotbridge(['trace', 'forward', '--material', 'RAW-TI', '--lot', 'TI-001', '--json', json, '--csv', csv], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('forward trace: 6 lot(s), 7 link(s), depth 3');
    expect(lines[1]).toBe('RAW-TI / TI-001  [released]  exp 2030-12-31');
    expect(r.stdout).toContain('· on hand 100 KG at WH1 (raw)');
    expect(r.stdout).toMatch(/shipped 4 EA to MedDistri GmbH \(SH-2, shipped\)/);
    expect(r.stdout).toMatch(/used 1 EA at St\. Anna Hospital 2026-03-05 procedure ref hmac-proc-aa/);
    // F2 is reached through C1 and C2: printed in full once, then referred to
    expect(lines.filter((l) => l.includes('FG-KNEE / FG-2') && !l.includes('(shown above)'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('FG-KNEE / FG-2') && l.includes('(shown above)'))).toHaveLength(1);
    const t = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(t.tables.lots).toHaveLength(6);
    expect(t.summary.lots).toBe(6);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\r\n');
    expect(rows[0]).toBe('table,depth,material,lot,status,party,partyName,location,stockState,shipment,direction,serial,date,quantity,uom,reference,result');
    expect(rows.filter((x) => x.startsWith('lot,'))).toHaveLength(6);
    expect(rows.filter((x) => x.startsWith('shipment,'))).toHaveLength(6);
    expect(rows.filter((x) => x.startsWith('consumption,'))).toHaveLength(3);
  });

  it('trace backward names suppliers and QC; an unknown lot exits 1 with the code', async () => {
    const r = await lotbridge(['trace', 'backward', '--barcode', '(01)09506000134369(10)K-1'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('received 100 EA from Titanium Works (IN-1, received)');
    expect(r.stdout).toContain('QC DIM fail 12.7');
    const bad = await lotbridge(['trace', 'forward', '--material', 'RAW-TI', '--lot', 'NOPE'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('lotbridge: LB_ERR_LOT_NOT_FOUND: no lot NOPE of material RAW-TI\n');
  });

  it('recall opens the recall, prints the impact and writes the CSV; a second run says it was already recalled', async () => {
    const csv = path.join(dir, 'r.csv');
    const r = await lotbridge(['recall', '--material', 'RAW-TI', '--lot', 'TI-001', '--reason', 'fatigue test failed', '--class', 'II', '--csv', csv], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^recall RC-\d{4}-\d{5} opened: 1 lot\(s\) recalled; 5 derived lot\(s\) put on hold/);
    expect(r.stdout).toContain('on hand: 75 EA + 100 KG; shipped: 24 EA to 2 customer(s); consumed: 3 EA at 1 hospital(s)');
    expect(r.stdout).toContain('open shipments to stop: 2');
    expect(fs.readFileSync(csv, 'utf8').split('\r\n').filter((l) => l.startsWith('lot,'))).toHaveLength(6);
    const again = await lotbridge(['recall', '--material', 'RAW-TI', '--lot', 'TI-001', '--reason', 'again'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^already recalled: RAW-TI \/ TI-001 \(recall RC-\d{4}-\d{5}\); nothing changed/);
    const missing = await lotbridge(['recall', '--material', 'RAW-TI', '--lot', 'TI-001'], env);
    expect([missing.code, missing.stderr]).toEqual([1, 'lotbridge: --reason is required\n']);
  });

  it('audit verify and anchor work from the terminal; --json prints the API shape', async () => {
    const a = await lotbridge(['audit', 'anchor', '--force'], env);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^anchor #\d+ at .*: \d+ chain\(s\) up to seq \d+, hash [0-9a-f]{64}\n$/);
    const v = await lotbridge(['audit', 'verify', '--json'], env);
    expect(v.code).toBe(0);
    const answer = JSON.parse(v.stdout);
    expect(Object.keys(answer)).toEqual(['ok', 'rows']);
    expect(answer.ok).toBe(true);
    const text = await lotbridge(['audit', 'verify'], env);
    expect(text.stdout).toMatch(/^audit log intact: \d+ rows in \d+ chain\(s\), \d+ anchor\(s\) checked\n$/);
  });
});

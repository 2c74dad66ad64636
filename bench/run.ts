import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { runPipelineBench } from './pipeline.bench';
import { runImportBench } from './import.bench';
import { runHl7Bench } from './hl7.bench';
import { runTraceBench } from './trace.bench';
import { runMesBench } from './mes.bench';
import { runConsoleBench } from './console.bench';
import { runEdiBench } from './edi.bench';
import { runNodeRedBench } from './nodered.bench';
import type { BenchResult } from './bench-result';
import { fromRoot } from '../src/paths';

/**
 * `npm run bench`: every figure next to a baseline measured in the same run, and the ratio.
 * Env: BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS,
 * BENCH_MESSAGES (default 5000), BENCH_PIPELINE_SENDERS (32 HTTP senders), BENCH_PIPELINE_LATENCY (0: skip the 500 msg/s phase),
 * BENCH_PIPELINE_CLIENT (inproc: the HTTP load generator in this process instead of a child), BENCH_PIPELINE_STATS (1: print row writes, HOT updates and sequential scans per table), BENCH_IMPORT_ROWS (default 1000000), BENCH_HL7_MESSAGES (default 5000),
 * BENCH_HL7_CONNECTIONS (default 8), BENCH_HL7_RATE (offered msg/s of the latency phase, default 500), BENCH_HL7_SPLIT (1: only start+worker, 0: only all-in-one), BENCH_HL7_STATS (1: print row writes, HOT updates and sequential scans per table), BENCH_HL7_WARMUP (messages before the measured phases, default 2000), BENCH_MES_RUNS (default 5),
 * BENCH_CONSOLE_MESSAGES (default 1000000), BENCH_CONSOLE_ITERATIONS (default 100),
 * BENCH_ONLY (pipeline|import|hl7|trace|mes|console|edi|nodered). Node-RED section: BENCH_NODERED_EVENTS (3000), BENCH_NODERED_CONCURRENCY (64, both paths). EDI section: BENCH_EDI_RUNS (3), BENCH_EDI_SMALL (300).
 * Trace section: BENCH_TRACE_LOTS (100000), BENCH_TRACE_EVENTS (1000000), BENCH_TRACE_FANOUT (500), BENCH_TRACE_SAMPLES (1000),
 * BENCH_TRACE_RECALLS (20), BENCH_AUDIT_SECONDS (10), BENCH_AUDIT_VERIFY_ROWS (1000000), BENCH_TRACE_SKIP (1: skip the graph, trace and recall part, only audit append and verify), BENCH_TRACE_KEEP (1: keep the database), BENCH_TRACE_SLOWEST (n: print the n slowest traced lots per direction), BENCH_IMPORT_KEEP (1: keep the import's database and CSV).
 */
async function main(): Promise<void> {
  const serverUrl = process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const only = process.env.BENCH_ONLY;
  const results: BenchResult[] = [];
  if (!only || only === 'pipeline') {
    results.push(...(await runPipelineBench({ serverUrl, redisUrl, messages: Number(process.env.BENCH_MESSAGES ?? 5000), concurrency: 8 })));
  }
  if (!only || only === 'hl7') {
    const hl7 = { serverUrl, redisUrl, messages: Number(process.env.BENCH_HL7_MESSAGES ?? 5000), connections: Number(process.env.BENCH_HL7_CONNECTIONS ?? 8) };
    // both deployments: `lotbridge start` alone, and `lotbridge start` + a `lotbridge worker` process
    if (process.env.BENCH_HL7_SPLIT !== '1') results.push(...(await runHl7Bench({ ...hl7, split: false })));
    if (process.env.BENCH_HL7_SPLIT !== '0') results.push(...(await runHl7Bench({ ...hl7, split: true })));
  }
  if (!only || only === 'import') {
    const u = new URL(serverUrl);
    results.push(await runImportBench({ rows: Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000), databaseUrl: u.toString(), keep: process.env.BENCH_IMPORT_KEEP === '1' }));
  }
  if (!only || only === 'trace') {
    results.push(
      ...(await runTraceBench({
        serverUrl,
        redisUrl,
        lots: Number(process.env.BENCH_TRACE_LOTS ?? 100_000),
        events: Number(process.env.BENCH_TRACE_EVENTS ?? 1_000_000),
        fanout: Number(process.env.BENCH_TRACE_FANOUT ?? 500),
        samples: Number(process.env.BENCH_TRACE_SAMPLES ?? 1000),
        recalls: Number(process.env.BENCH_TRACE_RECALLS ?? 20),
        auditSeconds: Number(process.env.BENCH_AUDIT_SECONDS ?? 10),
        verifyRows: Number(process.env.BENCH_AUDIT_VERIFY_ROWS ?? 1_000_000),
        skipTrace: process.env.BENCH_TRACE_SKIP === '1',
        keep: process.env.BENCH_TRACE_KEEP === '1',
      })),
    );
  }
  if (!only || only === 'mes') {
    results.push(...(await runMesBench({ serverUrl, runs: Number(process.env.BENCH_MES_RUNS ?? 5) })));
  }
  if (!only || only === 'console') {
    results.push(...(await runConsoleBench({ serverUrl, messages: Number(process.env.BENCH_CONSOLE_MESSAGES ?? 1_000_000), iterations: Number(process.env.BENCH_CONSOLE_ITERATIONS ?? 100) })));
  }
  if (!only || only === 'edi') {
    results.push(...(await runEdiBench({ serverUrl, runs: Number(process.env.BENCH_EDI_RUNS ?? 3), small: Number(process.env.BENCH_EDI_SMALL ?? 300) })));
  }
  if (!only || only === 'nodered') {
    results.push(...(await runNodeRedBench({ serverUrl, redisUrl, events: Number(process.env.BENCH_NODERED_EVENTS ?? 3000), concurrency: Number(process.env.BENCH_NODERED_CONCURRENCY ?? 64) })));
  }
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  for (const r of results) {
    const verdict = r.target ? (r.pass ? 'PASS' : 'BELOW TARGET') : 'reported';
    console.log(`\n${r.name}: ${verdict}`);
    console.log(`  figures : ${JSON.stringify(r.figures)}`);
    console.log(`  baseline: ${JSON.stringify(r.baseline)}`);
    console.log(`  ratio   : ${r.ratio}${r.target ? ` (target ${r.lowerIsBetter ? '≤' : '≥'} ${r.target})` : ''}`);
    if (r.notes) console.log(`  notes   : ${r.notes}`);
  }
  const dir = fromRoot('bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), machine, results }, null, 2));
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ at: new Date().toISOString(), machine, results }, null, 2));
  console.log(`\nwritten ${path.relative(process.cwd(), file)}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});

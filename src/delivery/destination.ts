import path from 'node:path';
import { LotBridgeError } from '../errors';

/** An HTTP(S) destination: the body is sent with `method` to `url`. */
export interface HttpDestination {
  kind: 'http';
  url: string;
  /** POST (default), PUT or PATCH. */
  method?: 'POST' | 'PUT' | 'PATCH';
  /** Headers sent as they are (kept in the clear on the delivery row): no secrets here. */
  headers?: Record<string, string>;
}

/** An MLLP destination: the body is one HL7 v2 message; the answer must be an ACK (AA/CA). */
export interface MllpDestination {
  kind: 'mllp';
  host: string;
  port: number;
  /** Speak MLLP over TLS. */
  tls?: boolean;
}

/** A folder: the body is written to `<dir>/<file name>` atomically (temporary name, then link). */
export interface FileDestination {
  kind: 'file';
  dir: string;
  /** File name template: `{deliveryId}`, `{eventId}`, `{timestamp}`; default `{deliveryId}.dat`. */
  fileName?: string;
}

/** Where a delivery goes (never secrets: those travel in {@link DeliverySecrets}). */
export type Destination = HttpDestination | MllpDestination | FileDestination;

/** Secret parts of a request, kept encrypted on the delivery row (Authorization and the like). */
export interface DeliverySecrets {
  /** Extra headers for an HTTP destination, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
}

/** How the `deliver` queue sends: attempts, answer timeout, concurrency per destination. */
export interface DeliveryPolicy {
  /** Attempts before the delivery is `failed` (default 8, 1–50); exponential backoff from `backoffMs`. */
  attempts?: number;
  /** First retry delay in ms (default 2000), doubled each time. */
  backoffMs?: number;
  /** Longest wait for the destination's answer, ms (default 30000). */
  timeoutMs?: number;
  /** Sends to the same destination at once in one process (default 4, 1–64). */
  concurrency?: number;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function invalid(field: string, message: string): LotBridgeError {
  return new LotBridgeError('LB_ERR_DELIVERY_INVALID', `destination ${field}: ${message}`, { location: { path: field }, details: { field } });
}

function checkHeaders(headers: unknown, field: string): Record<string, string> {
  if (headers === undefined || headers === null) {
    return {};
  }
  if (typeof headers !== 'object' || Array.isArray(headers)) {
    throw invalid(field, 'must be an object of header name → value');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (!HEADER_NAME.test(k)) {
      throw invalid(`${field}.${k}`, `"${k}" is not a valid HTTP header name`);
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw invalid(`${field}.${k}`, 'must be a string');
    }
    const value = String(v);
    if (/[\r\n\0]/.test(value)) {
      throw invalid(`${field}.${k}`, 'must not contain CR, LF or NUL');
    }
    out[k.toLowerCase()] = value;
  }
  return out;
}

/**
 * Validates a destination and returns it normalized (defaults applied, header names lower-case).
 *
 * @param d - the destination as a flow or connector gave it
 * @returns the normalized destination
 * @throws LotBridgeError LB_ERR_DELIVERY_INVALID naming the field
 */
export function normalizeDestination(d: unknown): Destination {
  if (!d || typeof d !== 'object') {
    throw invalid('kind', 'no destination given');
  }
  const x = d as Record<string, unknown>;
  switch (x.kind) {
    case 'http': {
      if (typeof x.url !== 'string' || x.url.trim() === '') {
        throw invalid('url', 'is missing');
      }
      let u: URL;
      try {
        u = new URL(x.url.trim());
      } catch {
        throw invalid('url', `"${x.url}" is not a URL`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw invalid('url', `scheme ${u.protocol} is not http: or https:`);
      }
      if (u.username || u.password) {
        throw invalid('url', 'must not carry a user or password (use the node credentials)');
      }
      const method = (typeof x.method === 'string' && x.method !== '' ? x.method.toUpperCase() : 'POST') as HttpDestination['method'];
      if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') {
        throw invalid('method', `"${String(x.method)}" is not POST, PUT or PATCH`);
      }
      return { kind: 'http', url: u.toString(), method, headers: checkHeaders(x.headers, 'headers') };
    }
    case 'mllp': {
      if (typeof x.host !== 'string' || x.host.trim() === '') {
        throw invalid('host', 'is missing');
      }
      const port = typeof x.port === 'string' ? Number(x.port) : x.port;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw invalid('port', `${JSON.stringify(x.port)} is not a port number (1–65535)`);
      }
      return { kind: 'mllp', host: x.host.trim(), port, tls: x.tls === true };
    }
    case 'file': {
      if (typeof x.dir !== 'string' || x.dir.trim() === '') {
        throw invalid('dir', 'is missing');
      }
      if (!path.isAbsolute(x.dir.trim())) {
        throw invalid('dir', `"${x.dir}" must be an absolute path`);
      }
      const fileName = typeof x.fileName === 'string' && x.fileName.trim() !== '' ? x.fileName.trim() : '{deliveryId}.dat';
      if (/[/\\]|^\.\.?$/.test(fileName) || fileName.includes('\0')) {
        throw invalid('fileName', `"${fileName}" must be a plain file name (no folders)`);
      }
      return { kind: 'file', dir: path.resolve(x.dir.trim()), fileName };
    }
    default:
      throw invalid('kind', `${JSON.stringify(x.kind)} is not http, mllp or file`);
  }
}

/** Checks the secret headers like the plain ones. */
export function normalizeSecrets(s: DeliverySecrets | undefined): DeliverySecrets {
  return { headers: checkHeaders(s?.headers, 'credentials.headers') };
}

/** Normalizes a policy (defaults and bounds). */
export function normalizePolicy(p: DeliveryPolicy | undefined): Required<DeliveryPolicy> {
  const clamp = (v: unknown, def: number, min: number, max: number, field: string): number => {
    if (v === undefined || v === null || v === '') {
      return def;
    }
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw invalid(field, `${JSON.stringify(v)} is not an integer from ${min} to ${max}`);
    }
    return n;
  };
  return {
    attempts: clamp(p?.attempts, 8, 1, 50, 'attempts'),
    backoffMs: clamp(p?.backoffMs, 2000, 10, 3_600_000, 'backoffMs'),
    timeoutMs: clamp(p?.timeoutMs, 30_000, 100, 600_000, 'timeoutMs'),
    concurrency: clamp(p?.concurrency, 4, 1, 64, 'concurrency'),
  };
}

/** The per-destination concurrency key: scheme, host and port, or the folder. */
export function destinationKey(d: Destination): string {
  switch (d.kind) {
    case 'http': {
      const u = new URL(d.url);
      return `${u.protocol}//${u.host}`;
    }
    case 'mllp':
      return `mllp${d.tls ? 's' : ''}://${d.host}:${d.port}`;
    case 'file':
      return `file:${d.dir}`;
  }
}

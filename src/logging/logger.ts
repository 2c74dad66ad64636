import pino from 'pino';

export type Logger = pino.Logger;

/** Paths never written to logs: secrets and patient fields. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'apiKey',
  'password',
  'payload',
  'patient',
  '*.patient',
  '*.payload',
  '*.password',
  'phiKey',
  'phiOldKeys',
  '*.phiKey',
  '*.phiOldKeys',
];

/** The root logger: pino JSON on stdout. Children bind a scope (connector, pipeline, api, db, cli). */
export function createLogger(level: string = process.env.LOTBRIDGE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { app: 'lotbridge', pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** A logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

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
  // HL7 patient fields and raw message text, whatever object carries them (never logged on purpose: a safety net;
  // not `pid`: that is the process id every line carries)
  'raw',
  '*.raw',
  'nk1',
  '*.nk1',
  'patientName',
  '*.patientName',
  'mrn',
  '*.mrn',
  'birthDate',
  '*.birthDate',
  'sessionToken',
  'csrf',
  '*.csrf',
  'phiKey',
  'phiOldKeys',
  '*.phiKey',
  '*.phiOldKeys',
];

/** The root logger: pino JSON on stdout. Children bind a scope (connector, pipeline, api, db, cli). */
export function createLogger(level: string = process.env.LOTBRIDGE_LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const opts: pino.LoggerOptions = {
    level,
    base: { app: 'lotbridge', pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(opts, destination) : pino(opts);
}

/** A logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

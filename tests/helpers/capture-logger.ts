import pino from 'pino';
import type { Logger } from '../../src/logging/logger';

/** One parsed pino line. */
export interface CapturedLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * A real pino logger whose lines are kept in memory, for tests that check what was logged.
 *
 * @param level - lowest level kept (default debug)
 * @returns the logger and the lines written so far
 */
export function captureLogger(level = 'debug'): { logger: Logger; lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const logger = pino(
    { level },
    {
      write(s: string): void {
        lines.push(JSON.parse(s) as CapturedLine);
      },
    },
  );
  return { logger, lines };
}

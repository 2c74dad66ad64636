import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLotBridgeError, type LotBridgeError } from '../../../../src/errors';

/** A fixture of tests/fixtures/hl7 as text (`utf8` or `latin1`). */
export function fixture(name: string, encoding: BufferEncoding = 'utf8'): string {
  return readFileSync(fixturePath(name), encoding);
}

/** A fixture's bytes. */
export function fixtureBytes(name: string): Buffer {
  return readFileSync(fixturePath(name));
}

function fixturePath(name: string): string {
  return join(__dirname, '../../../fixtures/hl7', name);
}

/** Runs `fn` and returns the LotBridgeError it throws; fails when it throws nothing or something else. */
export function thrown(fn: () => unknown): LotBridgeError {
  try {
    fn();
  } catch (err) {
    if (isLotBridgeError(err)) {
      return err;
    }
    throw err;
  }
  throw new Error('expected a LotBridgeError, nothing was thrown');
}

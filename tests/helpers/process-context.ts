import { v7 as uuidv7 } from 'uuid';
import type { MessageFormat } from '../../src/connectors/types';
import type { Db } from '../../src/db/knex';
import { isLotBridgeError, type LotBridgeError } from '../../src/errors';
import { silentLogger } from '../../src/logging/logger';
import type { HandlerResult, MessageHandler, StoredMessage } from '../../src/pipeline/handler';
import { createProcessContext } from '../../src/pipeline/process-message';

/** A message to store for a handler test. */
export interface TestMessageInput {
  payload: string | Buffer;
  /** Content-Type as an HTTP sender would give it (e.g. `application/json`). */
  contentType?: string;
  /** Stored format (default: csv for text/csv, else json). */
  format?: MessageFormat;
  /** Declared charset. */
  encoding?: string;
  connectorId?: string;
  connectorKind?: string;
}

/**
 * Stores a message in inbound_messages (status queued, a dedup key of its own) the way intake does,
 * and returns it as the pipeline hands it to a handler.
 * @param db - the test database
 * @param input - body and Content-Type
 */
export async function storeTestMessage(db: Db, input: TestMessageInput): Promise<StoredMessage> {
  const payload = typeof input.payload === 'string' ? Buffer.from(input.payload, 'utf8') : input.payload;
  const message: StoredMessage = {
    id: uuidv7(),
    connectorId: input.connectorId ?? 'wms',
    connectorKind: input.connectorKind ?? 'wms',
    format: input.format ?? (/csv/i.test(input.contentType ?? '') ? 'csv' : 'json'),
    messageType: null,
    sender: null,
    controlId: null,
    receivedAt: new Date(),
    payload,
    contentType: input.contentType ?? null,
    encoding: input.encoding ?? null,
    envelope: {},
  };
  await db('inbound_messages').insert({
    id: message.id,
    connector_id: message.connectorId,
    connector_kind: message.connectorKind,
    format: message.format,
    transport: 'http',
    dedup_key: `test:${message.id}`,
    sha256: '0'.repeat(64),
    size_bytes: payload.length,
    payload,
    content_type: message.contentType,
    encoding: message.encoding,
    envelope: {},
    received_at: message.receivedAt,
    status: 'queued',
  });
  return message;
}

/** What one handler run gave: its result (committed) or the error it threw (rolled back). */
export type HandlerRun = { ok: true; result: HandlerResult } | { ok: false; error: LotBridgeError };

/**
 * Runs a handler on a stored message the way the pipeline does: in one transaction with the
 * pipeline's own ProcessContext (ordinals, ajv validation, buffered outbox and audit rows written
 * at the end), committed when the handler returns, rolled back when it throws.
 * @param db - the test database
 * @param handler - the handler under test
 * @param message - a message from {@link storeTestMessage}
 * @param opts - `timezone` for offset-less timestamps (default UTC)
 * @throws anything that is not a LotBridgeError (a bug in the handler or the test)
 */
export async function runHandler(db: Db, handler: MessageHandler, message: StoredMessage, opts: { timezone?: string } = {}): Promise<HandlerRun> {
  try {
    const result = await db.transaction(async (trx) => {
      const ctx = createProcessContext(trx, message, opts.timezone ?? 'UTC', silentLogger());
      const res = await handler.process(ctx);
      await ctx.flush();
      return res;
    });
    return { ok: true, result };
  } catch (err) {
    if (isLotBridgeError(err)) {
      return { ok: false, error: err };
    }
    throw err;
  }
}

/**
 * Stores a message and runs the handler on it.
 * @param db - the test database
 * @param handler - the handler under test
 * @param input - body and Content-Type
 * @param opts - `timezone` for offset-less timestamps
 */
export async function processTestMessage(db: Db, handler: MessageHandler, input: TestMessageInput, opts: { timezone?: string } = {}): Promise<HandlerRun & { message: StoredMessage }> {
  const message = await storeTestMessage(db, input);
  return { ...(await runHandler(db, handler, message, opts)), message };
}

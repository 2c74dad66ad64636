import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/logging/logger';
import { createDb } from '../../src/db/knex';
import { IngestService } from '../../src/ingest/ingest-service';
import { QueueKit } from '../../src/pipeline/queue-kit';
import { Pipeline } from '../../src/pipeline/pipeline';
import type { ConnectorAdapter, ConnectorDefinition, IngestReceipt, RawInbound } from '../../src/connectors/types';
import { sha256Hex } from '../../src/ingest/message-store';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db';
import { cleanupRedisPrefix, testQueuePrefix, TEST_REDIS_URL } from '../helpers/test-redis';

/** What a connector gives the shared contract suite. */
export interface ContractSubject {
  definition: ConnectorDefinition;
  config?: Record<string, unknown>;
  /** The n-th distinct, valid message as the connector's transport hands it in. */
  validMessage(n: number): RawInbound;
  /** A message whose body cannot be read at all (bad syntax / encoding). */
  unreadableMessage(): RawInbound;
  /**
   * Optional: send a message through the connector's own transport (socket, folder) and resolve
   * with what the sender got back (`acked` when the connector acknowledged it).
   */
  viaTransport?(adapter: ConnectorAdapter, dataDir: string, message: RawInbound): Promise<{ acked: boolean }>;
}

/**
 * The transport of a connector with a watched folder: drops the message into the adapter's inbox
 * (written under a hidden name, then renamed, as a careful sender does) and waits until the watcher
 * has moved it to done/, which it does only after the store commit. The watcher moves a file by a
 * hard link and an unlink, so "acked" waits until it is in done/ and gone from processing/.
 * @param extension - file extension that tells the connector the format (`.json`, `.xml`, `.x12`, …)
 */
export function viaWatchedFolder(extension: string): NonNullable<ContractSubject['viaTransport']> {
  return async (adapter, dataDir, message) => {
    const inbox = path.join(dataDir, 'inbox', adapter.id);
    const name = `contract-${Date.now()}-${Math.random().toString(36).slice(2)}${extension}`;
    fs.writeFileSync(path.join(inbox, `.${name}`), message.payload);
    fs.renameSync(path.join(inbox, `.${name}`), path.join(inbox, name));
    const end = Date.now() + 10000;
    while (Date.now() < end) {
      if (fs.existsSync(path.join(inbox, 'done', name)) && !fs.existsSync(path.join(inbox, 'processing', name))) {
        return { acked: true };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return { acked: false };
  };
}

/**
 * The contract every connector passes (cf. n8n/BullMQ conformance suites): factory without I/O,
 * start/stop idempotent, store-before-ack, duplicates, rejected-but-stored, health, stop in flight.
 * Real PostgreSQL and Redis.
 */
export function defineConnectorContractTests(name: string, subject: () => ContractSubject): void {
  describe(`connector contract: ${name}`, () => {
    let t: TestDatabase;
    let pipeline: Pipeline;
    let ingest: IngestService;
    let adapter: ConnectorAdapter;
    let dataDir: string;
    const prefix = testQueuePrefix();
    const s = subject();
    const connectors = new Map<string, ConnectorAdapter>();

    beforeAll(async () => {
      t = await createTestDatabase();
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-contract-'));
      pipeline = new Pipeline({
        db: t.db, logger: silentLogger(), kit: new QueueKit({ kind: 'redis', url: TEST_REDIS_URL, prefix }),
        processDeps: { db: t.db, logger: silentLogger(), handlers: new Map(), timezoneOf: () => 'UTC' },
        concurrency: 1, maxAttempts: 3, sweepIntervalMs: 60000, sweepGraceMs: 60000,
      });
      adapter = s.definition.create({ id: `${name}-contract`, config: s.config ?? {} }, { logger: silentLogger(), signal: new AbortController().signal, dataDir, timezone: 'UTC' });
      connectors.set(adapter.id, adapter);
      ingest = new IngestService({ db: t.db, logger: silentLogger(), connectors, enqueue: pipeline.enqueue, maxBodyBytes: 1024 * 1024 });
    });
    afterAll(async () => {
      await adapter.stop({ force: true });
      await pipeline.close();
      await t.destroy();
      await cleanupRedisPrefix(prefix);
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('creates an adapter without I/O: no listener, no folder, until start()', () => {
      const dir = path.join(os.tmpdir(), `lotbridge-noio-${Date.now()}`);
      const a = s.definition.create({ id: `${name}-noio`, config: s.config ?? {} }, { logger: silentLogger(), signal: new AbortController().signal, dataDir: dir, timezone: 'UTC' });
      expect(a.id).toBe(`${name}-noio`);
      expect(a.kind).toBe(s.definition.kind);
      expect(fs.existsSync(dir)).toBe(false);
    });

    it('starts and stops idempotently, with health following', async () => {
      await adapter.start(ingest);
      await adapter.start(ingest);
      expect((await adapter.health()).status).toBe('up');
      await adapter.stop();
      await adapter.stop();
      expect((await adapter.health()).status).not.toBe('up');
      await adapter.start(ingest);
      expect((await adapter.health()).status).toBe('up');
    });

    it('stores the exact bytes before the receipt resolves (store-before-ack)', async () => {
      const msg = s.validMessage(1);
      const r = await ingest.receive(adapter.id, msg);
      expect(r.status).toBe('accepted');
      const row = await t.db('inbound_messages').where({ id: r.messageId }).first();
      expect(row).toBeDefined();
      expect(Buffer.compare(row.payload, msg.payload)).toBe(0);
      expect(row.sha256).toBe(sha256Hex(msg.payload));
      expect(['received', 'queued']).toContain(row.status);
    });

    it('gives no receipt (so no ACK) when the message store is unreachable', async () => {
      const deadDb = createDb({ url: 'postgres://postgres@127.0.0.1:1/none', poolMax: 1 });
      const dead = new IngestService({ db: deadDb, logger: silentLogger(), connectors, enqueue: pipeline.enqueue, maxBodyBytes: 1024 * 1024 });
      await expect(dead.receive(adapter.id, s.validMessage(2))).rejects.toMatchObject({ code: 'LB_ERR_SERVICE_UNAVAILABLE', kind: 'transient' });
      await deadDb.destroy();
    });

    it('answers a resend as a duplicate of the first message and stores both', async () => {
      const a = await ingest.receive(adapter.id, s.validMessage(3));
      const b = await ingest.receive(adapter.id, s.validMessage(3));
      expect(a.status).toBe('accepted');
      expect(b).toEqual({ status: 'duplicate', messageId: expect.any(String), duplicateOf: a.messageId });
      const rows = await t.db('inbound_messages').whereIn('id', [a.messageId, b.messageId]).orderBy('id');
      const byId = new Map(rows.map((x) => [x.id as string, x.status as string]));
      expect(byId.get(b.messageId)).toBe('duplicate');
      expect(byId.get(a.messageId)).toMatch(/^(received|queued)$/);
    });

    it('stores an unreadable message as rejected, with a code and a location', async () => {
      const msg = s.unreadableMessage();
      const r = await ingest.receive(adapter.id, msg);
      expect(r.status).toBe('rejected');
      const rejected = r as Extract<IngestReceipt, { status: 'rejected' }>;
      expect(rejected.error.code).toMatch(/^LB_ERR_/);
      expect(rejected.error.location).toBeDefined();
      const row = await t.db('inbound_messages').where({ id: r.messageId }).first();
      expect(row).toMatchObject({ status: 'rejected', error_code: rejected.error.code });
      expect(Buffer.compare(row.payload, msg.payload)).toBe(0);
    });

    it('settles every in-flight message when stopped: each is either stored with a receipt or refused', async () => {
      const sends = Array.from({ length: 20 }, (_, i) => ingest.receive(adapter.id, s.validMessage(100 + i)).then((r) => r, (e: unknown) => e as Error));
      await adapter.stop();
      const results = await Promise.all(sends);
      for (const r of results) {
        if (r instanceof Error) continue;
        const row = await t.db('inbound_messages').where({ id: (r as IngestReceipt).messageId }).first();
        expect(row).toBeDefined();
      }
      await adapter.start(ingest);
    });

    (s.viaTransport ? it : it.skip)('acknowledges through its own transport only after the store commit', async () => {
      const msg = s.validMessage(500);
      const before = Number((await t.db('inbound_messages').count<Array<{ count: string }>>('* as count'))[0].count);
      const r = await s.viaTransport!(adapter, dataDir, msg);
      expect(r.acked).toBe(true);
      const rows = await t.db('inbound_messages').where({ sha256: sha256Hex(msg.payload) });
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(Number((await t.db('inbound_messages').count<Array<{ count: string }>>('* as count'))[0].count)).toBeGreaterThan(before);
    });
  });
}

import pg from 'pg';
import { Queue } from 'bullmq';
import { v7 as uuidv7 } from 'uuid';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { cleanupRedisPrefix, testQueuePrefix, TEST_REDIS_URL } from '../../helpers/test-redis';
import { createDb, type Db } from '../../../src/db/knex';
import { migrateLatest, migrationConfig } from '../../../src/db/migrations';
import { OutboxRelay } from '../../../src/routing/outbox-relay';
import { QueueKit, type HubQueue } from '../../../src/pipeline/queue-kit';
import { QUEUES, type RouteJobData } from '../../../src/pipeline/queues';
import { silentLogger } from '../../../src/logging/logger';

/**
 * The outbox relay's position (migration 20260301002300): events are relayed once each, in the order
 * their transactions became visible, without a write to the events; a long transaction neither
 * loses its events nor holds up the others'; several relays share one position.
 */

/** The real `route` queue, with every addBulk call recorded (a re-added job id would be a no-op in BullMQ and hide a duplicate). */
function recordingQueue(q: HubQueue): { queue: HubQueue; added: RouteJobData[] } {
  const added: RouteJobData[] = [];
  const queue: HubQueue = Object.assign(Object.create(q) as HubQueue, {
    async addBulk(jobs: Array<{ name: string; data: unknown; opts?: Record<string, unknown> }>) {
      added.push(...jobs.map((j) => j.data as RouteJobData));
      return q.addBulk!(jobs);
    },
  });
  return { queue, added };
}

async function event(db: Db | pg.Client, type: string, payload: Record<string, unknown> = {}): Promise<string> {
  const eventId = uuidv7();
  if (db instanceof pg.Client) {
    await db.query('INSERT INTO outbox_events (event_id, type, payload) VALUES ($1, $2, $3)', [eventId, type, JSON.stringify(payload)]);
  } else {
    await db('outbox_events').insert({ event_id: eventId, type, payload: JSON.stringify(payload) });
  }
  return eventId;
}

describe('outbox relay position', () => {
  let t: TestDatabase;
  let prefix: string;
  let kit: QueueKit;
  let route: HubQueue;
  const relays: OutboxRelay[] = [];
  const dbs: Db[] = [];

  const relay = (queue: HubQueue, opts: { batchSize?: number; db?: Db; wanted?: (type: string, r: { connectorId?: string }) => boolean } = {}): OutboxRelay => {
    const r = new OutboxRelay({
      db: opts.db ?? t.db, queue, logger: silentLogger(), pollMs: 50, attempts: 3, batchSize: opts.batchSize,
      wanted: opts.wanted ?? ((type) => type.startsWith('test.')), isOpen: () => true,
    });
    relays.push(r);
    return r;
  };
  /** A connection of its own with a transaction begun (the test commits or rolls it back, and ends the client). */
  const openTransaction = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: t.url });
    await c.connect();
    await c.query('BEGIN');
    return c;
  };
  /** Ticks until a tick takes nothing; returns the events taken. */
  const drain = async (r: OutboxRelay): Promise<number> => {
    let n = 0;
    for (let k; (k = await r.tick()) > 0;) n += k;
    return n;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    prefix = testQueuePrefix();
    kit = new QueueKit({ kind: 'redis', url: TEST_REDIS_URL, prefix });
    route = kit.queue(QUEUES.route, { producer: true });
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await route.close();
    await Promise.all(dbs.map((d) => d.destroy()));
    await t.destroy();
    await cleanupRedisPrefix(prefix);
  });
  beforeEach(async () => {
    await t.db.raw('TRUNCATE outbox_events');
    const q = new Queue(QUEUES.route, { connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379) }, prefix });
    await q.obliterate({ force: true });
    await q.close();
  });

  it('relays each wanted event once with its whole payload, gives the others no job, and writes nothing while idle', async () => {
    const { queue, added } = recordingQueue(route);
    const r = relay(queue);
    const a = await event(t.db, 'test.a', { lot: 'L1', nested: { qty: 2, note: 'Straße "Nord"' }, connectorId: 'wms' });
    await event(t.db, 'inventory.moved', { lot: 'L1' });
    const b = await event(t.db, 'test.b', { lot: 'L2' });
    expect(await drain(r)).toBe(3);
    expect(added.map((d) => d.eventId)).toEqual([a, b]);
    expect(added[0].payload).toEqual({ lot: 'L1', nested: { qty: 2, note: 'Straße "Nord"' }, connectorId: 'wms' });
    expect(added[0].type).toBe('test.a');
    expect(await route.getJob(a)).toBeDefined();

    // nothing new: the tick takes nothing and leaves the position row alone
    const before = await t.db('outbox_relay_position').where({ relay: 'route' }).first();
    expect(await r.tick()).toBe(0);
    const after = await t.db('outbox_relay_position').where({ relay: 'route' }).first();
    expect(after.updated_at).toEqual(before.updated_at);
    expect(added).toHaveLength(2);
  });

  it('relays the events of other transactions while a long one is open, and the long one\'s once it commits', async () => {
    const { queue, added } = recordingQueue(route);
    const r = relay(queue);
    const long = await openTransaction();
    try {
      const early = await event(long, 'test.long'); // the lowest transaction id and event id of all
      const x = await event(t.db, 'test.x');
      expect(await drain(r)).toBe(1);
      const y = await event(t.db, 'test.y');
      expect(await drain(r)).toBe(1);
      expect(added.map((d) => d.eventId)).toEqual([x, y]);
      await long.query('COMMIT');
      const z = await event(t.db, 'test.z');
      expect(await drain(r)).toBe(2);
      expect(added.map((d) => d.eventId)).toEqual([x, y, early, z]);
      expect(await drain(r)).toBe(0);
    } finally {
      await long.end();
    }
  });

  it('never relays the event of a transaction that rolled back', async () => {
    const { queue, added } = recordingQueue(route);
    const r = relay(queue);
    const c = await openTransaction();
    try {
      await event(c, 'test.rolled-back');
      const kept = await event(t.db, 'test.kept');
      expect(await drain(r)).toBe(1);
      await c.query('ROLLBACK');
      const later = await event(t.db, 'test.later');
      await drain(r);
      expect(added.map((d) => d.eventId)).toEqual([kept, later]);
    } finally {
      await c.end();
    }
  });

  it('walks a batch larger than batchSize tick by tick; an event committed meanwhile comes with the next batch', async () => {
    const { queue, added } = recordingQueue(route);
    const r = relay(queue, { batchSize: 3 });
    const first: string[] = [];
    for (let i = 0; i < 7; i++) first.push(await event(t.db, 'test.bulk', { i }));
    expect(await r.tick()).toBe(3);
    const pos = await t.db('outbox_relay_position').where({ relay: 'route' }).first();
    expect(pos.batch).not.toBeNull(); // a batch under way keeps its snapshot
    const meanwhile = await event(t.db, 'test.meanwhile');
    expect(await r.tick()).toBe(3);
    expect(await r.tick()).toBe(1); // the rest of the batch: the event written meanwhile is not in its snapshot
    expect(added.map((d) => d.eventId)).toEqual(first);
    expect((await t.db('outbox_relay_position').where({ relay: 'route' }).first()).batch).toBeNull(); // its last tick ended it
    expect(await r.tick()).toBe(1);
    expect(added.map((d) => d.eventId)).toEqual([...first, meanwhile]);
    expect(await r.tick()).toBe(0);
    expect((await t.db('outbox_relay_position').where({ relay: 'route' }).first()).batch).toBeNull();
  });

  it('two relays on two pools, ticking while events are written, relay every event exactly once', async () => {
    const { queue, added } = recordingQueue(route);
    const pools = [createDb({ url: t.url, poolMax: 3 }), createDb({ url: t.url, poolMax: 3 })];
    dbs.push(...pools);
    const [r1, r2] = pools.map((db) => relay(queue, { db, batchSize: 5 }));
    const written: string[] = [];
    let writing = true;
    const writers = Promise.all([0, 1, 2].map(async (w) => {
      for (let i = 0; i < 40; i++) {
        // some transactions write several events; each transaction commits on its own
        await t.db.transaction(async (trx) => {
          for (let k = 0; k <= (i % 3); k++) written.push(await event(trx as unknown as Db, 'test.concurrent', { w, i, k }));
        });
      }
    })).finally(() => { writing = false; });
    const ticking = async (r: OutboxRelay): Promise<void> => {
      while (writing) await r.tick();
    };
    await Promise.all([writers, ticking(r1), ticking(r2)]);
    await drain(r1);
    await drain(r2);
    expect(written).toHaveLength(3 * (14 * 1 + 13 * 2 + 13 * 3));
    expect(added).toHaveLength(written.length);
    expect(new Set(added.map((d) => d.eventId))).toEqual(new Set(written));
  });
});

describe('outbox relay position: events written before migration 20260301002300', () => {
  let t: TestDatabase;
  let prefix: string;
  let route: HubQueue;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    prefix = testQueuePrefix();
    route = new QueueKit({ kind: 'redis', url: TEST_REDIS_URL, prefix }).queue(QUEUES.route, { producer: true });
  });
  afterAll(async () => {
    await route.close();
    await t.destroy();
    await cleanupRedisPrefix(prefix);
  });

  it('relays the ones the old relay had not dispatched, oldest first, then new ones; down restores dispatched_at', async () => {
    // migrate up to the one before
    for (;;) {
      const [, pending] = (await t.db.migrate.list(migrationConfig)) as [unknown[], Array<{ file: string } | string>];
      const next = pending.map((p) => (typeof p === 'string' ? p : p.file))[0];
      if (!next || next >= '20260301002300') break;
      await t.db.migrate.up(migrationConfig);
    }
    const ids: Record<string, string> = {};
    for (const [name, dispatched] of [['d1', true], ['p1', false], ['d2', true], ['p2', false]] as const) {
      ids[name] = uuidv7();
      await t.db('outbox_events').insert({ event_id: ids[name], type: 'test.old', payload: JSON.stringify({ name }), dispatched_at: dispatched ? t.db.fn.now() : null });
    }
    await migrateLatest(t.db);
    const { queue, added } = recordingQueue(route);
    const r = new OutboxRelay({ db: t.db, queue, logger: silentLogger(), pollMs: 50, attempts: 3, batchSize: 1, wanted: () => true, isOpen: () => true });
    expect(await r.tick()).toBe(1);
    const fresh = await event(t.db, 'test.new');
    while ((await r.tick()) > 0);
    expect(added.map((d) => d.eventId)).toEqual([ids.p1, ids.p2, fresh]);

    // a later event not relayed yet stays pending on the way down
    const pendingNow = await event(t.db, 'test.pending');
    // down until 20260301002300 itself is undone (later migrations go first)
    for (;;) {
      const [applied] = (await t.db.migrate.list(migrationConfig)) as [Array<{ name: string } | string>, unknown[]];
      const names = applied.map((a) => (typeof a === 'string' ? a : a.name));
      if (!names.some((n) => n.startsWith('20260301002300'))) break;
      await t.db.migrate.down(migrationConfig);
    }
    const rows = await t.db('outbox_events').orderBy('id').select('event_id', t.db.raw('dispatched_at IS NOT NULL AS dispatched'));
    expect(rows.map((x: { event_id: string; dispatched: boolean }) => [x.event_id, x.dispatched])).toEqual([
      [ids.d1, true], [ids.p1, true], [ids.d2, true], [ids.p2, true], [fresh, true], [pendingNow, false],
    ]);
  });
});

import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { SET_BASED_REFERENCES } from '../../../migrations/20260301002400_set_based_reference_checks';

/**
 * The set-based reference checks (migration 20260301002400) that replace 16 foreign keys of the
 * fact tables: the same refusals as the foreign keys (code 23503, the key's own name, table, column
 * and detail), on insert, update and delete, and the same behaviour under concurrency (a KEY SHARE
 * lock on every referenced row until the writing transaction ends).
 */
interface PgError { code?: string; constraint?: string; table?: string; column?: string; detail?: string; message: string }

async function pgError(p: Promise<unknown>): Promise<PgError> {
  try {
    await p;
  } catch (err) {
    return err as PgError;
  }
  throw new Error('expected the statement to fail');
}

describe('set-based reference checks of the fact tables', () => {
  let t: TestDatabase;
  let other: Knex;
  const material = randomUUID();
  const location = randomUUID();
  const party = randomUUID();
  const lot = randomUUID();
  const serial = randomUUID();
  const event = randomUUID();
  let ordinal = 0;

  const demand = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    kind: 'consumption', material_id: material, location_id: location, party_id: party, quantity: 1, uom: 'EA',
    occurred_at: new Date('2026-11-20T10:00:00Z'), source_key: `demand-${randomUUID()}`, source_message_id: randomUUID(), ordinal: ++ordinal, ...over,
  });

  beforeAll(async () => {
    t = await createTestDatabase();
    other = knexFactory({ client: 'pg', connection: t.url, pool: { min: 0, max: 2 } });
    await t.db('materials').insert({ id: material, code: 'KNEE-1', description: 'Knee implant', base_uom: 'EA' });
    await t.db('parties').insert({ id: party, name: 'St. Anna', role: 'hospital' });
    await t.db('locations').insert({ id: location, code: 'OR-1', party_id: party });
    await t.db('lots').insert({ id: lot, material_id: material, lot_number: 'L-1' });
    await t.db('serials').insert({ id: serial, material_id: material, lot_id: lot, serial_number: 'S-1', source_message_id: randomUUID(), ordinal: 1 });
    await t.db('trace_events').insert({ id: event, type: 'ObjectEvent', biz_step: 'consuming', event_time: new Date(), location_id: location, source_message_id: randomUUID(), ordinal: 1 });
  });

  afterAll(async () => {
    await other.destroy();
    await t.destroy();
  });

  it('has none of the replaced foreign keys and a check on each of their tables', async () => {
    const fks = await t.db.raw<{ rows: Array<{ conname: string }> }>(
      "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conname = ANY(?::text[])", [SET_BASED_REFERENCES.map(([, , , fk]) => fk)] as never,
    );
    expect(fks.rows).toEqual([]);
    const triggers = await t.db.raw<{ rows: Array<{ t: string }> }>("SELECT tgrelid::regclass::text || ' ' || tgname AS t FROM pg_trigger WHERE tgname LIKE 'lb_ref%' ORDER BY 1");
    for (const table of new Set(SET_BASED_REFERENCES.map(([x]) => x))) {
      expect(triggers.rows.map((r) => r.t)).toEqual(expect.arrayContaining([`${table} lb_refs_insert`, `${table} lb_refs_update`]));
    }
  });

  it('accepts rows whose references exist, and NULL references', async () => {
    await t.db('demand_history').insert([demand(), demand({ party_id: null, location_id: null })]);
    await t.db('trace_event_items').insert({ event_id: event, role: 'subject', material_id: material, lot_id: lot, serial_id: serial, quantity: 1, uom: 'EA' });
    await t.db('device_usages').insert({
      id: randomUUID(), trace_event_id: event, source_key: `u-${randomUUID()}`, material_id: material, lot_id: lot, serial_id: serial, location_id: location,
      party_id: party, quantity: 1, uom: 'EA', used_at: new Date(), source_message_id: randomUUID(), ordinal: 1,
    });
  });

  it('refuses a multi-row insert with one missing reference as the foreign key did: 23503, its name, table, column and the missing key; nothing is written', async () => {
    const before = Number((await t.db('demand_history').count<Array<{ count: string }>>('* as count'))[0].count);
    const missing = randomUUID();
    const err = await pgError(t.db('demand_history').insert([demand(), demand({ location_id: missing }), demand()]));
    expect(err.code).toBe('23503');
    expect(err.constraint).toBe('demand_history_location_id_foreign');
    expect(err.table).toBe('demand_history');
    expect(err.column).toBe('location_id');
    expect(err.message).toContain('violates foreign key constraint "demand_history_location_id_foreign"');
    expect(err.detail).toBe(`Key (location_id)=(${missing}) is not present in table "locations".`);
    expect(Number((await t.db('demand_history').count<Array<{ count: string }>>('* as count'))[0].count)).toBe(before);
  });

  it('refuses an update that points a reference at a missing row, and an item naming a missing serial', async () => {
    const err = await pgError(t.db('demand_history').update({ material_id: randomUUID() }));
    expect(err.code).toBe('23503');
    expect(err.constraint).toBe('demand_history_material_id_foreign');
    const item = await pgError(t.db('trace_event_items').insert({ event_id: event, role: 'subject', material_id: material, lot_id: lot, serial_id: randomUUID(), quantity: 1, uom: 'EA' }));
    expect(item.constraint).toBe('trace_event_items_serial_id_foreign');
  });

  it('refuses deleting a referenced row (NO ACTION), naming the referencing table, and deletes an unreferenced one', async () => {
    const err = await pgError(t.db('parties').where({ id: party }).delete());
    expect(err.code).toBe('23503');
    // locations reference the party through a plain foreign key; device usages and demand rows through the checks
    expect(err.message).toMatch(/violates foreign key constraint "(locations_party_id_foreign|device_usages_party_id_foreign|demand_history_party_id_foreign)"/);
    const spare = randomUUID();
    await t.db('materials').insert({ id: spare, code: 'SPARE', description: 'unused', base_uom: 'EA' });
    expect(await t.db('materials').where({ id: spare }).delete()).toBe(1);
    const serialErr = await pgError(t.db('serials').where({ id: serial }).delete());
    expect(serialErr.code).toBe('23503');
    expect(serialErr.detail).toMatch(new RegExp(`Key \\(id\\)=\\(${serial}\\) is still referenced from table "(trace_event_items|device_usages)"`));
  });

  it('refuses changing the id of a referenced table, and allows other updates', async () => {
    const err = await pgError(t.db('materials').where({ id: material }).update({ id: randomUUID() }));
    expect(err.code).toBe('23503');
    expect(err.message).toContain('the id of a row of "materials" never changes');
    expect(await t.db('materials').where({ id: material }).update({ id: material, description: 'Knee implant, cemented' })).toBe(1);
  });

  it('a delete waits for a writer that referenced the row, then fails: the writer holds KEY SHARE until it commits', async () => {
    const m = randomUUID();
    await t.db('materials').insert({ id: m, code: `M-${m.slice(0, 8)}`, description: 'race', base_uom: 'EA' });
    const writer = await t.db.transaction();
    await writer('demand_history').insert(demand({ material_id: m }));
    let deleteSettled = false;
    const deleting = other('materials').where({ id: m }).delete().finally(() => { deleteSettled = true; });
    const outcome = deleting.then(() => 'deleted', (e: PgError) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    expect(deleteSettled).toBe(false); // blocked on the writer's lock
    await writer.commit();
    expect(await outcome).toBe('23503');
    expect(await t.db('materials').where({ id: m }).first()).toBeDefined();
  });

  it('a writer waits for a delete of the row it references, then fails when the delete commits', async () => {
    const m = randomUUID();
    await t.db('materials').insert({ id: m, code: `M-${m.slice(0, 8)}`, description: 'race 2', base_uom: 'EA' });
    const deleter = await other.transaction();
    expect(await deleter('materials').where({ id: m }).delete()).toBe(1);
    let insertSettled = false;
    const inserting = t.db('demand_history').insert(demand({ material_id: m })).finally(() => { insertSettled = true; });
    const outcome = inserting.then(() => 'inserted', (e: PgError) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    expect(insertSettled).toBe(false);
    await deleter.commit();
    expect(await outcome).toBe('23503');
    expect(await t.db('demand_history').where({ material_id: m }).first()).toBeUndefined();
  });

  it('looks the referenced rows up by primary key, never by scanning the referenced table (migration 20260301002500)', async () => {
    // 8,000 serials; one statement writes 20 usages that reference 20 of them, 6 times over (the
    // first plans of a PL/pgSQL statement are custom ones, later ones may be generic)
    const serialIds: string[] = [];
    for (let chunk = 0; chunk < 8; chunk++) {
      const rows = Array.from({ length: 1000 }, (_, i) => ({
        id: randomUUID(), material_id: material, lot_id: lot, serial_number: `BULK-${chunk}-${i}`, source_message_id: randomUUID(), ordinal: 1,
      }));
      await t.db('serials').insert(rows);
      serialIds.push(...rows.map((r) => r.id));
    }
    await t.db.raw('ANALYZE serials');
    const conn = await t.db.client.acquireConnection();
    const q = (sql: string, params: unknown[] = []): Promise<{ rows: Array<Record<string, string>> }> => t.db.raw(sql, params as never).connection(conn) as never;
    try {
      const seqScans = async (): Promise<number> => {
        await q('SELECT pg_stat_force_next_flush()');
        await q('SELECT pg_stat_clear_snapshot()');
        return Number((await q("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'serials'")).rows[0].seq_scan);
      };
      const before = await seqScans();
      for (let round = 0; round < 6; round++) {
        const picked = serialIds.slice(round * 20, round * 20 + 20);
        await q(
          `INSERT INTO device_usages (id, trace_event_id, material_id, lot_id, serial_id, location_id, party_id, used_at, quantity, uom, source_key, source_message_id, ordinal)
           SELECT gen_random_uuid(), ?::uuid, ?::uuid, ?::uuid, s, ?::uuid, ?::uuid, now(), 1, 'EA', 'bulk-' || s::text, gen_random_uuid(), 1 FROM unnest(?::uuid[]) s`,
          [event, material, lot, location, party, picked],
        );
      }
      expect(await seqScans()).toBe(before);
    } finally {
      t.db.client.releaseConnection(conn);
    }
  });
});

import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { silentLogger } from '../../../src/logging/logger';
import { processMessage, type ProcessDeps } from '../../../src/pipeline/process-message';
import { reprocessMessage } from '../../../src/pipeline/reprocess';
import type { Pipeline } from '../../../src/pipeline/pipeline';
import { storeTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, movement, seedLocation, seedMaterial } from './wms-test-data';

/** A pipeline stand-in for reprocessMessage: no job exists, adds are accepted. */
const noQueue = { ingestQueue: { getJob: () => Promise.resolve(undefined), add: () => Promise.resolve(undefined) }, jobOptions: () => ({}) } as unknown as Pipeline;

describe('WMS: reprocessing a message whose records were partly applied', () => {
  let t: TestDatabase;
  let deps: ProcessDeps;

  beforeAll(async () => {
    t = await createTestDatabase();
    deps = { db: t.db, logger: silentLogger(), handlers: new Map([['wms', wmsHandler]]), timezoneOf: () => 'UTC' };
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('books the record that master data now allows, and writes its outbox events (ordinals do not collide with the first run)', async () => {
    const materialId = await seedMaterial(t.db, { code: 'RP-A', gtins: [{ gtin: GTIN.eachA }] });
    await seedLocation(t.db, { code: 'RP-BIN' });
    // the lot exists already, so the first record's event takes the message's first ordinal
    const opening = await storeTestMessage(t.db, { payload: JSON.stringify(movement({ movementId: 'RP-0', location: 'RP-BIN', lot: 'RPL', quantity: 1 })), contentType: 'application/json' });
    expect(await processMessage(deps, opening.id, { final: true })).toEqual({ status: 'processed', recordErrors: undefined });

    const body = [
      movement({ movementId: 'RP-1', location: 'RP-BIN', lot: 'RPL', quantity: 5, uom: 'EA' }),
      movement({ movementId: 'RP-2', location: 'RP-BIN', lot: 'RPL', quantity: 2, uom: 'CS' }), // no case GTIN yet
    ];
    const m = await storeTestMessage(t.db, { payload: JSON.stringify(body), contentType: 'application/json' });
    expect(await processMessage(deps, m.id, { final: true })).toEqual({ status: 'processed', recordErrors: 1 });
    expect(await balancesOf(t.db, GTIN.eachA, 'RPL')).toEqual({ 'RP-BIN/finished': 6 });

    // master data gains the case GTIN; the operator reprocesses the message
    await t.db('material_identifiers').insert({ material_id: materialId, scheme: 'gtin', value: GTIN.caseA, packaging_level: 'case', quantity_per_level: 10 });
    await reprocessMessage(t.db, noQueue, m.id, 'test');
    expect(await processMessage(deps, m.id, { final: true })).toEqual({ status: 'processed', recordErrors: undefined });

    expect(await t.db('trace_events').where({ source_key: 'wms:wms:RP-2' }).first()).toBeDefined();
    expect(await balancesOf(t.db, GTIN.eachA, 'RPL')).toEqual({ 'RP-BIN/finished': 26 });
    const row = await t.db('inbound_messages').where({ id: m.id }).first();
    expect(row.result).toMatchObject({ applied: 1, alreadyApplied: 1, rejected: 0 });
    const outbox = await t.db('outbox_events').where({ source_message_id: m.id }).orderBy('ordinal');
    expect(outbox.filter((e: { type: string }) => e.type === 'inventory.moved').map((e: { payload: { movementId: string } }) => e.payload.movementId)).toEqual(['RP-1', 'RP-2']);
    expect(outbox.filter((e: { type: string }) => e.type === 'message.processed')).toHaveLength(2);
  });
});

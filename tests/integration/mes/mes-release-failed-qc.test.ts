import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { lotOf, runB2mml } from './mes-test-data';

const qualityTest = (id: string, lot: string, results: Array<{ test: string; at: string; value: string; evaluation?: string }>, disposition?: string, override?: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>
<QualityTest xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700">
  <ID>${id}</ID>
  <PublishedDate>2026-03-05T10:00:00Z</PublishedDate>
  <MaterialDefinitionID>FG-QC-1</MaterialDefinitionID>
  <MaterialLotID>${lot}</MaterialLotID>
${results
  .map((r) => `  <TestResult><ID>${r.test}</ID><TestDateTime>${r.at}</TestDateTime><Result><ValueString>${r.value}</ValueString></Result>${r.evaluation ? `<Evaluation>${r.evaluation}</Evaluation>` : ''}</TestResult>`)
  .join('\n')}
${disposition ? `  <Disposition>${disposition}</Disposition>` : ''}
${override ? `  <ReleaseOverride>${override}</ReleaseOverride>` : ''}
</QualityTest>`;

/**
 * A lot whose quality record says a test failed (and no later run of that test passed) must not be
 * released by a MES message alone: like a rejected lot, that needs the explicit ReleaseOverride.
 */
describe('MES: release of a lot with a failed QC result', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('refuses "Released" in the QualityTest that reports the failed sterility test', async () => {
    const r = await runB2mml(t.db, qualityTest('QT-F1', 'QCLOT-1', [
      { test: 'DIM-01', at: '2026-03-05T08:00:00Z', value: '0.012', evaluation: 'Pass' },
      { test: 'STERIL-BI', at: '2026-03-05T09:00:00Z', value: 'GROWTH', evaluation: 'Fail' },
    ], 'Released'));
    expect(r.ok).toBe(false);
    expect(r.ok ? undefined : r.error.code).toBe('LB_ERR_LOT_STATUS_TRANSITION');
    expect((await lotOf(t.db, 'FG-QC-1', 'QCLOT-1'))?.status ?? 'quarantine').toBe('quarantine');
  });

  it('refuses a later "Released" when an earlier message recorded the failed result', async () => {
    const first = await runB2mml(t.db, qualityTest('QT-F2', 'QCLOT-2', [{ test: 'STERIL-BI', at: '2026-03-05T09:00:00Z', value: 'GROWTH', evaluation: 'Fail' }]));
    expect(first.ok).toBe(true);
    const r = await runB2mml(t.db, qualityTest('QT-F3', 'QCLOT-2', [], 'Released'));
    expect(r.ok ? 'processed' : r.error.code).toBe('LB_ERR_LOT_STATUS_TRANSITION');
    expect((await lotOf(t.db, 'FG-QC-1', 'QCLOT-2'))?.status).toBe('quarantine');
  });

  it('releases once a retest of the failed test passed, and with an explicit override', async () => {
    expect((await runB2mml(t.db, qualityTest('QT-F4', 'QCLOT-3', [{ test: 'STERIL-BI', at: '2026-03-05T09:00:00Z', value: 'GROWTH', evaluation: 'Fail' }]))).ok).toBe(true);
    expect((await runB2mml(t.db, qualityTest('QT-F5', 'QCLOT-3', [{ test: 'STERIL-BI', at: '2026-03-06T09:00:00Z', value: 'NO GROWTH', evaluation: 'Pass' }], 'Released'))).ok).toBe(true);
    expect((await lotOf(t.db, 'FG-QC-1', 'QCLOT-3'))?.status).toBe('released');

    const r = await runB2mml(t.db, qualityTest('QT-F6', 'QCLOT-4', [{ test: 'STERIL-BI', at: '2026-03-05T09:00:00Z', value: 'GROWTH', evaluation: 'Fail' }], 'Released', 'BI positive control error, CAPA-77'));
    expect(r.ok).toBe(true);
    const lot4 = await lotOf(t.db, 'FG-QC-1', 'QCLOT-4');
    expect(lot4?.status).toBe('released');
    expect(await t.db('audit_log').where({ entity_id: lot4?.id, source_message_id: r.message.id }).whereLike('action', 'lot.%').pluck('action')).toContain('lot.status_override');
  });
});

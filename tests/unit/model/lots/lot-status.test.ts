import { assertLotStatusChange, judgeLotStatusChange, LOT_STATUSES, type LotStatusChange } from '../../../../src/model/lots/lot-status';
import type { LotStatus } from '../../../../src/db/tables';

const change = (from: LotStatus, to: LotStatus, extra: Partial<LotStatusChange> = {}): LotStatusChange => ({ lot: 'FG-1 / L1', from, to, actor: 'mes', ...extra });

describe('lot status rules', () => {
  it.each([
    ['quarantine', 'released'],
    ['quarantine', 'rejected'],
    ['quarantine', 'on_hold'],
    ['on_hold', 'released'],
    ['on_hold', 'quarantine'],
    ['released', 'on_hold'],
    ['released', 'rejected'],
    ['released', 'recalled'],
    ['rejected', 'recalled'],
    ['expired', 'rejected'],
  ] as Array<[LotStatus, LotStatus]>)('allows %s → %s without an override', (from, to) => {
    expect(judgeLotStatusChange(change(from, to))).toEqual({ ok: true, change: 'normal' });
  });

  it.each([
    ['rejected', 'released'],
    ['rejected', 'quarantine'],
    ['recalled', 'released'],
    ['recalled', 'quarantine'],
    ['recalled', 'on_hold'],
    ['expired', 'released'],
  ] as Array<[LotStatus, LotStatus]>)('refuses %s → %s from MES without an override, and allows it with one', (from, to) => {
    const v = judgeLotStatusChange(change(from, to));
    expect(v.ok).toBe(false);
    expect(judgeLotStatusChange(change(from, to, { override: { reason: 'MRB-17 approved' } }))).toEqual({ ok: true, change: 'override' });
  });

  it('does not take an empty override reason as an override', () => {
    expect(judgeLotStatusChange(change('recalled', 'released', { override: { reason: '  ' } })).ok).toBe(false);
  });

  it('lets the recall process close a recall, but not MES', () => {
    expect(judgeLotStatusChange(change('recalled', 'released', { actor: 'recall' }))).toEqual({ ok: true, change: 'normal' });
    expect(judgeLotStatusChange(change('recalled', 'released', { actor: 'mes' })).ok).toBe(false);
  });

  it('treats the same status again as no change, for every status', () => {
    for (const s of LOT_STATUSES) {
      expect(judgeLotStatusChange(change(s, s))).toEqual({ ok: true, change: 'none' });
    }
  });

  it('throws an input error naming the lot, both states and the location', () => {
    let err: unknown;
    try {
      assertLotStatusChange(change('recalled', 'released'), { path: '/SyncMaterialLot/DataArea/MaterialLot/Status', line: 12 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'LB_ERR_LOT_STATUS_TRANSITION',
      kind: 'input',
      location: { path: '/SyncMaterialLot/DataArea/MaterialLot/Status', line: 12 },
      details: { lot: 'FG-1 / L1', from: 'recalled', to: 'released', actor: 'mes' },
    });
    expect((err as Error).message).toBe('lot FG-1 / L1 cannot go from recalled to released: a recalled lot leaves the recall only when the recall is closed, or with an explicit override');
  });

  it('has a rule for every pair of statuses (no status is missing from the table)', () => {
    for (const from of LOT_STATUSES) {
      for (const to of LOT_STATUSES) {
        expect(() => judgeLotStatusChange(change(from, to))).not.toThrow();
      }
    }
  });
});

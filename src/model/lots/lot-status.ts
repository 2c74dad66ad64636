import { LotBridgeError } from '../../errors';
import type { LotStatus } from '../../db/tables';

/** Every lot quality status (lots_status_check). */
export const LOT_STATUSES: readonly LotStatus[] = ['quarantine', 'released', 'on_hold', 'rejected', 'recalled', 'expired'];

/** Who asks for a lot status change. */
export type LotStatusActor = 'mes' | 'recall' | 'expiry' | 'operator';

/** A requested lot status change. */
export interface LotStatusChange {
  /** How the lot is named in messages (e.g. `FG-KNEE-4 / FGLOT-C-1`). */
  lot: string;
  from: LotStatus;
  to: LotStatus;
  actor: LotStatusActor;
  /** An explicit override (with its reason) that lets a rejected/recalled/expired lot be released. */
  override?: { reason: string };
  /** Test codes whose latest quality result for the lot failed: releasing the lot then needs an override. */
  failedTests?: readonly string[];
}

/** What a permitted change is. */
export type LotStatusVerdict =
  | { ok: true; change: 'none' | 'normal' | 'override' }
  | { ok: false; reason: string };

/**
 * The normal transitions (no override). quarantine is the lot's state until QA decides;
 * released, on_hold and rejected are QA decisions; recalled is set by a recall (any actor may
 * record it, the rules below keep it); expired by the expiry scan or a source that says so.
 */
const NORMAL: Readonly<Record<LotStatus, readonly LotStatus[]>> = {
  quarantine: ['released', 'rejected', 'on_hold', 'recalled', 'expired'],
  on_hold: ['released', 'rejected', 'quarantine', 'recalled', 'expired'],
  released: ['on_hold', 'quarantine', 'rejected', 'recalled', 'expired'],
  // a rejected lot stays rejected: rework or release needs an override; it may still be recalled
  rejected: ['recalled'],
  // a recall is closed by the recall process (actor `recall`), never by a production message alone
  recalled: [],
  expired: ['rejected', 'recalled'],
};

/** States a recall may hand a lot back to when it closes. */
const RECALL_CLOSES_TO: readonly LotStatus[] = ['quarantine', 'on_hold', 'released', 'rejected'];

/**
 * The lot status rules, in one place: whether `from` → `to` is allowed for this actor, with or
 * without an explicit override. The same status again is no change. Leaving `rejected`,
 * `recalled` or `expired` for anything but the listed states needs an override (with a reason),
 * and so does releasing a lot whose latest result of some test failed (`failedTests`);
 * the recall process may close a recall (recalled → quarantine/on_hold/released/rejected).
 * @param c - the change
 */
export function judgeLotStatusChange(c: LotStatusChange): LotStatusVerdict {
  if (c.from === c.to) {
    return { ok: true, change: 'none' };
  }
  const failed = c.to === 'released' ? (c.failedTests ?? []) : [];
  if (failed.length > 0 && !(c.override !== undefined && c.override.reason.trim() !== '')) {
    return { ok: false, reason: `its latest ${failed.join(', ')} result${failed.length > 1 ? 's' : ''} failed; a lot with a failed QC result is released only with an explicit override` };
  }
  if (NORMAL[c.from].includes(c.to) && failed.length === 0) {
    return { ok: true, change: 'normal' };
  }
  if (c.from === 'recalled' && c.actor === 'recall' && RECALL_CLOSES_TO.includes(c.to)) {
    return { ok: true, change: 'normal' };
  }
  if (c.override !== undefined && c.override.reason.trim() !== '') {
    return { ok: true, change: 'override' };
  }
  const why =
    c.from === 'recalled'
      ? 'a recalled lot leaves the recall only when the recall is closed, or with an explicit override'
      : c.from === 'rejected'
        ? 'a rejected lot can be changed only with an explicit override'
        : c.from === 'expired'
          ? 'an expired lot can only be rejected or recalled, or changed with an explicit override'
          : `${c.from} → ${c.to} is not a lot status transition`;
  return { ok: false, reason: why };
}

/**
 * Like {@link judgeLotStatusChange}, throwing the input error for a forbidden change.
 * @param c - the change
 * @param location - where in the message the change was asked for
 * @throws LotBridgeError LB_ERR_LOT_STATUS_TRANSITION naming the lot and both states
 */
export function assertLotStatusChange(c: LotStatusChange, location?: { path?: string; line?: number }): 'none' | 'normal' | 'override' {
  const v = judgeLotStatusChange(c);
  if (!v.ok) {
    throw new LotBridgeError('LB_ERR_LOT_STATUS_TRANSITION', `lot ${c.lot} cannot go from ${c.from} to ${c.to}: ${v.reason}`, {
      location,
      details: { lot: c.lot, from: c.from, to: c.to, actor: c.actor, ...(c.failedTests?.length ? { failedTests: c.failedTests } : {}) },
    });
  }
  return v.change;
}

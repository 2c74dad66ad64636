import type { Knex } from 'knex';

/**
 * A partial index of the count events (`biz_step = 'cycle_counting'`): the trace events that reset
 * a balance.
 *
 * Every stock booking asks whether a count of its lot, location and state lies at or after its
 * time (the count rules: a booking before a count must not change the counted balance), e.g. the
 * HL7 usage batch's probe in `apply-dft-p03-batch.ts`, the WMS batch's and `findNextCount`. Without
 * this index that probe reads every ledger row of the lot and location from the booking's time on
 * and looks each one's event up by primary key to see it is no count: in the HL7 benchmark, whose
 * usages arrive out of time order, about 14 ledger rows and 17 trace events per message
 * (BENCH_HL7_DIAG). With it, the planner starts from the count events (usually none or a few) and
 * joins their ledger rows by event: on a kept benchmark database, 20 usages' probe took 1.3–1.7 ms
 * before and 0.06–0.12 ms after (`EXPLAIN ANALYZE`, warm). Only count events are in it, so writing
 * any other event costs nothing more.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS trace_events_count_events ON trace_events (id) WHERE biz_step = 'cycle_counting'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS trace_events_count_events');
}

import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/knex';
import type { HubApiContext } from '../api/server';
import { html, layout } from './html';
import { uuidv7Floor } from './search';

/** KPI figures of the status page (also served as JSON for its charts). */
export interface Kpis {
  at: string;
  /** Messages received per minute and connector over the last hour. */
  rates: Array<{ minute: string; connector: string; count: number }>;
  /** Failed and rejected messages by error code over the last 24 hours. */
  failures: Array<{ code: string; status: string; count: number }>;
  /** Jobs in the ingest queue by state, and the oldest message still waiting to be processed. */
  queue: { counts: Record<string, number>; oldestWaitingSeconds: number | null };
  /** Receipt → processed latency per minute over the last hour (seconds). */
  latency: Array<{ minute: string; p50: number; p95: number; count: number }>;
}

/** Reads the KPIs. Every query is bounded to a recent id range (ids are time-ordered), so it stays fast on a large store. */
export async function readKpis(db: Db, queueCounts?: () => Promise<Record<string, number>>): Promise<Kpis> {
  const now = Date.now();
  const hourAgo = new Date(now - 3600_000);
  const dayAgo = new Date(now - 24 * 3600_000);
  const [rates, failures, oldest, latency, counts] = await Promise.all([
    db.raw<{ rows: Array<{ minute: Date; connector: string; count: string }> }>(
      `SELECT date_trunc('minute', received_at) AS minute, connector_id AS connector, count(*) AS count
         FROM inbound_messages WHERE id >= ? AND received_at >= ? GROUP BY 1, 2 ORDER BY 1`, [uuidv7Floor(hourAgo.getTime()), hourAgo]),
    db.raw<{ rows: Array<{ code: string | null; status: string; count: string }> }>(
      `SELECT error_code AS code, status, count(*) AS count FROM inbound_messages
        WHERE id >= ? AND received_at >= ? AND status IN ('failed', 'rejected') GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 30`, [uuidv7Floor(dayAgo.getTime()), dayAgo]),
    db.raw<{ rows: Array<{ oldest: Date | null }> }>(`SELECT min(received_at) AS oldest FROM inbound_messages WHERE status IN ('received', 'queued')`),
    db.raw<{ rows: Array<{ minute: Date; p50: number; p95: number; count: string }> }>(
      `SELECT date_trunc('minute', processed_at) AS minute,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at)) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at)) AS p95,
              count(*) AS count
         FROM inbound_messages WHERE id >= ? AND received_at >= ? AND status IN ('processed', 'routed') AND processed_at IS NOT NULL
        GROUP BY 1 ORDER BY 1`, [uuidv7Floor(hourAgo.getTime()), hourAgo]),
    queueCounts ? queueCounts().catch(() => ({})) : Promise.resolve({}),
  ]);
  const o = oldest.rows[0]?.oldest;
  return {
    at: new Date(now).toISOString(),
    rates: rates.rows.map((r) => ({ minute: new Date(r.minute).toISOString(), connector: r.connector, count: Number(r.count) })),
    failures: failures.rows.map((r) => ({ code: r.code ?? '(none)', status: r.status, count: Number(r.count) })),
    queue: { counts, oldestWaitingSeconds: o ? Math.max(0, Math.round((now - new Date(o).getTime()) / 1000)) : null },
    latency: latency.rows.map((r) => ({ minute: new Date(r.minute).toISOString(), p50: Number(r.p50), p95: Number(r.p95), count: Number(r.count) })),
  };
}

/** /dashboard: KPI charts (Chart.js from node_modules), refreshed every 10 s from /dashboard/kpis.json. Needs a console login. */
export function registerDashboard(scope: FastifyInstance, ctx: HubApiContext): void {
  const counts = ctx.pipeline ? () => ctx.pipeline!.ingestQueue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed') : undefined;
  scope.get('/dashboard/kpis.json', async () => readKpis(ctx.db, counts));
  scope.get('/dashboard', async (req, reply) => {
    const u = req.consoleUser!;
    const body = html`<h1>Status</h1>
      <p class="muted">Refreshes every 10 seconds · <span id="kpi-at"></span></p>
      <div class="kpis"><div class="kpi"><span class="n" id="kpi-waiting">–</span><span>jobs waiting</span></div>
        <div class="kpi"><span class="n" id="kpi-age">–</span><span>oldest unprocessed</span></div>
        <div class="kpi"><span class="n" id="kpi-failed">–</span><span>failed / rejected (24 h)</span></div>
        <div class="kpi"><span class="n" id="kpi-p95">–</span><span>p95 processing latency (last minute)</span></div></div>
      <div class="charts">
        <figure><figcaption>Messages per minute by connector (last hour)</figcaption><div class="chart-box"><canvas id="chart-rates"></canvas></div></figure>
        <figure><figcaption>Failures by error code (24 h)</figcaption><div class="chart-box"><canvas id="chart-failures"></canvas></div></figure>
        <figure><figcaption>Ingest queue by state</figcaption><div class="chart-box"><canvas id="chart-queue"></canvas></div></figure>
        <figure><figcaption>Processing latency p50 / p95 (seconds)</figcaption><div class="chart-box"><canvas id="chart-latency"></canvas></div></figure>
      </div>`;
    return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
      .send(layout('Dashboard', { username: u.username, role: u.role, csrf: u.csrf }, body, { active: 'dashboard', scripts: ['/console/static/chart.umd.min.js', '/console/static/dashboard.js'] }));
  });
}

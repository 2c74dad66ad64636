import fs from 'node:fs';
import path from 'node:path';
import { HubMetrics } from '../../../src/api/metrics';

/** docs/grafana-dashboard.json queries only metrics the hub exports (or documents in operations.md). */
describe('docs/grafana-dashboard.json', () => {
  const root = path.join(__dirname, '../../..');
  const dash = JSON.parse(fs.readFileSync(path.join(root, 'docs/grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const ops = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');

  it('is a dashboard with a Prometheus data source input and panels with queries', () => {
    expect(dash.panels.length).toBeGreaterThan(8);
    for (const p of dash.panels) expect(p.targets.length).toBeGreaterThan(0);
  });

  it('names only metrics that exist', async () => {
    const m = new HubMetrics();
    const exported = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
    const documented = new Set([...ops.matchAll(/^\| `(lotbridge_[a-z_]+)` \|/gm)].map((x) => x[1]));
    const used = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(lotbridge_[a-z0-9_]+)/g)].map((x) => x[1].replace(/_(bucket|count|sum)$/, '')))));
    expect(used.size).toBeGreaterThan(8);
    for (const name of used) {
      expect({ name, known: exported.has(name) || documented.has(name) }).toEqual({ name, known: true });
    }
  });
});

// LotBridge /dashboard: KPI charts with Chart.js (served from node_modules), refreshed every 10 s.
(function () {
  'use strict';
  var palette = ['#1f5fbf', '#e04f16', '#079455', '#7a5af8', '#dd2590', '#0e9384', '#ca8504', '#475467'];
  var charts = {};
  function chart(id, type, opts) {
    if (!charts[id]) charts[id] = new window.Chart(document.getElementById(id), { type: type, data: { labels: [], datasets: [] }, options: Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, opts || {}) });
    return charts[id];
  }
  function hhmm(iso) { return iso.slice(11, 16); }
  function fmtAge(s) { if (s === null) return 'none'; if (s < 120) return s + ' s'; if (s < 7200) return Math.round(s / 60) + ' min'; return Math.round(s / 3600) + ' h'; }
  function render(k) {
    document.getElementById('kpi-at').textContent = 'as of ' + k.at.replace('T', ' ').slice(0, 19) + 'Z';
    // every minute of the last hour, so quiet minutes show as 0
    var end = Math.floor(Date.parse(k.at) / 60000) * 60000;
    var minutes = [];
    for (var t = end - 59 * 60000; t <= end; t += 60000) minutes.push(new Date(t).toISOString().replace(/\.\d+Z$/, '.000Z'));
    var connectors = Array.from(new Set(k.rates.map(function (r) { return r.connector; }))).sort();
    var rates = chart('chart-rates', 'line', { scales: { y: { beginAtZero: true } } });
    rates.data.labels = minutes.map(hhmm);
    rates.data.datasets = connectors.map(function (c, i) {
      return { label: c, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], tension: 0.2,
        data: minutes.map(function (m) { var r = k.rates.find(function (x) { return x.minute === m && x.connector === c; }); return r ? r.count : 0; }) };
    });
    rates.update();
    var fail = chart('chart-failures', 'bar', { indexAxis: 'y', scales: { x: { beginAtZero: true } } });
    fail.data.labels = k.failures.map(function (f) { return f.code + ' (' + f.status + ')'; });
    fail.data.datasets = [{ label: 'messages', backgroundColor: '#d92d20', data: k.failures.map(function (f) { return f.count; }) }];
    fail.update();
    var states = Object.keys(k.queue.counts);
    var q = chart('chart-queue', 'bar', { scales: { y: { beginAtZero: true } } });
    q.data.labels = states;
    q.data.datasets = [{ label: 'jobs', backgroundColor: '#1f5fbf', data: states.map(function (s) { return k.queue.counts[s]; }) }];
    q.update();
    var lat = chart('chart-latency', 'line', { scales: { y: { beginAtZero: true } } });
    lat.data.labels = k.latency.map(function (l) { return hhmm(l.minute); });
    lat.data.datasets = [
      { label: 'p50', borderColor: '#079455', backgroundColor: '#079455', data: k.latency.map(function (l) { return l.p50; }) },
      { label: 'p95', borderColor: '#e04f16', backgroundColor: '#e04f16', data: k.latency.map(function (l) { return l.p95; }) },
    ];
    lat.update();
    document.getElementById('kpi-waiting').textContent = (k.queue.counts.waiting || 0) + (k.queue.counts.delayed || 0);
    document.getElementById('kpi-age').textContent = fmtAge(k.queue.oldestWaitingSeconds);
    document.getElementById('kpi-failed').textContent = k.failures.reduce(function (s, f) { return s + f.count; }, 0);
    var last = k.latency[k.latency.length - 1];
    document.getElementById('kpi-p95').textContent = last ? last.p95.toFixed(2) + ' s' : '–';
  }
  function load() {
    fetch('/dashboard/kpis.json', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(render)
      .catch(function () { /* next refresh retries */ })
      .finally(function () { setTimeout(load, 10000); });
  }
  load();
})();

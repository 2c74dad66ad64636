// LotBridge console: confirmations for bulk actions and live progress of a job page. No framework, no build.
(function () {
  'use strict';
  document.addEventListener('submit', function (e) {
    var f = e.target;
    if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
  });
  var job = document.getElementById('job');
  if (!job) return;
  var id = job.dataset.job;
  function tick() {
    fetch('/console/jobs/' + encodeURIComponent(id), { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        var handled = j.done + j.skipped;
        var pct = j.total ? Math.round((100 * handled) / j.total) : (j.status === 'done' ? 100 : 0);
        document.getElementById('job-progress').value = pct;
        document.getElementById('job-count').textContent = j.done + ' reprocessed, ' + j.skipped + ' skipped of ' + (j.total === null ? '…' : j.total);
        var st = document.getElementById('job-status');
        st.innerHTML = '';
        var b = document.createElement('span');
        b.className = 'badge st-' + j.status;
        b.textContent = j.status + (j.cancelRequested && j.status === 'running' ? ' (cancelling)' : '');
        st.appendChild(b);
        if (j.status === 'queued' || j.status === 'running') setTimeout(tick, 1000);
        else { var f = job.querySelector('form'); if (f) f.remove(); }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  if (job.dataset.status === 'queued' || job.dataset.status === 'running') setTimeout(tick, 500);
})();

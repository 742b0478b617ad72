// /dashboard: polls /dashboard/data once a second and redraws six uPlot charts, shading the
// fault windows the chaos suite marked. window.pokeflowDashboard exposes the state for tests.
(function () {
  'use strict';
  var SECONDS = 300;
  var state = { updates: 0, failures: 0, data: null, charts: {} };
  window.pokeflowDashboard = state;

  var palette = ['#0969da', '#1a7f37', '#cf222e', '#9a6700', '#8250df', '#bf3989', '#57606a'];
  var stateColours = { success: '#1a7f37', rejected: '#cf222e', failed: '#9a6700', reversed: '#57606a' };

  function shadeFaults(u) {
    var d = state.data;
    if (!d || !d.marks || !d.marks.length) return;
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
    ctx.save();
    d.marks.forEach(function (m) {
      var x0 = Math.max(left, u.valToPos(m.start, 'x', true));
      var x1 = Math.min(right, u.valToPos(m.end == null ? d.now : m.end, 'x', true));
      if (x1 <= x0) return;
      ctx.fillStyle = 'rgba(227, 53, 13, 0.13)';
      ctx.fillRect(x0, top, x1 - x0, height);
      ctx.fillStyle = 'rgba(207, 34, 46, 0.9)';
      ctx.font = (11 * devicePixelRatio) + 'px system-ui, sans-serif';
      ctx.fillText(m.name, x0 + 4 * devicePixelRatio, top + 13 * devicePixelRatio);
    });
    ctx.restore();
  }

  function width(el) { return Math.max(300, el.clientWidth - 4); }

  function makeChart(id, series) {
    var el = document.getElementById(id);
    var opts = {
      width: width(el), height: 200,
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.label, stroke: s.colour || palette[i % palette.length], width: 1.5, spanGaps: false,
                 fill: s.fill || undefined };
      })),
      axes: [{}, { size: 60 }],
      scales: { x: { time: true } },
      legend: { live: true },
      hooks: { drawClear: [shadeFaults] },
    };
    var empty = [[]].concat(series.map(function () { return []; }));
    var chart = new uPlot(opts, empty, el);
    state.charts[id] = chart;
    return chart;
  }

  var charts = null;
  function build(d) {
    var groups = d.groups || [];
    charts = {
      orders: makeChart('chart-orders', [{ label: 'created', colour: '#0969da' }].concat(
        Object.keys(stateColours).map(function (s) { return { label: s, colour: stateColours[s] }; }))),
      lag: makeChart('chart-lag', groups.map(function (g) { return { label: g }; })),
      outbox: makeChart('chart-outbox', [{ label: 'backlog', colour: '#8250df' }]),
      outboxAge: makeChart('chart-outbox-age', [{ label: 'oldest (s)', colour: '#bf3989' }]),
      dlq: makeChart('chart-dlq', [{ label: 'messages', colour: '#cf222e' }]),
      p99: makeChart('chart-p99', [{ label: 'p99 ms', colour: '#9a6700' }]),
    };
    window.addEventListener('resize', function () {
      Object.keys(state.charts).forEach(function (id) {
        state.charts[id].setSize({ width: width(document.getElementById(id)), height: 200 });
      });
    });
  }

  function render(d) {
    var s = d.series, t = s.t;
    if (!charts) build(d);
    charts.orders.setData([t, s.created].concat(Object.keys(stateColours).map(function (k) { return s.finalized[k]; })));
    charts.lag.setData([t].concat(d.groups.map(function (g) { return s.lag[g]; })));
    charts.outbox.setData([t, s.outbox_backlog]);
    charts.outboxAge.setData([t, s.outbox_oldest_age_s]);
    charts.dlq.setData([t, s.dlq_messages]);
    charts.p99.setData([t, s.post_p99_ms]);
  }

  function setStatus(text, cls) {
    var el = document.getElementById('status');
    el.textContent = text;
    el.className = 'status ' + cls;
  }

  function tick() {
    fetch('/dashboard/data?seconds=' + SECONDS, { cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (d) {
        state.data = d;
        render(d);
        state.updates++;
        setStatus('live · ' + new Date(d.now * 1000).toLocaleTimeString(), 'live');
      })
      .catch(function (e) {
        // The api may be down during an experiment: say so and keep trying.
        state.failures++;
        setStatus('no answer from the api (' + e.message + '), retrying', 'down');
      })
      .then(function () { setTimeout(tick, 1000); });
  }
  tick();
})();

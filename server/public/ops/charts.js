// The console's live charts: uPlot (served from node_modules at /ops/vendor/) over the points the
// series stream pushes. The page keeps every point it received per resolution (by bucket time, so
// a re-sent bucket replaces its old value and a reconnect's window simply refills the maps), and
// `window.opsCharts` exposes the exact arrays each chart draws, for tests and for the curious.
import uPlot from './vendor/uPlot.esm.js';
import { $ } from './api.js';

// Colours with ≥ 3:1 contrast on white, distinguishable for common colour-vision deficiencies.
const PALETTE = ['#0a58ca', '#b35c00', '#198754', '#c2185b', '#6f42c1', '#00838f', '#5d4037', '#455a64'];
const WINDOW_MS = { s: 15 * 60_000, m: 24 * 3_600_000 };
const UNIT = { s: 'second', m: 'minute' };

const union = (field) => (points) => [...new Set(points.flatMap((p) => Object.keys(p[field] ?? {})))].sort();
const CHARTS = [
  {
    id: 'intake',
    title: (u) => `Partner intake per ${u}`,
    keys: () => ['accepted', 'replayed', 'rejected', 'limited', 'paused'],
    value: (p, k) => p.intake?.[k] ?? 0,
  },
  { id: 'processing', title: (u) => `Completed events per ${u}, by type`, keys: union('done'), value: (p, k) => p.done?.[k] ?? 0 },
  { id: 'depth', title: () => 'Queue depth (pending events), by type', keys: union('depth'), value: (p, k) => p.depth?.[k] ?? null },
  {
    id: 'oldest',
    title: () => 'Oldest pending event age (seconds), by type',
    keys: union('oldestMs'),
    value: (p, k) => (p.oldestMs?.[k] === undefined ? null : p.oldestMs[k] / 1000),
  },
  { id: 'errors', title: (u) => `Error-log occurrences per ${u}, by category`, keys: union('errors'), value: (p, k) => p.errors?.[k] ?? 0 },
  { id: 'latency', title: () => 'API latency percentiles (ms)', keys: () => ['p50', 'p95', 'p99'], value: (p, k) => p[k] },
  { id: 'requests', title: (u) => `API requests per ${u}`, keys: () => ['requests'], value: (p) => p.requests ?? 0 },
  { id: 'calls', title: (u) => `Vendor calls per ${u}`, keys: union('calls'), value: (p, k) => p.calls?.[k] ?? 0 },
  {
    id: 'breakers',
    title: () => 'Vendor breaker state (0 closed · 1 half-open · 2 open)',
    keys: union('breakers'),
    value: (p, k) => p.breakers?.[k] ?? null,
  },
];

const store = { s: new Map(), m: new Map(), now: 0 };
let range = 's';
const plots = new Map(); // chart id → { plot, keys }
let scheduled = false;

function pointsOf(res) {
  const since = (store.now || Date.now()) - WINDOW_MS[res];
  return [...store[res].values()].filter((p) => p.t >= since).sort((a, b) => a.t - b.t);
}

/** The arrays chart `id` draws at resolution `res`: x (epoch seconds) and one array per key. */
function build(id, res = range) {
  const c = CHARTS.find((x) => x.id === id);
  const points = pointsOf(res);
  const keys = c.keys(points);
  return { keys, x: points.map((p) => p.t / 1000), series: Object.fromEntries(keys.map((k) => [k, points.map((p) => c.value(p, k))])) };
}

function merge(res, points) {
  for (const p of points) store[res].set(p.t, p);
  const since = store.now - WINDOW_MS[res] - 60_000;
  for (const t of store[res].keys()) if (t < since) store[res].delete(t);
}

/** A new window (on every (re)connect): replaces what the page had. */
export function onWindow(w) {
  store.now = w.now;
  store.s.clear();
  store.m.clear();
  merge('s', w.s);
  merge('m', w.m);
  schedule();
}

export function onPoints(p) {
  store.now = p.now;
  merge('s', p.s);
  merge('m', p.m);
  schedule();
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    draw();
  });
}

function figure(c) {
  let fig = document.getElementById(`chart-${c.id}`);
  if (fig) return fig;
  fig = document.createElement('figure');
  fig.id = `chart-${c.id}`;
  fig.className = 'chart';
  fig.setAttribute('role', 'group');
  fig.setAttribute('aria-labelledby', `chart-${c.id}-title`);
  const cap = document.createElement('figcaption');
  cap.id = `chart-${c.id}-title`;
  const plot = document.createElement('div');
  plot.className = 'plot';
  const summary = document.createElement('p');
  summary.className = 'sr-only summary';
  summary.setAttribute('aria-live', 'off');
  fig.append(cap, plot, summary);
  $('#charts').append(fig);
  return fig;
}

function draw() {
  const visible = !$('#view-charts').hidden;
  for (const c of CHARTS) {
    const fig = figure(c);
    fig.querySelector('figcaption').textContent = c.title(UNIT[range]);
    const d = build(c.id);
    const last = d.x.length - 1;
    fig.querySelector('.summary').textContent =
      last < 0 ? 'no data yet' : `latest: ${d.keys.map((k) => `${k} ${d.series[k][last] ?? 'none'}`).join(', ')}`;
    if (!visible) continue;
    const width = Math.max(300, fig.clientWidth - 16);
    const existing = plots.get(c.id);
    const sameKeys = existing && existing.keys.join('|') === d.keys.join('|') && existing.range === range;
    const data = [d.x, ...d.keys.map((k) => d.series[k])];
    if (sameKeys) {
      if (existing.plot.width !== width) existing.plot.setSize({ width, height: 170 });
      existing.plot.setData(data);
      continue;
    }
    existing?.plot.destroy();
    const plot = new uPlot(
      {
        width,
        height: 170,
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [{ stroke: '#333' }, { stroke: '#333', size: 50 }],
        series: [{}, ...d.keys.map((k, i) => ({ label: k, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: false }))],
      },
      data,
      fig.querySelector('.plot'),
    );
    plots.set(c.id, { plot, keys: d.keys, range });
  }
  const newest = Math.max(0, ...store[range].keys());
  $('#series-updated').textContent = newest ? new Date(newest).toLocaleTimeString() : '–';
}

export function setupCharts() {
  $('#range').addEventListener('change', (e) => {
    range = e.target.value;
    schedule();
  });
  new ResizeObserver(() => schedule()).observe($('#charts'));
  // For tests and debugging: the data behind each chart, never pixels.
  window.opsCharts = {
    ids: CHARTS.map((c) => c.id),
    data: (id, res) => build(id, res),
    points: (res = 's') => pointsOf(res).length,
    redraw: schedule,
  };
}

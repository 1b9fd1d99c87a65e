// deploy/grafana/creditdesk.json: the dashboard's data source is templated, and every panel's
// PromQL names metrics that a running API instance or worker process really exposes on /metrics
// (read here from an in-process API and the worker metrics listener with the process's MongoDB and
// its stuck-application counts).
// deploy/prometheus's test runs the same queries on a real Prometheus (valid PromQL).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { cachedStuckCounts } from '../../lib/domain/pipeline/reconcile-metrics.js';
import { startHealthServer } from '../../workers/http.js';
import { fixture } from '../helpers/fixture.js';
import { freePort } from '../helpers/stack.js';

interface DashboardPanel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  templating: { list: Array<{ name: string; type: string; query: string }> };
  panels: DashboardPanel[];
}

const DASHBOARD = resolve(import.meta.dirname, '../../deploy/grafana/creditdesk.json');
const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** The data source reference every panel and query uses: Grafana's `datasource` template variable. */
const TEMPLATED = ['$', '{datasource}'].join('');

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool']);

/** The metric names a PromQL expression selects: identifiers left once strings, label matchers, ranges, label lists and function names are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const calls = /^\s*\(/.test(bare.slice(m.index + m[0].length));
    if (!calls && !KEYWORDS.has(m[0])) names.push(m[0]);
  }
  return names;
}

/** Series names in an exposition text: counters and gauges as named, histograms with _bucket/_sum/_count. */
function exposed(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(`${name}${s}`);
  }
  return names;
}

const f = fixture('grafana', { api: true });
let workerMetrics: string;
let probe: Server | undefined;

f.before(async () => {
  const port = await freePort();
  // As startWorkers wires it: the stuck-application counts (every worker) come with the MongoDB handles.
  const reconcile = { stuck: cachedStuckCounts(f.t.ctx.c, { disbursing: 900 }, 1000) };
  probe = await startHealthServer('127.0.0.1', port, { instance: 'probe', roles: [], draining: false }, new Map(), {
    ...f.t.ctx,
    reconcile,
  });
  f.after(() => new Promise<void>((r) => (probe ? probe.close(() => r()) : r())));
  workerMetrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
});

test('the data source is a template variable, used by every panel and query', () => {
  const d = dashboard();
  const ds = d.templating.list.find((v) => v.name === 'datasource');
  assert.deepEqual(ds && { type: ds.type, query: ds.query }, { type: 'datasource', query: 'prometheus' });
  const panels = d.panels.filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 20, `${panels.length} panels`);
  for (const p of panels) {
    assert.equal(p.datasource?.uid, TEMPLATED, `${p.title}: templated data source`);
    assert.ok(p.targets && p.targets.length > 0, `${p.title} has a query`);
    for (const t of p.targets) assert.equal(t.datasource?.uid, TEMPLATED, `${p.title}: templated data source per query`);
  }
});

test('every query names metrics a running API or worker exposes on /metrics', async () => {
  const api = await (await fetch(`${f.api.url}/metrics`)).text();
  const known = new Set([...exposed(api), ...exposed(workerMetrics)]);
  const missing: string[] = [];
  for (const p of dashboard().panels) {
    for (const t of p.targets ?? []) {
      const names = metricNames(t.expr);
      assert.ok(names.length > 0, `${p.title}: ${t.expr} selects no metric`);
      for (const n of names) if (!known.has(n)) missing.push(`${p.title}: ${n}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('metricNames reads names, not functions, keywords, labels or strings', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_bucket{job="api", route!="a_b"}[5m])))'),
    ['http_request_duration_seconds_bucket'],
  );
  assert.deepEqual(metricNames('sum(rate(a_total[1m])) / sum(rate(b_total[1m])) and on (x) c'), ['a_total', 'b_total', 'c']);
});

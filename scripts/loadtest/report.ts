// Reads artillery's JSON report and prints a one-screen summary: request rate (whole run and at
// full concurrency), latency percentiles overall and per endpoint, errors and conflicts.
import type { Check, Counters } from './scenarios.js';

interface Summary {
  min: number;
  max: number;
  mean: number;
  p50: number;
  median?: number;
  p95: number;
  p99: number;
  count: number;
}
interface Period {
  counters: Counters;
  summaries: Record<string, Summary>;
  firstMetricAt: number;
  lastMetricAt: number;
  period?: string | number;
}
export interface ArtilleryReport {
  aggregate: Period;
  intermediate: Period[];
}

export interface LoadSummary {
  scenario: string;
  smoke: boolean;
  durationS: number;
  requests: number;
  rps: number;
  peakConcurrency: number;
  plateauRps: number | null;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  endpoints: Record<string, { count: number; p50: number; p95: number; p99: number }>;
  ok: number;
  conflicts: number;
  errors: number;
  errorRate: number;
  errorDetail: Counters;
  /** Load shedding (ADR 0028): requests the API shed and nginx refused (503/502 + Retry-After), by request name. */
  shed: { api: number; edge: number; byRequest: Counters };
  /** Time to first byte of the answered requests (every answer but a refusal), ms. */
  answered: { count: number; p50: number; p95: number; p99: number } | null;
  logins: { ok: number; refused: number; gaveUp: number };
  checks: Check[];
  passed: boolean;
  reportFile: string;
}

export function summarize(scenario: string, smoke: boolean, r: ArtilleryReport, checks: Check[], reportFile: string): LoadSummary {
  const a = r.aggregate;
  const n = (k: string) => a.counters[k] ?? 0;
  const rt = a.summaries['http.response_time'] ?? ({ p50: 0, p95: 0, p99: 0, max: 0 } as Summary);
  const durationS = Math.max(0.001, (a.lastMetricAt - a.firstMetricAt) / 1000);
  const requests = n('http.requests');
  // Concurrency at the end of each reporting window; the plateau is where it stays ≥ 95 % of its peak.
  let active = 0;
  const windows = r.intermediate.map((p) => {
    active += (p.counters['vusers.created'] ?? 0) - (p.counters['vusers.completed'] ?? 0) - (p.counters['vusers.failed'] ?? 0);
    const secs = Math.max(1, (p.lastMetricAt - p.firstMetricAt) / 1000);
    return { active, rps: (p.counters['http.requests'] ?? 0) / secs, secs };
  });
  const peakConcurrency = Math.max(0, ...windows.map((w) => w.active));
  const plateau = windows.filter((w) => w.active >= peakConcurrency * 0.95 && w.secs >= 5);
  const plateauRps = plateau.length ? plateau.reduce((s, w) => s + w.rps, 0) / plateau.length : null;
  const errorDetail: Counters = {};
  for (const [k, v] of Object.entries(a.counters)) {
    if (k.startsWith('errors.') || k.startsWith('creditdesk.unexpected.')) errorDetail[k] = v;
  }
  const errors =
    n('creditdesk.unexpected') +
    Object.entries(a.counters)
      .filter(([k]) => k.startsWith('errors.'))
      .reduce((s, [, v]) => s + v, 0);
  const byRequest: Counters = {};
  for (const [k, v] of Object.entries(a.counters)) {
    const m = k.match(/^creditdesk\.(shed|edge_refused)\.(.+)$/);
    if (m) byRequest[`${m[2]} (${m[1] === 'shed' ? 'API' : 'nginx'})`] = v;
  }
  const ans = a.summaries['creditdesk.answered_ms'];
  const endpoints: LoadSummary['endpoints'] = {};
  for (const [k, s] of Object.entries(a.summaries)) {
    const m = k.match(/^plugins\.metrics-by-endpoint\.response_time\.(.+)$/);
    if (m) endpoints[m[1]!] = { count: s.count, p50: s.p50 ?? s.median ?? 0, p95: s.p95, p99: s.p99 };
  }
  return {
    scenario,
    smoke,
    durationS,
    requests,
    rps: requests / durationS,
    peakConcurrency,
    plateauRps,
    p50: rt.p50 ?? rt.median ?? 0,
    p95: rt.p95,
    p99: rt.p99,
    max: rt.max,
    endpoints,
    ok: n('creditdesk.ok'),
    conflicts: n('creditdesk.conflict'),
    errors,
    errorRate: requests ? errors / requests : 0,
    errorDetail,
    shed: { api: n('creditdesk.shed'), edge: n('creditdesk.edge_refused'), byRequest },
    answered: ans ? { count: ans.count, p50: ans.p50 ?? ans.median ?? 0, p95: ans.p95, p99: ans.p99 } : null,
    logins: { ok: n('creditdesk.login.ok'), refused: n('creditdesk.login.refused'), gaveUp: n('creditdesk.login.gave_up') },
    checks,
    passed: checks.every((c) => c.ok),
    reportFile,
  };
}

const f1 = (x: number) => x.toFixed(1);
export function printSummary(s: LoadSummary): void {
  const line = (k: string, v: string) => console.log(`  ${k.padEnd(22)} ${v}`);
  console.log(`\n── creditdesk load test: ${s.scenario}${s.smoke ? ' (smoke)' : ''} ─────────────────────────────`);
  line('requests', `${s.requests} in ${f1(s.durationS)} s  →  ${f1(s.rps)} req/s overall`);
  if (s.plateauRps !== null) line('at full concurrency', `${s.peakConcurrency} virtual users, ${f1(s.plateauRps)} req/s`);
  line('latency (ms)', `p50 ${f1(s.p50)}  p95 ${f1(s.p95)}  p99 ${f1(s.p99)}  max ${f1(s.max)}`);
  for (const [name, e] of Object.entries(s.endpoints))
    line(`  ${name}`, `${String(e.count).padStart(6)} req  p50 ${f1(e.p50)}  p95 ${f1(e.p95)}  p99 ${f1(e.p99)}`);
  line('responses', `${s.ok} ok, ${s.conflicts} conflicts (409), ${s.errors} errors (${(s.errorRate * 100).toFixed(3)} %)`);
  for (const [k, v] of Object.entries(s.errorDetail)) line('  error', `${k}: ${v}`);
  if (s.shed.api + s.shed.edge > 0 || s.scenario.endsWith('-overload')) {
    line('shed (503, Retry-After)', `${s.shed.api} by the API, ${s.shed.edge} refused by nginx`);
    for (const [k, v] of Object.entries(s.shed.byRequest)) line('  shed', `${k}: ${v}`);
    if (s.answered)
      line('answered (ms)', `${s.answered.count} req  p50 ${f1(s.answered.p50)}  p95 ${f1(s.answered.p95)}  p99 ${f1(s.answered.p99)}`);
    line('logins', `${s.logins.ok} signed in, ${s.logins.refused} attempts refused (Retry-After), ${s.logins.gaveUp} gave up`);
  }
  for (const c of s.checks) line(c.ok ? '  ✔ check' : '  ✖ check', `${c.name} — ${c.detail}`);
  line('raw results', s.reportFile);
  console.log(`  ${s.passed ? 'PASSED' : 'FAILED'}\n`);
}

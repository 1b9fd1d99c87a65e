// CI smoke runs of the artillery scenarios through the real stack (nginx + 3 API processes) on
// the test mongod: correctness only — no errors, exact conflict counts, nothing lost. Timing
// targets live in the full runs (`npm run loadtest -- <name>`), not here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoadSummary } from '../../scripts/loadtest/report.js';
import { processes } from '../helpers/processes.js';

const procs = processes('loadtest');

/** `npm run loadtest -- <name> --smoke` as a process (bounded: killed after 110 s); its summary line parsed. */
async function runSmoke(name: string): Promise<{ code: number; out: string; summary: LoadSummary }> {
  const p = await procs.node(`loadtest-${name}`, 'scripts/loadtest/run.ts', {}, { args: [name, '--smoke'] });
  const exit = await p.exitWithin(110_000);
  const out = p.output();
  const line = out.split('\n').find((l) => l.startsWith('LOADTEST_SUMMARY '));
  if (!line) throw new Error(`no summary (exit ${exit.code ?? exit.signal}):\n${out}`);
  return { code: exit.code ?? 1, out, summary: JSON.parse(line.slice('LOADTEST_SUMMARY '.length)) as LoadSummary };
}

const failed = (s: LoadSummary) =>
  s.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.detail}`)
    .join('; ');

describe('artillery scenarios, smoke size, through nginx to three instances', () => {
  test('conflict-storm: 100 admins, same application and version, every round exactly 1 success and 99 conflicts', async () => {
    const { code, out, summary: s } = await runSmoke('conflict-storm');
    assert.equal(code, 0, `${failed(s)}\n${out}`);
    const rounds = s.checks.filter((c) => c.name.startsWith('round '));
    assert.equal(rounds.length, 3);
    for (const r of rounds) assert.equal(r.detail, '1 ok, 99 conflicts');
    assert.equal(s.endpoints['storm-update']?.count, 300);
    assert.equal(s.conflicts, 297);
    assert.equal(s.ok, 100 + 3); // 100 logins + one winner per round
    assert.equal(s.errors, 0);
  });

  test('admins: log in once, list with filters, open, update with version — no errors, conflicts only as 409', async () => {
    const { code, out, summary: s } = await runSmoke('admins');
    assert.equal(code, 0, `${failed(s)}\n${out}`);
    assert.equal(s.errors, 0, JSON.stringify(s.errorDetail));
    assert.equal(s.endpoints.login?.count, 20);
    for (const e of ['list', 'open', 'update']) assert.equal(s.endpoints[e]?.count, 60, e);
    assert.equal(s.ok + s.conflicts, s.requests);
  });

  test('ingestion: a burst of creations at a fixed rate — every acknowledged creation stored', async () => {
    const { code, out, summary: s } = await runSmoke('ingestion');
    assert.equal(code, 0, `${failed(s)}\n${out}`);
    assert.equal(s.requests, 60);
    assert.equal(s.ok, 60);
    assert.ok(s.checks.some((c) => c.name.startsWith('every acknowledged creation is stored') && c.ok));
  });

  test('intake: partner submissions with unique keys, replays, status polls, SSE subscribers — no lost 202, one application per key, identical replays', async () => {
    const { code, out, summary: s } = await runSmoke('intake');
    assert.equal(code, 0, `${failed(s)}\n${out}`);
    assert.equal(s.errors, 0, JSON.stringify(s.errorDetail));
    const check = (prefix: string) => {
      const c = s.checks.find((x) => x.name.startsWith(prefix));
      assert.ok(c?.ok, `${prefix}: ${c?.detail ?? 'no such check'}`);
      return c.detail;
    };
    const accepted = s.endpoints.submit?.count ?? 0;
    assert.ok(accepted > 0, 'submissions were made');
    assert.match(check('no lost 202'), new RegExp(`^${accepted} acknowledged, ${accepted} recorded, ${accepted} stored`));
    assert.match(check('exactly one application per key'), new RegExp(`^${accepted} applications for ${accepted} keys`));
    assert.equal(check('replays identical'), `${accepted} identical, 0 different`);
    assert.equal(s.endpoints.replay?.count, accepted);
    assert.equal(check('status polls answer'), `${2 * accepted} ok, 0 wrong`);
    // The SSE route may not be deployed (a 404 is reported as "unavailable"); a subscriber that
    // got a stream read it for its whole time.
    const sse = check('SSE subscribers');
    console.log(`intake smoke SSE subscribers: ${sse}`);
    assert.match(sse, /closed_early 0, timeout 0, error 0$/);
  });
});

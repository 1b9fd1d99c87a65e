// `npm run loadtest -- <admins|conflict-storm|ingestion|intake> [--smoke] [--node /path/to/node] [--instances 3] [--access-log]`
// Brings up its own stack (mongod + API instances + nginx on free loopback ports, see
// scripts/stack/ephemeral.ts), seeds the scenario's data, runs artillery through nginx, checks
// correctness, prints a one-screen summary and tears everything down. Raw artillery results go
// to results/<scenario>-<time>.json. Exit code 0 only when every threshold and check passed.
//   --smoke: small counts for CI; correctness only (timing thresholds off, no timed assertions).
//   --node:  run the API instances on another Node binary (Node 20 vs 24 comparison).
//   --access-log: keep nginx's JSON access log (request and upstream times of every request) in
//            results/<scenario>-<time>.access.log, to see where a slow or timed-out request waited.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../mongod/resolve.js';
import { ephemeralStack } from '../stack/ephemeral.js';
import { printSummary, summarize, type ArtilleryReport } from './report.js';
import { prepare, SCENARIOS, stackEnv, verify, type ScenarioData, type ScenarioName } from './scenarios.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    smoke: { type: 'boolean', default: false },
    node: { type: 'string' },
    instances: { type: 'string', default: '3' },
    'access-log': { type: 'boolean', default: false },
  },
});
const name = positionals[0] as ScenarioName;
if (!SCENARIOS.includes(name)) {
  console.error(`usage: npm run loadtest -- <${SCENARIOS.join('|')}> [--smoke] [--node /path/to/node] [--instances 3] [--access-log]`);
  process.exit(2);
}
const smoke = values.smoke!;
const say = (m: string) => console.log(`[loadtest] ${m}`);
const results = join(PROJECT_ROOT, 'results');
mkdirSync(results, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const reportFile = join(results, `${name}${smoke ? '-smoke' : ''}-${stamp}.json`);
const dataFile = join(results, `${name}-${stamp}.data.json`);
const logFile = join(results, `${name}${smoke ? '-smoke' : ''}-${stamp}.artillery.log`);
const accessLog = values['access-log'] ? join(results, `${name}${smoke ? '-smoke' : ''}-${stamp}.access.log`) : undefined;

let data: ScenarioData | undefined;
say(`${name}${smoke ? ' (smoke)' : ''}: starting mongod, ${values.instances} API instances and nginx…`);
const env = await ephemeralStack({
  label: `loadtest-${name}`,
  instances: Number(values.instances),
  env: stackEnv(name),
  log: say,
  ...(values.node ? { nodeBin: values.node } : {}),
  ...(accessLog ? { nginxAccessLog: accessLog } : {}),
  prepare: async (c) => {
    data = await prepare(name, smoke, c);
  },
});
let code = 1;
try {
  const d = data!;
  d.target = env.stack.url;
  d.storm.startAt = Date.now() + (smoke ? 6000 : 8000); // all storm admins logged in by then
  writeFileSync(dataFile, JSON.stringify(d));
  const apiNode = values.node ?? process.execPath;
  say(`stack up at ${env.stack.url} (API on ${apiNode}); running artillery (log: ${logFile})`);

  const artillery = join(PROJECT_ROOT, 'node_modules/artillery/bin/run');
  const args = [
    'run',
    '--target',
    env.stack.url,
    '--output',
    reportFile,
    ...(smoke ? ['--environment', 'smoke'] : []),
    join(import.meta.dirname, `${name}.yml`),
  ];
  const out = (await import('node:fs')).openSync(logFile, 'w');
  const child = spawn(process.execPath, [artillery, ...args], {
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      LOADTEST_DATA: dataFile,
      ARTILLERY_DISABLE_TELEMETRY: 'true',
      DO_NOT_TRACK: '1',
      ...(smoke ? { ARTILLERY_DISABLE_ENSURE: '1' } : {}),
    },
  });
  const ticker = setInterval(() => process.stdout.write('.'), 5000);
  const exit: number = await new Promise((res) => child.once('exit', (c) => res(c ?? 1)));
  clearInterval(ticker);
  process.stdout.write('\n');

  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ArtilleryReport;
  const counters = report.aggregate.counters;
  const checks = await verify(name, d, counters, env.c, smoke);
  const s0 = summarize(name, smoke, report, [], reportFile);
  checks.unshift({
    name: 'no virtual user failed',
    ok: (counters['vusers.failed'] ?? 0) === 0,
    detail: `${counters['vusers.failed'] ?? 0} failed`,
  });
  if (smoke) checks.unshift({ name: 'no errors (smoke)', ok: s0.errors === 0, detail: `${s0.errors} errors` });
  else {
    checks.unshift({ name: 'errors < 0.1 %', ok: s0.errorRate < 0.001, detail: `${(s0.errorRate * 100).toFixed(3)} %` });
    checks.push({ name: 'artillery ensure thresholds (see its log)', ok: exit === 0, detail: `artillery exit code ${exit}` });
  }
  const s = summarize(name, smoke, report, checks, reportFile);
  printSummary(s);
  writeFileSync(
    reportFile.replace(/\.json$/, '.summary.json'),
    JSON.stringify({ ...s, apiNode, apiNodeVersion: await nodeVersion(apiNode) }, null, 2),
  );
  console.log(`LOADTEST_SUMMARY ${JSON.stringify(s)}`);
  code = s.passed ? 0 : 1;
} catch (e) {
  say(`failed: ${(e as Error).stack ?? e}`);
} finally {
  await env.stop();
}
process.exit(code);

async function nodeVersion(bin: string): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

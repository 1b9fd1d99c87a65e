// `npm run bench:http -- [--node /path/to/node …] [--duration 10] [--connections 50]`
// Raw request rates with autocannon (artillery is too heavy a generator for this), per Node
// binary: a bare node:http hello, a bare Express hello, one API instance's /health, the same
// through nginx, and an authenticated GET of an application through nginx to 3 instances
// (the full middleware stack + session read + MongoDB), and in the same run the raw driver's
// findOne by _id at the same concurrency with the ratio. Loopback only; every run is bounded by
// --duration. Compare Node 20 and 24:
//   npm run bench:http -- --node "$(command -v node)" --node /tmp/node24/node_modules/node/bin/node
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createUser } from '../../lib/domain/users/users.js';
import { PROJECT_ROOT } from '../mongod/resolve.js';
import { fakeApplication } from '../seed.js';
import { ephemeralStack } from '../stack/ephemeral.js';
import { freePort } from '../stack/ports.js';
import { waitForHttp } from '../stack/supervisor.js';
import { MongoClient } from 'mongodb';
import { type Ceiling, ceiling, login, logger, measure, printRows, type Row, rowLine } from './common.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string', multiple: true },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
  },
});
const nodes = values.node?.length ? values.node : [process.execPath];
const duration = Math.min(120, Number(values.duration));
const connections = Math.min(1000, Number(values.connections));
const say = logger('bench');
const rows: Row[] = [];
/** The raw driver's findOne by _id on the same mongod at the same concurrency, per Node binary. */
const ceilings = new Map<string, Ceiling>();

async function hit(node: string, target: string, url: string, headers: Record<string, string> = {}): Promise<void> {
  await measure(node, target, { url, connections, duration: 2, headers }); // warm-up (JIT, pools)
  const { row } = await measure(node, target, { url, connections, duration, headers });
  rows.push(row);
  say(rowLine(row));
}

const HELLO_HTTP = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"hello":"world"}'); }).listen(Number(process.env.P), '127.0.0.1')`;
const HELLO_EXPRESS = `const e = require('express')(); e.get('/', (q, s) => { s.json({ hello: 'world' }); }); e.listen(Number(process.env.P), '127.0.0.1')`;

async function bare(bin: string, version: string, label: string, code: string): Promise<void> {
  const port = await freePort();
  const p: ChildProcess = spawn(bin, ['-e', code], { cwd: PROJECT_ROOT, env: { ...process.env, P: String(port) }, stdio: 'ignore' });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, 10_000, () => p.exitCode === null);
    await hit(version, label, `http://127.0.0.1:${port}/`);
  } finally {
    p.kill('SIGKILL');
  }
}

for (const bin of nodes) {
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  say(`── ${version} (${bin}) ──`);
  await bare(bin, version, 'node:http hello', HELLO_HTTP);
  await bare(bin, version, 'express hello', HELLO_EXPRESS);
  let appId = '';
  const env = await ephemeralStack({
    label: 'bench-http',
    nodeBin: bin,
    env: { LOG_LEVEL: 'warn' },
    prepare: async (c) => {
      const docs = Array.from({ length: 1000 }, () => fakeApplication());
      await c.applications.insertMany(docs);
      appId = docs[0]!._id;
      await createUser(c, { email: 'bench@bench.local', password: 'bench-password-123', role: 'viewer' });
    },
  });
  try {
    const { cookie } = await login(env.stack.url, 'bench@bench.local', 'bench-password-123');
    await hit(version, 'API /health (1 instance, direct)', `${env.stack.apis[0]!.url}/health`);
    await hit(version, 'API /health via nginx (3 instances)', `${env.stack.url}/health`);
    await hit(version, 'GET application via nginx (session + MongoDB)', `${env.stack.url}/api/applications/${appId}`, { cookie });
    // The ceiling: the raw driver's findOne by _id, from this process, at the same concurrency.
    const client = new MongoClient(env.uri, { maxPoolSize: connections + 4, appName: 'bench-http-ceiling' });
    await client.connect();
    try {
      const apps = client.db(env.dbName).collection<{ _id: string }>('applications');
      const find = () => apps.findOne({ _id: appId });
      await ceiling('warm-up', connections, 2000, 1, find);
      const c = await ceiling(`findOne by _id, ${connections} in flight`, connections, duration * 1000, 1, find);
      ceilings.set(version, c);
      say(`ceiling ${c.label}: ${c.callsPerS.toFixed(0)} ops/s, p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms`);
    } finally {
      await client.close();
    }
  } finally {
    await env.stop();
  }
}

printRows(`raw HTTP rates: autocannon, ${connections} connections, ${duration} s each, loopback, 2 cores shared with the generator`, rows);
// The read path against its ceiling, measured in the same run (target ≥ 0.35×, p99 < 50 ms).
for (const [version, c] of ceilings) {
  const get = rows.find((r) => r.node === version && r.target.startsWith('GET application'));
  if (!get) continue;
  const ratio = get.rps / Math.max(1, c.callsPerS);
  console.log(
    `\n${version}: GET application via nginx ${get.rps.toFixed(0)} req/s (p99 ${get.p99.toFixed(1)} ms) ÷ raw findOne ${c.callsPerS.toFixed(0)} ops/s (p99 ${c.p99.toFixed(1)} ms) = ×${ratio.toFixed(2)}  [target ≥ ×0.35 with p99 < 50 ms: ${ratio >= 0.35 && get.p99 < 50 ? 'met' : 'NOT met'}]`,
  );
}
if (nodes.length > 1) {
  const by = (n: string, t: string) => rows.find((r) => r.node === n && r.target === t)?.rps ?? 0;
  const [a, b] = [...new Set(rows.map((r) => r.node))];
  console.log(`\nratio ${b} / ${a}:`);
  for (const t of new Set(rows.map((r) => r.target))) console.log(`  ${t.padEnd(48)} ×${(by(b!, t) / Math.max(1, by(a!, t))).toFixed(2)}`);
}

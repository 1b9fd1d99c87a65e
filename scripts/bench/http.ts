// `npm run bench:http -- [--node /path/to/node …] [--duration 10] [--connections 50]`
// Raw request rates with autocannon (artillery is too heavy a generator for this), per Node
// binary: a bare node:http hello, a bare Express hello, one API instance's /health, the same
// through nginx, and an authenticated GET of an application through nginx to 3 instances
// (the full middleware stack + session read + MongoDB). Loopback only; every run is bounded by
// --duration. Compare Node 20 and 24:
//   npm run bench:http -- --node "$(command -v node)" --node /tmp/node24/node_modules/node/bin/node
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createUser } from '../../lib/domain/users/users.js';
import { PROJECT_ROOT } from '../mongod/resolve.js';
import { fakeApplication } from '../seed.js';
import { ephemeralStack } from '../stack/ephemeral.js';
import { freePort } from '../stack/ports.js';
import { waitForHttp } from '../stack/supervisor.js';

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
const say = (m: string) => console.log(`[bench] ${m}`);

interface Row {
  node: string;
  target: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}
const rows: Row[] = [];

async function hit(node: string, target: string, url: string, headers: Record<string, string> = {}): Promise<void> {
  await autocannon({ url, connections, duration: 2, headers }); // warm-up (JIT, pools)
  const r = await autocannon({ url, connections, duration, headers });
  rows.push({
    node,
    target,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  });
  say(
    `${node} ${target}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors + r.timeouts}`,
  );
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
    const login = await fetch(`${env.stack.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@bench.local', password: 'bench-password-123' }),
    });
    const cookie = login.headers
      .getSetCookie()
      .find((x) => x.startsWith('creditdesk.sid='))!
      .split(';')[0]!;
    await hit(version, 'API /health (1 instance, direct)', `${env.stack.apis[0]!.url}/health`);
    await hit(version, 'API /health via nginx (3 instances)', `${env.stack.url}/health`);
    await hit(version, 'GET application via nginx (session + MongoDB)', `${env.stack.url}/api/applications/${appId}`, { cookie });
  } finally {
    await env.stop();
  }
}

console.log(
  `\n── raw HTTP rates: autocannon, ${connections} connections, ${duration} s each, loopback, 2 cores shared with the generator ──`,
);
console.log(
  `${'node'.padEnd(9)} ${'target'.padEnd(48)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}  non2xx errors`,
);
for (const r of rows) {
  console.log(
    `${r.node.padEnd(9)} ${r.target.padEnd(48)} ${r.rps.toFixed(0).padStart(8)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)}  ${String(r.non2xx).padStart(6)} ${String(r.errors).padStart(6)}`,
  );
}
if (nodes.length > 1) {
  const by = (n: string, t: string) => rows.find((r) => r.node === n && r.target === t)?.rps ?? 0;
  const [a, b] = [...new Set(rows.map((r) => r.node))];
  console.log(`\nratio ${b} / ${a}:`);
  for (const t of new Set(rows.map((r) => r.target))) console.log(`  ${t.padEnd(48)} ×${(by(b!, t) / Math.max(1, by(a!, t))).toFixed(2)}`);
}

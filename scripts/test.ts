// `npm test`: starts a throwaway real mongod (single-node replica set) unless MONGO_URI is set,
// then runs every tests/**/*.test.ts with node's test runner against it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { launchMongod } from './mongod/launch.js';
import { PROJECT_ROOT } from './mongod/resolve.js';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? findTests(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const freePort = () => new Promise<number>((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
});

const filters = process.argv.slice(2);
const files = findTests(join(PROJECT_ROOT, 'tests')).sort()
  .filter((f) => filters.length === 0 || filters.some((x) => relative(PROJECT_ROOT, f).includes(x)));
if (files.length === 0) { console.error('no test files matched'); process.exit(1); }

let stopMongo = async () => {};
let dbPath: string | undefined;
if (!process.env.MONGO_URI) {
  dbPath = mkdtempSync(join(tmpdir(), 'creditdesk-test-mongod-'));
  const m = await launchMongod({ dbPath, port: await freePort(), cacheSizeGB: 1 });
  process.env.MONGO_URI = m.uri;
  stopMongo = () => m.stop();
}

const child = spawn(process.execPath, [
  '--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, '--test-reporter=spec', ...files,
], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } });
const forward = (s: NodeJS.Signals) => child.kill(s);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code: number = await new Promise((res) => child.once('exit', (c, sig) => res(c ?? (sig ? 1 : 0))));
await stopMongo();
if (dbPath) rmSync(dbPath, { recursive: true, force: true });
process.exit(code);

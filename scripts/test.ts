// `npm test`: starts a throwaway real mongod (single-node replica set) unless MONGO_URI is set,
// then runs every tests/**/*.test.ts with node's test runner against it.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { mongoForRun } from './mongod/launch.js';
import { PROJECT_ROOT } from './mongod/resolve.js';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? findTests(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = findTests(join(PROJECT_ROOT, 'tests'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => relative(PROJECT_ROOT, f).includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const mongo = await mongoForRun('test');
process.env.MONGO_URI = mongo.uri;

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);
const forward = (s: NodeJS.Signals) => child.kill(s);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code: number = await new Promise((res) => child.once('exit', (c, sig) => res(c ?? (sig ? 1 : 0))));
await mongo.stop();
process.exit(code);

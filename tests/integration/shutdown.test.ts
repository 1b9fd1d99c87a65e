// SIGTERM on one API instance while reads and writes run through nginx: the instance drains
// (finishes what it accepted) and exits 0; no client sees a reset, a 502 or a 503.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { boundedLoad, countBy } from '../helpers/stack.js';

const f = fixture('shutdown', { stack: { env: { SHUTDOWN_TIMEOUT_MS: '10000' } } });
let reviewer: Client;

f.before(async () => {
  reviewer = await f.client('reviewer');
});

test('SIGTERM under load: in-flight requests finish, nobody sees a reset or 502, the instance exits 0', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push((await reviewer.create()).id);
  const victim = f.stack.apis[0]!;
  let exit: Promise<number | null> | undefined;
  const exited = { code: undefined as number | null | undefined };
  const load = (count: number, concurrency: number, trigger: boolean, fn: (i: number) => Promise<[number, string]>) =>
    boundedLoad(
      {
        count,
        concurrency,
        maxMs: 45_000,
        onProgress: (n) => {
          if (trigger && n === 200 && !exit) {
            exit = new Promise((res) =>
              victim.child.proc.once('exit', (c) => {
                exited.code = c;
                res(c);
              }),
            );
            victim.child.proc.kill('SIGTERM');
          }
        },
      },
      fn,
    );
  const [reads, creates] = await Promise.all([
    load(2500, 12, true, async (i) => {
      const r = await reviewer.get(i % 2 ? `/api/applications/${ids[i % ids.length]}` : '/api/applications?limit=10');
      return [r.status, r.headers.get('x-upstream') ?? ''];
    }),
    load(400, 4, false, async (i) => {
      const r = await reviewer.post('/api/applications', sampleApplication({ purpose: `drain ${i}` }));
      return [r.status, r.body?.id as string];
    }),
  ]);
  assert.ok(exit, 'SIGTERM was sent mid-load');
  assert.equal(await exit, 0, 'the drained instance exits 0');
  // A real drain: every keep-alive connection from nginx was released after its current response,
  // so the server closed without having to cut connections (which would kill in-flight requests).
  const log = readFileSync(victim.child.logFile, 'utf8');
  assert.match(log, /"msg":"stopped"/);
  assert.doesNotMatch(log, /did not finish in time/, 'the instance had to cut connections: keep-alive connections were never released');
  assert.doesNotMatch(log, /left idle/, 'nginx closed its idle keep-alive connections itself, before the deadline');
  assert.deepEqual(
    countBy(reads.statuses),
    { 200: reads.statuses.length },
    `${JSON.stringify(countBy(reads.statuses))} ${reads.errors.slice(0, 3)}`,
  );
  assert.deepEqual(
    countBy(creates.statuses),
    { 201: creates.statuses.length },
    `${JSON.stringify(countBy(creates.statuses))} ${creates.errors.slice(0, 3)}`,
  );
  assert.equal(await f.t.c.applications.countDocuments({ _id: { $in: creates.ok } }), creates.ok.length);
  const servedByVictim = reads.ok.filter((u) => u === `127.0.0.1:${victim.port}`).length;
  assert.ok(servedByVictim > 0, 'the victim served part of the load before it stopped');
});

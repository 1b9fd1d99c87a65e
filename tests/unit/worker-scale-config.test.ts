// WORKER_SCALE_<ROLE>=min:max[:eventsPerProcess] for npm start's autoscaler: parsed, defaulted, and
// refused with a message naming the variable when it makes no sense.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, launcherSchema, parseEnv } from '../../lib/config.js';

const parse = (env: Record<string, string>) => parseEnv(launcherSchema, env);

test('defaults: 1 to 2 processes per role, 50 events per process, cool-downs and hysteresis set', () => {
  const c = parse({});
  assert.deepEqual([c.WORKER_SCALE_OCR, c.WORKER_SCALE_APPROVAL, c.WORKER_SCALE_DISBURSEMENT], Array(3).fill({ min: 1, max: 2 }));
  assert.deepEqual(
    [c.WORKER_SCALE_JOBS_PER_PROCESS, c.WORKER_SCALE_HYSTERESIS, c.WORKER_SCALE_UP_COOLDOWN_MS, c.WORKER_SCALE_DOWN_COOLDOWN_MS],
    [50, 0.25, 5000, 60_000],
  );
});

test('min:max and min:max:eventsPerProcess', () => {
  assert.deepEqual(parse({ WORKER_SCALE_APPROVAL: '2:10' }).WORKER_SCALE_APPROVAL, { min: 2, max: 10 });
  assert.deepEqual(parse({ WORKER_SCALE_APPROVAL: '1:10:50' }).WORKER_SCALE_APPROVAL, { min: 1, max: 10, jobsPerProcess: 50 });
  assert.deepEqual(parse({ WORKER_SCALE_OCR: '1:1' }).WORKER_SCALE_OCR, { min: 1, max: 1 }, 'min = max: no scaling');
});

test('nonsense is refused, naming the variable', () => {
  for (const bad of ['3:1', '0:2', '1:17', '2', 'a:b', '1:3:0', '1:3:x', ''])
    assert.throws(
      () => parse({ WORKER_SCALE_DISBURSEMENT: bad }),
      (e: unknown) => e instanceof ConfigError && /WORKER_SCALE_DISBURSEMENT/.test(e.message),
      JSON.stringify(bad),
    );
  assert.throws(() => parse({ WORKER_SCALE_HYSTERESIS: '1' }), /WORKER_SCALE_HYSTERESIS/);
  assert.throws(() => parse({ WORKER_SCALE_INTERVAL_MS: '10' }), /WORKER_SCALE_INTERVAL_MS/);
});

// Request-body validation: a missing body is never read as "no filter", keys that reach a
// prototype are refused (not dropped), and config keeps session timeouts in OWASP's ranges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, parseEnv, serverSchema } from '../../lib/config.js';
import { AppError } from '../../lib/errors.js';
import { safeRecord } from '../../lib/validation.js';
import { parse } from '../../server/middleware/validate.js';

const status400 = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof AppError && e.status === 400);

test('a missing body is a 400 even for a schema whose fields are all optional', () => {
  const filter = z.strictObject({ type: z.string().optional() });
  status400(() => parse(filter, undefined, 'body'));
  assert.deepEqual(parse(filter, {}, 'body'), {}, 'an explicit {} is still accepted');
  assert.deepEqual(parse(filter, {}, 'query'), {});
});

test('__proto__, constructor and prototype keys anywhere in a body are a 400', () => {
  const loose = z.record(z.string(), z.unknown());
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    status400(() => parse(loose, JSON.parse(`{"${key}": 1}`), 'body'));
    status400(() => parse(z.unknown(), JSON.parse(`{"a": [{"b": {"${key}": {}}}]}`), 'body'));
  }
  assert.deepEqual(parse(loose, JSON.parse('{"proto": 1}'), 'body'), { proto: 1 });
});

test('safeRecord rejects prototype keys where z.record drops __proto__ silently', () => {
  const input = JSON.parse('{"__proto__": 1, "LOAN-1": 2}');
  const plain = z.record(z.string(), z.number());
  assert.deepEqual(plain.parse(input), { 'LOAN-1': 2 }, 'what zod does on its own: the key is gone');
  const safe = safeRecord(z.string(), z.number());
  const r = safe.safeParse(input);
  assert.equal(r.success, false);
  assert.deepEqual(
    r.error?.issues.map((i) => i.path),
    [['__proto__']],
  );
  assert.equal(safe.safeParse(JSON.parse('{"constructor": 1}')).success, false);
  assert.equal(safe.safeParse(JSON.parse('{"prototype": 1}')).success, false);
  assert.deepEqual(safe.parse({ 'LOAN-1': 2 }), { 'LOAN-1': 2 });
});

test('session timeouts stay within OWASP ranges: idle 15–30 min, absolute 4–8 h (default 30 min / 8 h)', () => {
  const base = { MONGO_URI: 'mongodb://x', SESSION_SECRETS: 'x'.repeat(32) };
  const cfg = parseEnv(serverSchema, base);
  assert.equal(cfg.SESSION_IDLE_MINUTES, 30);
  assert.equal(cfg.SESSION_ABSOLUTE_HOURS, 8);
  for (const bad of [
    { SESSION_IDLE_MINUTES: '60' },
    { SESSION_IDLE_MINUTES: '5' },
    { SESSION_ABSOLUTE_HOURS: '12' },
    { SESSION_ABSOLUTE_HOURS: '2' },
  ])
    assert.throws(() => parseEnv(serverSchema, { ...base, ...bad }), ConfigError, JSON.stringify(bad));
  assert.equal(parseEnv(serverSchema, { ...base, SESSION_IDLE_MINUTES: '15', SESSION_ABSOLUTE_HOURS: '4' }).SESSION_ABSOLUTE_HOURS, 4);
});

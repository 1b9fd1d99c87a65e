// Shared zod pieces for request input: records (maps keyed by the client) that refuse the keys
// JavaScript treats specially, instead of silently dropping them.
import { z } from 'zod';

/** Keys that name or reach an object's prototype; never accepted in client-supplied maps. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** The first forbidden own key found anywhere in parsed JSON (objects and arrays), with its path. */
export function findForbiddenKey(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbiddenKey(value[i], [...path, i]);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(k)) return [...path, k];
      const found = findForbiddenKey(Reflect.get(value, k), [...path, k]);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * `z.record(key, value)` that rejects `__proto__`, `constructor` and `prototype` keys with an
 * issue at that key (zod's record drops `__proto__` without a word, so a pin would vanish).
 */
export function safeRecord<K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V) {
  return z
    .unknown()
    .superRefine((input, ctx) => {
      if (input === null || typeof input !== 'object') return;
      for (const k of Object.keys(input))
        if (FORBIDDEN_KEYS.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: `the key "${k}" is not allowed` });
    })
    .pipe(z.record(key, value));
}

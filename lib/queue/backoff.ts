// Retry delay after a failed attempt: min(cap, base * factor^(attempt-1)), spread by ±jitter.
import type { BackoffOptions } from './types.js';

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, factor: 2, capMs: 5 * 60_000, jitter: 0.2 };

/**
 * Pure: `attempt` is 1-based (the attempt that just failed); `random` is injectable for tests.
 * jitter j spreads the delay uniformly over [d·(1−j), d·(1+j)], never above the cap.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = opts.baseMs * opts.factor ** (n - 1);
  const d = Math.min(opts.capMs, Number.isFinite(raw) ? raw : opts.capMs);
  const j = Math.min(1, Math.max(0, opts.jitter ?? 0));
  if (j === 0) return Math.round(d);
  const spread = d * (1 - j + 2 * j * random());
  return Math.max(0, Math.round(Math.min(opts.capMs, spread)));
}

// Runs a function while holding a lease: renews every ttl/3, aborts the function's signal if the
// lease is lost (or cannot be renewed before it ends), and releases in finally.
import type { Db } from 'mongodb';
import { LockUnavailableError } from './errors.js';
import { acquire, release, renew, type Lease } from './lease.js';

export async function withLock<T>(
  db: Db,
  key: string,
  ttlMs: number,
  fn: (lease: Lease & { signal: AbortSignal }) => Promise<T>,
  opts: { waitMs?: number; owner?: string } = {},
): Promise<T> {
  const started = Date.now();
  let lease = await acquire(db, key, ttlMs, opts);
  if (!lease) throw new LockUnavailableError(key, Date.now() - started);
  const ac = new AbortController();
  let localDeadline = Date.now() + ttlMs;
  const lost = (why: string) => {
    clearInterval(timer);
    ac.abort(new Error(`lock "${key}" lost: ${why}`));
  };
  const timer = setInterval(
    () => {
      renew(db, lease!, ttlMs).then(
        (next) => {
          if (!next) return lost('taken over or released');
          lease = next;
          localDeadline = Date.now() + ttlMs;
        },
        () => {
          if (Date.now() >= localDeadline) lost('could not renew before the lease ended');
        },
      );
    },
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  try {
    return await fn({ ...lease, signal: ac.signal });
  } finally {
    clearInterval(timer);
    await release(db, lease).catch(() => false);
  }
}

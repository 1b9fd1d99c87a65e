// Lease locks with owner tokens and fencing numbers (see lease.ts, with-lock.ts, fence.ts).
export { acquire, renew, release, listLocks, type Lease } from './lease.js';
export { withLock } from './with-lock.js';
export { fencedUpdate, checkFence } from './fence.js';
export { LockUnavailableError, StaleFenceError } from './errors.js';
export { locksCollection, ensureLockIndexes, LOCKS, type LockDoc } from './collection.js';

/** withLock could not acquire the lock within waitMs. */
export class LockUnavailableError extends Error {
  constructor(readonly key: string, readonly waitedMs: number) {
    super(`lock "${key}" is held by another owner (waited ${waitedMs} ms)`);
    this.name = 'LockUnavailableError';
  }
}

/** A fenced write was refused: a holder with a newer fencing number has written since. */
export class StaleFenceError extends Error {
  constructor(readonly key: string, readonly fence: number) {
    super(`fenced write refused for lease "${key}" with fence ${fence}: a newer holder has written`);
    this.name = 'StaleFenceError';
  }
}
